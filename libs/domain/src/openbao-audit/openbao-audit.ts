// OpenBao's file audit device as an input: one JSON object per line (a `request` entry, then a
// `response` entry with the same request id). Pure: this file only reads a parsed line and says
// what, if anything, the service must record. OpenBao HMACs every string of request and response
// data (values, tokens, accessors): nothing below ever copies a data field; it keeps only the
// path, the operation, the request id, the policy names and the token metadata the CI roles map.
import { createHash } from 'node:crypto';
import { verifyBrokerMarker } from './broker-marker';

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
  /** ci-job when the token came from a CI role login (its metadata names the job), else token */
  type: 'ci-job' | 'token';
  /** the job's subject (OpenBao's display name for the JWT role's user_claim) or the token's display name */
  id: string;
  projectId?: string;
  pipelineId?: string;
  jobId?: string;
  ref?: string;
}

/** A read (or a refused read) of a value under the service's KV prefix. */
export interface OpenBaoKvAccess {
  kind: 'kv-read';
  allowed: boolean;
  requestId: string;
  at: string;
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

export type OpenBaoAuditFinding = OpenBaoKvAccess | OpenBaoOwnedWrite;

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

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The (project, name, version-in-path) a KV data path names, or null when it is not under the
 * prefix. `<mount>/data/<prefix>/<project>/<NAME>[/<more>]`: the first two segments after the
 * prefix are the secret, whatever layout follows (one path per value version included).
 */
export function kvSecretOf(path: string, scope: Pick<OpenBaoAuditScope, 'kvMount' | 'kvPrefix'>): { projectId: string; name: string } | null {
  const head = `${scope.kvMount}/data/${scope.kvPrefix}/`;
  if (!path.startsWith(head)) return null;
  const rest = path.slice(head.length).split('/');
  if (rest.length < 2 || !SEGMENT.test(rest[0]) || !SEGMENT.test(rest[1])) return null;
  return { projectId: rest[0], name: rest[1] };
}

/** True for the objects whose desired state the projector owns. */
export function isOwnedObjectPath(path: string, jwtMount: string): boolean {
  if (path.startsWith(`sys/policies/acl/${OWNED}`) || path.startsWith(`sys/policy/${OWNED}`)) return true;
  if (path.startsWith(`auth/${jwtMount}/role/${OWNED}`)) return true;
  return path === `auth/${jwtMount}/config`;
}

const WRITES = new Set(['create', 'update', 'delete']);

/** The id of the request's marker when it is exactly one value whose MAC is valid for the path, else null. */
function markerIdOf(request: Obj, path: string, key: Uint8Array | undefined): string | null {
  const values = strs(obj(request.headers)?.[BROKER_MARKER_HEADER]);
  if (!key || values.length !== 1) return null;
  return verifyBrokerMarker(key, values[0], path);
}

function accessorOf(auth: Obj | undefined): OpenBaoAccessor {
  const meta = obj(auth?.metadata) ?? {};
  const m = (k: string) => (typeof meta[k] === 'string' && meta[k] !== '' ? (meta[k] as string) : undefined);
  const displayName = str(auth?.display_name) ?? 'unknown';
  if (m('project_id') && m('job_id')) {
    const a: OpenBaoAccessor = { type: 'ci-job', id: displayName, projectId: m('project_id'), jobId: m('job_id') };
    if (m('pipeline_id')) a.pipelineId = m('pipeline_id');
    if (m('ref')) a.ref = m('ref');
    return a;
  }
  return { type: 'token', id: displayName };
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
  const markerId = markerIdOf(request, path, scope.markerKey);
  const brokered = markerId !== null;

  const secret = operation === 'read' ? kvSecretOf(path, scope) : null;
  if (secret) {
    const denied = error !== undefined && /permission denied/.test(error);
    if (error !== undefined && !denied) return null; // 404, 400: not an access decision
    const version = obj(obj(obj(entry.response)?.data)?.metadata)?.version;
    return {
      kind: 'kv-read',
      allowed: !denied,
      requestId,
      at,
      ...secret,
      version: typeof version === 'number' && Number.isSafeInteger(version) ? version : null,
      kvPath: path.slice(`${scope.kvMount}/data/`.length),
      policy: denied ? (strs(auth?.token_policies).find((p) => p.startsWith(OWNED)) ?? null) : policyOf(auth),
      accessor: accessorOf(auth),
      brokered,
      markerId,
    };
  }
  if (WRITES.has(operation) && isOwnedObjectPath(path, scope.jwtMount)) {
    return {
      kind: 'owned-write',
      requestId,
      at,
      path,
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
