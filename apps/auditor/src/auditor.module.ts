import { Inject, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { EventStore } from '@app/domain';
import { deriveBrokerMarkerKey } from '@app/domain/openbao-audit';
import { AuditLogStore, StoredAuditRecord, StoredCheckpoint } from '@app/infra/audit/audit-log-store';
import { FileAuditSink } from '@app/infra/audit/file-audit-sink';
import { KafkaAuditSink } from '@app/infra/audit/kafka-audit-sink';
import { AuditSigningKey } from '@app/infra/audit/signing-key';
import { AppConfig } from '@app/infra/config/config';
import { JsonLogger } from '@app/infra/logging/logger';
import { AUDIT_LOG, AUDIT_SIGNING_KEY, CONFIG, EVENT_STORE, LOGGER, METRICS, POLICY_TARGET, READINESS_CHECKS, SQL } from '@app/infra/nest/tokens';
import type { ReadinessCheck } from '@app/infra/nest/infrastructure';
import { PolicyTarget } from '@app/infra/openbao/policy-target';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { renderOptions } from '../../projector/src/projections';
import { Metrics } from '@app/infra/observability/metrics';
import { ProjectionRunner } from '@app/infra/projection/projection-runner';
import { SqlClient } from '@app/infra/sql/sql-client';
import { AUDIT_PRODUCT, auditLogProjection } from './audit-log.projection';
import { Checkpointer } from '@app/infra/audit/checkpointer';
import { LogRelay } from './relay';
import { OpenBaoAuditIngester, repairDrift } from './openbao-audit-ingester';
import { OpenBaoDriftCheck } from './openbao-drift-check';

/**
 * events → (checkpointed subscription) → OCSF records appended to the Merkle audit log, in the
 * transaction that moves the checkpoint → relays deliver the log to Kafka (production) or to
 * DATA_DIR/audit/audit.jsonl (embedded), each from its own acknowledged offset; a checkpointer
 * signs the tree every N records or T seconds and the checkpoints are relayed too.
 */
@Module({})
export class AuditorModule implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly runner: ProjectionRunner;
  readonly checkpointer: Checkpointer;
  readonly relays: LogRelay<unknown>[] = [];
  private readonly recordRelays: LogRelay<StoredAuditRecord>[] = [];
  private readonly checkpointRelays: LogRelay<StoredCheckpoint>[] = [];
  private kafka?: KafkaAuditSink;
  private file?: FileAuditSink;
  private backlogTimer?: NodeJS.Timeout;
  private readonly logger: JsonLogger;
  /** set when BAO_AUDIT_FILE names OpenBao's file audit device: direct reads become events */
  readonly openbaoIngester?: OpenBaoAuditIngester;
  /** the periodic full diff of the ps-ci-* objects: drift the audit stream could not show */
  readonly driftCheck?: OpenBaoDriftCheck;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(SQL) sql: SqlClient,
    @Inject(LOGGER) logger: JsonLogger,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(AUDIT_LOG) private readonly log: AuditLogStore,
    @Inject(AUDIT_SIGNING_KEY) key: AuditSigningKey,
    @Inject(POLICY_TARGET) target: PolicyTarget,
    @Inject(READINESS_CHECKS) private readonly readiness: ReadinessCheck[],
  ) {
    this.logger = logger.child('auditor');
    this.checkpointer = new Checkpointer(log, key, config.auditLog.origin, { everyRecords: config.auditLog.checkpointEveryRecords, everySeconds: config.auditLog.checkpointSeconds }, this.logger, () => {
      metrics.auditCheckpoints.inc();
      // Only the checkpoint relays have something new to read (their timers poll as well).
      for (const r of this.checkpointRelays) r.poke();
    });
    const projection = auditLogProjection(log, AUDIT_PRODUCT, (appended) => {
      metrics.auditLogRecords.inc(appended.length);
      // The records just committed, in memory: the record relays deliver them without reading
      // the store (their timers still poll it as a safety net).
      for (const r of this.recordRelays) r.offer(appended);
      void this.checkpointer.maybeCheckpoint().catch(() => undefined);
    });
    this.runner = new ProjectionRunner(store, sql, projection, this.logger, metrics);
    readiness.push({
      name: `projection:${this.runner.name}`,
      check: async () => {
        const h = this.runner.health();
        if (!h.ok) throw new Error(h.detail);
      },
    });
    const bao = config.bao;
    if (bao?.auditFile) {
      // Drift is put back at once by a reconciler of the auditor's own (same desired state, same
      // target as the projector's; its writes carry the service's marker, so they are not drift).
      const reconciler = new PolicyReconciler(target, sql, renderOptions(config), this.logger, metrics);
      this.openbaoIngester = new OpenBaoAuditIngester(
        store,
        sql,
        { file: bao.auditFile, start: bao.auditStart, scope: { kvMount: bao.kvMount, kvPrefix: bao.kvPrefix, jwtMount: bao.jwtMount, markerKey: deriveBrokerMarkerKey(key.privateKey.export({ type: 'pkcs8', format: 'der' })) }, onOwnedWrite: (w) => repairDrift(store, reconciler, w, this.logger), denialWindowSeconds: config.denials.summaryWindowSeconds, denialRatePerMinute: config.denials.ratePerMinute, metrics },
        this.logger,
      );
      this.driftCheck = new OpenBaoDriftCheck(store, reconciler, target, this.logger, { jwtMount: bao.jwtMount });
    }
  }

  private recordsSource() {
    return {
      fetch: (after: number, limit: number) => this.log.recordsAfter(after, limit),
      positionOf: (r: StoredAuditRecord) => r.index,
      end: async () => (await this.log.committedSize()) - 1,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.kafka.brokers.length > 0) {
      const kafka = new KafkaAuditSink({ ...this.config.kafka }, this.logger);
      this.kafka = kafka;
      // Kafka itself, not only the relays: an idle relay does not notice an outage, and a
      // failing send takes the producer's whole retry budget before the relay reports it.
      this.readiness.push({ name: 'kafka', check: () => kafka.ping() });
      const records = new LogRelay('kafka-records', this.log, this.recordsSource(), (rs) => kafka.publishRecords(rs), this.logger, this.metrics);
      const checkpoints = new LogRelay(
        'kafka-checkpoints',
        this.log,
        {
          fetch: (after: number, limit: number) => this.log.checkpointsAfter(after, limit),
          positionOf: (c: StoredCheckpoint) => c.treeSize,
          end: async () => (await this.log.latestCheckpoint())?.treeSize ?? -1,
        },
        (cs) => kafka.publishCheckpoints(cs),
        this.logger,
        this.metrics,
      );
      this.recordRelays.push(records);
      this.checkpointRelays.push(checkpoints);
      this.relays.push(records as LogRelay<unknown>, checkpoints as LogRelay<unknown>);
    } else {
      const file = await FileAuditSink.open(join(this.config.dataDir, 'audit', 'audit.jsonl'));
      this.file = file;
      const records = new LogRelay('file-records', this.log, this.recordsSource(), (rs) => file.publishRecords(rs), this.logger, this.metrics);
      this.recordRelays.push(records);
      this.relays.push(records as LogRelay<unknown>);
    }
    // Each relay is a loop readiness names: failing deliveries (Kafka down) make the auditor unready.
    for (const r of this.relays) {
      this.readiness.push({
        name: `relay:${r.name}`,
        check: async () => {
          const h = r.health();
          if (!h.ok) throw new Error(h.detail);
        },
      });
    }
    await this.runner.start();
    for (const r of this.relays) r.start();
    await this.openbaoIngester?.start();
    this.driftCheck?.start();
    this.checkpointer.start();
    this.backlogTimer = setInterval(() => {
      for (const r of this.relays) void r.backlog().catch(() => undefined);
    }, 5000).unref();
  }

  /** True when every event in the store is in the log and every record reached every sink (tests, benchmarks). */
  async idle(timeoutMs = 30_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while ((await this.runner.pending()) > 0) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    const results = await Promise.all(this.relays.map((r) => r.idle(timeoutMs)));
    return results.every(Boolean);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.backlogTimer) clearInterval(this.backlogTimer);
    this.checkpointer.stop();
    await this.driftCheck?.stop();
    await this.openbaoIngester?.stop();
    await this.runner.stop();
    for (const r of this.relays) r.stop();
    await this.kafka?.close();
    await this.file?.close();
  }
}
