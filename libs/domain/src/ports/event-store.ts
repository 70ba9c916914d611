// The event store port. Adapters (PostgreSQL/PGlite, EventStoreDB) live in libs/infra and
// all pass one contract suite. Types only: nothing here does I/O.

/** Who caused an event: a user, a CI job, or the system itself. */
export interface ActorRef {
  type: 'user' | 'ci-job' | 'system';
  id: string;
}

export interface EventMetadata {
  correlationId: string;
  causationId: string;
  actor: ActorRef;
  /** RFC 3339 UTC instant at which the command was decided (from command metadata, never a clock in a decider). */
  occurredAt: string;
  [key: string]: unknown;
}

/** An event as the application hands it to the store. */
export interface EventToAppend {
  eventId: string; // UUID, unique across the store; re-appending the same ids is idempotent
  type: string; // stable, past tense, e.g. "SecretCreated"
  schemaVersion: number;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

/**
 * A position in the global log. Ordered lexicographically by (commit, prepare), like
 * EventStoreDB's own positions. For PostgreSQL, commit = the appending transaction id
 * (xid8) and prepare = the row's sequence number, so readers can stay below the oldest
 * in-flight transaction and never skip a late-committing event.
 */
export interface Position {
  commit: bigint;
  prepare: bigint;
}

export interface RecordedEvent extends EventToAppend {
  streamName: string;
  /** 0-based revision of the event within its stream. */
  revision: number;
  position: Position;
  /** When the store recorded it (RFC 3339). */
  recordedAt: string;
}

/** 'no-stream': stream must not exist; 'stream-exists': must exist; 'any': no check (audit logs with no invariant); number: exact revision of the last event. */
export type ExpectedRevision = 'no-stream' | 'stream-exists' | 'any' | number;

export interface AppendResult {
  /** Revision of the last event written; pass it as the next expected revision. */
  nextExpectedRevision: number;
  position: Position;
}

export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    /** Current revision, or -1 when the stream does not exist, or undefined when unknown. */
    readonly actual: number | undefined,
  ) {
    super(`Wrong expected revision on ${streamName}: expected ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** A dependency (database, EventStoreDB) is unreachable or failed; maps to 503. */
export class StoreUnavailableError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

export interface ReadStreamOptions {
  /** First revision to return (inclusive). Default 0. */
  fromRevision?: number;
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive lower bound; undefined = from the start. */
  after?: Position;
  maxCount?: number;
  /** Only events of streams whose names start with one of these. */
  streamPrefixes?: string[];
}

export interface SubscriptionHandle {
  /** Stops delivering; resolves once no handler call is running. */
  stop(): Promise<void>;
  /** Resolves/rejects when the subscription ends (stop() or a fatal handler error). */
  readonly done: Promise<void>;
}

export interface SubscribeOptions {
  /** Exclusive checkpoint: deliver events after it. undefined = from the start. */
  after?: Position;
  /** Only deliver events whose stream name starts with one of these (e.g. "secret-"). */
  streamPrefixes?: string[];
  /** Called when the subscription has delivered everything currently in the store. */
  onCaughtUp?: () => void;
  /**
   * Awaited after each run of delivered events (at most a few hundred), before the
   * subscription reads or waits for more: where a consumer commits a batch of effects and its
   * checkpoint together. An error here ends the subscription like a handler error.
   */
  onBatchEnd?: () => Promise<void>;
  /**
   * Awaited when the subscription has looked past events of other streams up to `position`
   * (nothing to deliver there): a consumer may store it as its checkpoint, so a restart does not
   * re-read them. Adapters whose server filters (EventStoreDB) may never call it.
   */
  onProgress?: (position: Position) => Promise<void>;
}

export interface EventStore {
  appendToStream(streamName: string, expected: ExpectedRevision, events: EventToAppend[]): Promise<AppendResult>;
  /** Events of one stream in revision order; [] when the stream does not exist. */
  readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Events of all streams in global order, never skipping an event that commits later at a lower position. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Catch-up subscription: delivers every event after `after` in global order, one at a
   * time, awaiting the handler; then keeps delivering new events live. A handler error
   * ends the subscription (done rejects) so the caller can resubscribe from its checkpoint.
   */
  subscribeToAll(options: SubscribeOptions, handler: (event: RecordedEvent) => Promise<void>): SubscriptionHandle;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** Checkpoints are persisted as text "commit/prepare". */
export function formatPosition(p: Position): string {
  return `${p.commit}/${p.prepare}`;
}

export function parsePosition(text: string): Position {
  const m = /^(\d{1,20})\/(\d{1,20})$/.exec(text);
  if (!m) throw new Error(`not a position: ${text}`);
  return { commit: BigInt(m[1]), prepare: BigInt(m[2]) };
}
