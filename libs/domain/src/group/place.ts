// Places: where secrets and grants live. A project (its id) or a group (its full path, 1-8
// segments of project-id syntax joined by `/`). Inside the service a place is one string, its
// *place key*: a project's key is its id, a group's is `group:<path>`. The two can never collide,
// because `:` never occurs in a project id, so every aggregate, stream, read-model row and Kafka
// key that was keyed by a project id is keyed by a place key with no second code path (the Kafka
// key `group:{groupId}/{name}` of API.md is exactly `<place key>/<name>`). Events keep the field
// name `projectId` for the key (schema v1 of every secret, grant and access event); the public
// surfaces (REST, GraphQL, OCSF) turn it back into `{type, id}` with `placeOf`.
import { invalid } from '../errors';
import { requireString } from '../invariants';
import { PROJECT_ID_PATTERN } from '../limits';

export const GROUP_KEY_PREFIX = 'group:';
export const MAX_GROUP_DEPTH = 8;
/** A group path's own syntax (each segment checked against PROJECT_ID_PATTERN too). Fixed pattern, linear time. */
export const GROUP_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}(?:\/[a-z0-9][a-z0-9._-]{0,63}){0,7}$/;

export type PlaceType = 'project' | 'group';
export interface PlaceRef {
  type: PlaceType;
  id: string;
}

/** Whether `v` is a well-formed group path (depth 1-8, every segment a project-id). */
export function isGroupId(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > MAX_GROUP_DEPTH * 65) return false;
  const segments = v.split('/');
  return segments.length >= 1 && segments.length <= MAX_GROUP_DEPTH && segments.every((s) => PROJECT_ID_PATTERN.test(s));
}

/** The decider's check of a group path (the DTO checks it too): 400 naming `field`. */
export function requireGroupId(field: string, v: unknown): string {
  const s = requireString(field, v);
  if (s.split('/').length > MAX_GROUP_DEPTH) throw invalid('invalid-field', `${field} must have at most ${MAX_GROUP_DEPTH} segments`, field);
  if (!isGroupId(s)) throw invalid('invalid-field', `${field} must be 1-${MAX_GROUP_DEPTH} segments of ${PROJECT_ID_PATTERN.source} joined by /`, field);
  return s;
}

export function groupKey(groupId: string): string {
  return `${GROUP_KEY_PREFIX}${groupId}`;
}

export function placeKey(p: PlaceRef): string {
  return p.type === 'group' ? groupKey(p.id) : p.id;
}

export function isGroupKey(key: string): boolean {
  return key.startsWith(GROUP_KEY_PREFIX);
}

/** The place a key names; null for a string that is neither a project id nor a group key. */
export function placeOf(key: string): PlaceRef | null {
  if (isGroupKey(key)) {
    const id = key.slice(GROUP_KEY_PREFIX.length);
    return isGroupId(id) ? { type: 'group', id } : null;
  }
  return PROJECT_ID_PATTERN.test(key) ? { type: 'project', id: key } : null;
}

/** The decider's check of a place key where a project id was checked before: a project id, or `group:` and a group path. */
export function requirePlaceKey(field: string, v: unknown): string {
  const s = requireString(field, v);
  if (placeOf(s) === null) throw invalid('invalid-field', `${field} must be a project id (${PROJECT_ID_PATTERN.source}) or a group`, field);
  return s;
}

/** A group and every group above it, nearest first: `a/b/c` → [`a/b/c`, `a/b`, `a`]. */
export function groupAndAncestors(groupId: string): string[] {
  const segments = groupId.split('/');
  const out: string[] = [];
  for (let n = segments.length; n >= 1; n--) out.push(segments.slice(0, n).join('/'));
  return out;
}

/** The groups above a group, nearest first (`a/b/c` → [`a/b`, `a`]); none for a top-level group. */
export function ancestorsOf(groupId: string): string[] {
  return groupAndAncestors(groupId).slice(1);
}

/** Whether `groupId` is `ancestor` or lies below it (segment-wise: `acme-x` is not below `acme`). */
export function isAtOrBelow(groupId: string, ancestor: string): boolean {
  return groupId === ancestor || groupId.startsWith(`${ancestor}/`);
}
