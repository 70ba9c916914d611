import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiParam, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Principal, SECRET_NAME_PATTERN } from '@app/domain';
import { SECRET_CATALOG } from '@app/infra/nest/tokens';
import { SecretCatalog } from '@app/infra/read-models/secret-catalog';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { etagOf, GROUP_ID_PATTERN, GroupKeyPipe, parseIfMatch, rejectUnknownParams, SecretNamePipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { AccessSecretCommand, ChangeSecretMetadataCommand, CreateSecretCommand, DeleteSecretCommand, UpdateSecretValueCommand } from '../secrets/secret-commands';
import { AccessSecretDto, CreateSecretDto, PatchSecretDto, SecretCreatedView, SecretListView, SecretMetadataView, SecretValueView, SecretVersionView, UpdateSecretValueDto } from '../secrets/secret.dto';
import { listVisibleSecrets, parseRotationFilter, readSecretMetadata, ROTATION_FILTERS } from '../secrets/secret-listing';
import { SecretStates } from '../secrets/secret-states';

const NAME = { name: 'name', schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source } } as const;

/**
 * Group secrets: the project secret operations on a group (API.md, third round), the same commands
 * and checks on the group's place key (`GroupKeyPipe`). A group secret has no `branch` scope: the
 * decider refuses one (400 naming `branch`). Grants of the group and of every group above it act here.
 */
@ApiTags('groups')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'groupId', description: 'Full path, URL-encoded as one segment (acme%2Fpayments).', schema: { type: 'string', pattern: GROUP_ID_PATTERN.source } })
@Controller('v1/groups/:groupId/secrets')
export class GroupSecretsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly access: AccessControl,
    private readonly secrets: SecretStates,
    @Inject(SECRET_CATALOG) private readonly catalog: SecretCatalog,
  ) {}

  @Post()
  @ApiCreatedResponse({ type: SecretCreatedView })
  create(@Param('groupId', GroupKeyPipe) key: string, @Body() body: CreateSecretDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    return this.commands.execute(new CreateSecretCommand(key, body, p, commandContext(req, p)));
  }

  @Get()
  @ApiQuery({ name: 'rotation', required: false, enum: ROTATION_FILTERS })
  @ApiOkResponse({ type: SecretListView, description: 'Metadata only (groupId instead of projectId), from the projected read model.' })
  async list(@Param('groupId', GroupKeyPipe) key: string, @Query() query: Record<string, unknown>, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<SecretListView> {
    const errors: FieldError[] = [];
    rejectUnknownParams(query, ['rotation'], errors);
    if (errors.length > 0) throw problems.badRequest(`invalid ${errors.map((e) => e.field).join(', ')}`, errors);
    return { items: (await listVisibleSecrets(this.access, this.catalog, p, key, commandContext(req, p), { rotation: parseRotationFilter(query.rotation) })) as SecretMetadataView[] };
  }

  @Get(':name')
  @ApiParam(NAME)
  @ApiOkResponse({ type: SecretMetadataView, headers: { ETag: { description: 'Stream revision' } } })
  async get(@Param('groupId', GroupKeyPipe) key: string, @Param('name', SecretNamePipe) name: string, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response): Promise<SecretMetadataView> {
    const view = await readSecretMetadata(this.access, this.secrets, p, key, name, commandContext(req, p));
    res.setHeader('ETag', etagOf(view.revision));
    return view;
  }

  @Put(':name/value')
  @ApiParam(NAME)
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: SecretVersionView })
  updateValue(@Param('groupId', GroupKeyPipe) key: string, @Param('name', SecretNamePipe) name: string, @Body() body: UpdateSecretValueDto, @Headers('if-match') ifMatch: string | undefined, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    return this.commands.execute(new UpdateSecretValueCommand(key, name, body.value, parseIfMatch(ifMatch), p, commandContext(req, p)));
  }

  @Patch(':name')
  @ApiParam(NAME)
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOkResponse({ type: SecretMetadataView })
  patch(@Param('groupId', GroupKeyPipe) key: string, @Param('name', SecretNamePipe) name: string, @Body() body: PatchSecretDto, @Headers('if-match') ifMatch: string | undefined, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest) {
    return this.commands.execute(new ChangeSecretMetadataCommand(key, name, body, parseIfMatch(ifMatch), p, commandContext(req, p)));
  }

  @Delete(':name')
  @ApiParam(NAME)
  @HttpCode(204)
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiNoContentResponse()
  async remove(@Param('groupId', GroupKeyPipe) key: string, @Param('name', SecretNamePipe) name: string, @Headers('if-match') ifMatch: string | undefined, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<void> {
    await this.commands.execute(new DeleteSecretCommand(key, name, parseIfMatch(ifMatch), p, commandContext(req, p)));
  }

  @Post(':name/access')
  @ApiParam(NAME)
  @HttpCode(200)
  @ApiOkResponse({ type: SecretValueView, description: 'A user with read on the group (own or inherited grant), or a CI job of a project in or below the group whose scope matches.' })
  async accessValue(@Param('groupId', GroupKeyPipe) key: string, @Param('name', SecretNamePipe) name: string, @Body() body: AccessSecretDto, @CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response): Promise<SecretValueView> {
    res.setHeader('Cache-Control', 'no-store');
    return this.commands.execute(new AccessSecretCommand(key, name, body.purpose ?? null, p, commandContext(req, p), req.ciJobToken));
  }
}
