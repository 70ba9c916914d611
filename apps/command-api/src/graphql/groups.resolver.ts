import { Inject } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Args, Context, Field, InputType, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { Allow } from 'class-validator';
import { groupKey, isGroupId, MAX_GROUP_DEPTH, PROJECT_ID_PATTERN } from '@app/domain';
import { COMPLIANCE_QUERIES, SECRET_CATALOG } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { SecretCatalog } from '@app/infra/read-models/secret-catalog';
import { AccessControl } from '../application/access-control';
import { CreateGrantDto } from '../grants/grant.dto';
import { GrantRoleCommand, RevokeRoleCommand } from '../grants/grant-commands';
import { listProjectGrants } from '../grants/grant-listing';
import { GrantIdPipe } from '../http/params';
import { problems } from '../http/problem';
import { commandContext } from '../http/request-context';
import { CreateSecretCommand, DeleteSecretCommand } from '../secrets/secret-commands';
import { CreateSecretDto } from '../secrets/secret.dto';
import { listVisibleSecrets, parseRotationFilter, readSecretMetadata } from '../secrets/secret-listing';
import { SecretStates } from '../secrets/secret-states';
import { userErrors } from './errors';
import { GrantPrincipalInput, ProjectGrant, ProjectGrantCreatePayload, ProjectGrantRevokePayload } from './grants.resolver';
import { loadersOf } from './loaders';
import { GqlContext, GROUP_METADATA_KEYS, principalOf, secretNamePipe, secretPage, secretPageSize, updateSecret, validated } from './secrets.resolver';
import { GroupSecret, GroupSecretConnection, GroupSecretCreateInput, GroupSecretCreatePayload, GroupSecretDeletePayload, GroupSecretUpdateInput, GroupSecretUpdatePayload } from './types';

/**
 * A group in GraphQL: its full path as a plain string (`acme/payments`, no URL encoding), checked
 * by the domain's rule (isGroupId: what GroupKeyPipe checks on REST) and turned into the group's
 * place key, what the commands and read models take. Anything else (`..`, an empty segment, upper
 * case, depth 9, a place key `group:…`) is a 400 naming `groupId`, before anything is read.
 */
export function groupKeyOf(groupId: unknown): string {
  if (!isGroupId(groupId)) {
    throw problems.badRequest('invalid groupId', [{ field: 'groupId', message: `groupId must be 1-${MAX_GROUP_DEPTH} segments of ${PROJECT_ID_PATTERN.source} joined by /` }]);
  }
  return groupKey(groupId);
}

/** A grant on a group: the fields of a project grant (grants inherit downward: API.md). */
@ObjectType()
export class GroupGrant extends ProjectGrant {}

@InputType({ description: 'As ProjectGrantCreateInput, on a group: the grant acts on the group and on everything below it.' })
export class GroupGrantCreateInput {
  @Allow() @Field({ description: 'Full path (acme/payments).' }) groupId!: string;
  @Allow() @Field(() => GrantPrincipalInput) principal!: GrantPrincipalInput;
  @Allow() @Field() role!: string;
  @Allow() @Field(() => String, { nullable: true }) environment?: string;
  @Allow() @Field(() => String, { nullable: true }) branch?: string;
  @Allow() @Field(() => String, { nullable: true }) expiresAt?: string;
}

@ObjectType()
export class GroupGrantCreatePayload extends ProjectGrantCreatePayload {}

@ObjectType()
export class GroupGrantRevokePayload extends ProjectGrantRevokePayload {}

const grantIdPipe = new GrantIdPipe();

/**
 * Group secrets and grants (API.md "Groups and group secrets"): the REST code paths of
 * GroupSecretsController and GroupGrantsController (listVisibleSecrets, readSecretMetadata,
 * listProjectGrants, the secret and grant commands) on the group's place key. Queries decide on the
 * request's loaders (loaders.ts: each policy of the tree read once per request); commands on fresh
 * reads. Answers name the group by `groupId`, never by its internal key.
 */
@Resolver()
export class GroupsResolver {
  constructor(
    readonly commands: CommandBus,
    readonly access: AccessControl,
    readonly secrets: SecretStates,
    @Inject(SECRET_CATALOG) private readonly catalog: SecretCatalog,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
  ) {}

  @Query(() => GroupSecretConnection, { description: "REST GET /v1/groups/{groupId}/secrets, paged by name: the group's secrets the caller may list (own or inherited grants)." })
  async groupSecrets(
    @Args('groupId') groupId: string,
    @Args('first', { type: () => Int, nullable: true }) first: number | undefined,
    @Args('after', { type: () => String, nullable: true }) after: string | undefined,
    @Args('rotation', { type: () => String, nullable: true, description: 'approaching or overdue: only the secrets whose rotation is (REST ?rotation=)' }) rotation: string | undefined,
    @Context() ctx: GqlContext,
  ): Promise<GroupSecretConnection> {
    const p = principalOf(ctx);
    const key = groupKeyOf(groupId);
    const rotationFilter = parseRotationFilter(rotation ?? undefined);
    const size = secretPageSize(first);
    const l = loadersOf(ctx, this.access, this.queries, p);
    // A group's secrets: placeFields gives each its groupId (and no projectId).
    return secretPage((await listVisibleSecrets(l.access, this.catalog, p, key, l.ctx, { rotation: rotationFilter })) as GroupSecret[], size, after);
  }

  @Query(() => GroupSecret, { description: 'REST GET /v1/groups/{groupId}/secrets/{name}: metadata only.' })
  groupSecret(@Args('groupId') groupId: string, @Args('name') name: string, @Context() ctx: GqlContext): Promise<GroupSecret> {
    const p = principalOf(ctx);
    const key = groupKeyOf(groupId);
    const l = loadersOf(ctx, this.access, this.queries, p);
    return readSecretMetadata(l.access, this.secrets, p, key, secretNamePipe.transform(name), l.ctx) as Promise<GroupSecret>;
  }

  @Query(() => [GroupGrant], { description: "REST GET /v1/groups/{groupId}/grants: the group's own grants with their status now (manage-grants on the group)." })
  groupGrants(@Args('groupId') groupId: string, @Context() ctx: GqlContext): Promise<GroupGrant[]> {
    const p = principalOf(ctx);
    const key = groupKeyOf(groupId);
    const l = loadersOf(ctx, this.access, this.queries, p);
    return listProjectGrants(l.access, p, key, l.ctx);
  }

  @Mutation(() => GroupSecretCreatePayload)
  async groupSecretCreate(@Args('input') input: GroupSecretCreateInput, @Context() ctx: GqlContext): Promise<GroupSecretCreatePayload> {
    const p = principalOf(ctx);
    try {
      const { groupId, ...rest } = input;
      const key = groupKeyOf(groupId);
      const body = await validated(CreateSecretDto, rest);
      const r = (await this.commands.execute(new CreateSecretCommand(key, body, p, commandContext(ctx.req, p)))) as { name: string; version: number; revision: number };
      return { name: r.name, version: r.version, revision: r.revision, errors: [] };
    } catch (e) {
      return { name: null, version: null, revision: null, errors: userErrors(e) };
    }
  }

  /** REST PUT …/value and PATCH …/{name} on a group secret in one mutation (updateSecret, as projectSecretUpdate). */
  @Mutation(() => GroupSecretUpdatePayload)
  async groupSecretUpdate(@Args('input') input: GroupSecretUpdateInput, @Context() ctx: GqlContext): Promise<GroupSecretUpdatePayload> {
    const p = principalOf(ctx);
    try {
      const key = groupKeyOf(input.groupId);
      const view = await updateSecret(this, key, input, GROUP_METADATA_KEYS, p, commandContext(ctx.req, p));
      return { secret: view as GroupSecret, errors: [] };
    } catch (e) {
      return { secret: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => GroupSecretDeletePayload)
  async groupSecretDelete(
    @Args('groupId') groupId: string,
    @Args('name') name: string,
    @Args('ifRevision', { type: () => Int, nullable: true, description: 'Stream revision (REST If-Match); refused as precondition-failed when stale' }) ifRevision: number | undefined,
    @Context() ctx: GqlContext,
  ): Promise<GroupSecretDeletePayload> {
    const p = principalOf(ctx);
    try {
      await this.commands.execute(new DeleteSecretCommand(groupKeyOf(groupId), secretNamePipe.transform(name), ifRevision ?? undefined, p, commandContext(ctx.req, p)));
      return { deleted: true, errors: [] };
    } catch (e) {
      return { deleted: false, errors: userErrors(e) };
    }
  }

  @Mutation(() => GroupGrantCreatePayload, { description: 'REST POST /v1/groups/{groupId}/grants: manage-grants on the group (a platform admin bootstraps the first owner of a group no owner acts on).' })
  async groupGrantCreate(@Args('input') input: GroupGrantCreateInput, @Context() ctx: GqlContext): Promise<GroupGrantCreatePayload> {
    const p = principalOf(ctx);
    try {
      const { groupId, ...rest } = input;
      const key = groupKeyOf(groupId);
      const body = await validated(CreateGrantDto, rest);
      const r = (await this.commands.execute(new GrantRoleCommand(key, body, p, commandContext(ctx.req, p)))) as { grantId: string };
      return { grantId: r.grantId, errors: [] };
    } catch (e) {
      return { grantId: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => GroupGrantRevokePayload)
  async groupGrantRevoke(@Args('groupId') groupId: string, @Args('grantId') grantId: string, @Context() ctx: GqlContext): Promise<GroupGrantRevokePayload> {
    const p = principalOf(ctx);
    try {
      await this.commands.execute(new RevokeRoleCommand(groupKeyOf(groupId), grantIdPipe.transform(grantId), p, commandContext(ctx.req, p)));
      return { revoked: true, errors: [] };
    } catch (e) {
      return { revoked: false, errors: userErrors(e) };
    }
  }
}
