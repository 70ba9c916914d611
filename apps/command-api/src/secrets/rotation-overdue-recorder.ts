import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EventStore, Position, RecordedEvent, rotationDueAt, SecretEvent, secretDecider, StreamCategory, StreamName, toDomainEvent } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { CONFIG, EVENT_STORE, LOGGER, METRICS } from '@app/infra/nest/tokens';
import { Metrics } from '@app/infra/observability/metrics';
import { CommandContext } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';
import { PeriodicRecorder } from '../application/periodic-recorder';
import { SecretStates } from './secret-states';

const ACTOR = { type: 'system' as const, id: 'rotation-overdue' };
const PAGE = 500;

interface Tracked {
  projectId: string;
  name: string;
  version: number;
  /** occurredAt of the event that wrote the current version. */
  versionAt: string;
  intervalDays: number | null;
  /** The version whose SecretRotationOverdue is recorded, or that was handed to the decider already. */
  settledVersion: number | null;
}

/**
 * Records, once per value version, that a secret's rotation is overdue (SecretRotationOverdue):
 * the version outlived its rotationIntervalDays. Which secrets have an interval, and when their
 * current version was written, it learns by reading the secret streams forward from where it
 * last stopped (an in-memory index rebuilt from the start on each process start, like
 * AccessRequestExpiryRecorder; secret streams hold only human-paced metadata events, reads are
 * in the access streams). The secret's decider is the gate: it records a version's overdue at
 * most once however many replicas race, and never before the version is due. Every
 * GRANT_EXPIRY_SCAN_SECONDS, the timer the other recorders use.
 */
@Injectable()
export class RotationOverdueRecorder extends PeriodicRecorder {
  private after?: Position;
  private readonly secrets = new Map<string, Tracked>();
  private readonly logger: JsonLogger;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(LOGGER) logger: JsonLogger,
    private readonly states: SecretStates,
  ) {
    super();
    this.logger = logger.child('rotation-overdue');
  }

  protected periodSeconds(): number {
    return this.config.grantExpiryScanSeconds;
  }

  private track(recorded: RecordedEvent): void {
    let e: SecretEvent;
    try {
      e = toDomainEvent<SecretEvent>(recorded);
    } catch {
      return; // an event type this code does not know: nothing about rotation
    }
    const key = recorded.streamName;
    const at = String(recorded.metadata.occurredAt);
    const t = this.secrets.get(key);
    switch (e.type) {
      case 'SecretCreated':
        this.secrets.set(key, { projectId: e.data.projectId, name: e.data.name, version: e.data.version, versionAt: at, intervalDays: e.data.rotationIntervalDays ?? null, settledVersion: null });
        return;
      case 'SecretValueUpdated':
        if (t) Object.assign(t, { version: e.data.version, versionAt: at });
        return;
      case 'SecretMetadataChanged':
        if (t && e.data.rotationIntervalDays !== undefined) t.intervalDays = e.data.rotationIntervalDays;
        return;
      case 'SecretRotationOverdue':
        if (t) t.settledVersion = e.data.version;
        return;
      case 'SecretDeleted':
        this.secrets.delete(key);
        return;
    }
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll({ after: this.after, maxCount: PAGE, streamPrefixes: [`${StreamCategory.secret}-`] });
      for (const e of page) this.track(e);
      if (page.length > 0) this.after = page[page.length - 1].position;
      if (page.length < PAGE) return;
    }
  }

  protected async recordDue(now: string): Promise<number> {
    try {
      await this.catchUp();
    } catch (e) {
      this.logger.warn('rotation overdue scan failed; retrying next period', describeError(e));
      return 0;
    }
    let recorded = 0;
    const nowMs = Date.parse(now);
    for (const t of this.secrets.values()) {
      if (t.intervalDays === null || t.settledVersion === t.version) continue;
      const dueAt = rotationDueAt(t.intervalDays, t.versionAt);
      if (dueAt === null || Date.parse(dueAt) > nowMs) continue;
      const ctx: CommandContext = { actor: ACTOR, now, correlationId: randomUUID(), causationId: randomUUID() };
      const version = t.version;
      try {
        const r = await handleCommand(
          this.store,
          this.states,
          StreamName.secret(t.projectId, t.name),
          secretDecider,
          { type: 'RecordSecretRotationOverdue', data: { version }, metadata: { now, actor: ACTOR } },
          ctx,
        );
        if (r.events.length > 0) {
          recorded++;
          t.settledVersion = version;
        } else {
          // Nothing recorded: settled if the stream says it is recorded already, or the version is gone;
          // otherwise the index is behind the stream (an interval changed), which the next catch-up mends.
          const s = (await this.states.forSecret(t.projectId, t.name)).state;
          if (s.status !== 'active' || s.version !== version || s.rotationOverdueVersion === version) t.settledVersion = version;
        }
        this.metrics.commands.inc({ command: 'RecordSecretRotationOverdue', outcome: 'ok' });
      } catch (e) {
        this.metrics.commands.inc({ command: 'RecordSecretRotationOverdue', outcome: 'error' });
        this.logger.warn('could not record a rotation overdue; retrying next period', { projectId: t.projectId, name: t.name, version, ...describeError(e) });
      }
    }
    return recorded;
  }
}
