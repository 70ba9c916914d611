import { AuditLogStore } from '@app/infra/audit/audit-log-store';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';

const MAX_QUEUED = 20_000;
/** Save the acknowledged offset at least every this many positions. */
const OFFSET_EVERY = 2000;

export interface RelaySource<T> {
  /** Items after position `after` (exclusive), in order, at most `limit`. */
  fetch(after: number, limit: number): Promise<T[]>;
  positionOf(item: T): number;
  /** The position of the last item there is to deliver (-1 = none). */
  end(): Promise<number>;
}

/**
 * Moves what the audit log holds to a sink (Kafka, a file) from a stored offset: a transactional
 * outbox. The offset moves only after the sink acknowledged, so a crash or an outage delivers
 * again (same event id), never loses. Runs when poked after a commit, and polls as a safety net.
 */
export class LogRelay<T> {
  private running = false;
  private again = false;
  private stopped = true;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  /** Items just committed, handed over in memory so the relay need not read them back. */
  private queued: T[] = [];
  /**
   * The last position the sink acknowledged, kept in memory; between drains it is also the stored
   * offset. Unset — read from the store again — on start and after a failure.
   */
  private offset?: number;
  /** The highest position ever offered (-1 = none): a drain that reached it has nothing else to read. */
  private offered = -1;
  /** The next drain reads the store when it runs out of offered items (start, timer, poke(), overflow, failure). */
  private readStore = true;

  constructor(
    readonly name: string,
    private readonly store: AuditLogStore,
    private readonly source: RelaySource<T>,
    private readonly deliver: (items: T[]) => Promise<void>,
    private readonly logger: JsonLogger,
    private readonly metrics: Metrics,
    private readonly batchSize = 500,
  ) {}

  start(pollMs = 1000): void {
    this.stopped = false;
    this.offset = undefined;
    // The safety net: whatever was committed and not offered (another process, a dropped queue)
    // is found by the timer's poke, which always reads the store.
    this.timer = setInterval(() => this.poke(), pollMs);
    this.timer.unref();
    this.poke();
  }

  /**
   * Hands over items the log just committed (in order). Only a shortcut: the relay takes them
   * when they continue its offset exactly, and reads the log otherwise. A drain started by an
   * offer does not read the store once it delivered everything ever offered.
   */
  offer(items: T[]): void {
    if (items.length === 0) return;
    this.offered = Math.max(this.offered, this.source.positionOf(items[items.length - 1]));
    if (this.queued.length + items.length > MAX_QUEUED) {
      this.queued = [];
      this.readStore = true;
    } else this.queued.push(...items);
    this.schedule();
  }

  private takeQueued(after: number): T[] | undefined {
    let i = 0;
    while (i < this.queued.length && this.source.positionOf(this.queued[i]) <= after) i++;
    if (i > 0) this.queued = this.queued.slice(i);
    if (this.queued.length === 0 || this.source.positionOf(this.queued[0]) !== after + 1) return undefined;
    const n = Math.min(this.batchSize, this.queued.length);
    for (let k = 1; k < n; k++) if (this.source.positionOf(this.queued[k]) !== after + 1 + k) return undefined;
    const items = this.queued.slice(0, n);
    this.queued = this.queued.slice(n);
    return items;
  }

  /** Delivers what the store holds past the offset (the timer, a checkpoint made, idle()). */
  poke(): void {
    this.readStore = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.retryTimer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    });
  }

  /** Delivers until the sink has everything; on failure, backs off and retries from the offset. */
  private async drain(): Promise<void> {
    // Taken now: a poke() during this drain asks for a read of its own (the next drain's).
    const readStore = this.readStore;
    this.readStore = false;
    try {
      let after = this.offset ?? (await this.store.relayOffset(this.name));
      this.offset = after;
      let saved = after;
      try {
        for (;;) {
          if (this.stopped) return;
          let items = this.takeQueued(after);
          let lastPage = false;
          if (!items) {
            // Everything offered is delivered and nobody asked for a read: nothing to look for.
            if (!readStore && after >= this.offered) break;
            items = await this.source.fetch(after, this.batchSize);
            // A short page is all the store held when read; what commits later comes with its own
            // offer or poke, which runs another drain (no empty read to find that out).
            lastPage = items.length < this.batchSize;
          }
          if (items.length === 0) break;
          await this.deliver(items);
          after = this.source.positionOf(items[items.length - 1]);
          this.offset = after;
          this.metrics.auditRelayed.inc({ relay: this.name }, items.length);
          // The offset is saved every few sends and whenever the relay runs dry: a crash in
          // between re-delivers at most those sends (same event ids), never skips one.
          if (after - saved >= OFFSET_EVERY) saved = await this.save(after);
          if (lastPage) break;
        }
      } finally {
        if (after !== saved) await this.save(after);
      }
      this.metrics.auditRelayBacklog.set({ relay: this.name }, 0);
      if (this.failures > 0) this.logger.info('audit relay recovered', { relay: this.name, afterFailures: this.failures });
      this.failures = 0;
    } catch (e) {
      // The retry starts from the stored offset and reads the store.
      this.offset = undefined;
      this.readStore = true;
      this.failures++;
      this.metrics.auditRelayFailures.inc({ relay: this.name });
      // 250 ms doubling to 2 s: a returning dependency is used again within ~2 s.
      const delay = Math.min(2000, 250 * 2 ** Math.min(this.failures - 1, 3));
      this.logger.warn('audit relay failed; records stay in the log and are retried', { relay: this.name, attempt: this.failures, delayMs: delay, ...describeError(e) });
      await this.backlog().catch(() => undefined);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.poke();
      }, delay);
      this.retryTimer.unref();
    }
  }

  /** Readiness: started and not failing. */
  health(): { ok: boolean; detail: string } {
    if (this.stopped) return { ok: false, detail: 'stopped' };
    if (this.failures > 0) return { ok: false, detail: `delivery failing (attempt ${this.failures})` };
    return { ok: true, detail: 'delivering' };
  }

  private async save(position: number): Promise<number> {
    await this.store.saveRelayOffset(this.name, position);
    return position;
  }

  /** Items committed to the log but not yet acknowledged by the sink. */
  async backlog(): Promise<number> {
    const n = Math.max(0, (await this.source.end()) - (this.offset ?? (await this.store.relayOffset(this.name))));
    this.metrics.auditRelayBacklog.set({ relay: this.name }, n);
    return n;
  }

  /** Waits until the sink holds everything committed (tests, shutdown). */
  async idle(timeoutMs = 30_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.running && (await this.backlog()) === 0) return true;
      this.poke();
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
