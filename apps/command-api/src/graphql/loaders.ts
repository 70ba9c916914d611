import DataLoader from 'dataloader';
import { AbilityAction, AccessPolicyState, GrantInterval, Principal, ProjectGroupState, ProjectPolicyState, SecretSubject, StreamName } from '@app/domain';
import { AccessHistoryFilter, ComplianceQueries, HistoryCursor, HistoryPage } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { Loaded } from '../application/stream-state-cache';
import { ReaderSources } from '../compliance/secret-readers';
import { listProjectGrants } from '../grants/grant-listing';
import { GrantView } from '../grants/grant.dto';
import { commandContext } from '../http/request-context';
import type { GqlContext } from './secrets.resolver';

type Scope = { everExisted: boolean; scope: SecretSubject | null };
interface HistoryKey {
  filter: AccessHistoryFilter;
  limit: number;
  cursor?: HistoryCursor;
}

const groupBy = <K, T>(items: readonly T[], key: (t: T) => K): Map<K, T[]> => {
  const m = new Map<K, T[]>();
  for (const t of items) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
  return m;
};
const historyKey = (k: HistoryKey) => JSON.stringify([k.filter, k.limit, k.cursor ? `${k.cursor.commit}.${k.cursor.prepare}` : null]);

/**
 * AccessControl for one request: the same decisions (check, require, effective: the one tree
 * resolver), but each policy stream (`project-<place key>`) and each project's place in the tree
 * read at most once per request, through the request's loaders keyed by place key. So a query
 * over the secrets and grants of many places of one tree (aliases, nested fields) reads the
 * policy of each group above them once, not once per field. Denials are recorded (and rate
 * limited) by the shared instance. For queries only: a command decides on fresh reads.
 */
export function requestScopedAccess(
  shared: AccessControl,
  loaders: { policy: DataLoader<string, Loaded<ProjectPolicyState>>; groupOf: DataLoader<string, string | null>; effective: DataLoader<string, AccessPolicyState> },
): AccessControl {
  const scoped = Object.create(shared) as AccessControl;
  return Object.assign(scoped, {
    policy: (key: string) => loaders.policy.load(key),
    groupOf: (projectId: string) => loaders.groupOf.load(projectId),
    // With the place's own state handed in (a caller that has just read it), computed on it; else once per place.
    effective: (key: string, own?: AccessPolicyState) => (own ? AccessControl.prototype.effective.call(scoped, key, own) : loaders.effective.load(key)),
    recordDenial: shared.recordDenial.bind(shared),
    flush: shared.flush.bind(shared),
  });
}

/**
 * Per-request batching and de-duplication (DataLoader), so a nested query costs a fixed number of
 * database round trips whatever the number of secrets: one policy read per place (a project or
 * a group, keyed by place key) and one membership read per project, one authorization per
 * (place, action) -- so one audited denial, as one REST call would record -- one scope query for
 * all secrets, one grants-in-force query per (project, at), one history query per page shape.
 */
export class RequestLoaders implements ReaderSources {
  readonly ctx: CommandContext;
  private readonly authorized = new Map<string, Promise<unknown>>();
  /** AccessControl on this request's loaders: what the resolvers of queries hand to the REST code paths. */
  readonly access: AccessControl;

  constructor(private readonly shared: AccessControl, private readonly queries: ComplianceQueries, private readonly principal: Principal, gql: GqlContext) {
    this.ctx = commandContext(gql.req, principal);
    this.access = requestScopedAccess(shared, { policy: this.policy, groupOf: this.groupOf, effective: this.effective });
  }

  /** A place's own policy stream, by place key (a project id or `group:<path>`). */
  readonly policy = new DataLoader<string, Loaded<ProjectPolicyState>>((keys) => Promise.all(keys.map((k) => this.shared.policy(k))));
  /** A project's place in the tree (its ProjectGroupChanged stream), once per project per request. */
  private readonly membership = new DataLoader<string, ProjectGroupState>((ids) => Promise.all(ids.map(async (id) => (await this.shared.memberships.load(StreamName.projectGroup(id))).state)));
  private readonly groupOf = new DataLoader<string, string | null>(async (ids) => (await this.membership.loadMany(ids)).map((s) => (s instanceof Error ? s : s.groupId)));
  /** The grants acting on a place (own and inherited), by place key, from the loaders above. */
  private readonly effective = new DataLoader<string, AccessPolicyState>((keys) => Promise.all(keys.map((k) => AccessControl.prototype.effective.call(this.access, k))));

  /** access.require once per (place, action) in this request, against the policies read once. */
  require(action: AbilityAction, projectId: string): Promise<unknown> {
    const key = `${action}\0${projectId}`;
    let p = this.authorized.get(key);
    if (!p) {
      p = this.access.require(this.principal, action, { projectId }, this.ctx);
      this.authorized.set(key, p);
    }
    return p;
  }

  private readonly scopes = new DataLoader<{ projectId: string; name: string; at: string }, Scope, string>(
    async (keys) => {
      const out = new Map<string, Scope>();
      for (const group of groupBy(keys, (k) => `${k.projectId}\0${k.at}`).values()) {
        const found = await this.queries.secretScopesAt(group[0].projectId, [...new Set(group.map((k) => k.name))], group[0].at);
        for (const [name, s] of found) out.set(`${group[0].projectId}\0${name}\0${group[0].at}`, s);
      }
      return keys.map((k) => out.get(`${k.projectId}\0${k.name}\0${k.at}`)!);
    },
    { cacheKeyFn: (k) => `${k.projectId}\0${k.name}\0${k.at}` },
  );

  private readonly grantsAt = new DataLoader<{ projectId: string; at: string }, GrantInterval[], string>(
    (keys) => Promise.all(keys.map((k) => this.queries.grantsInForceAt(k.projectId, k.at))),
    { cacheKeyFn: (k) => `${k.projectId}\0${k.at}` },
  );

  /** The project's membership history, oldest first (ReaderSources: readers at T of a grouped project's secret). */
  async projectGroupHistory(projectId: string): Promise<{ groupId: string | null; from: string }[]> {
    return [...(await this.membership.load(projectId)).history];
  }

  secretScopeAt(projectId: string, name: string, at: string): Promise<Scope> {
    return this.scopes.load({ projectId, name, at });
  }

  grantsInForceAt(projectId: string, at: string): Promise<GrantInterval[]> {
    return this.grantsAt.load({ projectId, at });
  }

  /** One page of a secret's access history; the pages of many secrets with the same shape are one query. */
  readonly history = new DataLoader<HistoryKey, HistoryPage, string>(
    async (keys) => {
      const out = new Map<string, HistoryPage>();
      for (const group of groupBy(keys, (k) => historyKey({ ...k, filter: { ...k.filter, secret: undefined } })).values()) {
        const { filter, limit, cursor } = group[0];
        if (group.length === 1 || group.some((k) => k.filter.secret === undefined)) {
          for (const k of group) out.set(historyKey(k), await this.queries.accessHistoryPage(k.filter, k.limit, k.cursor));
          continue;
        }
        const pages = await this.queries.accessHistoryOfSecrets(filter, [...new Set(group.map((k) => k.filter.secret!))], limit, cursor);
        for (const k of group) out.set(historyKey(k), pages.get(k.filter.secret!)!);
      }
      return keys.map((k) => out.get(historyKey(k))!);
    },
    { cacheKeyFn: historyKey },
  );

  /** The project's grants (manage-grants), once per project per request. */
  readonly grants = new DataLoader<string, GrantView[]>((ids) =>
    Promise.all(ids.map(async (id) => {
      try {
        return await listProjectGrants(this.access, this.principal, id, this.ctx);
      } catch (e) {
        return e as Error;
      }
    })),
  );
}

/** The request's loaders, made on first use (the GraphQL context is per request). */
export function loadersOf(gql: GqlContext & { loaders?: RequestLoaders }, access: AccessControl, queries: ComplianceQueries, principal: Principal): RequestLoaders {
  gql.loaders ??= new RequestLoaders(access, queries, principal, gql);
  return gql.loaders;
}
