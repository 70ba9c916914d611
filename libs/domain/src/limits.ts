// The input limits of API.md, in one place: validators and deciders both use them.

export const PROJECT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const SECRET_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,127}$/;
/** Principal ids (user ids, group ids) as they appear in tokens and grants. */
export const PRINCIPAL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9@._:\/-]{0,254}$/;
/** Globs: printable ASCII without spaces, quotes or backslashes; `*`, `?` and `**` are wildcards. */
export const MAX_GLOB_LENGTH = 255;
/** Wildcard characters (`*`, `?`; `**` counts two) per glob: bounds the cost of glob containment (glob.ts). */
export const MAX_GLOB_WILDCARDS = 8;
/**
 * 1-255 of those characters with at most MAX_GLOB_WILDCARDS wildcards. Unambiguous (each
 * wildcard starts exactly one group), so this fixed pattern cannot backtrack.
 */
export const GLOB_PATTERN = /^(?=[A-Za-z0-9._\-\/*?]{1,255}$)[A-Za-z0-9._\-\/]*(?:[*?][A-Za-z0-9._\-\/]*){0,8}$/;
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_DESCRIPTION_LENGTH = 1024;
/** The one purpose limit, in code points: the DTO, the access decision and the audit record (OCSF) all use it. */
export const MAX_PURPOSE_LENGTH = 512;
/**
 * Free text (descriptions, purposes, reasons): no control characters (PostgreSQL's jsonb refuses
 * NUL, and logs deserve better), and no bidirectional overrides or isolates (U+202A-U+202E,
 * U+2066-U+2069), which make an audit record display other than what it holds.
 */
export const FREE_TEXT_PATTERN = /^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u202A-\u202E\u2066-\u2069]*$/;
