import { RecordedEvent } from '../ports/event-store';

export interface DenialBurstOptions {
  /** Denials inside the window (this one included) that make a burst. Default 10. */
  threshold?: number;
  /** Length of the sliding window. Default 60. */
  windowSeconds?: number;
  /** Most principals tracked at once; the least recently seen is forgotten first. Default 10,000. */
  maxPrincipals?: number;
}

export const DEFAULT_BURST_THRESHOLD = 10;
export const DEFAULT_BURST_WINDOW_SECONDS = 60;
export const DEFAULT_BURST_MAX_PRINCIPALS = 10_000;

/**
 * Flags a principal that is denied again and again (probing). Time is the event's own
 * `metadata.occurredAt`, never a clock, so a replay of the log flags exactly the same events.
 * Memory is bounded: per principal only the last `threshold` denial times are kept, and at most
 * `maxPrincipals` principals, evicted least-recently-seen first (a Map keeps insertion order;
 * touching a principal moves it to the end).
 */
export class DenialBurstDetector {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly maxPrincipals: number;
  /** principal key → ascending denial times (epoch ms), at most `threshold` of them. */
  private readonly recent = new Map<string, number[]>();

  constructor(opts: DenialBurstOptions = {}) {
    this.threshold = positiveInteger(opts.threshold ?? DEFAULT_BURST_THRESHOLD, 'threshold');
    const windowSeconds = opts.windowSeconds ?? DEFAULT_BURST_WINDOW_SECONDS;
    if (!(Number.isFinite(windowSeconds) && windowSeconds > 0)) throw new RangeError(`windowSeconds must be > 0, got ${windowSeconds}`);
    this.windowMs = windowSeconds * 1000;
    this.maxPrincipals = positiveInteger(opts.maxPrincipals ?? DEFAULT_BURST_MAX_PRINCIPALS, 'maxPrincipals');
  }

  /** Records one SecretAccessDenied; true when its principal's denials within the window reach the threshold. */
  observe(event: RecordedEvent): boolean {
    const at = eventTime(event);
    if (at === null) return false;
    const key = principalKey(event);
    const times = this.recent.get(key) ?? [];
    this.recent.delete(key); // re-inserted below: now the most recently seen
    insertSorted(times, at);
    if (times.length > this.threshold) times.splice(0, times.length - this.threshold);
    this.recent.set(key, times);

    // Count the kept denials inside (at - window, at]. Exact for events in time order; with
    // out-of-order events only the newest `threshold` are known, which is enough to reach it.
    const from = at - this.windowMs;
    let count = 0;
    for (const t of times) if (t > from && t <= at) count++;

    this.evict(at);
    return count >= this.threshold;
  }

  /** Principals currently tracked (for tests and metrics). */
  get trackedPrincipals(): number {
    return this.recent.size;
  }

  private evict(now: number): void {
    // Oldest-touched first: drop principals whose newest denial left the window, then enforce the cap.
    for (const [key, times] of this.recent) {
      if (times[times.length - 1] > now - this.windowMs) break;
      this.recent.delete(key);
    }
    while (this.recent.size > this.maxPrincipals) {
      const oldest = this.recent.keys().next().value as string;
      this.recent.delete(oldest);
    }
  }
}

function positiveInteger(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  return n;
}

function principalKey(event: RecordedEvent): string {
  const principal = (event.data as { principal?: { type?: unknown; id?: unknown } }).principal;
  if (principal && typeof principal.id === 'string') return `${String(principal.type)}:${principal.id}`;
  return `${event.metadata.actor.type}:${event.metadata.actor.id}`;
}

function eventTime(event: RecordedEvent): number | null {
  const t = Date.parse(event.metadata.occurredAt);
  if (Number.isFinite(t)) return t;
  const r = Date.parse(event.recordedAt);
  return Number.isFinite(r) ? r : null;
}

function insertSorted(times: number[], t: number): void {
  let i = times.length;
  while (i > 0 && times[i - 1] > t) i--;
  times.splice(i, 0, t);
}
