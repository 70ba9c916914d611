import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiCreatedResponse, ApiParam, ApiNoContentResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Principal, PROJECT_ID_PATTERN } from '@app/domain';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { GrantIdPipe, ProjectIdPipe } from '../http/params';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { CreateGrantDto, GrantCreatedView, GrantListView } from './grant.dto';
import { GrantRoleCommand, RevokeRoleCommand } from './grant-commands';
import { listProjectGrants } from './grant-listing';

@ApiTags('grants')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId/grants')
export class GrantsController {
  constructor(private readonly commands: CommandBus, private readonly access: AccessControl) {}

  @Post()
  @ApiCreatedResponse({ type: GrantCreatedView })
  create(@Param('projectId', ProjectIdPipe) projectId: string, @Body() body: CreateGrantDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    return this.commands.execute(new GrantRoleCommand(projectId, body, p, commandContext(req, p)));
  }

  @Get()
  @ApiOkResponse({ type: GrantListView, description: 'Every grant of the project, with its status now (active, expired, revoked).' })
  async list(@Param('projectId', ProjectIdPipe) projectId: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<GrantListView> {
    return { items: await listProjectGrants(this.access, p, projectId, commandContext(req, p)) };
  }

  @Delete(':grantId')
  @ApiParam({ name: 'grantId', schema: { type: 'string', format: 'uuid' } })
  @HttpCode(204)
  @ApiNoContentResponse()
  async revoke(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Param('grantId', GrantIdPipe) grantId: string,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ): Promise<void> {
    await this.commands.execute(new RevokeRoleCommand(projectId, grantId, p, commandContext(req, p)));
  }
}
