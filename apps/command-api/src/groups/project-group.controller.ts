import { Body, Controller, Get, Inject, Param, Put, Req } from '@nestjs/common';
import { IsString, Matches, ValidateIf } from 'class-validator';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ancestorsOf, defineAbilityFor, denied, EventStore, Principal, PROJECT_ID_PATTERN, projectGroupDecider, StreamName } from '@app/domain';
import { EVENT_STORE } from '@app/infra/nest/tokens';
import { AccessControl } from '../application/access-control';
import { handleCommand } from '../application/handle-command';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { GROUP_ID_PATTERN, ProjectIdPipe } from '../http/params';
import { problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

export class ProjectGroupDto {
  @ApiProperty({ type: String, nullable: true, pattern: GROUP_ID_PATTERN.source, description: 'The group the project moves into (full path); null takes it out of any group.' })
  @ValidateIf((o: ProjectGroupDto) => o.groupId !== null)
  @IsString({ message: 'groupId must be a group path or null' })
  @Matches(GROUP_ID_PATTERN, { message: `groupId must be 1-8 segments of ${PROJECT_ID_PATTERN.source} joined by /` })
  groupId!: string | null;
}
export class ProjectGroupChangedView {
  @ApiProperty() projectId!: string;
  @ApiProperty({ type: String, nullable: true }) groupId!: string | null;
}
export class ProjectGroupView {
  @ApiProperty({ type: String, nullable: true }) groupId!: string | null;
  @ApiPropertyOptional({ type: [String], description: 'The groups above it, nearest first.' }) ancestors!: string[];
}

/** `PUT/GET /v1/projects/{projectId}/group`: a project's place in the group tree (API.md, third round). */
@ApiTags('groups')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId/group')
export class ProjectGroupController {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  @Put()
  @ApiOkResponse({ type: ProjectGroupChangedView, description: 'Platform admins only; records ProjectGroupChanged (nothing when the project is already there). Its CI jobs read the new tree on their very next request.' })
  async put(@Param('projectId', ProjectIdPipe) projectId: string, @Body() body: ProjectGroupDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<ProjectGroupChangedView> {
    const ctx = commandContext(req, p);
    if (p.kind !== 'user' || !p.admin) {
      // Refused before anything is read: audited and rate-limited like every refusal.
      await this.access.recordDenial(denied(p, projectId, null, 'move-project', 'not-platform-admin'), ctx);
      throw problems.forbidden('not-platform-admin');
    }
    const groupId = body.groupId;
    await handleCommand(this.store, this.access.memberships, StreamName.projectGroup(projectId), projectGroupDecider, {
      type: 'ChangeProjectGroup',
      data: { projectId, groupId, asPlatformAdmin: true },
      metadata: { now: ctx.now, actor: ctx.actor },
    }, ctx);
    return { projectId, groupId };
  }

  @Get()
  @ApiOkResponse({ type: ProjectGroupView, description: "Anyone who may list the project's secrets (or a CI job of the project)." })
  async get(@Param('projectId', ProjectIdPipe) projectId: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<ProjectGroupView> {
    const ctx = commandContext(req, p);
    const ability = defineAbilityFor(p, projectId, await this.access.effective(projectId), ctx.now);
    // Some secret of the project could be listed (a user) or read (its own CI job): otherwise an audited 403,
    // the same answer for a project that does not exist (no existence oracle).
    if (!ability.can(p.kind === 'ci-job' ? 'read' : 'list', 'Secret')) await this.access.require(p, p.kind === 'ci-job' ? 'read' : 'list', { projectId }, ctx);
    const groupId = await this.access.groupOf(projectId);
    return { groupId, ancestors: groupId === null ? [] : ancestorsOf(groupId) };
  }
}
