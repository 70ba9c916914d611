import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { authorize, CiJobPrincipal, Principal, PROJECT_ID_PATTERN } from '@app/domain';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { ProjectIdPipe, rejectUnknownParams, SecretNamePipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { readSecretMetadata } from '../secrets/secret-listing';
import { SecretStates } from '../secrets/secret-states';

/** A ref or environment name as CI sends it: printable, no control characters, bounded. */
const NAME = /^[^\u0000-\u001f\u007f]{1,255}$/;

/**
 * "Would a CI job on this ref / environment / protection read this secret?", answered by the very
 * rule a job's read goes through (authorize with a CI-job principal of the project). Anyone who may
 * list the secret may ask; nothing is read and no access is recorded.
 */
@ApiTags('secrets')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId/secrets/:name/scope-test')
export class ScopeTestController {
  constructor(private readonly access: AccessControl, private readonly secrets: SecretStates) {}

  @Get()
  @ApiQuery({ name: 'ref', required: true })
  @ApiQuery({ name: 'refType', required: false, enum: ['branch', 'tag'] })
  @ApiQuery({ name: 'environment', required: false })
  @ApiQuery({ name: 'protected', required: false, enum: ['true', 'false'] })
  @ApiOkResponse({ description: '`{wouldRead, reason}`: whether a CI job of the project with these claims would read the secret (reason: why not, e.g. environment-mismatch).' })
  async test(@Param('projectId', ProjectIdPipe) projectId: string, @Param('name', SecretNamePipe) name: string, @Query() q: Record<string, unknown>, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    const errors: FieldError[] = [];
    rejectUnknownParams(q, ['ref', 'refType', 'environment', 'protected'], errors);
    if (typeof q.ref !== 'string' || !NAME.test(q.ref)) errors.push({ field: 'ref', message: 'ref is required: 1 to 255 printable characters' });
    if (q.refType !== undefined && q.refType !== 'branch' && q.refType !== 'tag') errors.push({ field: 'refType', message: 'refType must be branch or tag' });
    if (q.environment !== undefined && (typeof q.environment !== 'string' || !NAME.test(q.environment))) errors.push({ field: 'environment', message: 'environment must be 1 to 255 printable characters' });
    if (q.protected !== undefined && q.protected !== 'true' && q.protected !== 'false') errors.push({ field: 'protected', message: 'protected must be true or false' });
    if (errors.length > 0) throw problems.badRequest(`invalid ${errors.map((e) => e.field).join(', ')}`, errors);
    const ctx = commandContext(req, p);
    const meta = await readSecretMetadata(this.access, this.secrets, p, projectId, name, ctx);
    const job: CiJobPrincipal = {
      kind: 'ci-job',
      id: 'scope-test',
      projectId,
      ref: q.ref as string,
      refType: q.refType === 'tag' ? 'tag' : 'branch',
      refProtected: q.protected === 'true',
      environment: q.environment as string | undefined,
      pipelineId: 'scope-test',
      jobId: 'scope-test',
    };
    const state = await this.access.effective(projectId);
    const d = authorize(job, state, 'read', { projectId, name, environment: meta.environment, branch: meta.branch, protectedOnly: meta.protectedOnly }, ctx.now);
    return { wouldRead: d.allowed, reason: d.allowed ? null : d.reason };
  }
}
