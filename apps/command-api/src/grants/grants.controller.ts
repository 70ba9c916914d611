import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiCreatedResponse, ApiParam, ApiNoContentResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Principal } from '@app/domain';
import { GROUP_ROUTE, PlaceRoute, PROJECT_ROUTE } from '../http/place-route';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { GrantIdPipe } from '../http/params';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { CreateGrantDto, GrantCreatedView, GrantListView } from './grant.dto';
import { GrantRoleCommand, RevokeRoleCommand } from './grant-commands';
import { listProjectGrants } from './grant-listing';

/**
 * The grant endpoints of one place kind. A group's grants act on the group's secrets and on every
 * place below it (inherited); a platform admin bootstraps the first owner of a place no owner acts on.
 */
function grantsControllerFor(place: PlaceRoute) {
  @ApiTags(place.name ? 'groups' : 'grants')
  @ApiBearerAuth()
  @ApiProduces('application/json', 'application/problem+json')
  @ApiProblems()
  @ApiParam({ name: place.param, description: place.description, schema: { type: 'string', pattern: place.pattern } })
  @Controller(`${place.prefix}/grants`)
  class GrantsController {
    constructor(private readonly commands: CommandBus, private readonly access: AccessControl) {}

    @Post()
    @ApiCreatedResponse({ type: GrantCreatedView })
    create(@Param(place.param, place.pipe) projectId: string, @Body() body: CreateGrantDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
      return this.commands.execute(new GrantRoleCommand(projectId, body, p, commandContext(req, p)));
    }

    @Get()
    @ApiOkResponse({ type: GrantListView, description: 'Every grant of the place itself, with its status now (active, expired, revoked); grants inherited from groups above are listed there.' })
    async list(@Param(place.param, place.pipe) projectId: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<GrantListView> {
      return { items: await listProjectGrants(this.access, p, projectId, commandContext(req, p)) };
    }

    @Delete(':grantId')
    @ApiParam({ name: 'grantId', schema: { type: 'string', format: 'uuid' } })
    @HttpCode(204)
    @ApiNoContentResponse()
    async revoke(
      @Param(place.param, place.pipe) projectId: string,
      @Param('grantId', GrantIdPipe) grantId: string,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ): Promise<void> {
      await this.commands.execute(new RevokeRoleCommand(projectId, grantId, p, commandContext(req, p)));
    }
}
Object.defineProperty(GrantsController, 'name', { value: `${place.name}GrantsController` });
return GrantsController;
}

export const GrantsController = grantsControllerFor(PROJECT_ROUTE);
export const GroupGrantsController = grantsControllerFor(GROUP_ROUTE);
