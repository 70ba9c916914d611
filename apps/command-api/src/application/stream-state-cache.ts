import { DomainEvent, EventStore, RecordedEvent } from '@app/domain';
import { toDomainEvent } from './event-envelope';

/** The folded state of one stream and the revision it reflects (-1: no stream). */
export interface Loaded<S> {
  state: S;
  revision: number;
}

export interface Folder<S, E extends DomainEvent> {
  initialState(): S;
  evolve(state: S, event: E, recorded: RecordedEvent): S;
}

/**
 * Folds streams for command handling and authorization. Always reads the store, but only the
 * events after the cached revision, so every decision sees every committed event (a revoke
 * takes effect on the very next request) while a long stream is not re-read each time.
 */
export class StreamStateCache<S, E extends DomainEvent> {
  private readonly entries = new Map<string, Loaded<S>>();

  constructor(private readonly store: EventStore, private readonly folder: Folder<S, E>, private readonly maxEntries = 10_000) {}

  async load(streamName: string): Promise<Loaded<S>> {
    const cached = this.entries.get(streamName);
    let { state, revision } = cached ?? { state: this.folder.initialState(), revision: -1 };
    const events = await this.store.readStream(streamName, { fromRevision: revision + 1 });
    for (const recorded of events) {
      if (recorded.revision !== revision + 1) {
        // The stream was re-created or truncated underneath us: fold again from the start.
        this.entries.delete(streamName);
        return this.loadFresh(streamName);
      }
      state = this.folder.evolve(state, toDomainEvent<E & never>(recorded), recorded);
      revision = recorded.revision;
    }
    this.remember(streamName, { state, revision });
    return { state, revision };
  }

  private async loadFresh(streamName: string): Promise<Loaded<S>> {
    let state = this.folder.initialState();
    let revision = -1;
    for (const recorded of await this.store.readStream(streamName)) {
      state = this.folder.evolve(state, toDomainEvent<E & never>(recorded), recorded);
      revision = recorded.revision;
    }
    this.remember(streamName, { state, revision });
    return { state, revision };
  }

  private remember(streamName: string, loaded: Loaded<S>): void {
    this.entries.delete(streamName); // re-insert: Map order doubles as LRU order
    this.entries.set(streamName, loaded);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
