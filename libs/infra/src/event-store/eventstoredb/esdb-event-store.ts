import {
  ANY,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  streamNameFilter,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  AppendResult,
  comparePositions,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreUnavailableError,
  SubscribeOptions,
  SubscriptionHandle,
  WrongExpectedRevisionError,
} from '@app/domain';

export interface EsdbRecorded {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  created: Date | number;
  position?: { commit: bigint; prepare: bigint };
}

export function toRecorded(e: EsdbRecorded): RecordedEvent {
  const { schemaVersion, ...metadata } = (e.metadata ?? {}) as { schemaVersion?: number } & RecordedEvent['metadata'];
  const created = e.created instanceof Date ? e.created : new Date(Number(e.created));
  return {
    eventId: e.id,
    type: e.type,
    schemaVersion: Number(schemaVersion ?? 1),
    data: e.data as Record<string, unknown>,
    metadata: metadata as RecordedEvent['metadata'],
    streamName: e.streamId,
    revision: Number(e.revision),
    position: e.position ? { commit: e.position.commit, prepare: e.position.prepare } : { commit: -1n, prepare: -1n },
    recordedAt: created.toISOString(),
  };
}

export function toEsdbExpected(expected: ExpectedRevision) {
  if (expected === 'no-stream') return NO_STREAM;
  if (expected === 'stream-exists') return STREAM_EXISTS;
  if (expected === 'any') return ANY;
  return BigInt(expected);
}

function unavailable(e: unknown): unknown {
  const msg = (e as Error)?.message ?? '';
  if (/UNAVAILABLE|ECONNREFUSED|deadline|Failed to discover|connect/i.test(msg)) return new StoreUnavailableError('EventStoreDB unavailable', e);
  return e;
}

/** The event store on EventStoreDB/KurrentDB. This adapter alone translates WrongExpectedVersionError. */
export class EsdbEventStore implements EventStore {
  private constructor(private readonly client: EventStoreDBClient) {}

  static async connect(url: string): Promise<EsdbEventStore> {
    const store = new EsdbEventStore(EventStoreDBClient.connectionString(url));
    await store.ping();
    return store;
  }

  async appendToStream(streamName: string, expected: ExpectedRevision, events: EventToAppend[]): Promise<AppendResult> {
    try {
      const result = await this.client.appendToStream(
        streamName,
        events.map((e) => jsonEvent({ id: e.eventId, type: e.type, data: e.data, metadata: { ...e.metadata, schemaVersion: e.schemaVersion } })),
        { expectedRevision: toEsdbExpected(expected) },
      );
      return {
        nextExpectedRevision: Number(result.nextExpectedRevision),
        position: result.position ? { commit: result.position.commit, prepare: result.position.prepare } : { commit: -1n, prepare: -1n },
      };
    } catch (e) {
      if (e instanceof WrongExpectedVersionError) {
        const actual = e.actualVersion === NO_STREAM ? -1 : typeof e.actualVersion === 'bigint' ? Number(e.actualVersion) : undefined;
        throw new WrongExpectedRevisionError(streamName, expected, actual);
      }
      throw unavailable(e);
    }
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(streamName, {
        fromRevision: options.fromRevision ? BigInt(options.fromRevision) : START,
        direction: FORWARDS,
        maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
      });
      for await (const resolved of read) {
        if (resolved.event) out.push(toRecorded(resolved.event as unknown as EsdbRecorded));
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return [];
      throw unavailable(e);
    }
    return out;
  }

  async readAll(options: ReadAllOptions & { streamPrefixes?: string[] } = {}): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    const max = options.maxCount ?? 1000;
    try {
      // $all reads start AT a position (inclusive): skip the checkpoint itself and system events.
      const read = this.client.readAll({ fromPosition: options.after ?? START, direction: FORWARDS, maxCount: max + 1 });
      for await (const resolved of read) {
        const e = resolved.event as unknown as EsdbRecorded | undefined;
        if (!e || e.streamId.startsWith('$') || e.type.startsWith('$')) continue;
        const r = toRecorded(e);
        if (options.after && comparePositions(r.position, options.after) <= 0) continue;
        if (options.streamPrefixes?.length && !options.streamPrefixes.some((p) => r.streamName.startsWith(p))) continue;
        out.push(r);
        if (out.length >= max) break;
      }
    } catch (e) {
      throw unavailable(e);
    }
    return out;
  }

  subscribeToAll(options: SubscribeOptions, handler: (event: RecordedEvent) => Promise<void>): SubscriptionHandle {
    const subscription = this.client.subscribeToAll({
      fromPosition: options.after ?? START,
      filter: options.streamPrefixes?.length ? streamNameFilter({ prefixes: options.streamPrefixes }) : excludeSystemEvents(),
    });
    let stopped = false;
    let inHandler: Promise<void> = Promise.resolve();
    (subscription as unknown as { on(ev: string, cb: () => void): void }).on?.('caughtUp', () => options.onCaughtUp?.());
    const done = (async () => {
      try {
        for await (const resolved of subscription) {
          if (stopped) break;
          const e = resolved.event as unknown as EsdbRecorded | undefined;
          if (!e || e.streamId.startsWith('$')) continue;
          inHandler = handler(toRecorded(e));
          await inHandler;
          // The gRPC stream has no natural batch boundary: every event ends a batch of one.
          if (options.onBatchEnd) {
            inHandler = options.onBatchEnd();
            await inHandler;
          }
        }
      } catch (e) {
        if (!stopped) throw unavailable(e);
      }
    })();
    done.catch(() => undefined);
    return {
      done,
      async stop() {
        stopped = true;
        await inHandler.catch(() => undefined);
        await subscription.unsubscribe().catch(() => undefined);
        await done.catch(() => undefined);
      },
    };
  }

  async ping(): Promise<void> {
    try {
      const read = this.client.readAll({ maxCount: 1, fromPosition: START, direction: FORWARDS });
      for await (const _ of read) break;
    } catch (e) {
      throw new StoreUnavailableError('EventStoreDB unreachable', e);
    }
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }
}
