import { Inject, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { EventStore, Position, StreamCategory, SubscriptionHandle } from '../../../libs/domain/src';
import { checkpoints } from '../../../libs/infra/src/read-models/checkpoints';
import { AppConfig } from '../../../libs/infra/src/config/config';
import { describeError, JsonLogger } from '../../../libs/infra/src/logging/logger';
import { CONFIG, EVENT_STORE, LOGGER, SQL } from '../../../libs/infra/src/nest/tokens';
import { SqlClient } from '../../../libs/infra/src/sql/sql-client';
import { AuditFileSink } from './audit-file.sink';

const CHECKPOINT = 'auditor-file';
/** Flush (fdatasync + checkpoint) after this many records, and at the end of every delivered batch. */
const FLUSH_EVERY = 256;

/**
 * Streams audit-relevant events (grants, secret changes, access decisions) to DATA_DIR/audit/audit.jsonl
 * from a checkpoint that moves only after the line is on disk.
 */
@Module({})
export class AuditorModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private handle?: SubscriptionHandle;
  private sink?: AuditFileSink;
  private stopped = false;
  private unflushed = 0;
  private pending?: Position;
  private flushing: Promise<void> = Promise.resolve();
  private readonly logger: JsonLogger;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SQL) private readonly sql: SqlClient,
    @Inject(LOGGER) logger: JsonLogger,
  ) {
    this.logger = logger.child('auditor');
  }

  async onApplicationBootstrap(): Promise<void> {
    this.sink = await AuditFileSink.open(join(this.config.dataDir, 'audit', 'audit.jsonl'));
    await this.subscribe(0);
  }

  private async subscribe(failures: number): Promise<void> {
    if (this.stopped || !this.sink) return;
    const sink = this.sink;
    const after = await checkpoints.load(this.sql, CHECKPOINT);
    this.pending = undefined; // lines not yet flushed are delivered again from the checkpoint
    this.unflushed = 0;
    this.handle = this.store.subscribeToAll(
      {
        after,
        streamPrefixes: [`${StreamCategory.access}-`, `${StreamCategory.project}-`, `${StreamCategory.secret}-`],
        onBatchEnd: () => this.flush(),
      },
      async (event) => {
        await sink.append(event);
        this.pending = event.position;
        if (++this.unflushed >= FLUSH_EVERY) await this.flush();
      },
    );
    this.handle.done.catch((e) => {
      if (this.stopped) return;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
      this.logger.warn('audit subscription failed; resubscribing', { delayMs: delay, ...describeError(e) });
      setTimeout(() => void this.subscribe(failures + 1), delay).unref();
    });
  }

  /** Lines on disk first, then the checkpoint: a crash in between replays, never loses. */
  private flush(): Promise<void> {
    // Serialised; a failed flush fails its caller (ending the subscription) but not the next one.
    this.flushing = this.flushing.catch(() => undefined).then(async () => {
      const position = this.pending;
      if (!position || !this.sink) return;
      this.unflushed = 0;
      await this.sink.flush();
      await checkpoints.save(this.sql, CHECKPOINT, position);
      if (this.pending === position) this.pending = undefined;
    });
    return this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.handle?.stop();
    await this.flush().catch(() => undefined);
    await this.sink?.close();
  }
}
