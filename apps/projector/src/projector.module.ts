import { Inject, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventStore } from '../../../libs/domain/src';
import { JsonLogger } from '../../../libs/infra/src/logging/logger';
import { EVENT_STORE, LOGGER, METRICS, SQL } from '../../../libs/infra/src/nest/tokens';
import { Metrics } from '../../../libs/infra/src/observability/metrics';
import { SqlClient } from '../../../libs/infra/src/sql/sql-client';
import { ProjectionRunner } from './projection-runner';
import { PROJECTIONS } from './projections';

/** Builds read models from the event store, each from its own checkpoint. */
@Module({})
export class ProjectorModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runners: ProjectionRunner[];

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(SQL) sql: SqlClient,
    @Inject(LOGGER) logger: JsonLogger,
    @Inject(METRICS) metrics: Metrics,
  ) {
    this.runners = PROJECTIONS.map((p) => new ProjectionRunner(store, sql, p, logger.child('projector'), metrics));
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const r of this.runners) await r.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const r of this.runners) await r.stop();
  }
}
