import { EventStore, formatPosition, Position, RecordedEvent, SubscribeOptions, SubscriptionHandle } from '@app/domain';
import { checkpoints } from '../read-models/checkpoints';
import { describeError, JsonLogger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { SqlClient, SqlExecutor } from '../sql/sql-client';

export interface Projection {
  name: string;
  streamPrefixes: string[];
  /** Applies one event inside the transaction that also moves the checkpoint. */
  apply(tx: SqlExecutor, event: RecordedEvent): Promise<void>;
  /** Optional: applies a batch in fewer statements; must have the same effect as apply() on each event in order. */
  applyBatch?(tx: SqlExecutor, events: RecordedEvent[]): Promise<void>;
  /** Optional: runs after a batch committed (e.g. to reconcile an external system from the new state). */
  afterCommit?(): void;
  /** Optional: the batch's transaction failed; drop any in-memory state it built. */
  onRollback?(): void;
}

/** At most this often a projection stores a checkpoint that only skips other streams' events. */
const PROGRESS_SAVE_MS = 1000;

/** Events applied per transaction at most by catchUp() (rebuilds, benchmarks). */
const REPLAY_BATCH = 2000;

/** Events applied per transaction at most. */
const MAX_BATCH = 500;

/**
 * Catch-up subscription from a stored checkpoint. A batch of events' read-model changes and the
 * new checkpoint commit in ONE transaction: a crash replays at most the batch in flight, whose
 * effects rolled back with it (exactly-once effect from at-least-once delivery).
 */
export class ProjectionRunner {
  private handle?: SubscriptionHandle;
  private stopped = false;
  private caughtUp = false;
  private timer?: NodeJS.Timeout;
  private buffer: RecordedEvent[] = [];
  private progressSavedAt = 0;
  private committedEvents = 0;

  constructor(
    private readonly store: EventStore,
    private readonly sql: SqlClient,
    private readonly projection: Projection,
    private readonly logger: JsonLogger,
    private readonly metrics: Metrics,
  ) {}

  get name(): string {
    return this.projection.name;
  }

  get isCaughtUp(): boolean {
    return this.caughtUp;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.subscribe(0);
  }

  private async subscribe(failures: number): Promise<void> {
    if (this.stopped) return;
    this.buffer = []; // anything buffered and not committed is delivered again from the checkpoint
    const after = await checkpoints.load(this.sql, this.projection.name);
    this.logger.info('projection subscribing', { projection: this.projection.name, after: after ? formatPosition(after) : 'start' });
    const handle = this.deliver(after, MAX_BATCH, {
      onCaughtUp: () => {
        if (!this.caughtUp) this.logger.info('projection caught up', { projection: this.projection.name });
        this.caughtUp = true;
      },
      onProgress: (position) => this.progress(position),
    });
    this.handle = handle;
    handle.done.then(
      () => undefined,
      (e) => {
        if (this.stopped) return;
        this.caughtUp = false;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        this.logger.warn('projection subscription failed; resubscribing', { projection: this.projection.name, delayMs: delay, ...describeError(e) });
        this.timer = setTimeout(() => void this.subscribe(failures + 1).catch((err) => this.logger.error('resubscribe failed', describeError(err))), delay);
      },
    );
  }

  /**
   * The subscription looked past other streams' events up to `position`: store it as the
   * checkpoint now and then (not on every read), so a restart of a projection of rare streams
   * does not re-read everything since its last event. Only with nothing buffered.
   */
  private async progress(position: Position): Promise<void> {
    if (this.buffer.length > 0 || Date.now() - this.progressSavedAt < PROGRESS_SAVE_MS) return;
    this.progressSavedAt = Date.now();
    await checkpoints.save(this.sql, this.projection.name, position);
  }

  private async commit(): Promise<void> {
    const batch = this.buffer;
    if (batch.length === 0) return;
    this.buffer = [];
    await this.commitBatch(batch, batch[batch.length - 1].position);
  }

  /** The batch's read-model changes and the checkpoint `upTo`, in one transaction. */
  private async commitBatch(batch: RecordedEvent[], upTo: Position): Promise<void> {
    try {
      await this.sql.transaction(async (tx) => {
        if (this.projection.applyBatch) await this.projection.applyBatch(tx, batch);
        else for (const event of batch) await this.projection.apply(tx, event);
        await checkpoints.save(tx, this.projection.name, upTo);
      });
    } catch (e) {
      this.projection.onRollback?.();
      throw e;
    }
    this.committedEvents += batch.length;
    this.metrics.projectedEvents.inc({ projection: this.projection.name }, batch.length);
    this.projection.afterCommit?.();
    const last = batch.at(-1);
    if (last) this.metrics.projectionLag.set({ projection: this.projection.name }, Math.max(0, (Date.now() - Date.parse(last.recordedAt)) / 1000));
  }

  /**
   * Replays from the checkpoint to the end of the store and returns (no live subscription):
   * `cli rebuild` and the replay benchmark. The same subscription, transactions and checkpoints
   * as the live path; it stops once it has caught up.
   */
  async catchUp(): Promise<number> {
    this.buffer = [];
    const before = this.committedEvents;
    let caughtUp!: () => void;
    const done = new Promise<void>((r) => (caughtUp = r));
    // Replays take bigger transactions than live delivery: throughput over latency.
    const handle = this.deliver(await checkpoints.load(this.sql, this.projection.name), REPLAY_BATCH, {
      onCaughtUp: () => caughtUp(),
      onProgress: (position) => checkpoints.save(this.sql, this.projection.name, position),
    });
    try {
      await Promise.race([done, handle.done.then(() => Promise.reject(new Error('subscription ended before catching up')))]);
    } finally {
      await handle.stop();
    }
    return this.committedEvents - before;
  }

  /** The subscription both paths share: events buffered, committed with the checkpoint every `batchLimit` and at each batch end. */
  private deliver(after: Position | undefined, batchLimit: number, hooks: Pick<SubscribeOptions, 'onCaughtUp' | 'onProgress'>): SubscriptionHandle {
    return this.store.subscribeToAll(
      { after, streamPrefixes: this.projection.streamPrefixes, onBatchEnd: () => this.commit(), ...hooks },
      async (event) => {
        this.buffer.push(event);
        if (this.buffer.length >= batchLimit) await this.commit();
      },
    );
  }

  /** How many events of this projection's streams the store holds beyond its checkpoint (at most `max`): 0 = caught up. */
  async pending(max = 1000): Promise<number> {
    const after = await checkpoints.load(this.sql, this.projection.name);
    return (await this.store.readAll({ after, maxCount: max, streamPrefixes: this.projection.streamPrefixes })).length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.handle?.stop();
  }
}
