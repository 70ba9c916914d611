import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import { GROUP_ROUTE, PlaceRoute, PROJECT_ROUTE } from '../http/place-route';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiParam, ApiOkResponse, ApiCreatedResponse, ApiNoContentResponse, ApiTags, ApiProduces, ApiQuery } from '@nestjs/swagger';
import type { Response } from 'express';
import { Principal, SECRET_NAME_PATTERN } from '@app/domain';
import { SECRET_CATALOG } from '@app/infra/nest/tokens';
import { SecretCatalog } from '@app/infra/read-models/secret-catalog';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { etagOf, parseIfMatch, rejectUnknownParams, SecretNamePipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import {
  AccessSecretCommand,
  ChangeSecretMetadataCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  UpdateSecretValueCommand,
} from './secret-commands';
import {
  AccessSecretDto,
  CreateSecretDto,
  PatchSecretDto,
  SecretCreatedView,
  SecretListView,
  SecretMetadataView,
  SecretValueView,
  SecretVersionView,
  UpdateSecretValueDto,
} from './secret.dto';
import { SecretStates } from './secret-states';
import { AccessSecretBody, AccessSecretBodyPipe } from './access-body.pipe';
import { listVisibleSecrets, parseRotationFilter, readSecretMetadata, ROTATION_FILTERS } from './secret-listing';

/**
 * The secret endpoints of one place kind: a project's (`/v1/projects/{projectId}/secrets`) or a
 * group's (`/v1/groups/{groupId}/secrets`, API.md third round: the same bodies and answers, minus
 * `branch`, which the decider refuses on a group). Same commands, same checks, on the place key.
 */
function secretsControllerFor(place: PlaceRoute) {
  @ApiTags(place.name ? 'groups' : 'secrets')
  @ApiBearerAuth()
  @ApiProduces('application/json', 'application/problem+json')
  @ApiProblems()
  @ApiParam({ name: place.param, description: place.description, schema: { type: 'string', pattern: place.pattern } })
  @Controller(`${place.prefix}/secrets`)
  class SecretsController {
    constructor(
      private readonly commands: CommandBus,
      private readonly access: AccessControl,
      private readonly secrets: SecretStates,
      @Inject(SECRET_CATALOG) private readonly catalog: SecretCatalog,
    ) {}

    @Post()
    @ApiCreatedResponse({ type: SecretCreatedView })
    create(@Param(place.param, place.pipe) projectId: string, @Body() body: CreateSecretDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
      return this.commands.execute(new CreateSecretCommand(projectId, body, p, commandContext(req, p)));
    }

    @Get()
    @ApiQuery({ name: 'rotation', required: false, enum: ROTATION_FILTERS, description: 'Only secrets whose rotation is approaching (due within 7 days) or overdue.' })
    @ApiOkResponse({ type: SecretListView, description: 'Metadata only, never values. Served from the projected read model (eventually consistent); rotation status as of the request.' })
    async list(
      @Param(place.param, place.pipe) projectId: string,
      @Query() query: Record<string, unknown>,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ): Promise<SecretListView> {
      const errors: FieldError[] = [];
      rejectUnknownParams(query, ['rotation'], errors);
      if (errors.length > 0) throw problems.badRequest(`invalid ${errors.map((e) => e.field).join(', ')}`, errors);
      const rotation = parseRotationFilter(query.rotation);
      return { items: await listVisibleSecrets(this.access, this.catalog, p, projectId, commandContext(req, p), { rotation }) };
    }

    @Get(':name')
    @ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } })
    @ApiOkResponse({ type: SecretMetadataView, headers: { ETag: { description: 'Stream revision' } } })
    async get(
      @Param(place.param, place.pipe) projectId: string,
      @Param('name', SecretNamePipe) name: string,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
      @Res({ passthrough: true }) res: Response,
    ): Promise<SecretMetadataView> {
      const view = await readSecretMetadata(this.access, this.secrets, p, projectId, name, commandContext(req, p));
      res.setHeader('ETag', etagOf(view.revision));
      return view;
    }

    @Put(':name/value')
    @ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } })
    @ApiHeader({ name: 'If-Match', required: false, description: 'Stream revision from ETag; 412 when stale' })
    @ApiOkResponse({ type: SecretVersionView })
    updateValue(
      @Param(place.param, place.pipe) projectId: string,
      @Param('name', SecretNamePipe) name: string,
      @Body() body: UpdateSecretValueDto,
      @Headers('if-match') ifMatch: string | undefined,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ) {
      return this.commands.execute(new UpdateSecretValueCommand(projectId, name, body.value, parseIfMatch(ifMatch), p, commandContext(req, p)));
    }

    @Patch(':name')
    @ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } })
    @ApiHeader({ name: 'If-Match', required: false })
    @ApiOkResponse({ type: SecretMetadataView })
    patch(
      @Param(place.param, place.pipe) projectId: string,
      @Param('name', SecretNamePipe) name: string,
      @Body() body: PatchSecretDto,
      @Headers('if-match') ifMatch: string | undefined,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ) {
      return this.commands.execute(new ChangeSecretMetadataCommand(projectId, name, body, parseIfMatch(ifMatch), p, commandContext(req, p)));
    }

    @Delete(':name')
    @ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } })
    @HttpCode(204)
    @ApiHeader({ name: 'If-Match', required: false })
    @ApiNoContentResponse()
    async remove(
      @Param(place.param, place.pipe) projectId: string,
      @Param('name', SecretNamePipe) name: string,
      @Headers('if-match') ifMatch: string | undefined,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
    ): Promise<void> {
      await this.commands.execute(new DeleteSecretCommand(projectId, name, parseIfMatch(ifMatch), p, commandContext(req, p)));
    }

    @Post(':name/access')
    @ApiParam({ name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } })
    @HttpCode(200)
    @ApiBody({ type: AccessSecretDto })
    @ApiOkResponse({ type: SecretValueView, description: 'The value, returned only after SecretAccessed is durably recorded. Denials are 403 and audited.' })
    async accessValue(
      @Param(place.param, place.pipe) projectId: string,
      @Param('name', SecretNamePipe) name: string,
      @Body(AccessSecretBodyPipe) body: AccessSecretBody,
      @CurrentPrincipal() p: Principal,
      @Req() req: AuthenticatedRequest,
      @Res({ passthrough: true }) res: Response,
    ): Promise<SecretValueView> {
      res.setHeader('Cache-Control', 'no-store');
      return this.commands.execute(new AccessSecretCommand(projectId, name, body.purpose ?? null, p, commandContext(req, p), req.ciJobToken));
    }
}
Object.defineProperty(SecretsController, 'name', { value: `${place.name}SecretsController` });
return SecretsController;
}

export const SecretsController = secretsControllerFor(PROJECT_ROUTE);
export const GroupSecretsController = secretsControllerFor(GROUP_ROUTE);
