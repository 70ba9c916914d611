// OpenBao's file audit device as an input: one JSON object per line (a `request` entry, then a
// `response` entry with the same request id). Pure: this file only reads a parsed line and says
// what, if anything, the service must record. OpenBao HMACs every string of request and response
// data (values, tokens, accessors): nothing below ever copies a data field; it keeps only the
// path, the operation, the request id, the policy names and the token metadata the CI roles map.
import { createHash } from 'node:crypto';
import { readBrokerMarker } from './broker-marker';
import { PROJECT_ID_PATTERN, SECRET_NAME_PATTERN } from '../limits';
import { groupKey, isGroupId, placeOf } from '../group/place';

/** The header the service sends on its own OpenBao requests (audited with hmac=false); its value is a MAC (broker-marker.ts). */
export const BROKER_MARKER_HEADER = 'x-pipeline-secrets-broker';

/** The CI policy and role name prefix the projector owns (same as OWNED_PREFIX). */
const OWNED = 'ps-ci-';

export interface OpenBaoAuditScope {
  kvMount: string;
  kvPrefix: string;
  jwtMount: string;
  /** the broker marker key (deriveBrokerMarkerKey); without it no marker is valid: every read is direct, every owned write drift */
  markerKey?: Uint8Array;
}

export interface OpenBaoAccessor {
  /**
   * ci-job only when the entry shows the token came from a login on the service's JWT mount with
   * one of its ps-ci- roles (ciJobToken); anything else, whatever its metadata claims, is token:
   * recorded as unattributed, never as a pipeline's job.
   */
  type: 'ci-job' | 'token';
  /** the job's subject (OpenBao's display name for the JWT role's user_claim) or the token's display name */
  id: string;
  /** a job's project: its `project_id` claim (a rendered role is bound to its own project's, so a job's login carries it) */
  projectId?: string;
  pipelineId?: string;
  jobId?: string;
  ref?: string;
}

/** A read (or a refused read) of a value under the service's KV prefix. */
export interface OpenBaoKvAccess {
  kind: 'kv-read';
  /** a value left OpenBao: the response carried KV data */
  allowed: boolean;
  /** OpenBao answered 404 (no such path, or a deleted or destroyed version): no value left, and OpenBao refused nothing */
  notFound: boolean;
  requestId: string;
  at: string;
  /** the place key of the secret read: a project id, or `group:<path>` for a path under `_groups/` */
  projectId: string;
  name: string;
  /** the KV version OpenBao answered with (metadata.version), when it says */
  version: number | null;
  /** the KV path read, under the mount (`<prefix>/<project>/<NAME>/...`): with one path per value version, it names the value version */
  kvPath: string;
  /** the policy that granted it, or the token's first ps-ci- policy, or null */
  policy: string | null;
  accessor: OpenBaoAccessor;
  /**
   * true when the request carries a marker whose MAC is valid for this path: the service sent it.
   * Still to check (the ingester): the id names a SecretAccessed of this secret, and no other
   * request used it (a replay). A plain, forged or absent marker: false, a direct read.
   */
  brokered: boolean;
  /** the id in a valid marker (the SecretAccessed event id of the brokered read), else null */
  markerId: string | null;
  /** a valid v2 marker's place: the access stream holding that SecretAccessed when not the secret's own (a job's batch reading a group secret), else null */
  markerPlace: string | null;
  /**
   * Who denials are folded under: a SHA-256 digest of the token's entity id when it has one (every
   * login of one job identity), else of OpenBao's HMAC of its accessor (or of the token when the entry
   * has no accessor): stable per identity or token, never the token nor the HMAC. Denials are folded per key
   * (token-denial-fold.ts). null when the entry names neither.
   */
  token: string | null;
  /**
   * A token from the service's JWT mount and roles that ALSO carries identity policies (an identity
   * group or entity policy naming the job's entity): OpenBao grants them on top of the role's, so
   * the read may be theirs, not the role's. The read is then unattributed, and this is the
   * evidence (entity id and policy names only) the ingester records as drift. null otherwise.
   */
  identityEscalation: { entityId: string; policies: string[] } | null;
}

/** A write to an object the projector owns. */
export interface OpenBaoOwnedWrite {
  kind: 'owned-write';
  requestId: string;
  at: string;
  path: string;
  operation: string;
  /** the writer: display name and policies; never a token or accessor */
  who: { displayName: string; policies: string[] };
  /** a valid marker for this path (the service wrote it); still to check: its nonce was not used by another request */
  brokered: boolean;
  markerId: string | null;
  /** whether OpenBao accepted it (a refused write changes nothing) */
  succeeded: boolean;
}

/**
 * A read refused because the request carried no token, or one OpenBao does not know (the entry's
 * auth names no token): anyone who can reach OpenBao can send these, so the ingester folds them
 * per remote address and window (unauthenticated-fold.ts) instead of recording each one.
 */
export interface OpenBaoUnauthenticatedDenial {
  kind: 'unauthenticated-denial';
  requestId: string;
  at: string;
  /** the client address OpenBao saw (request.remote_address), or null */
  remoteAddress: string | null;
  projectId: string;
  name: string;
}

/** An entry on the service's KV paths that is not recorded: its project id or secret name is no valid id (no secret can live there). Counted, never an event. */
export interface OpenBaoDropped {
  kind: 'dropped';
  reason: 'invalid-path';
}

export type OpenBaoAuditFinding = OpenBaoKvAccess | OpenBaoOwnedWrite | OpenBaoUnauthenticatedDenial | OpenBaoDropped;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** OpenBao's RFC 3339 nanosecond time → the service's millisecond UTC instant. */
function instant(t: unknown): string | null {
  const s = str(t);
  if (!s) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** The KV segment under the prefix that holds group secrets (policy-renderer.ts GROUP_KV_SEGMENT). */
const GROUPS = '_groups';

/**
 * What a KV data path under the prefix names: the secret (place key, NAME), `invalid` when no
 * secret can live there (no valid project id or group path and secret name: PROJECT_ID_PATTERN,
 * isGroupId, SECRET_NAME_PATTERN; nothing there is the service's to record), or null when the path
 * is not under the prefix or is the service's own (a first segment starting with `_` other than
 * `_groups`, e.g. the readiness sentinel).
 * `<mount>/data/<prefix>/<project>/<NAME>[/<more>]`: the first two segments after the prefix are
 * the secret, whatever layout follows (one path per value version included).
 * `<mount>/data/<prefix>/_groups/<g1>/…/<gk>/<NAME>[/<more>]`: a group's secret, the group path
 * the lower-case segments (1 to 8) before the first upper-case one, which is the NAME (a secret
 * name starts with [A-Z], a group segment never does), its key `group:<g1>/…/<gk>`.
 */
export function kvPathOf(path: string, scope: Pick<OpenBaoAuditScope, 'kvMount' | 'kvPrefix'>): { projectId: string; name: string } | 'invalid' | null {
  const head = `${scope.kvMount}/data/${scope.kvPrefix}/`;
  if (!path.startsWith(head)) return null;
  const rest = path.slice(head.length).split('/');
  if (rest[0] === GROUPS) {
    const at = rest.findIndex((seg, i) => i > 0 && SECRET_NAME_PATTERN.test(seg));
    const group = at > 1 ? rest.slice(1, at).join('/') : '';
    return at > 1 && isGroupId(group) ? { projectId: groupKey(group), name: rest[at] } : 'invalid';
  }
  if (rest[0].startsWith('_')) return null;
  if (rest.length < 2 || !PROJECT_ID_PATTERN.test(rest[0]) || !SECRET_NAME_PATTERN.test(rest[1])) return 'invalid';
  return { projectId: rest[0], name: rest[1] };
}

/** The (project, name) a KV data path names, or null (not under the prefix, the service's own, or no valid ids). */
export function kvSecretOf(path: string, scope: Pick<OpenBaoAuditScope, 'kvMount' | 'kvPrefix'>): { projectId: string; name: string } | null {
  const s = kvPathOf(path, scope);
  return s === 'invalid' ? null : s;
}

/**
 * The object a request path writes, named as OpenBao names it, when the projector owns it; else
 * null. OpenBao normalises names before it stores them (checked on 2.7.2): ACL policy names are
 * trimmed and lowercased (`sys/policies/acl/ PS-CI-x ` writes `ps-ci-x`; the audit entry already
 * shows the normalised path), JWT role names are lowercased by the JWT plugin while the audit
 * entry keeps the case that was sent (`auth/jwt-ci/role/PS-CI-x` replaces `ps-ci-x`). The router
 * cleans `//`, `.` and `..` segments and refuses a trailing `/` on writes; mount paths are
 * case-sensitive (`auth/JWT-CI/...` is no route). So the comparison is made on the normalised name.
 */
export function ownedObjectPath(path: string, jwtMount: string): string | null {
  for (const head of ['sys/policies/acl/', 'sys/policy/']) {
    if (path.startsWith(head)) {
      const name = path.slice(head.length).trim().toLowerCase();
      return name.startsWith(OWNED) ? `${head}${name}` : null;
    }
  }
  // Every role on the service's JWT mount is the projector's, whatever its name (round-3 review of
  // issue 18, item 3): a role it did not render (`backdoor` with a ps-ci- policy) is drift too.
  const roles = `auth/${jwtMount}/role/`;
  if (path.startsWith(roles)) {
    const name = path.slice(roles.length).replace(/\/+$/, '').toLowerCase();
    return name !== '' ? `${roles}${name}` : null;
  }
  return path === `auth/${jwtMount}/config` ? path : null;
}

/** True for the objects whose desired state the projector owns (on the names OpenBao uses: ownedObjectPath). */
export function isOwnedObjectPath(path: string, jwtMount: string): boolean {
  return ownedObjectPath(path, jwtMount) !== null;
}

/** Operations that change an object. OpenBao 2.7.2 also accepts PATCH on `sys/policies/acl/<name>` (operation `patch`, the text replaced). */
const WRITES = new Set(['create', 'update', 'delete', 'patch']);

/** What the request's marker carries when it is exactly one value whose MAC is valid for the path, else null. */
function markerOf(request: Obj, path: string, key: Uint8Array | undefined): { id: string; place: string | null } | null {
  const values = strs(obj(request.headers)?.[BROKER_MARKER_HEADER]);
  if (!key || values.length !== 1) return null;
  const m = readBrokerMarker(key, values[0], path);
  // Only a place key can name an access stream (the MAC says the service sent it; this says it is well-formed).
  return m && (m.place === null || placeOf(m.place) !== null) ? m : null;
}

/**
 * Whether the entry shows a token issued by a login on the service's JWT mount with one of its
 * roles. OpenBao 2.7.2's audit entry names neither the auth mount nor its accessor for the token
 * (only `request.mount_accessor`, the KV mount's), so this reads what a login there leaves and a
 * token made by hand cannot: a display name `<mount, "/" as "-">-<user claim>` (every token from
 * auth/token/create is `token` or `token-...`), an identity entity (tokens created with
 * auth/token/create have none), and the JWT plugin's `role` metadata naming a ps-ci- role whose
 * policy is the token's only one (a rendered role's token_policies is exactly its own name).
 * Token metadata alone (project_id, job_id, ...) proves nothing: whoever can create tokens sets it.
 */
function ciJobToken(auth: Obj | undefined, jwtMount: string): boolean {
  return jwtRoleToken(auth, jwtMount) && foreignIdentityPolicies(auth).length === 0;
}

/**
 * Identity policies (OpenBao's `identity_policies`: policies of the token's entity or its identity
 * groups, granted on top of the token's own) other than the token's own role: a job token with any
 * of them may read what no rendered role grants (round-3 review of issue 18, item 2).
 */
function foreignIdentityPolicies(auth: Obj | undefined): string[] {
  const role = str(obj(auth?.metadata)?.role);
  return strs(auth?.identity_policies).filter((p) => p !== role);
}

/** The token came from a login on the service's JWT mount with one of its ps-ci- roles (see ciJobToken). */
function jwtRoleToken(auth: Obj | undefined, jwtMount: string): boolean {
  const display = str(auth?.display_name);
  const entity = str(auth?.entity_id);
  const role = str(obj(auth?.metadata)?.role);
  const policies = strs(auth?.token_policies);
  return (
    display !== undefined &&
    display.startsWith(`${jwtMount.replace(/\//g, '-')}-`) &&
    entity !== undefined &&
    entity !== '' &&
    role !== undefined &&
    role.startsWith(OWNED) &&
    policies.length === 1 &&
    policies[0] === role
  );
}

function accessorOf(auth: Obj | undefined, jwtMount: string): OpenBaoAccessor {
  const meta = obj(auth?.metadata) ?? {};
  const m = (k: string) => (typeof meta[k] === 'string' && meta[k] !== '' ? (meta[k] as string) : undefined);
  const displayName = str(auth?.display_name) ?? 'unknown';
  if (ciJobToken(auth, jwtMount) && m('project_id') && m('job_id')) {
    const a: OpenBaoAccessor = { type: 'ci-job', id: displayName, projectId: m('project_id'), jobId: m('job_id') };
    if (m('pipeline_id')) a.pipelineId = m('pipeline_id');
    if (m('ref')) a.ref = m('ref');
    return a;
  }
  return { type: 'token', id: displayName };
}

/** A stable key per token (tokenKey of OpenBaoKvAccess), or null when the entry names no token. */
function tokenKeyOf(auth: Obj | undefined): string | null {
  // The identity first: a job's JWT may log in again and again, each login a new token, but its
  // entity (one per mount and sub) stays; per token, every fresh login got the full rate again.
  const entity = str(auth?.entity_id);
  const t = entity ? `entity:${entity}` : str(auth?.accessor) || str(auth?.client_token);
  return t ? createHash('sha256').update(t).digest('base64url').slice(0, 22) : null;
}

function policyOf(auth: Obj | undefined): string | null {
  const granting = obj(auth?.policy_results)?.granting_policies;
  if (Array.isArray(granting)) {
    for (const g of granting) {
      const name = str(obj(g)?.name);
      if (name) return name;
    }
  }
  return strs(auth?.token_policies).find((p) => p.startsWith(OWNED)) ?? strs(auth?.policies)[0] ?? null;
}

/**
 * What one audit line means for the service, or null (not a response entry, not on the
 * service's paths, or not JSON). Only `response` entries count: they carry the outcome, and
 * each request has exactly one.
 */
export function interpretAuditLine(line: string, scope: OpenBaoAuditScope): OpenBaoAuditFinding | null {
  let entry: Obj | undefined;
  try {
    entry = obj(JSON.parse(line));
  } catch {
    return null;
  }
  if (!entry || entry.type !== 'response') return null;
  const request = obj(entry.request);
  const requestId = str(request?.id);
  const path = str(request?.path);
  const operation = str(request?.operation);
  const at = instant(entry.time);
  if (!request || !requestId || !path || !operation || !at) return null;
  const auth = obj(entry.auth);
  const error = str(entry.error);
  const marker = markerOf(request, path, scope.markerKey);
  const markerId = marker?.id ?? null;
  const brokered = markerId !== null;

  const secret = operation === 'read' ? kvPathOf(path, scope) : null;
  if (secret === 'invalid') return { kind: 'dropped', reason: 'invalid-path' };
  if (secret) {
    const denied = error !== undefined && /permission denied/.test(error);
    if (error !== undefined && !denied) return null; // 400, 5xx: not an access decision
    // No token, or one OpenBao does not know: the entry's auth names no token at all.
    if (denied && str(auth?.accessor) === undefined && str(auth?.client_token) === undefined) {
      const remote = str(request.remote_address);
      return { kind: 'unauthenticated-denial', requestId, at, remoteAddress: remote && remote !== '' ? remote : null, ...secret };
    }
    // A value left OpenBao only when the response carried KV data, or was wrapped: a read sent with
    // X-Vault-Wrap-TTL answers only wrap_info, and whoever holds the wrapping token unwraps the value
    // (sys/wrapping/unwrap needs no other policy); the KV version is then unknown here. A 404 (no such
    // path, or a deleted or destroyed version) has no error in the entry, and no data (or, for a
    // deleted version, only OpenBao's raw HTTP body): nothing was read.
    const data = obj(obj(entry.response)?.data);
    const wrapped = obj(obj(entry.response)?.wrap_info) !== undefined;
    const delivered = !denied && (obj(data?.data) !== undefined || wrapped);
    const version = obj(data?.metadata)?.version;
    return {
      kind: 'kv-read',
      allowed: delivered,
      notFound: !denied && !delivered,
      requestId,
      at,
      ...secret,
      version: delivered && typeof version === 'number' && Number.isSafeInteger(version) ? version : null,
      kvPath: path.slice(`${scope.kvMount}/data/`.length),
      policy: delivered ? policyOf(auth) : (strs(auth?.token_policies).find((p) => p.startsWith(OWNED)) ?? null),
      accessor: accessorOf(auth, scope.jwtMount),
      brokered,
      markerId,
      markerPlace: marker?.place ?? null,
      token: tokenKeyOf(auth),
      identityEscalation:
        jwtRoleToken(auth, scope.jwtMount) && foreignIdentityPolicies(auth).length > 0
          ? { entityId: str(auth?.entity_id) ?? '', policies: foreignIdentityPolicies(auth).sort() }
          : null,
    };
  }
  const owned = WRITES.has(operation) ? ownedObjectPath(path, scope.jwtMount) : null;
  if (owned !== null) {
    return {
      kind: 'owned-write',
      requestId,
      at,
      path: owned,
      operation,
      who: { displayName: str(auth?.display_name) ?? 'unknown', policies: strs(auth?.policies) },
      brokered,
      markerId,
      succeeded: error === undefined,
    };
  }
  return null;
}

/** A UUID (RFC 9562 version 8, SHA-256 based) that is the same for the same OpenBao request id and purpose, however often it is read. */
export function auditEventId(requestId: string, purpose: string): string {
  const h = createHash('sha256').update(`pipeline-secrets/openbao-audit/${purpose}\n${requestId}`).digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
