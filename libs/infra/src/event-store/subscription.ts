import { comparePositions, Position, RecordedEvent, SubscriptionHandle } from '@app/domain';

/** One read: the matching events, and how far the read looked (past events of other streams). */
export interface ScanResult {
  events: RecordedEvent[];
  /** Position of the last event examined, matching or not; undefined when nothing was there. */
  scannedTo?: Position;
  /** True when the read stopped at its limit (more may follow at once); false when it reached the end. */
  full: boolean;
}

export interface PollingSubscriptionSpec {
  after?: Position;
  readBatch(after: Position | undefined): Promise<ScanResult>;
  /** Registers a wake-up callback (e.g. LISTEN/NOTIFY); returns how to unregister. */
  wakeups?(wake: () => void): Promise<() => Promise<void>>;
  handler(event: RecordedEvent): Promise<void>;
  onCaughtUp?: () => void;
  onBatchEnd?: () => Promise<void>;
  /** Awaited when the read position moved past events of other streams (after onBatchEnd). */
  onProgress?: (position: Position) => Promise<void>;
  /** Fallback poll when no wake-up arrives. */
  pollMs?: number;
}

/**
 * Catch-up then live delivery, one event at a time, awaiting the handler. A handler or read
 * error ends the subscription (`done` rejects) so the owner resubscribes from its checkpoint.
 */
export function runSubscription(spec: PollingSubscriptionSpec): SubscriptionHandle {
  let stopped = false;
  let inHandler: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;
  let pending = false;
  const pollMs = spec.pollMs ?? 500;

  const sleep = () =>
    new Promise<void>((resolve) => {
      if (pending || stopped) {
        pending = false;
        return resolve();
      }
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, pollMs);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });

  const done = (async () => {
    let unlisten: (() => Promise<void>) | undefined;
    try {
      if (spec.wakeups) {
        unlisten = await spec.wakeups(() => {
          if (wake) wake();
          else pending = true;
        });
      }
      let after = spec.after;
      let caughtUp = false;
      while (!stopped) {
        const { events, scannedTo, full } = await spec.readBatch(after);
        for (const event of events) {
          if (stopped) break;
          inHandler = spec.handler(event);
          await inHandler;
          after = event.position;
        }
        if (events.length > 0 && spec.onBatchEnd) {
          inHandler = spec.onBatchEnd();
          await inHandler;
        }
        // Move past what was examined even if none of it matched: a subscription to rare streams
        // must not re-read the same run of other streams' events on every wake-up.
        if (!stopped && scannedTo && (!after || comparePositions(scannedTo, after) > 0)) {
          after = scannedTo;
          if (spec.onProgress) {
            inHandler = spec.onProgress(scannedTo);
            await inHandler;
          }
        }
        if (!full && !stopped) {
          if (!caughtUp) {
            caughtUp = true;
            spec.onCaughtUp?.();
          }
          await sleep();
        }
      }
    } finally {
      await unlisten?.().catch(() => undefined);
    }
  })();
  done.catch(() => undefined); // observed by the owner through `done`

  return {
    done,
    async stop() {
      stopped = true;
      wake?.();
      await inHandler.catch(() => undefined);
      await done.catch(() => undefined);
    },
  };
}
