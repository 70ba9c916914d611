import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { accessPolicyDecider, EventStore, StreamName } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { COMPLIANCE_QUERIES, CONFIG, EVENT_STORE, LOGGER, METRICS } from '@app/infra/nest/tokens';
import { Metrics } from '@app/infra/observability/metrics';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';

const ACTOR = { type: 'system' as const, id: 'grant-expiry' };

/**
 * Turns "a grant's expiresAt passed" into an event (RoleExpired), so the audit trail and SIEMs
 * see expiries when they happen, not only as a date inside the grant. Authorization does not
 * wait for it: a grant stops working at its expiry instant whether or not this has run.
 * Every GRANT_EXPIRY_SCAN_SECONDS it asks the grants read model which expiries are due and
 * records each through the decider, which records an expiry once however many replicas race.
 */
@Injectable()
export class GrantExpiryRecorder implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private readonly logger: JsonLogger;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(LOGGER) logger: JsonLogger,
    private readonly access: AccessControl,
  ) {
    this.logger = logger.child('grant-expiry');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.scan(), this.config.grantExpiryScanSeconds * 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Records every due expiry; returns how many were recorded. One scan at a time. */
  scan(now = new Date()): Promise<number> {
    if (!this.running) this.running = this.recordDue(now.toISOString()).finally(() => (this.running = undefined));
    return this.running;
  }

  private async recordDue(now: string): Promise<number> {
    let recorded = 0;
    let due: { projectId: string; grantId: string }[];
    try {
      due = await this.queries.grantsDueForExpiry(now);
    } catch (e) {
      this.logger.warn('grant expiry scan failed; retrying next period', describeError(e));
      return 0;
    }
    for (const { projectId, grantId } of due) {
      const ctx: CommandContext = { actor: ACTOR, now, correlationId: randomUUID(), causationId: randomUUID() };
      try {
        const r = await handleCommand(this.store, this.access.policies, StreamName.project(projectId), accessPolicyDecider, { type: 'RecordGrantExpiry', data: { grantId }, metadata: { now, actor: ACTOR } }, ctx);
        if (r.events.length > 0) recorded++;
        this.metrics.commands.inc({ command: 'RecordGrantExpiry', outcome: 'ok' });
      } catch (e) {
        this.metrics.commands.inc({ command: 'RecordGrantExpiry', outcome: 'error' });
        this.logger.warn('could not record a grant expiry; retrying next period', { projectId, grantId, ...describeError(e) });
      }
    }
    return recorded;
  }
}
