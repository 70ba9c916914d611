import { StoreUnavailableError } from '@app/domain';

// Connection-level failures (server down, network, shutdown) become StoreUnavailableError (503);
// errors in a statement itself stay as they are (they are bugs, or constraint results callers handle).
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300', '53400', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH']);

export function isUnavailable(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (!err) return false;
  if (err.code && (UNAVAILABLE_CODES.has(err.code) || err.code.startsWith('08'))) return true;
  // pg-pool's "timeout exceeded when trying to connect" (pool exhausted or server black-holed), pg's
  // query_timeout ("Query read timeout"), statement_timeout (57014) and lost connections.
  if (err.code === '57014') return true;
  return (
    typeof err.message === 'string' &&
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection terminated unexpectedly|PGlite is closed|read ECONNRESET|connect ECONNREFUSED/i.test(err.message)
  );
}

export function mapSqlError(e: unknown): unknown {
  return isUnavailable(e) ? new StoreUnavailableError('database unavailable', e) : e;
}
