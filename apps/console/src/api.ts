// The one API client every screen uses: plain fetch to the same origin, the session cookie sent by
// the browser (HttpOnly: this code never sees it), JSON on every write (the API refuses a
// cookie-authenticated write that is not same-origin JSON). No token is ever stored in the page.

export type Action = 'read' | 'create' | 'update' | 'delete' | 'list' | 'manage-grants' | 'read-audit';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  reason?: string;
  errors?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
  /** Approving, denying and reviewing need a sign-in younger than 10 minutes. */
  get needsRecentSignIn(): boolean {
    return this.problem.type === 'urn:pipeline-secrets:problem:recent-sign-in-required';
  }
  get conflict(): boolean {
    return this.problem.status === 409 || this.problem.status === 412;
  }
}

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', ...(method === 'GET' ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? (method === 'GET' ? undefined : '{}') : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const p = (data ?? {}) as Partial<Problem>;
    throw new ApiError({ type: p.type ?? 'about:blank', title: p.title ?? res.statusText, status: res.status, detail: p.detail, reason: p.reason, errors: p.errors });
  }
  return data as T;
}

const enc = encodeURIComponent;
const qs = (q: Record<string, string | undefined>) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
};

// ---- session (console only) ----
export interface Session {
  signedIn: boolean;
  methods: { dev: boolean; oidc: boolean };
  principal?: { type: 'user'; id: string; groups: string[] };
  signedInAt?: string;
  recentUntil?: string;
  expiresAt?: string;
}
export const session = () => call<Session>('GET', '/console/api/session');
export const devSignIn = (sub: string, groups: string[]) => call<{ signedIn: true }>('POST', '/console/api/session/dev', { sub, groups });
export const signOut = () => call<void>('DELETE', '/console/api/session');
export const oidcSignInUrl = (reauth: boolean) => `/console/auth/login${reauth ? '?reauth=1' : ''}`;

// ---- who am I ----
export interface Me {
  principal: { type: 'user' | 'ci-job'; id: string; groups?: string[] };
  projects: { projectId: string; actions: Action[] }[];
  groups: { groupId: string; actions: Action[] }[];
}
export const me = () => call<Me>('GET', '/v1/me');

// ---- access history ----
export interface HistoryFilter {
  secret?: string;
  principal?: string;
  pipeline?: string;
  decision?: string;
  channel?: string;
  from?: string;
  to?: string;
}
export interface HistoryItem {
  eventId: string;
  occurredAt: string;
  projectId: string;
  secret: string | null;
  action: string;
  decision: 'allowed' | 'denied';
  reason: string | null;
  version: number | null;
  principal: { type: string; id: string; pipelineId: string | null; jobId: string | null; ref: string | null; environment: string | null };
  via: Record<string, unknown> | null;
  channel: 'api' | 'openbao';
  purpose: string | null;
}
export const history = (projectId: string, f: HistoryFilter, cursor?: string, limit = 50) =>
  call<{ items: HistoryItem[]; nextCursor: string | null }>('GET', `/v1/projects/${enc(projectId)}/access-history${qs({ ...f, cursor, limit: String(limit) })}`);
export const historyExportUrl = (projectId: string, f: HistoryFilter, format: 'csv' | 'ndjson') => `/v1/projects/${enc(projectId)}/access-history${qs({ ...f, format })}`;
export const auditIndexOf = (projectId: string, eventId: string) => call<{ eventId: string; index: number }>('GET', `/v1/projects/${enc(projectId)}/access-history/${enc(eventId)}/audit-record`);

// ---- the audit log ----
export interface AuditRecord {
  index: number;
  eventId: string;
  record: unknown;
  leafHash: string;
  treeSize: number;
  inclusionProof: string[];
  checkpoint: string | null;
}
export const auditRecord = (index: number) => call<AuditRecord>('GET', `/v1/audit/records/${index}`);
export const publicKey = () => call<{ keyId: string; algorithm: string; publicKeyPem: string; origin: string; noteVerifierKey: string }>('GET', '/v1/audit/public-key');
export async function latestCheckpoint(): Promise<string> {
  const res = await fetch('/v1/audit/checkpoints/latest', { credentials: 'same-origin', headers: { Accept: 'text/plain' } });
  if (!res.ok) throw new ApiError({ type: 'about:blank', title: res.statusText, status: res.status });
  return res.text();
}

// ---- access requests and break-glass ----
export interface AccessRequest {
  requestId: string;
  requester: { type: 'user'; id: string };
  role: string;
  environment: string | null;
  branch: string | null;
  durationSeconds: number;
  reason: string;
  requestedAt: string;
  status: string;
  decidedBy: string | null;
  comment: string | null;
  grantId: string | null;
}
export const accessRequests = (projectId: string, status?: string, cursor?: string, limit = 100) =>
  call<{ items: AccessRequest[]; nextCursor: string | null }>('GET', `/v1/projects/${enc(projectId)}/access-requests${qs({ status, cursor, limit: String(limit) })}`);
/** Every pending request: the API bounds them (ACCESS_REQUEST_MAX_PENDING_PER_PROJECT, 200), so a few pages at most. */
export async function allPendingRequests(projectId: string): Promise<AccessRequest[]> {
  const out: AccessRequest[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const r = await accessRequests(projectId, 'pending', cursor);
    out.push(...r.items);
    if (!r.nextCursor) break;
    cursor = r.nextCursor;
  }
  return out;
}
export const impact = (projectId: string, requestId: string) =>
  call<{ wouldRead: { name: string; source: { type: string; id: string } }[]; wouldManage: boolean }>('GET', `/v1/projects/${enc(projectId)}/access-requests/${enc(requestId)}/impact`);
export const approve = (projectId: string, requestId: string, comment: string) => call<{ grantId: string; expiresAt: string }>('POST', `/v1/projects/${enc(projectId)}/access-requests/${enc(requestId)}/approve`, comment ? { comment } : {});
export const deny = (projectId: string, requestId: string, comment: string) => call<unknown>('POST', `/v1/projects/${enc(projectId)}/access-requests/${enc(requestId)}/deny`, { comment });
export interface BreakGlass {
  grantId: string;
  principal: { type: 'user'; id: string };
  reason: string;
  invokedAt: string;
  expiresAt: string;
  review: { outcome: string; comment: string; reviewedBy: string } | null;
}
export const breakGlasses = (projectId: string, reviewed?: boolean) => call<{ items: BreakGlass[] }>('GET', `/v1/projects/${enc(projectId)}/break-glass${qs({ reviewed: reviewed === undefined ? undefined : String(reviewed) })}`);
export const reviewBreakGlass = (projectId: string, grantId: string, outcome: 'justified' | 'unjustified', comment: string) =>
  call<unknown>('POST', `/v1/projects/${enc(projectId)}/break-glass/${enc(grantId)}/review`, { outcome, comment });

// ---- grants ----
export interface Grant {
  grantId: string;
  principal: { type: 'user' | 'group'; id: string };
  role: string;
  environment: string | null;
  branch: string | null;
  expiresAt: string | null;
  grantedBy: string;
  grantedAt: string;
  status: 'active' | 'expired' | 'revoked';
  accessRequestId?: string;
  breakGlass?: true;
}
export const grants = (projectId: string) => call<{ items: Grant[] }>('GET', `/v1/projects/${enc(projectId)}/grants`);
export const createGrant = (projectId: string, g: { principal: { type: 'user' | 'group'; id: string }; role: string; environment?: string; branch?: string; expiresAt?: string }) =>
  call<{ grantId: string }>('POST', `/v1/projects/${enc(projectId)}/grants`, g);
export const revokeGrant = (projectId: string, grantId: string) => call<void>('DELETE', `/v1/projects/${enc(projectId)}/grants/${enc(grantId)}`);

// ---- secrets (metadata only: this client has no call that returns a value) ----
export interface SecretMeta {
  name: string;
  description: string | null;
  environment: string | null;
  branch: string | null;
  protectedOnly: boolean;
  version: number;
  updatedAt: string;
  rotation: { intervalDays: number; lastRotatedAt: string; dueAt: string; status: 'ok' | 'approaching' | 'overdue' } | null;
}
export const secrets = (projectId: string, rotation?: 'approaching' | 'overdue') => call<{ items: SecretMeta[] }>('GET', `/v1/projects/${enc(projectId)}/secrets${qs({ rotation })}`);

// ---- who could read it ----
export interface Reader {
  principal: { type: string; id?: string; projectId?: string };
  via: Record<string, unknown>;
}
export const readers = (projectId: string, name: string, at: string) => call<{ at: string; readers: Reader[] }>('GET', `/v1/projects/${enc(projectId)}/secrets/${enc(name)}/readers${qs({ at })}`);

// ---- a secret's history: metadata changes and the grants that could read it (never a value) ----
export interface SecretHistoryItem {
  at: string;
  type: 'SecretCreated' | 'SecretValueUpdated' | 'SecretMetadataChanged' | 'SecretDeleted' | 'SecretRotationOverdue' | 'RoleGranted' | 'RoleRevoked' | 'RoleExpired';
  kind: 'metadata' | 'grant';
  actor: { type: string; id: string };
  changes: Record<string, { from: unknown; to: unknown }>;
  version?: number;
  grant?: { grantId: string; principal: { type: string; id: string }; role: string; environment: string | null; branch: string | null; expiresAt: string | null; accessRequestId?: string; breakGlass?: true };
}
export const secretHistory = (projectId: string, name: string, kind: 'all' | 'metadata' | 'readers', cursor?: string, limit = 100) =>
  call<{ items: SecretHistoryItem[]; nextCursor: string | null }>('GET', `/v1/projects/${enc(projectId)}/secrets/${enc(name)}/history${qs({ kind, cursor, limit: String(limit) })}`);

// ---- live audit tail (NDJSON stream of the caller's projects' records) ----
export interface TailRecord {
  index: number;
  eventId: string;
  eventType: string;
  key: string;
  record: { time?: number; activity_name?: string; actor?: { user?: { uid?: string } }; severity?: string };
}
/**
 * Reads the live stream until `signal` aborts; each record is handed to `onRecord`. `onOpen` is
 * called once the server answered: from then on every new record reaches this stream.
 */
export async function tail(onRecord: (r: TailRecord) => void, signal: AbortSignal, onOpen: () => void = () => undefined): Promise<void> {
  const res = await fetch('/v1/audit/stream', { credentials: 'same-origin', headers: { Accept: 'application/x-ndjson' }, signal });
  if (!res.ok || !res.body) throw new ApiError({ type: 'about:blank', title: res.statusText || 'stream refused', status: res.status });
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onRecord(JSON.parse(line) as TailRecord); // blank lines are keep-alives
    }
  }
}

// ---- scope tester: would a CI job with these claims read the secret? (the API's own rule) ----
export const scopeTest = (projectId: string, name: string, q: { ref: string; refType: 'branch' | 'tag'; environment?: string; protected: boolean }) =>
  call<{ wouldRead: boolean; reason: string | null }>('GET', `/v1/projects/${enc(projectId)}/secrets/${enc(name)}/scope-test${qs({ ref: q.ref, refType: q.refType, environment: q.environment, protected: String(q.protected) })}`);
