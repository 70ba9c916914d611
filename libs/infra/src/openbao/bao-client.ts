import { readFileSync } from 'node:fs';
// node-vault: the maintained HTTP client for the Vault API, which OpenBao keeps.
import vault from 'node-vault';

export type BaoClient = vault.client;

/** An OpenBao answer other than 2xx. `status` is the HTTP status; the message holds no request data. */
export class BaoError extends Error {
  constructor(readonly status: number | undefined, readonly errors: string[]) {
    super(`OpenBao ${status ?? 'unreachable'}${errors.length ? `: ${errors.join('; ')}` : ''}`);
    this.name = 'BaoError';
  }
}

/**
 * Sent on every request the service makes (its own token and the job tokens it brokers), and
 * recorded by OpenBao's audit device in clear when `sys/config/auditing/request-headers/<it>` has
 * hmac=false: the auditor then knows a read was brokered (already an event) and does not count it
 * twice. Anyone can send a header: docs/openbao.md says what that means.
 */
export const BROKER_MARKER_HEADER = 'X-Pipeline-Secrets-Broker';

export function baoClient(addr: string, token: string): BaoClient {
  return vault({ apiVersion: 'v1', endpoint: addr.replace(/\/+$/, ''), token, requestOptions: { timeout: 10_000, headers: { [BROKER_MARKER_HEADER]: 'pipeline-secrets' } } });
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
