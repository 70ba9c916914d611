import { Inject, Injectable } from '@nestjs/common';
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
import { PeriodicRecorder } from '../application/periodic-recorder';

const ACTOR = { type: 'system' as const, id: 'grant-expiry' };

/**
 * Turns "a grant's expiresAt passed" into an event (RoleExpired), so the audit trail and SIEMs
 * see expiries when they happen, not only as a date inside the grant. Authorization does not
 * wait for it: a grant stops working at its expiry instant whether or not this has run.
 * Every GRANT_EXPIRY_SCAN_SECONDS it asks the grants read model which expiries are due and
 * records each through the decider, which records an expiry once however many replicas race.
 */
@Injectable()
export class GrantExpiryRecorder extends PeriodicRecorder {
  private readonly logger: JsonLogger;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(LOGGER) logger: JsonLogger,
    private readonly access: AccessControl,
  ) {
    super();
    this.logger = logger.child('grant-expiry');
  }

  protected periodSeconds(): number {
    return this.config.grantExpiryScanSeconds;
  }

  protected async recordDue(now: string): Promise<number> {
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
