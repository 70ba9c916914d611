import { Controller, Get, Inject, Param, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Principal, PROJECT_ID_PATTERN } from '@app/domain';
import { SQL } from '@app/infra/nest/tokens';
import type { SqlClient } from '@app/infra/sql/sql-client';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { patternPipe, ProjectIdPipe } from '../http/params';
import { problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

const EventIdPipe = patternPipe('eventId', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

/**
 * Where an access-history row sits in the Merkle audit log, so a reviewer (or the console's drawer)
 * can fetch its inclusion proof from GET /v1/audit/records/{index}. read-audit on the project; only
 * the project's own records are found.
 */
@ApiTags('audit')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId/access-history')
export class AuditRecordIndexController {
  constructor(private readonly access: AccessControl, @Inject(SQL) private readonly sql: SqlClient) {}

  @Get(':eventId/audit-record')
  @ApiParam({ name: 'eventId', schema: { type: 'string', format: 'uuid' } })
  @ApiOkResponse({ description: '`{eventId, index}`: the audit-log index of this history row (then GET /v1/audit/records/{index} for the record and its inclusion proof); 404 until the auditor has logged it.' })
  async index(@Param('projectId', ProjectIdPipe) projectId: string, @Param('eventId', EventIdPipe) eventId: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    await this.access.require(p, 'read-audit', { projectId }, commandContext(req, p));
    const { rows } = await this.sql.query<{ idx: string | number }>('SELECT idx FROM audit_log WHERE event_id = $1 AND project_id = $2', [eventId, projectId]);
    if (rows.length === 0) throw problems.notFound(`event ${eventId} is not in the audit log (yet)`);
    return { eventId, index: Number(rows[0].idx) };
  }
}
