// Roles and actions exactly as API.md states them.

export const ACTIONS = ['read', 'create', 'update', 'delete', 'list', 'manage-grants', 'read-audit'] as const;
export type Action = (typeof ACTIONS)[number];

export const ROLES = ['reporter', 'developer', 'maintainer', 'owner', 'auditor', 'break-glass'] as const;
export type Role = (typeof ROLES)[number];

/** Each built-in role includes the one before it; `auditor` stands apart (history without values). */
export const ROLE_ACTIONS: Readonly<Record<Role, readonly Action[]>> = {
  reporter: ['list'],
  developer: ['list', 'read'],
  maintainer: ['list', 'read', 'create', 'update', 'delete'],
  owner: ['list', 'read', 'create', 'update', 'delete', 'manage-grants', 'read-audit'],
  auditor: ['list', 'read-audit'],
  /** No actions of its own: it only makes its holder eligible to break the glass (an immediate, time-boxed owner grant). */
  'break-glass': [],
};

/** Actions on one secret; the others are project-wide. */
export const SECRET_ACTIONS: readonly Action[] = ['read', 'create', 'update', 'delete', 'list'];
export const PROJECT_ACTIONS: readonly Action[] = ['manage-grants', 'read-audit'];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
