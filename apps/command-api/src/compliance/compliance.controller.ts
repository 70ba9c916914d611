import { applyDecorators, Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { PRINCIPAL_ID_PATTERN, Principal, PROJECT_ID_PATTERN, SECRET_NAME_PATTERN } from '@app/domain';
import { COMPLIANCE_QUERIES } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { PIPELINE_ID_PATTERN, ProjectIdPipe, SecretNamePipe } from '../http/params';
import { AuthenticatedRequest } from '../http/request-context';
import { answerAccessHistory, answerReaders, PublicHistoryItem } from './compliance-answers';

// The parsers moved to history-query.ts (shared with the group endpoints); GraphQL imports them from here.
export { parseHistoryQuery, timestamp } from './history-query';

/** The query parameters and answers of GET …/access-history, for a project's and a group's (group-compliance.controller.ts). */
export function AccessHistoryDocs() {
  return applyDecorators(
    ApiProduces('application/json', 'text/csv', 'application/x-ndjson', 'application/problem+json'),
    ApiQuery({ name: 'secret', required: false, schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } }),
    ApiQuery({ name: 'principal', required: false, schema: { type: 'string', pattern: PRINCIPAL_ID_PATTERN.source } }),
    ApiQuery({ name: 'pipeline', required: false, schema: { type: 'string', pattern: PIPELINE_ID_PATTERN.source } }),
    ApiQuery({ name: 'decision', required: false, enum: ['allowed', 'denied'] }),
    ApiQuery({ name: 'channel', required: false, enum: ['api', 'openbao'] }),
    ApiQuery({ name: 'from', required: false, description: 'RFC 3339, inclusive', schema: { type: 'string', format: 'date-time' } }),
    ApiQuery({ name: 'to', required: false, description: 'RFC 3339, exclusive', schema: { type: 'string', format: 'date-time' } }),
    ApiQuery({ name: 'cursor', required: false, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } }),
    ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }),
    ApiQuery({ name: 'format', required: false, enum: ['json', 'csv', 'ndjson'], description: 'Does what the Accept header does (csv/ndjson: every matching row, streamed), so an export is a plain link' }),
  );
}

/** The query parameter of GET …/secrets/{name}/readers. */
export function ReadersDocs() {
  return applyDecorators(
    ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } }),
    ApiQuery({ name: 'at', required: false, description: 'RFC 3339; default now', schema: { type: 'string', format: 'date-time' } }),
  );
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
  @AccessHistoryDocs()
  @ApiOkResponse({
    description:
      'Newest first. JSON pages `{items, nextCursor}`; with `Accept: text/csv` or `application/x-ndjson` (or `format=csv|ndjson`) every matching row, streamed. `via.inheritedFrom` names the group of an inherited grant.',
  })
  accessHistory(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ items: PublicHistoryItem[]; nextCursor: string | null } | void> {
    return answerAccessHistory({ access: this.access, queries: this.queries }, projectId, query, p, req, res);
  }

  @Get('secrets/:name/readers')
  @ReadersDocs()
  @ApiOkResponse({
    description:
      '`{at, readers: [{principal, via}]}`: every user or group whose grant allowed reading the value at `at` (grants of the groups the project was in at `at` too, with `via.inheritedFrom`), and the CI scope whose jobs could.',
  })
  readers(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Param('name', SecretNamePipe) name: string,
    @Query() query: Record<string, unknown>,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ) {
    return answerReaders({ access: this.access, queries: this.queries }, projectId, name, query, p, req);
  }
}
