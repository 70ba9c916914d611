import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EventStore, Position, projectPolicyDecider, StreamCategory, StreamName } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { CONFIG, EVENT_STORE, LOGGER, METRICS } from '@app/infra/nest/tokens';
import { Metrics } from '@app/infra/observability/metrics';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';
import { PeriodicRecorder } from '../application/periodic-recorder';

const ACTOR = { type: 'system' as const, id: 'access-request-expiry' };
const PAGE = 500;

/**
 * Records, once, that a pending access request expired unreviewed (AccessRequestExpired), like
 * GrantExpiryRecorder does for grants. Approval does not wait for it: a request past its
 * expiresAt already refuses approval (409). Which requests are pending it learns by reading the
 * project streams forward from where it last stopped (an in-memory index, rebuilt from the start
 * on each process start: project streams hold only human-paced policy events). The decider
 * records an expiry at most once however many replicas race. Every GRANT_EXPIRY_SCAN_SECONDS.
 */
@Injectable()
export class AccessRequestExpiryRecorder extends PeriodicRecorder {
  private after?: Position;
  private readonly pending = new Map<string, { projectId: string; expiresAt: number }>();
  private readonly logger: JsonLogger;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(LOGGER) logger: JsonLogger,
    private readonly access: AccessControl,
  ) {
    super();
    this.logger = logger.child('access-request-expiry');
  }

  protected periodSeconds(): number {
    return this.config.grantExpiryScanSeconds;
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll({ after: this.after, maxCount: PAGE, streamPrefixes: [`${StreamCategory.project}-`] });
      for (const e of page) {
        const d = e.data as { projectId?: unknown; requestId?: unknown; expiresAt?: unknown };
        if (typeof d.requestId !== 'string') continue;
        if (e.type === 'AccessRequested') this.pending.set(d.requestId, { projectId: String(d.projectId), expiresAt: Date.parse(String(d.expiresAt)) });
        else if (e.type === 'AccessRequestApproved' || e.type === 'AccessRequestDenied' || e.type === 'AccessRequestCancelled' || e.type === 'AccessRequestExpired') this.pending.delete(d.requestId);
      }
      if (page.length > 0) this.after = page[page.length - 1].position;
      if (page.length < PAGE) return;
    }
  }

  protected async recordDue(now: string): Promise<number> {
    try {
      await this.catchUp();
    } catch (e) {
      this.logger.warn('access request expiry scan failed; retrying next period', describeError(e));
      return 0;
    }
    let recorded = 0;
    const nowMs = Date.parse(now);
    for (const [requestId, { projectId, expiresAt }] of this.pending) {
      if (!(expiresAt <= nowMs)) continue;
      const ctx: CommandContext = { actor: ACTOR, now, correlationId: randomUUID(), causationId: randomUUID() };
      try {
        const r = await handleCommand(
          this.store,
          this.access.policies,
          StreamName.project(projectId),
          projectPolicyDecider,
          { type: 'RecordAccessRequestExpiry', data: { requestId }, metadata: { now, actor: ACTOR } },
          ctx,
        );
        if (r.events.length > 0) recorded++;
        // Recorded now, or already decided/recorded by someone else: either way no longer pending.
        this.pending.delete(requestId);
        this.metrics.commands.inc({ command: 'RecordAccessRequestExpiry', outcome: 'ok' });
      } catch (e) {
        this.metrics.commands.inc({ command: 'RecordAccessRequestExpiry', outcome: 'error' });
        this.logger.warn('could not record an access request expiry; retrying next period', { projectId, requestId, ...describeError(e) });
      }
    }
    return recorded;
  }
}
