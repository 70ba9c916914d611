import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ACCESS_REQUEST_LIMITS, AccessPolicyState, accessRequestDecider, AccessRequestStreamCommand, AccessRequestStreamState, EventStore, projectPolicyDecider, StreamName } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { CONFIG, EVENT_STORE, LOGGER, METRICS } from '@app/infra/nest/tokens';
import { Metrics } from '@app/infra/observability/metrics';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';
import { PeriodicRecorder } from '../application/periodic-recorder';
import { AccessRequestIndex } from './access-request-index';
import { releaseClaim } from './access-request-commands';

const ACTOR = { type: 'system' as const, id: 'access-request-expiry' };

/**
 * Records, once, that a pending access request expired unreviewed (AccessRequestExpired), like
 * GrantExpiryRecorder does for grants. Approval does not wait for it: a request past its
 * expiresAt already refuses approval (409). Which requests are pending it learns from the
 * AccessRequestIndex (the requests' own streams, and the policy streams for requests recorded
 * there before issue 18). It also recovers approvals whose process died between the claim and the
 * approval: a claim older than ACCESS_REQUEST_LIMITS.claimGraceSeconds with no approval is voided
 * on the policy stream (so the approval can never land after all) and released on the request's
 * stream. Every decider here records at most once however many replicas race. Every
 * GRANT_EXPIRY_SCAN_SECONDS.
 */
@Injectable()
export class AccessRequestExpiryRecorder extends PeriodicRecorder {
  private readonly logger: JsonLogger;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(LOGGER) logger: JsonLogger,
    private readonly access: AccessControl,
    private readonly index: AccessRequestIndex,
  ) {
    super();
    this.logger = logger.child('access-request-expiry');
  }

  protected periodSeconds(): number {
    return this.config.grantExpiryScanSeconds;
  }

  protected async recordDue(now: string): Promise<number> {
    try {
      await this.index.catchUp();
    } catch (e) {
      this.logger.warn('access request expiry scan failed; retrying next period', describeError(e));
      return 0;
    }
    const { expired, staleClaims } = this.index.due(now, new Date(Date.parse(now) - ACCESS_REQUEST_LIMITS.claimGraceSeconds * 1000).toISOString());
    let recorded = 0;
    for (const { projectId, requestId, legacy } of expired) {
      const ctx: CommandContext = { actor: ACTOR, now, correlationId: randomUUID(), causationId: randomUUID() };
      const command = { type: 'RecordAccessRequestExpiry' as const, data: { requestId }, metadata: { now, actor: ACTOR } };
      try {
        if (legacy) {
          const r = await handleCommand(this.store, this.access.policies, StreamName.project(projectId), projectPolicyDecider, command, ctx);
          if (r.events.length > 0) recorded++;
        } else {
          let policy: AccessPolicyState = (await this.access.policy(projectId)).state;
          const r = await handleCommand(
            this.store,
            this.index.streams,
            StreamName.accessRequest(projectId, requestId),
            { decide: (c: AccessRequestStreamCommand, st: AccessRequestStreamState) => accessRequestDecider.decide(c, { ...st, policy }) },
            async () => {
              policy = (await this.access.policy(projectId)).state;
              return command;
            },
            ctx,
          );
          if (r.events.length > 0) {
            recorded++;
            this.index.applyOwn(r.events[0].type, r.events[0].data as Record<string, unknown>, r.nextExpectedRevision);
          }
        }
        this.metrics.commands.inc({ command: 'RecordAccessRequestExpiry', outcome: 'ok' });
      } catch (e) {
        this.metrics.commands.inc({ command: 'RecordAccessRequestExpiry', outcome: 'error' });
        this.logger.warn('could not record an access request expiry; retrying next period', { projectId, requestId, ...describeError(e) });
      }
    }
    for (const { projectId, requestId, claimId } of staleClaims) {
      const ctx: CommandContext = { actor: ACTOR, now, correlationId: randomUUID(), causationId: randomUUID() };
      try {
        // Voided first: from then on that claim can never become an approval; then the request is pending again.
        await handleCommand(this.store, this.access.policies, StreamName.project(projectId), projectPolicyDecider, { type: 'VoidAccessRequestApproval', data: { requestId, claimId }, metadata: { now, actor: ACTOR } }, ctx);
        await releaseClaim(this.store, this.access, this.index, projectId, requestId, claimId, ctx);
        this.metrics.commands.inc({ command: 'VoidAccessRequestApproval', outcome: 'ok' });
      } catch (e) {
        this.metrics.commands.inc({ command: 'VoidAccessRequestApproval', outcome: 'error' });
        this.logger.warn('could not recover an abandoned approval; retrying next period', { projectId, requestId, ...describeError(e) });
      }
    }
    return recorded;
  }
}
