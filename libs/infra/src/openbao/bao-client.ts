import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
// node-vault: the maintained HTTP client for the Vault API, which OpenBao keeps.
import vault from 'node-vault';
import { brokerMarker } from '@app/domain/openbao-audit';
import { CircuitBreaker } from '../resilience/circuit-breaker';

/**
 * OpenBao's own messages that mean "not set up (yet)", not "no": a mount that is not there (an
 * OpenBao restarted empty, before the projector enabled it again), a JWT mount without its config
 * yet, a sealed server. Such an answer is a 503 with Retry-After for our clients, whatever its status.
 */
const NOT_SET_UP = [/^no handler for route\b/i, /^could not load configuration$/i, /\bis sealed\b/i, /^local node not active\b/i];

/** An OpenBao answer other than 2xx. `status` is the HTTP status; the message holds no request data. */
export class BaoError extends Error {
  /** `setUpMissing`: the caller knows this answer means "not set up yet" (see OpenBaoValueStore.asJob). */
  constructor(readonly status: number | undefined, readonly errors: string[], private readonly setUpMissing = false) {
    super(`OpenBao ${status ?? 'unreachable'}${errors.length ? `: ${errors.join('; ')}` : ''}`);
    this.name = 'BaoError';
  }

  /** Unreachable, a 5xx, or an answer that says OpenBao is not set up yet (see NOT_SET_UP): retry later. */
  get unavailable(): boolean {
    return this.status === undefined || this.status >= 500 || this.notSetUp;
  }

  /** OpenBao answered that a mount or its config is missing, or that it is sealed: not a refusal, not a missing value. */
  get notSetUp(): boolean {
    return this.setUpMissing || this.errors.some((m) => NOT_SET_UP.some((re) => re.test(m)));
  }
}

/** Whether `e` is an OpenBao answer meaning "retry later" (unreachable, 5xx, not set up yet). */
export const isBaoUnavailable = (e: unknown): boolean => e instanceof BaoError && e.unavailable;

/**
 * Sent on every request the service makes (its own token and the job tokens it brokers) when it
 * holds the marker key, and recorded by OpenBao's audit device in clear when
 * `sys/config/auditing/request-headers/<it>` has hmac=false. Its value is a MAC only the service can
 * make (`@app/domain/openbao-audit` brokerMarker): bound to the request's path and, on a brokered KV
 * read, to the SecretAccessed event id of that read; on any other request to a fresh nonce. The
 * auditor verifies it, so a client that copies the header name (or an old marker) gains nothing.
 */
export const BROKER_MARKER_HEADER = 'X-Pipeline-Secrets-Broker';

/** A CI job's JWT login sent inline with a request (OpenBao 2.4+ inline auth): no token is stored, nothing to revoke. */
export interface InlineAuth {
  /** the JWT auth mount */
  mount: string;
  role: string;
  jwt: string;
}

/**
 * OpenBao's inline auth headers: the login path and one header per login parameter, each the
 * base64url (no padding) of a JSON `{key, value}` (checked on OpenBao 2.7.2). OpenBao logs in with
 * them for this one request, checks the JWT against the role as a login would, and drops the token.
 */
export function inlineAuthHeaders(a: InlineAuth): Record<string, string> {
  const param = (key: string, value: string) => Buffer.from(JSON.stringify({ key, value })).toString('base64url');
  return {
    'X-Vault-Inline-Auth-Path': `auth/${a.mount}/login`,
    'X-Vault-Inline-Auth-Parameter-role': param('role', a.role),
    'X-Vault-Inline-Auth-Parameter-jwt': param('jwt', a.jwt),
  };
}

export type BaoClient = vault.client & {
  /** A KV read the service brokers: its marker names the SecretAccessed event already appended for it. */
  readBrokered(path: string, accessEventId: string): Promise<any>;
  /**
   * The hot path's read (a GET on node:http with a keep-alive agent, not node-vault's request
   * stack): with the client's token, or as a CI job with inline auth. Same breaker, same marker,
   * same errors as the node-vault calls. `accessPlace`: the place whose access stream holds the
   * SecretAccessed when it is not the secret's own (the marker says so: broker-marker.ts v2).
   */
  readFast(path: string, opts?: { inline?: InlineAuth; accessEventId?: string; accessPlace?: string }): Promise<any>;
};

/** node-vault's error of a call that got no answer (refused, reset, timed out) or a 5xx: OpenBao may be down. */
function isBaoOutage(e: unknown): boolean {
  const err = e as { response?: { statusCode?: number }; code?: unknown };
  const status = err?.response?.statusCode;
  return status === undefined ? typeof err?.code === 'string' : status >= 500;
}

const breakers = new Map<string, CircuitBreaker>();
/**
 * One circuit breaker per OpenBao address, shared by the service's clients and the job clients it
 * makes (issue 18, 15; libs/infra/src/resilience/circuit-breaker.ts): a call with no answer (or
 * still waiting after 1 s) makes it probe `sys/health` (2 s bound); a failed probe answers every
 * waiting and every new call with "unavailable" (503) at once until a probe, every 250 ms, succeeds.
 */
export function baoBreaker(endpoint: string): CircuitBreaker {
  let b = breakers.get(endpoint);
  if (!b) {
    b = new CircuitBreaker({
      name: 'OpenBao',
      isOutage: isBaoOutage,
      // Shaped like node-vault's own errors, so bao() makes it a BaoError(503): unavailable, with a reason.
      unavailable: (detail) => Object.assign(new Error(detail), { response: { statusCode: 503, body: { errors: [detail] } } }),
      probe: async () => {
        // 200 active, 429 standby, 472/473 DR/performance standby: answering. 501 uninitialised, 503 sealed: not.
        const r = await fetch(`${endpoint}/v1/sys/health`, { signal: AbortSignal.timeout(2000) });
        await r.body?.cancel().catch(() => undefined);
        if (r.status >= 500) throw new Error(`sys/health ${r.status}`);
      },
    });
    breakers.set(endpoint, b);
  }
  return b;
}

const agents = new Map<string, http.Agent>();
/** One keep-alive agent per OpenBao address, shared by every client of the process. */
function agentOf(url: URL): http.Agent {
  let a = agents.get(url.origin);
  if (!a) {
    const opts = { keepAlive: true, maxSockets: 64, maxFreeSockets: 64, scheduling: 'lifo' as const };
    a = url.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
    agents.set(url.origin, a);
  }
  return a;
}

/**
 * GET `/v1/<path>` with `headers`; resolves the parsed body of a 2xx, rejects like node-vault does
 * (`response.statusCode`, `response.body.errors`; `code` when there was no answer) so bao() and the
 * breaker read both the same. 10 s bound, as node-vault's requestOptions.
 */
function getJson(base: URL, path: string, headers: Record<string, string>, retried = false): Promise<any> {
  const mod = base.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { agent: agentOf(base), protocol: base.protocol, hostname: base.hostname, port: base.port, method: 'GET', path: `${base.pathname.replace(/\/+$/, '')}/v1/${path}`, headers, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let body: any;
          try {
            body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
          } catch {
            body = undefined;
          }
          if (status >= 200 && status < 300) resolve(body);
          else reject(Object.assign(new Error(`OpenBao ${status}`), { response: { statusCode: status, body: body ?? {} } }));
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('OpenBao request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive connection the server closed while idle fails the next request sent on it
      // (the race Node's documentation describes for reusedSocket): a GET is sent again once, on a
      // new connection. Should OpenBao have answered the first after all, its audit file holds
      // two reads under one broker marker, and the auditor records the second as a direct read:
      // counted twice at worst, never missed.
      if (!retried && req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) resolve(getJson(base, path, headers, true));
      else reject(e);
    });
    req.end();
  });
}

export function baoClient(addr: string, token: string, markerKey?: Uint8Array): BaoClient {
  const endpoint = addr.replace(/\/+$/, '');
  const base = new URL(endpoint);
  const client = vault({ apiVersion: 'v1', endpoint, token, requestOptions: { timeout: 10_000 } }) as BaoClient;
  const breaker = baoBreaker(endpoint);
  const send = client.request.bind(client);
  const request = (options: any) => breaker.run(() => send(options));
  client.request = (options: any = {}) => {
    if (markerKey && typeof options.path === 'string') {
      const headers = { ...(options.headers ?? {}) };
      const id = options.brokerMarkerId as string | undefined;
      delete options.brokerMarkerId;
      headers[BROKER_MARKER_HEADER] = brokerMarker(markerKey, options.path, id);
      options.headers = headers;
    } else {
      delete options.brokerMarkerId;
    }
    return request(options);
  };
  client.readBrokered = (path: string, accessEventId: string) => client.read(path, { brokerMarkerId: accessEventId } as never);
  client.readFast = (path, opts = {}) => {
    const headers: Record<string, string> = opts.inline ? inlineAuthHeaders(opts.inline) : { 'X-Vault-Token': String(client.token ?? token) };
    if (markerKey) headers[BROKER_MARKER_HEADER] = brokerMarker(markerKey, path, opts.accessEventId, opts.accessEventId === undefined ? undefined : opts.accessPlace);
    return breaker.run(() => getJson(base, path, headers));
  };
  return client;
}

/** The service token: BAO_TOKEN_FILE (a mounted secret, re-read at start) wins over BAO_TOKEN. */
export function serviceToken(opts: { token?: string; tokenFile?: string }): string {
  if (opts.tokenFile) {
    const t = readFileSync(opts.tokenFile, 'utf8').trim();
    if (!t) throw new Error(`BAO_TOKEN_FILE ${opts.tokenFile} is empty`);
    return t;
  }
  if (opts.token) return opts.token;
  throw new Error('BAO_TOKEN_FILE or BAO_TOKEN is required when BAO_ADDR is set');
}

/** Runs one call and turns node-vault's error into a BaoError (status + OpenBao's own messages, never the request). */
export async function bao<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    const err = e as { response?: { statusCode?: number; body?: { errors?: unknown } } };
    const errors = Array.isArray(err.response?.body?.errors) ? (err.response!.body!.errors as unknown[]).map(String) : [];
    throw new BaoError(err.response?.statusCode, errors);
  }
}

export const isStatus = (e: unknown, ...codes: number[]) => e instanceof BaoError && e.status !== undefined && codes.includes(e.status);
/** A refusal or an absence OpenBao means (these statuses), not one of its "not set up yet" answers. */
export const isAnswer = (e: unknown, ...codes: number[]) => isStatus(e, ...codes) && !(e as BaoError).notSetUp;
