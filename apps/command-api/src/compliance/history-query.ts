import { PRINCIPAL_ID_PATTERN, SECRET_NAME_PATTERN } from '@app/domain';
import { parseRfc3339 } from '@app/domain/invariants';
import { AccessHistoryFilter, decodeCursor, HistoryCursor } from '@app/infra/read-models/compliance';
import { PIPELINE_ID_PATTERN, rejectUnknownParams } from '../http/params';
import { FieldError, problems } from '../http/problem';

// The query parameters of the reviewers' queries (REST and GraphQL parse them alike).

const HISTORY_PARAMS = ['secret', 'principal', 'pipeline', 'decision', 'channel', 'from', 'to', 'cursor', 'limit'];

function single(query: Record<string, unknown>, field: string, errors: FieldError[]): string | undefined {
  const v = query[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    errors.push({ field, message: `${field} must be given once` });
    return undefined;
  }
  return v;
}

export function timestamp(query: Record<string, unknown>, field: string, errors: FieldError[]): string | undefined {
  const v = single(query, field, errors);
  if (v === undefined) return undefined;
  const ms = parseRfc3339(v); // every field in range, years 0001-9999 (PostgreSQL has no year 0000)
  if (ms === null) {
    errors.push({ field, message: `${field} must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z (years 0001-9999)` });
    return undefined;
  }
  return new Date(ms).toISOString();
}

function matching(query: Record<string, unknown>, field: string, pattern: RegExp, errors: FieldError[]): string | undefined {
  const v = single(query, field, errors);
  if (v !== undefined && !pattern.test(v)) errors.push({ field, message: `${field} must match ${pattern.source}` });
  return v;
}

/** `placeKey`: a project id or a group's key; the filter's projectId is that key. */
export function parseHistoryQuery(placeKey: string, query: Record<string, unknown>): { filter: AccessHistoryFilter; limit: number; cursor?: HistoryCursor } {
  const errors: FieldError[] = [];
  rejectUnknownParams(query, HISTORY_PARAMS, errors);
  const filter: AccessHistoryFilter = { projectId: placeKey };
  filter.secret = matching(query, 'secret', SECRET_NAME_PATTERN, errors);
  filter.principal = matching(query, 'principal', PRINCIPAL_ID_PATTERN, errors);
  filter.pipeline = matching(query, 'pipeline', PIPELINE_ID_PATTERN, errors);
  const decision = single(query, 'decision', errors);
  if (decision !== undefined && decision !== 'allowed' && decision !== 'denied') errors.push({ field: 'decision', message: 'decision must be allowed or denied' });
  else filter.decision = decision;
  const channel = single(query, 'channel', errors);
  if (channel !== undefined && channel !== 'api' && channel !== 'openbao') errors.push({ field: 'channel', message: 'channel must be api or openbao' });
  else filter.channel = channel;
  filter.from = timestamp(query, 'from', errors);
  filter.to = timestamp(query, 'to', errors);
  if (filter.from && filter.to && filter.from > filter.to) errors.push({ field: 'to', message: 'to must not be before from' });
  let limit = 100;
  const rawLimit = single(query, 'limit', errors);
  if (rawLimit !== undefined) {
    if (!/^\d{1,4}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 1000) errors.push({ field: 'limit', message: 'limit must be an integer from 1 to 1000' });
    else limit = Number(rawLimit);
  }
  let cursor: HistoryCursor | undefined;
  const rawCursor = single(query, 'cursor', errors);
  if (rawCursor !== undefined) {
    cursor = decodeCursor(rawCursor);
    if (!cursor) errors.push({ field: 'cursor', message: 'cursor must be a nextCursor returned by this endpoint' });
  }
  for (const k of Object.keys(filter) as (keyof AccessHistoryFilter)[]) if (filter[k] === undefined) delete filter[k];
  if (errors.length > 0) throw problems.badRequest('invalid query', errors);
  return { filter, limit, cursor };
}
