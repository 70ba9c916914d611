// The checks every decider runs on its own command: the decider is the last gate before a fact is
// recorded, so nothing that a DTO, a controller or a future caller (CLI, GraphQL, a test) lets through
// can become an event of an invalid shape. Each failure is a DomainError of kind `invalid` naming the
// request field, which the HTTP layer answers as 400.
import { DomainError, invalid } from './errors';
import { FREE_TEXT_PATTERN, GLOB_PATTERN, MAX_GLOB_LENGTH, MAX_GLOB_WILDCARDS, PRINCIPAL_ID_PATTERN, PROJECT_ID_PATTERN, SECRET_NAME_PATTERN } from './limits';

/** Well-formed Unicode: no lone UTF-16 surrogate (I-JSON, RFC 7493 §2.1; PostgreSQL's jsonb refuses them). */
export function isWellFormedText(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** Each lone surrogate replaced by U+FFFD: only for mending stored history, never for client input (refused instead). */
export function toWellFormedText(s: string): string {
  return s.replace(LONE_SURROGATES, '\uFFFD');
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one. Fixed patterns, linear time.
const LONE = '[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]';
const LONE_SURROGATE = new RegExp(LONE);
const LONE_SURROGATES = new RegExp(LONE, 'g');

/** Length in code points, the unit every text limit is stated in. */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

const bad = (field: string, message: string): DomainError => invalid('invalid-field', `${field} ${message}`, field);

export function requireString(field: string, v: unknown): string {
  if (typeof v !== 'string') throw bad(field, 'must be a string');
  if (!isWellFormedText(v)) throw bad(field, 'must be well-formed Unicode (no lone surrogates)');
  return v;
}

export function requirePattern(field: string, v: unknown, pattern: RegExp): string {
  const s = requireString(field, v);
  if (!pattern.test(s)) throw bad(field, `must match ${pattern.source}`);
  return s;
}

export function requireBoolean(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(field, 'must be a boolean');
  return v;
}

/** Free text (description, purpose): a string of at most `max` code points, no control characters. */
export function requireFreeText(field: string, v: unknown, max: number): string {
  const s = requireString(field, v);
  if (codePointLength(s) > max) throw bad(field, `must be at most ${max} characters`);
  if (!FREE_TEXT_PATTERN.test(s)) throw bad(field, 'must not contain control characters');
  return s;
}

export function requireNullableFreeText(field: string, v: unknown, max: number): string | null {
  return v === null ? null : requireFreeText(field, v, max);
}

/** A scope or grant glob: the characters and length of API.md. */
export function requireGlob(field: string, v: unknown): string {
  const s = requireString(field, v);
  if (s.length > MAX_GLOB_LENGTH || !GLOB_PATTERN.test(s)) throw bad(field, `must be a glob of 1-${MAX_GLOB_LENGTH} characters from A-Z a-z 0-9 . _ - / * ? with at most ${MAX_GLOB_WILDCARDS} wildcards (* and ?)`);
  return s;
}

export function requireNullableGlob(field: string, v: unknown): string | null {
  return v === null ? null : requireGlob(field, v);
}

export const requireProjectId = (v: unknown) => requirePattern('projectId', v, PROJECT_ID_PATTERN);
export const requireSecretName = (v: unknown) => requirePattern('name', v, SECRET_NAME_PATTERN);
export const requirePrincipalId = (field: string, v: unknown) => requirePattern(field, v, PRINCIPAL_ID_PATTERN);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 date-time with a time zone, checked field by field (month, day of that month, hour,
 * minute, second, offset within ±23:59) and with a year from 0001 to 9999, as PostgreSQL and
 * `Date` both hold it. Returns ms since the epoch, or null. `Date.parse` alone is not enough: it
 * accepts 2025-02-30 (as 2 March) and year 0000 (which PostgreSQL has not), and answers NaN for
 * `+25:00`, which `toISOString` then throws on.
 */
export function parseRfc3339(s: unknown): number | null {
  if (typeof s !== 'string' || s.length > 40) return null;
  const m = RFC3339.exec(s);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (day > daysInMonth) return null;
  if (m[9] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) return null;
  const ms = Date.parse(s.toUpperCase());
  // In UTC, too, the instant stays within 0001-01-01 and 9999-12-31 (an offset can push it out).
  return Number.isFinite(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS ? ms : null;
}

const MIN_INSTANT_MS = -62135596800000; // 0001-01-01T00:00:00Z
const MAX_INSTANT_MS = 253402300799999; // 9999-12-31T23:59:59.999Z

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function requireInstant(field: string, v: unknown): string {
  const s = requireString(field, v);
  const ms = parseRfc3339(s);
  if (ms === null) throw bad(field, 'must be an RFC 3339 date-time with a time zone, years 0001-9999');
  return s;
}

export function requireNullableInstant(field: string, v: unknown): string | null {
  return v === null ? null : requireInstant(field, v);
}

/** The metadata every command carries: the decision time and who acts. */
export function requireCommandMetadata(meta: unknown): void {
  const m = meta as { now?: unknown; actor?: { type?: unknown; id?: unknown } } | null;
  if (!m || typeof m !== 'object') throw bad('metadata', 'is required');
  requireInstant('now', m.now);
  if (!m.actor || typeof m.actor !== 'object' || !['user', 'ci-job', 'system'].includes(m.actor.type as string)) throw bad('actor', 'must be a user, CI job or the system');
  const id = requireString('actor.id', m.actor.id);
  if (id.length === 0 || id.length > 255) throw bad('actor.id', 'must be 1-255 characters');
}

/** An opaque reference into the value store. */
export function requireValueRef(v: unknown): string {
  const s = requireString('valueRef', v);
  if (s.length === 0 || s.length > 512) throw bad('valueRef', 'must be 1-512 characters');
  return s;
}

/** Fields of a command's data that the command does not know: refused, so they never reach an event. */
export function requireOnlyKeys(data: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw bad('body', 'must be an object');
  for (const k of Object.keys(data)) if (!allowed.includes(k)) throw bad(k, 'is not a field of this command');
  return data as Record<string, unknown>;
}
