import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Principal } from '@app/domain';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { GROUP_ID_PATTERN, GrantIdPipe, GroupKeyPipe } from '../http/params';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { GrantRoleCommand, RevokeRoleCommand } from '../grants/grant-commands';
import { CreateGrantDto, GrantCreatedView, GrantListView } from '../grants/grant.dto';
import { listProjectGrants } from '../grants/grant-listing';

/**
 * Group grants: as project grants, on the group's own policy stream. A grant here acts on the
 * group's secrets and on everything below it (inherited); a platform admin bootstraps the first
 * owner of a group no owner acts on.
 */
@ApiTags('groups')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'groupId', description: 'Full path, URL-encoded as one segment (acme%2Fpayments).', schema: { type: 'string', pattern: GROUP_ID_PATTERN.source } })
@Controller('v1/groups/:groupId/grants')
export class GroupGrantsController {
  constructor(private readonly commands: CommandBus, private readonly access: AccessControl) {}

  @Post()
  @ApiCreatedResponse({ type: GrantCreatedView })
  create(@Param('groupId', GroupKeyPipe) key: string, @Body() body: CreateGrantDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    return this.commands.execute(new GrantRoleCommand(key, body, p, commandContext(req, p)));
  }

  @Get()
  @ApiOkResponse({ type: GrantListView, description: "The group's own grants with their status now (those of groups above it are theirs to list)." })
  async list(@Param('groupId', GroupKeyPipe) key: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<GrantListView> {
    return { items: await listProjectGrants(this.access, p, key, commandContext(req, p)) };
  }

  @Delete(':grantId')
  @ApiParam({ name: 'grantId', schema: { type: 'string', format: 'uuid' } })
  @HttpCode(204)
  @ApiNoContentResponse()
  async revoke(@Param('groupId', GroupKeyPipe) key: string, @Param('grantId', GrantIdPipe) grantId: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<void> {
    await this.commands.execute(new RevokeRoleCommand(key, grantId, p, commandContext(req, p)));
  }
}
