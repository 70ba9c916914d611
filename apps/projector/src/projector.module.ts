import { Inject, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventStore, SecretValueStore } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { JsonLogger } from '@app/infra/logging/logger';
import { CONFIG, EVENT_STORE, LOGGER, METRICS, POLICY_TARGET, READINESS_CHECKS, SQL, VALUE_STORE } from '@app/infra/nest/tokens';
import type { ReadinessCheck } from '@app/infra/nest/infrastructure';
import { Metrics } from '@app/infra/observability/metrics';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { migrateMemberships } from '@app/infra/openbao/membership';
import { PolicyTarget } from '@app/infra/openbao/policy-target';
import { SqlClient } from '@app/infra/sql/sql-client';
import { OpenBaoValueStore } from '@app/infra/value-store/openbao-value-store';
import { ProjectionRunner } from '@app/infra/projection/projection-runner';
import { projectionsWithReconciler, renderOptions } from './projections';
import { OrphanValueSweeper } from './orphan-value-sweeper';

/** Drift repair: even with no new events, OpenBao is compared with the desired state this often. */
const RECONCILE_EVERY_MS = 60_000;
/** How often the reconciler checks that OpenBao still holds the JWT mount (restarted empty: re-prepared within this). */
const PREPARED_CHECK_EVERY_MS = 2_000;

/** Builds read models from the event store, each from its own checkpoint, and keeps OpenBao's CI policies and roles equal to what they imply. */
@Module({})
export class ProjectorModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runners: ProjectionRunner[];
  readonly reconciler: PolicyReconciler;
  private readonly sweeper?: OrphanValueSweeper;
  private interval?: NodeJS.Timeout;

  constructor(
    @Inject(CONFIG) config: AppConfig,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(SQL) private readonly sql: SqlClient,
    @Inject(LOGGER) logger: JsonLogger,
    @Inject(METRICS) metrics: Metrics,
    @Inject(POLICY_TARGET) target: PolicyTarget,
    @Inject(VALUE_STORE) values: SecretValueStore,
    @Inject(READINESS_CHECKS) readiness: ReadinessCheck[],
  ) {
    const log = logger.child('projector');
    this.reconciler = new PolicyReconciler(target, sql, renderOptions(config), log, metrics);
    this.runners = projectionsWithReconciler(this.reconciler).map((p) => new ProjectionRunner(store, sql, p, log, metrics));
    // Readiness names each projection loop: not running, or failing and retrying, is unready.
    for (const r of this.runners) {
      readiness.push({
        name: `projection:${r.name}`,
        check: async () => {
          const h = r.health();
          if (!h.ok) throw new Error(h.detail);
        },
      });
    }
    const history = this.runners.find((r) => r.name === 'secret-history');
    if (values instanceof OpenBaoValueStore && history) {
      this.sweeper = new OrphanValueSweeper(values, sql, config.policies.sweepGraceSeconds * 1000, log, metrics, async () => (await history.pending(1)) === 0);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await migrateMemberships(this.sql);
    for (const r of this.runners) await r.start();
    this.reconciler.schedule();
    this.reconciler.watchPrepared(PREPARED_CHECK_EVERY_MS);
    this.sweeper?.start();
    this.interval = setInterval(() => this.reconciler.schedule(0), RECONCILE_EVERY_MS).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.interval) clearInterval(this.interval);
    this.sweeper?.stop();
    for (const r of this.runners) await r.stop();
    this.reconciler.stop();
    await this.reconciler.idle();
  }
}
