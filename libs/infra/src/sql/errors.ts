import { StoreUnavailableError } from '@app/domain';

// Connection-level failures (server down, network, shutdown) become StoreUnavailableError (503);
// errors in a statement itself stay as they are (they are bugs, or constraint results callers handle).
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300']);

export function isUnavailable(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (!err) return false;
  if (err.code && (UNAVAILABLE_CODES.has(err.code) || err.code.startsWith('08'))) return true;
  return typeof err.message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error|PGlite is closed/i.test(err.message);
}

export function mapSqlError(e: unknown): unknown {
  return isUnavailable(e) ? new StoreUnavailableError('database unavailable', e) : e;
}
