import { Inject, Injectable } from '@nestjs/common';
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
  SecretAccessDenied,
  SecretSubject,
  StreamName,
} from '@app/domain';
import { EVENT_STORE, METRICS } from '@app/infra/nest/tokens';
import { Metrics } from '@app/infra/observability/metrics';
import { problems } from '../http/problem';
import { CommandContext, envelope } from './event-envelope';
import { Loaded, StreamStateCache } from './stream-state-cache';

export type Allowed = Extract<Decision, { allowed: true }>;

/**
 * Deny by default, against the event-sourced grants (read fresh for every request, so a
 * revocation applies to the very next one). Every denial is appended as SecretAccessDenied
 * before the 403 leaves, so a SIEM sees probing.
 */
@Injectable()
export class AccessControl {
  /** The project's policy stream: grants, and the access requests and break-glasses beside them. */
  readonly policies: StreamStateCache<ProjectPolicyState, ProjectPolicyEvent>;

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, @Inject(METRICS) private readonly metrics: Metrics) {
    this.policies = new StreamStateCache(store, {
      initialState: projectPolicyDecider.initialState,
      evolve: (s, e) => projectPolicyDecider.evolve(s, e),
    });
  }

  policy(projectId: string): Promise<Loaded<ProjectPolicyState>> {
    return this.policies.load(StreamName.project(projectId));
  }

  /** Decides without side effects. */
  async check(principal: Principal, action: AbilityAction, target: SecretSubject | ProjectSubject, ctx: CommandContext, policy?: AccessPolicyState): Promise<Decision> {
    const state = policy ?? (await this.policy(target.projectId)).state;
    return authorize(principal, state, action, target, ctx.now);
  }

  /** Allowed → the decision (through which grant); denied → audited, then 403. */
  async require(principal: Principal, action: AbilityAction, target: SecretSubject | ProjectSubject, ctx: CommandContext, policy?: AccessPolicyState): Promise<Allowed> {
    const d = await this.check(principal, action, target, ctx, policy);
    if (d.allowed) return d;
    await this.recordDenial(denied(principal, target.projectId, 'name' in target ? target.name : null, action, d.reason), ctx);
    throw problems.forbidden(d.reason);
  }

  /** Appends a denial to the project's access log. If even that fails, the request fails (503), and still nothing is allowed. */
  async recordDenial(event: SecretAccessDenied, ctx: CommandContext): Promise<void> {
    this.metrics.accessDecisions.inc({ decision: 'denied', reason: event.data.reason });
    // The access log is an append-only record with no invariant to protect: 'any' is the honest expectation.
    await this.store.appendToStream(StreamName.access(event.data.projectId, event.data.name), 'any', [envelope(event, ctx)]);
  }
}
