import { Inject } from '@nestjs/common';
import { Args, Context, Int, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Reader } from '@app/domain';
import { AuditLogStore } from '@app/infra/audit/audit-log-store';
import { AUDIT_LOG, COMPLIANCE_QUERIES } from '@app/infra/nest/tokens';
import { AccessHistoryItem, ComplianceQueries, HistoryPage } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { AuditAccess } from '../audit/audit-access';
import { parseHistoryQuery, timestamp } from '../compliance/compliance.controller';
import { secretReadersAt, SecretReadersView } from '../compliance/secret-readers';
import { GrantView } from '../grants/grant.dto';
import { ProjectIdPipe, SecretNamePipe } from '../http/params';
import { FieldError, ProblemException, problems } from '../http/problem';
import { commandContext } from '../http/request-context';
import { ProjectGrant } from './grants.resolver';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './limits';
import { loadersOf } from './loaders';
import { GqlContext, principalOf } from './secrets.resolver';
import { AccessHistoryConnection, AccessHistoryFilterInput, AccessVia, AuditCheckpoint, ReaderVia, SecretReaders } from './compliance.types';
import { ProjectSecret } from './types';

const projectIdPipe = new ProjectIdPipe();
const secretNamePipe = new SecretNamePipe();
/** REST's parameter names as this API's argument names. */
const ARG_OF: Record<string, string> = { limit: 'first', cursor: 'after' };

type ViaWithProject = (AccessVia | ReaderVia) & { projectId?: string };

export function pageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw problems.badRequest('invalid first', [{ field: 'first', message: `first must be 1-${MAX_PAGE_SIZE}` }]);
  return size;
}

/** The REST parser (parseHistoryQuery) over the GraphQL filter, so both refuse the same input the same way. */
function historyQuery(projectId: string, filter: Record<string, unknown>, first: number | null | undefined, after: string | null | undefined) {
  const limit = pageSize(first);
  const query: Record<string, unknown> = { limit: String(limit) };
  for (const [k, v] of Object.entries(filter)) if (v !== null && v !== undefined) query[k] = v;
  if (after !== null && after !== undefined) query.cursor = after;
  try {
    return parseHistoryQuery(projectId, query);
  } catch (e) {
    if (e instanceof ProblemException && e.problem.errors) {
      throw problems.badRequest(e.problem.detail ?? 'invalid query', e.problem.errors.map((fe: FieldError) => ({ field: ARG_OF[fe.field] ?? `filter.${fe.field}`, message: fe.message })));
    }
    throw e;
  }
}

function connectionOf(page: HistoryPage, projectId: string): AccessHistoryConnection {
  return {
    edges: page.items.map((item: AccessHistoryItem, i) => ({ cursor: page.cursors[i], node: { ...item, via: item.via ? ({ ...item.via, projectId } as ViaWithProject) : null } })),
    pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.cursors.at(-1) ?? null },
  };
}

function readersOut(view: SecretReadersView, projectId: string): SecretReaders {
  return { at: view.at, secretExisted: view.secretExisted, readers: view.readers.map((r: Reader) => ({ principal: { ...r.principal }, via: { ...r.via, projectId } as ViaWithProject })) };
}

/** Reviewers' queries: the same parsers, the same read-audit rule and the same read-model queries as ComplianceController / AuditController. */
@Resolver()
export class ComplianceResolver {
  constructor(
    private readonly access: AccessControl,
    private readonly auditAccess: AuditAccess,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
    @Inject(AUDIT_LOG) private readonly log: AuditLogStore,
  ) {}

  @Query(() => AccessHistoryConnection, { description: 'REST GET …/access-history: newest first, the same filters and keyset cursors (first ≤ 100).' })
  async accessHistory(
    @Args('projectId') projectId: string,
    @Args('filter', { type: () => AccessHistoryFilterInput, nullable: true }) filter: AccessHistoryFilterInput | undefined,
    @Args('first', { type: () => Int, nullable: true }) first: number | undefined,
    @Args('after', { type: () => String, nullable: true }) after: string | undefined,
    @Context() ctx: GqlContext,
  ): Promise<AccessHistoryConnection> {
    const p = principalOf(ctx);
    const id = projectIdPipe.transform(projectId);
    const q = historyQuery(id, { ...(filter ?? {}) }, first, after);
    const l = loadersOf(ctx, this.access, this.queries, p);
    await l.require('read-audit', id);
    return connectionOf(await l.history.load({ filter: q.filter, limit: q.limit, cursor: q.cursor }), id);
  }

  @Query(() => SecretReaders, { description: 'REST GET …/secrets/{name}/readers: who could read the value at `at` (default now), and through which grant.' })
  async secretReaders(
    @Args('projectId') projectId: string,
    @Args('name') name: string,
    @Args('at', { type: () => String, nullable: true }) at: string | undefined,
    @Context() ctx: GqlContext,
  ): Promise<SecretReaders> {
    const p = principalOf(ctx);
    const id = projectIdPipe.transform(projectId);
    const n = secretNamePipe.transform(name);
    return readersOf(loadersOf(ctx, this.access, this.queries, p), id, n, at);
  }

  @Query(() => AuditCheckpoint, { description: 'REST GET /v1/audit/checkpoints/latest: read-audit on any project.' })
  async auditCheckpoint(@Context() ctx: GqlContext): Promise<AuditCheckpoint> {
    const p = principalOf(ctx);
    await this.auditAccess.requireAnyProject(p, commandContext(ctx.req, p));
    const c = await this.log.latestCheckpoint();
    if (!c) throw problems.notFound('no checkpoint has been signed yet');
    return { treeSize: c.treeSize, rootHash: c.rootHash.toString('base64'), note: c.note, createdAt: c.createdAt };
  }
}

async function readersOf(l: ReturnType<typeof loadersOf>, projectId: string, name: string, at: string | null | undefined): Promise<SecretReaders> {
  const errors: FieldError[] = [];
  const when = at === null || at === undefined ? l.ctx.now : timestamp({ at }, 'at', errors);
  if (errors.length > 0) throw problems.badRequest('invalid query', errors);
  await l.require('read-audit', projectId);
  return readersOut(await secretReadersAt(l, projectId, name, when!), projectId);
}

/** secret → readers / history, batched per request (loaders.ts): no query per secret. */
@Resolver(() => ProjectSecret)
export class ProjectSecretFieldsResolver {
  constructor(private readonly access: AccessControl, @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries) {}

  @ResolveField(() => SecretReaders, { nullable: true, description: 'secretReaders for this secret (read-audit; null with an error when refused, the rest of the query still answers).' })
  readers(@Parent() s: ProjectSecret, @Args('at', { type: () => String, nullable: true }) at: string | undefined, @Context() ctx: GqlContext): Promise<SecretReaders> {
    return readersOf(loadersOf(ctx, this.access, this.queries, principalOf(ctx)), s.projectId, s.name, at);
  }

  @ResolveField(() => AccessHistoryConnection, { nullable: true, description: 'accessHistory filtered on this secret (read-audit; null with an error when refused): the same keyset cursors.' })
  async history(
    @Parent() s: ProjectSecret,
    @Args('first', { type: () => Int, nullable: true }) first: number | undefined,
    @Args('after', { type: () => String, nullable: true }) after: string | undefined,
    @Context() ctx: GqlContext,
  ): Promise<AccessHistoryConnection> {
    const l = loadersOf(ctx, this.access, this.queries, principalOf(ctx));
    const q = historyQuery(s.projectId, { secret: s.name }, first, after);
    await l.require('read-audit', s.projectId);
    return connectionOf(await l.history.load({ filter: q.filter, limit: q.limit, cursor: q.cursor }), s.projectId);
  }
}

async function grantOf(l: ReturnType<typeof loadersOf>, via: ViaWithProject): Promise<GrantView | null> {
  if (!via.grantId || !via.projectId) return null;
  return (await l.grants.load(via.projectId)).find((g) => g.grantId === via.grantId) ?? null;
}

/** The grant an access went through, from the project's grants (manage-grants), once per project per request. */
@Resolver(() => AccessVia)
export class AccessViaResolver {
  constructor(private readonly access: AccessControl, @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries) {}

  @ResolveField(() => ProjectGrant, { nullable: true, description: 'The grant (projectGrants; needs manage-grants), when the access went through one.' })
  grant(@Parent() via: ViaWithProject, @Context() ctx: GqlContext): Promise<GrantView | null> {
    return grantOf(loadersOf(ctx, this.access, this.queries, principalOf(ctx)), via);
  }
}

@Resolver(() => ReaderVia)
export class ReaderViaResolver {
  constructor(private readonly access: AccessControl, @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries) {}

  @ResolveField(() => ProjectGrant, { nullable: true, description: 'The grant (projectGrants; needs manage-grants), when the reader holds one.' })
  grant(@Parent() via: ViaWithProject, @Context() ctx: GqlContext): Promise<GrantView | null> {
    return grantOf(loadersOf(ctx, this.access, this.queries, principalOf(ctx)), via);
  }
}
