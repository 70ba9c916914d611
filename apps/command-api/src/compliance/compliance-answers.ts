import type { Response } from 'express';
import { placeOf, Principal } from '@app/domain';
import { AccessHistoryFilter, AccessHistoryItem, ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { rejectUnknownParams } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { toCsvRow, HISTORY_CSV_HEADER, historyCsvFields } from './csv';
import { parseHistoryQuery, timestamp } from './history-query';
import { secretReadersAt, SecretReadersView } from './secret-readers';

// The answers of the reviewers' queries, for a project and for a group alike (the place key says
// which): the same parsing, the same read-audit rule, the same paging and exports. Controllers
// only bind routes and pipes to these.

/** An access-history row as the API shows it: a group's secret names its `groupId`, never the internal key. */
export type PublicHistoryItem = Omit<AccessHistoryItem, 'projectId'> & ({ projectId: string } | { groupId: string });

export function publicHistoryItem(i: AccessHistoryItem): PublicHistoryItem {
  const place = placeOf(i.projectId);
  if (place?.type !== 'group') return i;
  // groupId where projectId stands in a project's row.
  const { projectId: _key, eventId, occurredAt, ...rest } = i;
  return { eventId, occurredAt, groupId: place.id, ...rest };
}

type ExportFormat = 'csv' | 'ndjson' | 'json';
/** `format=csv|ndjson|json` (so an export is a plain link) wins over the Accept header. */
function exportFormat(accept: string | undefined, format: unknown): ExportFormat {
  if (format !== undefined) {
    if (format === 'csv' || format === 'ndjson' || format === 'json') return format;
    throw problems.badRequest('invalid query', [{ field: 'format', message: 'format must be given once: csv, ndjson or json' }]);
  }
  const a = (accept ?? '').toLowerCase();
  if (a.includes('text/csv')) return 'csv';
  if (a.includes('application/x-ndjson')) return 'ndjson';
  return 'json';
}

/** A file name safe in Content-Disposition: a group's path with `-` for `/`. */
function exportFileName(key: string): string {
  const place = placeOf(key);
  return place?.type === 'group' ? `access-history-group-${place.id.split('/').join('-')}.csv` : `access-history-${key}.csv`;
}

/**
 * GET …/access-history of a place (project id or group key): parse (400s before anything is read),
 * read-audit on the place (own or inherited grant; an audited 403 otherwise, the same for a place
 * that does not exist), then one JSON page or every matching row streamed as CSV/NDJSON.
 */
export async function answerAccessHistory(
  deps: { access: AccessControl; queries: ComplianceQueries },
  key: string,
  query: Record<string, unknown>,
  p: Principal,
  req: AuthenticatedRequest,
  res: Response,
): Promise<{ items: PublicHistoryItem[]; nextCursor: string | null } | void> {
  const { format: formatParam, ...filters } = query;
  const format = exportFormat(req.headers.accept, formatParam);
  const { filter, limit, cursor } = parseHistoryQuery(key, filters);
  await deps.access.require(p, 'read-audit', { projectId: key }, commandContext(req, p));
  res.setHeader('Cache-Control', 'no-store');
  if (format === 'json') {
    const page = await deps.queries.accessHistory(filter, limit, cursor);
    return { items: page.items.map(publicHistoryItem), nextCursor: page.nextCursor };
  }
  await streamHistory(deps.queries, res, format, filter);
}

/** Streams page by page with back-pressure: memory stays one page however long the history. */
async function streamHistory(queries: ComplianceQueries, res: Response, format: 'csv' | 'ndjson', filter: AccessHistoryFilter): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
  if (format === 'csv') res.setHeader('Content-Disposition', `attachment; filename="${exportFileName(filter.projectId)}"`);
  const write = (chunk: string) => (res.write(chunk) ? Promise.resolve() : new Promise<void>((r) => res.once('drain', () => r())));
  let closed = false;
  res.once('close', () => (closed = true));
  try {
    if (format === 'csv') await write(toCsvRow(HISTORY_CSV_HEADER));
    for await (const page of queries.exportAccessHistory(filter)) {
      if (closed) return;
      await write(page.map((i) => (format === 'csv' ? toCsvRow(historyCsvFields(i)) : JSON.stringify(publicHistoryItem(i)) + '\n')).join(''));
    }
  } catch {
    // Headers are gone; cut the stream so the client sees an incomplete export, not a silently short one.
    res.destroy();
    return;
  }
  res.end();
}

/** GET …/secrets/{name}/readers?at= of a place: 400s first, then read-audit on the place, then the readers at T. */
export async function answerReaders(
  deps: { access: AccessControl; queries: ComplianceQueries },
  key: string,
  name: string,
  query: Record<string, unknown>,
  p: Principal,
  req: AuthenticatedRequest,
): Promise<SecretReadersView> {
  const errors: FieldError[] = [];
  rejectUnknownParams(query, ['at'], errors);
  const ctx = commandContext(req, p);
  const at = timestamp(query, 'at', errors) ?? ctx.now;
  if (errors.length > 0) throw problems.badRequest('invalid query', errors);
  await deps.access.require(p, 'read-audit', { projectId: key }, ctx);
  return secretReadersAt(deps.queries, key, name, at);
}
