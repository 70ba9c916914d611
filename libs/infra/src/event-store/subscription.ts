import { Position, RecordedEvent, SubscriptionHandle } from '../../../domain/src';

export interface PollingSubscriptionSpec {
  after?: Position;
  batchSize: number;
  readBatch(after: Position | undefined): Promise<RecordedEvent[]>;
  /** Registers a wake-up callback (e.g. LISTEN/NOTIFY); returns how to unregister. */
  wakeups?(wake: () => void): Promise<() => Promise<void>>;
  handler(event: RecordedEvent): Promise<void>;
  onCaughtUp?: () => void;
  onBatchEnd?: () => Promise<void>;
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
        const batch = await spec.readBatch(after);
        for (const event of batch) {
          if (stopped) break;
          inHandler = spec.handler(event);
          await inHandler;
          after = event.position;
        }
        if (batch.length > 0 && spec.onBatchEnd) {
          inHandler = spec.onBatchEnd();
          await inHandler;
        }
        if (batch.length < spec.batchSize && !stopped) {
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
