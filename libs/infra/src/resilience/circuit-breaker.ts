import { JsonLogger } from '../logging/logger';

/**
 * Fail fast on a dependency known to be down, recover as soon as it answers (issue 18, 15).
 *
 * One breaker per dependency (the PostgreSQL pool, an OpenBao address). Closed, every call goes
 * through. A call that fails like an outage (the caller's `isOutage`: refused, reset, timed out, a
 * 5xx) or that is still running after `slowCallMs` makes the breaker *suspect* the dependency: it
 * runs one probe (a cheap request of its own on a connection of its own, bounded by
 * `probeTimeoutMs`). A probe that succeeds changes nothing (a slow query stays a slow query), nor
 * does one that fails while some other call got its answer (a loaded machine, not a dead peer). A
 * probe that fails otherwise opens the breaker: every call still waiting ends at once with `unavailable()`
 * (the caller's 503), and every new call fails at once too, until a probe — run in the background
 * every `probeEveryMs` — succeeds. So no request waits on a black-holed dependency for longer than
 * about `slowCallMs + probeTimeoutMs` (defaults 1 s + 2 s), instead of its full query timeout, and
 * the dependency is used again within `probeEveryMs` (250 ms) of answering.
 *
 * A call ended early by the breaker keeps running underneath until its own timeout (its result is
 * dropped): a write may still commit, exactly as after a client-side timeout; callers already
 * treat a 503 on a write as "maybe done" (docs/architecture.md).
 */
export interface CircuitBreakerOptions {
  /** The dependency's name, for logs and errors. */
  name: string;
  /** Resolves when the dependency answers; rejects (or outlives probeTimeoutMs) when it does not. */
  probe: () => Promise<void>;
  /** Whether an error of a call means the dependency may be down (not: the call was refused). */
  isOutage: (e: unknown) => boolean;
  /** The error a call gets while the breaker is open, or when it opens under the call. */
  unavailable: (detail: string) => Error;
  probeTimeoutMs?: number;
  slowCallMs?: number;
  probeEveryMs?: number;
  /** Told when the breaker opens (with the probe's error) and closes. */
  onChange?: (open: boolean, detail: string) => void;
}

const log = new JsonLogger('info', 'circuit-breaker');

export const BREAKER_DEFAULTS = { probeTimeoutMs: 2000, slowCallMs: 1000, probeEveryMs: 250 } as const;

export class CircuitBreaker {
  private open = false;
  private openDetail = '';
  private probing?: Promise<boolean>;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly waiting = new Set<(e: Error) => void>();
  private lastAnswerAt = 0;
  private readonly probeTimeoutMs: number;
  private readonly slowCallMs: number;
  private readonly probeEveryMs: number;
  /** How often the breaker opened (tests, metrics). */
  opened = 0;

  constructor(private readonly opts: CircuitBreakerOptions) {
    this.probeTimeoutMs = opts.probeTimeoutMs ?? BREAKER_DEFAULTS.probeTimeoutMs;
    this.slowCallMs = opts.slowCallMs ?? BREAKER_DEFAULTS.slowCallMs;
    this.probeEveryMs = opts.probeEveryMs ?? BREAKER_DEFAULTS.probeEveryMs;
  }

  get isOpen(): boolean {
    return this.open;
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.open) throw this.opts.unavailable(`${this.opts.name} is down (${this.openDetail}); retrying in the background`);
    let endEarly!: (e: Error) => void;
    const early = new Promise<never>((_, reject) => (endEarly = reject));
    this.waiting.add(endEarly);
    const slow = setTimeout(() => void this.suspect(), this.slowCallMs);
    slow.unref();
    const work = call();
    try {
      const result = await Promise.race([work, early]);
      this.lastAnswerAt = Date.now();
      return result;
    } catch (e) {
      if (!this.opts.isOutage(e)) this.lastAnswerAt = Date.now(); // it answered, if only to say no
      else if (!this.open) void this.suspect();
      throw e;
    } finally {
      clearTimeout(slow);
      this.waiting.delete(endEarly);
      work.catch(() => undefined); // ended early: its own timeout ends it later, unobserved
    }
  }

  /** Probes now (one probe at a time); opens the breaker if the dependency does not answer. Resolves to whether it answered. */
  suspect(): Promise<boolean> {
    if (this.open) return Promise.resolve(false);
    const since = Date.now();
    this.probing ??= this.probeOnce().then((err) => {
      this.probing = undefined;
      // A call that got its answer while the probe waited says the dependency is up, only slow (a
      // loaded machine): no trip. A black hole or a stopped server answers no call at all.
      const answeredMeanwhile = this.lastAnswerAt >= since;
      if (err !== undefined && !answeredMeanwhile && !this.stopped) this.trip(err);
      return err === undefined || answeredMeanwhile;
    });
    return this.probing;
  }

  /** Stops background probing (shutdown). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** undefined when the dependency answered, else why not. */
  private async probeOnce(): Promise<string | undefined> {
    let t: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.opts.probe(),
        new Promise<never>((_, reject) => {
          t = setTimeout(() => reject(new Error(`no answer within ${this.probeTimeoutMs} ms`)), this.probeTimeoutMs);
          t.unref();
        }),
      ]);
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    } finally {
      if (t) clearTimeout(t);
    }
  }

  private trip(detail: string): void {
    if (this.open) return;
    this.open = true;
    this.opened++;
    this.openDetail = `probe failed: ${detail}`.slice(0, 200);
    log.warn('dependency down: answering 503 at once until a probe succeeds', { dependency: this.opts.name, detail: this.openDetail });
    this.opts.onChange?.(true, this.openDetail);
    const err = this.opts.unavailable(`${this.opts.name} is down (${this.openDetail})`);
    for (const endEarly of this.waiting) endEarly(err);
    this.waiting.clear();
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(async () => {
      const err = await this.probeOnce();
      this.timer = undefined;
      if (this.stopped) return;
      if (err === undefined) {
        this.open = false;
        this.openDetail = '';
        log.info('dependency answers again', { dependency: this.opts.name });
        this.opts.onChange?.(false, 'probe answered');
      } else {
        this.openDetail = `probe failed: ${err}`.slice(0, 200);
        this.scheduleProbe();
      }
    }, this.probeEveryMs);
    this.timer.unref();
  }
}
