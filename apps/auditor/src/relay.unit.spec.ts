import { AuditLogStore } from '@app/infra/audit/audit-log-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { LogRelay } from './relay';

// The relay's reads of the store under load (issue 23, 4): a batch handed over in memory (offer)
// is delivered without reading the store — neither the stored offset nor one more, empty, page of
// the log — while the timer's poke, a poke after a checkpoint, a dropped queue and a failure still
// read it. What the sink acknowledged is every item once, in order, whatever the path.

interface Item {
  pos: number;
}

class Harness {
  /** The committed log: item at index i has position i. */
  readonly log: Item[] = [];
  storedOffset = -1;
  offsetReads = 0;
  offsetSaves = 0;
  fetches = 0;
  /** Every item the sink acknowledged, in order. */
  readonly delivered: number[] = [];
  /** The next this many deliveries fail (nothing acknowledged). */
  failNext = 0;
  readonly relay: LogRelay<Item>;

  constructor(batchSize = 500) {
    const store = {
      relayOffset: async () => {
        this.offsetReads++;
        return this.storedOffset;
      },
      saveRelayOffset: async (_name: string, at: number) => {
        this.offsetSaves++;
        this.storedOffset = at;
      },
    } as unknown as AuditLogStore;
    const source = {
      fetch: async (after: number, limit: number) => {
        this.fetches++;
        return this.log.slice(after + 1, after + 1 + limit);
      },
      positionOf: (i: Item) => i.pos,
      end: async () => this.log.length - 1,
    };
    const deliver = async (items: Item[]) => {
      await new Promise((r) => setImmediate(r));
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error('sink down');
      }
      this.delivered.push(...items.map((i) => i.pos));
    };
    this.relay = new LogRelay('test', store, source, deliver, new JsonLogger('error'), new Metrics(), batchSize);
  }

  /** Commits n items to the log; returns them (what the projection would offer). */
  commit(n: number): Item[] {
    const items = Array.from({ length: n }, (_, k) => ({ pos: this.log.length + k }));
    this.log.push(...items);
    return items;
  }

  resetCounts(): void {
    this.offsetReads = 0;
    this.fetches = 0;
  }

  async settled(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    // Delivered everything, saved the offset, and no drain running.
    while (!(this.delivered.length >= this.log.length && this.storedOffset === this.log.length - 1 && !(this.relay as unknown as { running: boolean }).running)) {
      if (Date.now() > until) throw new Error(`not settled: delivered ${this.delivered.length} of ${this.log.length}, stored offset ${this.storedOffset}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  expectEachOnceInOrder(): void {
    expect(this.delivered).toEqual(this.log.map((i) => i.pos));
  }
}

describe('LogRelay', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness();
  });
  afterEach(() => h.relay.stop());

  it('reads the stored offset and the log when it starts', async () => {
    h.commit(3);
    h.relay.start(60_000);
    await h.settled();
    expect(h.offsetReads).toBe(1);
    expect(h.fetches).toBeGreaterThanOrEqual(1);
    h.expectEachOnceInOrder();
  });

  it('delivers offered batches without reading the store (no offset select, no empty page after them)', async () => {
    h.relay.start(60_000);
    await h.settled();
    h.resetCounts();
    for (let k = 0; k < 20; k++) {
      h.relay.offer(h.commit(7));
      if (k % 3 === 0) await h.settled();
    }
    await h.settled();
    expect(h.offsetReads).toBe(0);
    expect(h.fetches).toBe(0);
    expect(h.log).toHaveLength(140);
    h.expectEachOnceInOrder();
  });

  it('a poke (the timer, a checkpoint made) still reads the store and finds what was committed but not offered', async () => {
    h.relay.start(60_000);
    await h.settled();
    h.resetCounts();
    h.commit(5); // committed, never offered (another writer, a lost hand-over)
    h.relay.poke();
    await h.settled();
    expect(h.fetches).toBe(1); // one page, shorter than a batch: no second, empty, read
    expect(h.offsetReads).toBe(0); // the offset it acknowledged is kept in memory
    h.expectEachOnceInOrder();
  });

  it('the timer polls the store', async () => {
    h.relay.start(20);
    await h.settled();
    h.resetCounts();
    h.commit(4); // never offered
    await h.settled();
    expect(h.fetches).toBeGreaterThanOrEqual(1);
    h.expectEachOnceInOrder();
  });

  it('reads the store for what an offer skipped (items not continuing its offset)', async () => {
    h.relay.start(60_000);
    await h.settled();
    h.resetCounts();
    h.commit(5); // not offered
    h.relay.offer(h.commit(5)); // offered, but 5 positions ahead of the relay
    await h.settled();
    expect(h.fetches).toBeGreaterThanOrEqual(1);
    h.expectEachOnceInOrder();
  });

  it('reads the store when the in-memory queue overflowed and was dropped', async () => {
    h.relay.start(60_000);
    await h.settled();
    h.failNext = 1_000_000; // the sink is down: offers pile up
    h.relay.offer(h.commit(10));
    while (h.relay.health().ok) await new Promise((r) => setTimeout(r, 2));
    for (let k = 0; k < 5; k++) h.relay.offer(h.commit(5000)); // beyond the queue's 20,000
    h.failNext = 0;
    h.resetCounts();
    await h.settled(10_000);
    expect(h.fetches).toBeGreaterThanOrEqual(1);
    h.expectEachOnceInOrder();
  });

  it('after a failed delivery it reads the stored offset again and redelivers from there: nothing lost, nothing acknowledged twice', async () => {
    h.relay.start(60_000);
    await h.settled();
    h.relay.offer(h.commit(10));
    await h.settled();
    h.resetCounts();
    h.failNext = 1;
    h.relay.offer(h.commit(10));
    await h.settled();
    expect(h.offsetReads).toBeGreaterThanOrEqual(1);
    expect(h.relay.health().ok).toBe(true);
    h.expectEachOnceInOrder();
    // Healthy again: the next offer goes without reads.
    h.resetCounts();
    h.relay.offer(h.commit(3));
    await h.settled();
    expect(h.offsetReads).toBe(0);
    expect(h.fetches).toBe(0);
    h.expectEachOnceInOrder();
  });

  it('counts its backlog from the offset it holds, without reading the store', async () => {
    h.relay.start(60_000);
    h.relay.offer(h.commit(6));
    await h.settled();
    h.resetCounts();
    h.commit(2); // not yet delivered
    expect(await h.relay.backlog()).toBe(2);
    expect(h.offsetReads).toBe(0);
  });

  it('re-reads the stored offset after a restart', async () => {
    h.relay.start(60_000);
    await h.settled();
    h.relay.stop();
    h.resetCounts();
    h.commit(2);
    h.relay.start(60_000);
    await h.settled();
    expect(h.offsetReads).toBe(1);
    h.expectEachOnceInOrder();
  });

  it('a poke during an offered drain is not lost: the store is read after it', async () => {
    h.relay.start(60_000);
    await h.settled();
    h.resetCounts();
    h.relay.offer(h.commit(10));
    h.commit(3); // committed while the drain runs, never offered
    h.relay.poke();
    await h.settled();
    expect(h.fetches).toBeGreaterThanOrEqual(1);
    h.expectEachOnceInOrder();
  });

  it('reads page after page while pages are full, and stops after a short one', async () => {
    const small = new Harness(4);
    small.commit(10); // pages of 4, 4, 2
    small.relay.start(60_000);
    await small.settled();
    small.relay.stop();
    expect(small.fetches).toBe(3);
    small.expectEachOnceInOrder();
  });

  it('saves the offset only after the sink acknowledged, and delivers batches of at most batchSize', async () => {
    const small = new Harness(4);
    const sizes: number[] = [];
    const inner = (small.relay as unknown as { deliver: (i: Item[]) => Promise<void> }).deliver;
    (small.relay as unknown as { deliver: (i: Item[]) => Promise<void> }).deliver = async (items) => {
      sizes.push(items.length);
      expect(small.storedOffset).toBeLessThan(items[0].pos);
      await inner(items);
    };
    small.relay.start(60_000);
    small.relay.offer(small.commit(10));
    await small.settled();
    small.relay.stop();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    small.expectEachOnceInOrder();
  });
});
