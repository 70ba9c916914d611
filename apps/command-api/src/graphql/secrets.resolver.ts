import { Inject } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Args, Context, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { Principal } from '@app/domain';
import { COMPLIANCE_QUERIES, SECRET_CATALOG } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { SecretCatalog } from '@app/infra/read-models/secret-catalog';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { ChangeSecretMetadataCommand, CreateSecretCommand, DeleteSecretCommand, UpdateSecretValueCommand } from '../secrets/secret-commands';
import { CreateSecretDto, PatchSecretDto, SecretMetadataView, UpdateSecretValueDto } from '../secrets/secret.dto';
import { listVisibleSecrets, parseRotationFilter, readSecretMetadata } from '../secrets/secret-listing';
import { SecretStates } from '../secrets/secret-states';
import { SecretAccess } from '../secrets/secret-access';
import { AccessSecretsDto } from '../secrets/secret-batch-access.controller';
import { ProjectIdPipe, SecretNamePipe } from '../http/params';
import { userErrors } from './errors';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './limits';
import { loadersOf } from './loaders';
import {
  ProjectSecret,
  ProjectSecretConnection,
  ProjectSecretCreateInput,
  ProjectSecretCreatePayload,
  ProjectSecretDeletePayload,
  ProjectSecretUpdateInput,
  ProjectSecretUpdatePayload,
  SecretAccessArgs,
  SecretAccessPayload,
} from './types';

export interface GqlContext {
  req: AuthenticatedRequest;
}

export function principalOf(ctx: GqlContext): Principal {
  const p = ctx.req.principal;
  if (!p) throw problems.unauthorized('missing bearer token');
  return p;
}

/** The REST DTO's class-validator rules, so a GraphQL input is refused exactly as the REST body would be. */
export async function validated<T extends object>(cls: new () => T, input: object): Promise<T> {
  const dto = plainToInstance(cls, JSON.parse(JSON.stringify(input)) as object);
  const errs = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errs.length) throw problems.badRequest('invalid input', errs.flatMap((e) => Object.values(e.constraints ?? {}).map((message) => ({ field: e.property, message }))));
  return dto;
}

const projectIdPipe = new ProjectIdPipe();
export const secretNamePipe = new SecretNamePipe();
const encodeCursor = (name: string) => Buffer.from(`n:${name}`).toString('base64url');
function decodeCursor(after: string): string {
  const raw = Buffer.from(after, 'base64url').toString('utf8');
  if (!raw.startsWith('n:')) throw problems.badRequest('invalid cursor', [{ field: 'after', message: 'after must be a cursor from this connection' }]);
  return raw.slice(2);
}

/** `first` (1-MAX_PAGE_SIZE, default DEFAULT_PAGE_SIZE): a field-named 400 otherwise. */
export function secretPageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw problems.badRequest('invalid first', [{ field: 'first', message: `first must be 1-${MAX_PAGE_SIZE}` }]);
  return size;
}

/**
 * The read model has no keyset cursors (REST returns the whole list): a connection pages over
 * the authorized list sorted by name, the cursor being the last name seen.
 */
export function secretPage<T extends { name: string }>(list: T[], size: number, after: string | null | undefined): { edges: { cursor: string; node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } {
  const items = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const from = after === undefined || after === null ? 0 : (() => { const last = decodeCursor(after); const i = items.findIndex((s) => s.name > last); return i < 0 ? items.length : i; })();
  const page = items.slice(from, from + size);
  return {
    edges: page.map((node) => ({ cursor: encodeCursor(node.name), node })),
    pageInfo: { hasNextPage: from + size < items.length, endCursor: page.length ? encodeCursor(page[page.length - 1].name) : null },
  };
}

/** The metadata fields an update may carry: a project secret's, a group secret's (no branch). */
export const PROJECT_METADATA_KEYS = ['description', 'environment', 'branch', 'protectedOnly', 'rotationIntervalDays'] as const;
export const GROUP_METADATA_KEYS = ['description', 'environment', 'protectedOnly', 'rotationIntervalDays'] as const;

/**
 * REST PUT …/value and PATCH …/{name} in one mutation (project and group secrets): the value first
 * (UpdateSecretValueCommand), then the metadata (ChangeSecretMetadataCommand), each its own event;
 * with ifRevision the metadata change expects the revision the value change made. Both inputs are
 * validated before either command runs; if the metadata change is refused after the value changed,
 * the value change stays and the caller's errors say why. `key`: the place key, already validated.
 */
export async function updateSecret(
  deps: { commands: CommandBus; access: AccessControl; secrets: SecretStates },
  key: string,
  input: { name: unknown; value?: string | null; ifRevision?: number | null },
  metadataKeys: readonly string[],
  p: Principal,
  ctx: CommandContext,
): Promise<SecretMetadataView> {
  const plain = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
  const name = secretNamePipe.transform(String(input.name));
  const ifRevision = input.ifRevision ?? undefined;
  const metaKeys = metadataKeys.filter((k) => k in plain);
  const hasValue = input.value !== undefined && input.value !== null;
  if (!hasValue && metaKeys.length === 0) throw problems.badRequest('nothing to update', [{ field: 'input', message: `give value and/or at least one of ${metadataKeys.join(', ')}` }]);
  if (plain.protectedOnly === null) throw problems.badRequest('invalid input', [{ field: 'protectedOnly', message: 'protectedOnly must be true or false, not null' }]);
  const valueBody = hasValue ? await validated(UpdateSecretValueDto, { value: input.value }) : undefined;
  const metaBody = metaKeys.length ? await validated(PatchSecretDto, Object.fromEntries(metaKeys.map((k) => [k, plain[k]]))) : undefined;
  let expected = ifRevision;
  if (valueBody) {
    await deps.commands.execute(new UpdateSecretValueCommand(key, name, valueBody.value, expected, p, ctx));
    if (expected !== undefined) expected += 1;
  }
  if (metaBody) return (await deps.commands.execute(new ChangeSecretMetadataCommand(key, name, metaBody, expected, p, ctx))) as SecretMetadataView;
  return readSecretMetadata(deps.access, deps.secrets, p, key, name, ctx);
}

/** Secrets: every field calls the code the REST controller calls (secret-listing.ts, secret-commands.ts). */
@Resolver()
export class SecretsResolver {
  constructor(
    readonly commands: CommandBus,
    readonly access: AccessControl,
    readonly secrets: SecretStates,
    private readonly reader: SecretAccess,
    @Inject(SECRET_CATALOG) private readonly catalog: SecretCatalog,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
  ) {}

  /** A page of the project's secrets (REST GET …/secrets, paged: secretPage). */
  @Query(() => ProjectSecretConnection)
  async projectSecrets(
    @Args('projectId') projectId: string,
    @Args('first', { type: () => Int, nullable: true }) first: number | undefined,
    @Args('after', { type: () => String, nullable: true }) after: string | undefined,
    @Args('rotation', { type: () => String, nullable: true, description: 'approaching or overdue: only the secrets whose rotation is (REST ?rotation=)' }) rotation: string | undefined,
    @Context() ctx: GqlContext,
  ): Promise<ProjectSecretConnection> {
    const p = principalOf(ctx);
    const rotationFilter = parseRotationFilter(rotation ?? undefined);
    const size = secretPageSize(first);
    const l = loadersOf(ctx, this.access, this.queries, p);
    // A project's secrets: each has its projectId (placeFields gives groupId only to a group's).
    return secretPage((await listVisibleSecrets(l.access, this.catalog, p, projectIdPipe.transform(projectId), l.ctx, { rotation: rotationFilter })) as ProjectSecret[], size, after);
  }

  @Query(() => ProjectSecret)
  projectSecret(@Args('projectId') projectId: string, @Args('name') name: string, @Context() ctx: GqlContext): Promise<ProjectSecret> {
    const p = principalOf(ctx);
    const l = loadersOf(ctx, this.access, this.queries, p);
    return readSecretMetadata(l.access, this.secrets, p, projectIdPipe.transform(projectId), secretNamePipe.transform(name), l.ctx) as Promise<ProjectSecret>;
  }

  @Mutation(() => ProjectSecretCreatePayload)
  async projectSecretCreate(@Args('input') input: ProjectSecretCreateInput, @Context() ctx: GqlContext): Promise<ProjectSecretCreatePayload> {
    const p = principalOf(ctx);
    try {
      const { projectId, ...rest } = input;
      const body = await validated(CreateSecretDto, rest);
      const r = (await this.commands.execute(new CreateSecretCommand(projectIdPipe.transform(projectId), body, p, commandContext(ctx.req, p)))) as { name: string; version: number; revision: number };
      return { ...r, errors: [] };
    } catch (e) {
      return { name: null, version: null, revision: null, errors: userErrors(e) };
    }
  }

  /** REST PUT …/value and PATCH …/{name} in one mutation (updateSecret). */
  @Mutation(() => ProjectSecretUpdatePayload)
  async projectSecretUpdate(@Args('input') input: ProjectSecretUpdateInput, @Context() ctx: GqlContext): Promise<ProjectSecretUpdatePayload> {
    const p = principalOf(ctx);
    try {
      const projectId = projectIdPipe.transform(String(input.projectId));
      const view = await updateSecret(this, projectId, input, PROJECT_METADATA_KEYS, p, commandContext(ctx.req, p));
      return { secret: view as ProjectSecret, errors: [] };
    } catch (e) {
      return { secret: null, errors: userErrors(e) };
    }
  }

  @Mutation(() => ProjectSecretDeletePayload)
  async projectSecretDelete(
    @Args('projectId') projectId: string,
    @Args('name') name: string,
    @Args('ifRevision', { type: () => Int, nullable: true, description: 'Stream revision (REST If-Match); refused as precondition-failed when stale' }) ifRevision: number | undefined,
    @Context() ctx: GqlContext,
  ): Promise<ProjectSecretDeletePayload> {
    const p = principalOf(ctx);
    try {
      await this.commands.execute(new DeleteSecretCommand(projectIdPipe.transform(projectId), secretNamePipe.transform(name), ifRevision ?? undefined, p, commandContext(ctx.req, p)));
      return { deleted: true, errors: [] };
    } catch (e) {
      return { deleted: false, errors: userErrors(e) };
    }
  }

  /**
   * REST POST …/secrets/access: the same validation (AccessSecretsDto) and the same SecretAccess.read
   * (each name decided and recorded on its own, one OpenBao login per scope role for a CI job, the
   * values returned only after every allowed one is durable).
   */
  @Mutation(() => SecretAccessPayload)
  async secretAccess(@Args() args: SecretAccessArgs, @Context() ctx: GqlContext): Promise<SecretAccessPayload> {
    const p = principalOf(ctx);
    try {
      const projectId = projectIdPipe.transform(args.projectId);
      const body = await validated(AccessSecretsDto, { names: args.names, ...(args.purpose === undefined || args.purpose === null ? {} : { purpose: args.purpose }) });
      const { items, denied } = await this.reader.read({ projectId, names: body.names, purpose: body.purpose ?? null, principal: p, ctx: commandContext(ctx.req, p), ciJobToken: ctx.req.ciJobToken }, false);
      return { items, denied, errors: [] };
    } catch (e) {
      return { items: [], denied: [], errors: userErrors(e) };
    }
  }
}
