import { Decider, DomainEvent, DomainEventUnion, EventStore, ExpectedRevision, WrongExpectedRevisionError } from '@app/domain';
import { CommandContext, envelope } from './event-envelope';
import { Loaded, StreamStateCache } from './stream-state-cache';

/** The client's If-Match named a revision that is no longer current (412). */
export class PreconditionFailedError extends Error {
  constructor(readonly expected: number, readonly actual: number) {
    super(`stale If-Match: expected revision ${expected}, current ${actual}`);
    this.name = 'PreconditionFailedError';
  }
}

/** Another writer changed the stream between our read and our append, more often than we retry (409). */
export class ConcurrencyConflictError extends Error {
  constructor(readonly streamName: string) {
    super(`concurrent change on ${streamName}`);
    this.name = 'ConcurrencyConflictError';
  }
}

export interface HandleResult<S> {
  events: DomainEvent[];
  before: Loaded<S>;
  nextExpectedRevision: number;
}

const toExpected = (revision: number): ExpectedRevision => (revision < 0 ? 'no-stream' : revision);

/**
 * Read the stream → fold → decide → append with the expected revision. When the client gave
 * no If-Match, a conflict means our decision was made on stale state: decide again on fresh
 * state (a few times). With If-Match, a stale revision is the client's to resolve (412).
 */
export async function handleCommand<S, C, E extends DomainEvent>(
  store: EventStore,
  states: StreamStateCache<S, E>,
  streamName: string,
  decider: Pick<Decider<S, C, E>, 'decide'>,
  command: C | ((loaded: Loaded<S>) => C | Promise<C>),
  ctx: CommandContext,
  options: { ifMatch?: number; retries?: number } = {},
): Promise<HandleResult<S>> {
  const attempts = options.ifMatch === undefined ? (options.retries ?? 5) + 1 : 1;
  for (let attempt = 1; ; attempt++) {
    const loaded = await states.load(streamName);
    if (options.ifMatch !== undefined && options.ifMatch !== loaded.revision) throw new PreconditionFailedError(options.ifMatch, loaded.revision);
    const cmd = typeof command === 'function' ? await (command as (l: Loaded<S>) => C | Promise<C>)(loaded) : command;
    const events = decider.decide(cmd, loaded.state);
    if (events.length === 0) return { events, before: loaded, nextExpectedRevision: loaded.revision };
    try {
      const result = await store.appendToStream(
        streamName,
        toExpected(loaded.revision),
        events.map((e) => envelope(e as unknown as DomainEventUnion, ctx)),
      );
      return { events, before: loaded, nextExpectedRevision: result.nextExpectedRevision };
    } catch (e) {
      if (!(e instanceof WrongExpectedRevisionError)) throw e;
      if (options.ifMatch !== undefined) throw new PreconditionFailedError(options.ifMatch, e.actual ?? -1);
      if (attempt >= attempts) throw new ConcurrencyConflictError(streamName);
      // Small random backoff so racing writers of one stream spread out instead of colliding again.
      await new Promise((r) => setTimeout(r, Math.random() * 2 ** attempt));
    }
  }
}
