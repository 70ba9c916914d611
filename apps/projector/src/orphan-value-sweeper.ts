import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { SqlExecutor } from '@app/infra/sql/sql-client';
import { OpenBaoValueStore } from '@app/infra/value-store/openbao-value-store';

const SWEEP_EVERY_MS = 5 * 60_000;

/**
 * A value is written to OpenBao before its event is appended. If the append fails the command
 * destroys the version at once; if the process dies in between, the version is left with no event
 * referring to it. This sweep finds such versions (not in rm_secret_versions, the projection of
 * every value event) once they are older than the grace period — long enough for any append in
 * flight to have been projected — destroys them, and logs each one, so every KV version is either
 * referenced by an event or explained by a log line and a metric.
 */
export class OrphanValueSweeper {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly values: OpenBaoValueStore,
    private readonly sql: SqlExecutor,
    private readonly graceMs: number,
    private readonly logger: JsonLogger,
    private readonly metrics: Metrics,
    /** Whether rm_secret_versions holds every value event in the store (the secret-history projection has no backlog). */
    private readonly projected: () => Promise<boolean> = async () => true,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch((e) => this.logger.warn('orphan value sweep failed', describeError(e))), SWEEP_EVERY_MS).unref();
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async sweep(now = Date.now()): Promise<string[]> {
    const destroyed: string[] = [];
    // A lagging (or stuck) projection would make referenced versions look orphaned: never sweep then.
    if (!(await this.projected())) {
      this.logger.info('orphan value sweep skipped: the secret-history projection is behind the event store');
      return destroyed;
    }
    for await (const v of this.values.versions()) {
      if (now - Date.parse(v.createdAt) < this.graceMs) continue;
      const { rows } = await this.sql.query('SELECT 1 FROM rm_secret_versions WHERE value_ref = $1', [v.ref]);
      if (rows.length > 0) continue;
      await this.values.destroy([v.ref]);
      destroyed.push(v.ref);
      this.metrics.orphanValuesDestroyed.inc();
      this.logger.warn('destroyed a stored value version no event refers to (written, then the append never happened)', { valueRef: v.ref, createdAt: v.createdAt });
    }
    return destroyed;
  }
}
