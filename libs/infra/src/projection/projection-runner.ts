import { EventStore, StoreUnavailableError, formatPosition, Position, RecordedEvent, SubscribeOptions, SubscriptionHandle } from '@app/domain';
import { checkpoints } from '../read-models/checkpoints';
import { describeError, JsonLogger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { SqlClient, SqlExecutor } from '../sql/sql-client';
import { isUnavailable } from '../sql/errors';

export interface Projection {
  name: string;
  streamPrefixes: string[];
  /** Applies one event inside the transaction that also moves the checkpoint. */
  apply(tx: SqlExecutor, event: RecordedEvent): Promise<void>;
  /**
   * Optional: applies a batch in fewer statements; must have the same effect as apply() on each
   * event in order. `prepared` is what prepare() returned for exactly these events, when it ran.
   */
  applyBatch?(tx: SqlExecutor, events: RecordedEvent[], prepared?: unknown): Promise<void>;
  /**
   * Optional: the pure part of applyBatch (no I/O, no state a rollback would have to undo), run
   * BEFORE the batch's transaction — while the previous batch's transaction is still in flight,
   * so the JavaScript of one batch overlaps the database's work on the other. A projection with
   * prepare() is committed pipelined: at most one transaction in flight, still strictly in order,
   * each beginning only after the one before committed.
   */
  prepare?(events: RecordedEvent[]): unknown;
  /**
   * Optional: applies the batch AND stores the checkpoint (`position` formatted) in one statement,
   * atomic without a transaction (no BEGIN and COMMIT round trips). Resolves false when it wrote
   * nothing and the batch must take the transaction way (apply/applyBatch, then the checkpoint).
   */
  applyWithCheckpoint?(sql: SqlExecutor, events: RecordedEvent[], prepared: unknown, checkpoint: { projection: string; position: string }): Promise<boolean>;
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

/** Retries back off 250 ms doubling to this: recovery within ~2 s of the database returning. */
const RETRY_CAP_MS = 2000;

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
  /** The previous batch's commit, not yet awaited (pipelined projections only). */
  private inFlight?: Promise<void>;
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
    this.metrics.projectionLagSources.set(this.projection.name, () => this.lagSeconds());
    await this.subscribe(0);
  }

  /** Failing attempts in a row (0 = healthy); since when. */
  private failures = 0;
  private failingSince?: number;
  private oldestUnappliedAt?: number;

  /** Readiness: running, and not failing (a projection stuck on retries is not ready). */
  health(): { ok: boolean; detail: string } {
    if (this.stopped) return { ok: false, detail: 'stopped' };
    if (this.failures > 0) return { ok: false, detail: `retrying (attempt ${this.failures})` };
    return { ok: true, detail: this.caughtUp ? 'caught-up' : 'catching-up' };
  }

  /** While stuck, the lag grows with the wall clock from the oldest event not yet applied (or the first failure): never looks healthy. */
  private lagSeconds(): number | undefined {
    if (this.failures === 0) return undefined;
    const since = Math.min(this.oldestUnappliedAt ?? Infinity, this.failingSince ?? Infinity);
    return Number.isFinite(since) ? Math.max(0, (Date.now() - since) / 1000) : undefined;
  }

  /**
   * Subscribes from the stored checkpoint. Any failure — loading the checkpoint while the
   * database is down, a read, an apply, a commit — ends in a retry (250 ms doubling to 2 s,
   * forever, until stop()): a loop that gave up would silently freeze the read models.
   */
  private async subscribe(failures: number): Promise<void> {
    if (this.stopped) return;
    this.buffer = []; // anything buffered and not committed is delivered again from the checkpoint
    let handle: SubscriptionHandle;
    try {
      // A commit the last subscription left in flight ends first: the checkpoint read below must
      // be the one it stored (or not), never one it is about to store.
      await this.settle().catch(() => undefined);
      const after = await checkpoints.load(this.sql, this.projection.name);
      this.logger.info('projection subscribing', { projection: this.projection.name, after: after ? formatPosition(after) : 'start' });
      handle = this.deliver(after, MAX_BATCH, {
        onCaughtUp: () => {
          if (!this.caughtUp) this.logger.info('projection caught up', { projection: this.projection.name });
          this.caughtUp = true;
          this.healthy();
        },
        onProgress: (position) => this.progress(position),
      });
    } catch (e) {
      this.retry(failures, e);
      return;
    }
    this.handle = handle;
    handle.done.then(
      () => undefined,
      (e) => this.retry(failures, e),
    );
  }

  private retry(failures: number, e: unknown): void {
    if (this.stopped) return;
    this.caughtUp = false;
    this.failures = Math.max(this.failures, failures + 1);
    this.failingSince ??= Date.now();
    this.metrics.projectionStuck.set({ projection: this.projection.name }, 1);
    this.metrics.projectionFailures.inc({ projection: this.projection.name });
    const delay = Math.min(RETRY_CAP_MS, 250 * 2 ** Math.min(failures, 4));
    this.logger.warn('projection subscription failed; resubscribing', { projection: this.projection.name, attempt: failures + 1, delayMs: delay, ...describeError(e) });
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.subscribe(failures + 1).catch((err) => this.retry(failures + 1, err));
    }, delay);
  }

  private healthy(): void {
    if (this.failures === 0) return;
    this.logger.info('projection recovered', { projection: this.projection.name, afterAttempts: this.failures });
    this.failures = 0;
    this.failingSince = undefined;
    this.oldestUnappliedAt = undefined;
    this.metrics.projectionStuck.set({ projection: this.projection.name }, 0);
  }

  /**
   * The subscription looked past other streams' events up to `position`: store it as the
   * checkpoint now and then (not on every read), so a restart of a projection of rare streams
   * does not re-read everything since its last event. Only with nothing buffered.
   */
  private async progress(position: Position): Promise<void> {
    await this.settle();
    if (this.buffer.length > 0 || Date.now() - this.progressSavedAt < PROGRESS_SAVE_MS) return;
    this.progressSavedAt = Date.now();
    await checkpoints.save(this.sql, this.projection.name, position);
  }

  /**
   * Commits what is buffered. `pipelined` (a full batch in the middle of a read, for a projection
   * with prepare()): the batch is prepared, the previous batch's transaction is awaited, and this
   * one's is started and left in flight while the next batch is read and prepared. Otherwise (the
   * end of a read, and every projection without prepare()) everything is committed on return, so
   * a read's end, a progress checkpoint, caught-up and stop() never pass a commit still running.
   */
  private async commit(pipelined = false): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.settle();
    const prepared = this.projection.prepare?.(batch);
    await this.settle();
    const run = this.commitBatch(batch, batch[batch.length - 1].position, prepared);
    if (pipelined && this.projection.prepare) {
      run.catch(() => undefined); // observed by the next commit, settle() or the next subscribe()
      this.inFlight = run;
    } else await run;
  }

  /** Waits for the commit left in flight; its failure is this caller's (it ends the subscription). */
  private async settle(): Promise<void> {
    const run = this.inFlight;
    this.inFlight = undefined;
    await run;
  }

  /** The batch's read-model changes and the checkpoint `upTo`, in one transaction. */
  private async commitBatch(batch: RecordedEvent[], upTo: Position, prepared?: unknown): Promise<void> {
    try {
      const written = this.projection.applyWithCheckpoint && (await this.projection.applyWithCheckpoint(this.sql, batch, prepared, { projection: this.projection.name, position: formatPosition(upTo) }));
      if (!written)
        await this.sql.transaction(async (tx) => {
          if (this.projection.applyBatch) await this.projection.applyBatch(tx, batch, prepared);
          else for (const event of batch) await this.projection.apply(tx, event);
          await checkpoints.save(tx, this.projection.name, upTo);
        });
    } catch (e) {
      this.projection.onRollback?.();
      if (!isDeterministic(e)) {
        this.oldestUnappliedAt ??= Date.parse(batch[0].recordedAt);
        throw e;
      }
      // A data error: find the event(s) that cannot be applied, one transaction each.
      await this.isolatePoison(batch, upTo);
      return;
    }
    this.committedEvents += batch.length;
    this.healthy(); // applying again: no longer stuck (even with a backlog still to go)
    this.metrics.projectedEvents.inc({ projection: this.projection.name }, batch.length);
    this.projection.afterCommit?.();
    const last = batch.at(-1);
    if (last) this.metrics.projectionLag.set({ projection: this.projection.name }, Math.max(0, (Date.now() - Date.parse(last.recordedAt)) / 1000));
  }

  /**
   * Applies the batch one event per transaction; an event whose own transaction fails with a
   * deterministic error is dead-lettered (projection, event id, position, error text — never the
   * payload) and the checkpoint moves past it, so one bad event cannot halt the projection.
   */
  private async isolatePoison(batch: RecordedEvent[], upTo: Position): Promise<void> {
    for (const event of batch) {
      try {
        await this.commitBatch1(event);
      } catch (e) {
        this.projection.onRollback?.();
        if (!isDeterministic(e)) {
          this.oldestUnappliedAt ??= Date.parse(event.recordedAt);
          throw e;
        }
        const error = describeError(e);
        await this.sql.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO projection_dead_letters (projection, event_id, position, stream_name, event_type, error)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (projection, event_id) DO NOTHING`,
            [this.projection.name, event.eventId, formatPosition(event.position), event.streamName, event.type, String(error.error ?? error.message ?? 'error').slice(0, 1000)],
          );
          await checkpoints.save(tx, this.projection.name, event.position);
        });
        this.metrics.projectionPoison.inc({ projection: this.projection.name });
        this.logger.error('projection skipped an event it cannot apply (dead-lettered)', {
          projection: this.projection.name,
          eventId: event.eventId,
          eventType: event.type,
          position: formatPosition(event.position),
          ...error,
        });
      }
    }
    await checkpoints.save(this.sql, this.projection.name, upTo);
  }

  private async commitBatch1(event: RecordedEvent): Promise<void> {
    await this.sql.transaction(async (tx) => {
      if (this.projection.applyBatch) await this.projection.applyBatch(tx, [event]);
      else await this.projection.apply(tx, event);
      await checkpoints.save(tx, this.projection.name, event.position);
    });
    this.committedEvents += 1;
    this.metrics.projectedEvents.inc({ projection: this.projection.name });
    this.projection.afterCommit?.();
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
      onProgress: async (position) => {
        await this.settle();
        await checkpoints.save(this.sql, this.projection.name, position);
      },
    });
    try {
      await Promise.race([done, handle.done.then(() => Promise.reject(new Error('subscription ended before catching up')))]);
    } finally {
      await handle.stop();
      await this.settle();
    }
    return this.committedEvents - before;
  }

  /** The subscription both paths share: events buffered, committed with the checkpoint every `batchLimit` and at each batch end. */
  private deliver(after: Position | undefined, batchLimit: number, hooks: Pick<SubscribeOptions, 'onCaughtUp' | 'onProgress'>): SubscriptionHandle {
    return this.store.subscribeToAll(
      { after, streamPrefixes: this.projection.streamPrefixes, onBatchEnd: () => this.commit(), ...hooks },
      async (event) => {
        this.buffer.push(event);
        if (this.buffer.length >= batchLimit) await this.commit(true);
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
    this.metrics.projectionLagSources.delete(this.projection.name);
    if (this.timer) clearTimeout(this.timer);
    await this.handle?.stop();
    await this.settle().catch(() => undefined);
  }
}

/**
 * Deterministic apply errors (the event itself cannot be applied: replaying it gives the same
 * error) are SQLSTATE class 22 (data exception: bad value, null where not allowed in a cast…) and
 * 23 (integrity constraint: NOT NULL, CHECK, unique, foreign key), and JavaScript TypeError /
 * RangeError from a malformed event shape. Everything else — connection errors, timeouts,
 * serialization failures (40xxx), resource errors (53xxx), a missing table (42xxx) — is transient
 * or an operator's problem: retried with backoff, which shows as stuck.
 */
export function isDeterministic(e: unknown): boolean {
  if (isUnavailable(e) || e instanceof StoreUnavailableError) return false;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('22') || code.startsWith('23');
  return e instanceof TypeError || e instanceof RangeError;
}
