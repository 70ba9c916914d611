import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import {
  AbilityAction,
  AccessPolicyState,
  ProjectPolicyEvent,
  projectPolicyDecider,
  ProjectPolicyState,
  authorize,
  Decision,
  denied,
  EventStore,
  Principal,
  ProjectSubject,
  SecretAccessDenialsSuppressed,
  SecretAccessDenied,
  SecretSubject,
  StreamName,
  effectivePolicy,
  grantPlaces,
  jobPlaceKeys,
  placeKey,
  placeOf,
  projectGroupDecider,
  ProjectGroupEvent,
  ProjectGroupState,
  AuthorizationContext,
} from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { CONFIG, EVENT_STORE, METRICS } from '@app/infra/nest/tokens';
import { Metrics } from '@app/infra/observability/metrics';
import { PROBLEM_BASE, ProblemException, problems } from '../http/problem';
import { DenialLimiter, DenialSummary } from '../abuse/denial-limiter';
import { CommandContext, envelope } from './event-envelope';
import { Loaded, StreamStateCache } from './stream-state-cache';

export type Allowed = Extract<Decision, { allowed: true }>;

/**
 * Deny by default, against the event-sourced grants (read fresh for every request, so a
 * revocation applies to the very next one). Every denial is appended as SecretAccessDenied
 * before the 403 leaves, so a SIEM sees probing.
 */
@Injectable()
export class AccessControl implements OnModuleDestroy {
  private readonly limiter: DenialLimiter;
  private readonly flushTimer: NodeJS.Timeout;
  /** The project's policy stream: grants, and the access requests and break-glasses beside them. */
  readonly policies: StreamStateCache<ProjectPolicyState, ProjectPolicyEvent>;
  /** Each project's place in the group tree. */
  readonly memberships: StreamStateCache<ProjectGroupState, ProjectGroupEvent>;

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, @Inject(METRICS) private readonly metrics: Metrics, @Inject(CONFIG) config: AppConfig) {
    this.limiter = new DenialLimiter(config.denials.ratePerMinute, config.denials.summaryWindowSeconds);
    this.flushTimer = setInterval(() => void this.flush(false), 1000);
    this.flushTimer.unref();
    this.policies = new StreamStateCache(store, {
      initialState: projectPolicyDecider.initialState,
      evolve: (s, e) => projectPolicyDecider.evolve(s, e),
    });
    this.memberships = new StreamStateCache(store, { initialState: projectGroupDecider.initialState, evolve: (s, e) => projectGroupDecider.evolve(s, e) });
  }

  /** The place's own policy stream (a project id or a group key): what its grant commands decide on. */
  policy(projectId: string): Promise<Loaded<ProjectPolicyState>> {
    return this.policies.load(StreamName.project(projectId));
  }

  /** The group a project is in now (read fresh: a move applies to the very next request). */
  async groupOf(projectId: string): Promise<string | null> {
    return (await this.memberships.load(StreamName.projectGroup(projectId))).state.groupId;
  }

  /** The place keys a CI job of `projectId` reads from, nearest first (group/tree.ts). */
  async jobPlaces(projectId: string): Promise<string[]> {
    return jobPlaceKeys(projectId, await this.groupOf(projectId));
  }

  /**
   * The grants acting on a place now: its own (`own`, when the caller has just loaded them for a
   * command on that stream) and every group's above it, inherited (group/tree.ts effectivePolicy).
   */
  async effective(key: string, own?: AccessPolicyState): Promise<AccessPolicyState> {
    const place = placeOf(key);
    if (!place) throw new Error('not a place key'); // ids are validated by the pipes and deciders before they get here
    // The place's own policy is always needed: read in the same turn as its group (one statement, issue 23).
    const ownP = own ? undefined : this.policy(key);
    ownP?.catch(() => undefined); // awaited below; its failure is the call's, never an unhandled one
    const places = grantPlaces(place, place.type === 'project' ? await this.groupOf(place.id) : null);
    const states = await Promise.all(places.map(async (p, i) => (i === 0 && own ? own : i === 0 && placeKey(p) === key ? (await ownP!).state : (await this.policy(placeKey(p))).state)));
    return effectivePolicy(place, places.map((p, i) => ({ place: p, state: states[i] })));
  }

  /** Decides without side effects, on the effective policy (`policy`: the place's own, already loaded). */
  async check(principal: Principal, action: AbilityAction, target: SecretSubject | ProjectSubject, ctx: CommandContext, policy?: AccessPolicyState, authz: AuthorizationContext = {}): Promise<Decision> {
    const state = await this.effective(target.projectId, policy);
    return authorize(principal, state, action, target, ctx.now, authz);
  }

  /** Allowed → the decision (through which grant); denied → audited, then 403. */
  async require(principal: Principal, action: AbilityAction, target: SecretSubject | ProjectSubject, ctx: CommandContext, policy?: AccessPolicyState): Promise<Allowed> {
    const d = await this.check(principal, action, target, ctx, policy);
    if (d.allowed) return d;
    await this.recordDenial(denied(principal, target.projectId, 'name' in target ? target.name : null, action, d.reason), ctx);
    throw problems.forbidden(d.reason);
  }

  /** Appends a denial to the project's access log. If even that fails, the request fails (503), and still nothing is allowed. */
  async recordDenial(event: SecretAccessDenied, ctx: CommandContext, opts: { mayRefuse?: boolean } = {}): Promise<void> {
    this.metrics.accessDecisions.inc({ decision: 'denied', reason: event.data.reason });
    // Bounded: the first identical denial of a window is recorded, the rest are folded into one
    // summary; a principal over its denial rate gets 429 (same budget for every project, known
    // or invented, so the answer never tells a stranger whether a project exists).
    await this.flush(false);
    const v = this.limiter.observe(event.data.principal, event.data.projectId, event.data.reason, Date.parse(ctx.now) || Date.now(), { name: event.data.name, mayRefuse: opts.mayRefuse });
    if (v.retryAfterSeconds !== null) {
      throw new ProblemException(
        { type: `${PROBLEM_BASE}too-many-requests`, title: 'Too many requests', status: 429, detail: 'too many denied requests; retry later', reason: 'denial-rate' },
        { 'Retry-After': String(v.retryAfterSeconds) },
      );
    }
    if (!v.record) return;
    // The access log is an append-only record with no invariant to protect: 'any' is the honest expectation.
    await this.store.appendToStream(StreamName.access(event.data.projectId, event.data.name), 'any', [envelope(event, ctx)]);
  }

  private flushing: Promise<void> = Promise.resolve();

  /** Appends the summaries of closed windows (every open one at shutdown, so none is lost on a clean stop). */
  flush(everything: boolean): Promise<void> {
    const due = this.limiter.flushDue(Date.now(), everything);
    if (due.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.appendSummaries(due)).catch(() => undefined);
    return this.flushing;
  }

  private async appendSummaries(due: DenialSummary[]): Promise<void> {
    for (const s of due) {
      const event: SecretAccessDenialsSuppressed = { type: 'SecretAccessDenialsSuppressed', data: { ...s } };
      const ctx: CommandContext = { actor: { type: 'system', id: 'denial-summary' }, now: new Date().toISOString(), correlationId: randomUUID(), causationId: randomUUID() };
      await this.store.appendToStream(StreamName.access(s.projectId), 'any', [envelope(event, ctx)]);
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flush(true);
  }
}
