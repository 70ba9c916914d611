import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { PRINCIPAL_ID_PATTERN, Principal, PROJECT_ID_PATTERN, SECRET_NAME_PATTERN } from '@app/domain';
import { parseRfc3339 } from '@app/domain/invariants';
import { COMPLIANCE_QUERIES } from '@app/infra/nest/tokens';
import { AccessHistoryFilter, AccessHistoryItem, ComplianceQueries, decodeCursor, HistoryCursor } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { PIPELINE_ID_PATTERN, ProjectIdPipe, rejectUnknownParams, SecretNamePipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { toCsvRow, HISTORY_CSV_HEADER, historyCsvFields } from './csv';
import { secretReadersAt } from './secret-readers';

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

export function parseHistoryQuery(projectId: string, query: Record<string, unknown>): { filter: AccessHistoryFilter; limit: number; cursor?: HistoryCursor } {
  const errors: FieldError[] = [];
  rejectUnknownParams(query, HISTORY_PARAMS, errors);
  const filter: AccessHistoryFilter = { projectId };
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

/** Compliance reviewers' queries over the projected read models. Only `owner` and `auditor` (read-audit) may call them. */
@ApiTags('compliance')
@ApiBearerAuth()
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId')
export class ComplianceController {
  constructor(private readonly access: AccessControl, @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries) {}

  @Get('access-history')
  @ApiProduces('application/json', 'text/csv', 'application/x-ndjson', 'application/problem+json')
  @ApiQuery({ name: 'secret', required: false, schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } })
  @ApiQuery({ name: 'principal', required: false, schema: { type: 'string', pattern: PRINCIPAL_ID_PATTERN.source } })
  @ApiQuery({ name: 'pipeline', required: false, schema: { type: 'string', pattern: PIPELINE_ID_PATTERN.source } })
  @ApiQuery({ name: 'decision', required: false, enum: ['allowed', 'denied'] })
  @ApiQuery({ name: 'channel', required: false, enum: ['api', 'openbao'] })
  @ApiQuery({ name: 'from', required: false, description: 'RFC 3339, inclusive', schema: { type: 'string', format: 'date-time' } })
  @ApiQuery({ name: 'to', required: false, description: 'RFC 3339, exclusive', schema: { type: 'string', format: 'date-time' } })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } })
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'csv', 'ndjson'], description: 'Does what the Accept header does (csv/ndjson: every matching row, streamed), so an export is a plain link' })
  @ApiOkResponse({ description: 'Newest first. JSON pages `{items, nextCursor}`; with `Accept: text/csv` or `application/x-ndjson` (or `format=csv|ndjson`) every matching row, streamed.' })
  async accessHistory(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ items: AccessHistoryItem[]; nextCursor: string | null } | void> {
    const { format: formatParam, ...filters } = query;
    const format = exportFormat(req.headers.accept, formatParam);
    const { filter, limit, cursor } = parseHistoryQuery(projectId, filters);
    await this.access.require(p, 'read-audit', { projectId }, commandContext(req, p));
    res.setHeader('Cache-Control', 'no-store');
    if (format === 'json') return this.queries.accessHistory(filter, limit, cursor);
    await this.stream(res, format, filter);
  }

  /** Streams page by page with back-pressure: memory stays one page however long the history. */
  private async stream(res: Response, format: 'csv' | 'ndjson', filter: AccessHistoryFilter): Promise<void> {
    res.status(200);
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    if (format === 'csv') res.setHeader('Content-Disposition', `attachment; filename="access-history-${filter.projectId}.csv"`);
    const write = (chunk: string) => (res.write(chunk) ? Promise.resolve() : new Promise<void>((r) => res.once('drain', () => r())));
    let closed = false;
    res.once('close', () => (closed = true));
    try {
      if (format === 'csv') await write(toCsvRow(HISTORY_CSV_HEADER));
      for await (const page of this.queries.exportAccessHistory(filter)) {
        if (closed) return;
        await write(page.map((i) => (format === 'csv' ? toCsvRow(historyCsvFields(i)) : JSON.stringify(i) + '\n')).join(''));
      }
    } catch {
      // Headers are gone; cut the stream so the client sees an incomplete export, not a silently short one.
      res.destroy();
      return;
    }
    res.end();
  }

  @Get('secrets/:name/readers')
  @ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } })
  @ApiQuery({ name: 'at', required: false, description: 'RFC 3339; default now', schema: { type: 'string', format: 'date-time' } })
  @ApiOkResponse({ description: '`{at, readers: [{principal, via}]}`: every user or group whose grant allowed reading the value at `at`, and the CI scope whose jobs could.' })
  async readers(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Param('name', SecretNamePipe) name: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ) {
    const errors: FieldError[] = [];
    rejectUnknownParams(query, ['at'], errors);
    const ctx = commandContext(req, p);
    const at = timestamp(query, 'at', errors) ?? ctx.now;
    if (errors.length > 0) throw problems.badRequest('invalid query', errors);
    await this.access.require(p, 'read-audit', { projectId }, ctx);
    return secretReadersAt(this.queries, projectId, name, at);
  }
}
