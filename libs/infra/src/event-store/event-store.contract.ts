import { randomUUID } from 'node:crypto';
import { comparePositions, EventStore, EventToAppend, RecordedEvent, WrongExpectedRevisionError } from '@app/domain';

/** One adapter under test. `slowCommits`, where supported, is a second store over the SAME database whose appends hold their transaction open before COMMIT. */
export interface ContractTarget {
  create(): Promise<{ store: EventStore; close(): Promise<void>; slowCommits?: (delayMs: () => number) => Promise<EventStore> }>;
}

const ev = (type = 'ThingHappened', data: Record<string, unknown> = {}): EventToAppend => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  data: { n: 1, nested: { list: [1, 'two', null], flag: true }, text: 'ünïcødé ✓', ...data },
  metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: { type: 'user', id: 'alice' }, occurredAt: '2026-01-01T00:00:00.000Z' },
});

async function collect(store: EventStore, prefix: string, until: (events: RecordedEvent[]) => boolean, ms = 20_000): Promise<RecordedEvent[]> {
  const got: RecordedEvent[] = [];
  const sub = store.subscribeToAll({ streamPrefixes: [prefix] }, async (e) => {
    got.push(e);
  });
  const deadline = Date.now() + ms;
  while (!until(got) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await sub.stop();
  return got;
}

export function describeEventStoreContract(name: string, target: ContractTarget): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let close: () => Promise<void>;
    let slowCommits: ((delayMs: () => number) => Promise<EventStore>) | undefined;
    let prefix: string;
    const stream = (s: string) => `${prefix}${s}`;

    beforeAll(async () => {
      ({ store, close, slowCommits } = await target.create());
    });
    afterAll(async () => {
      await close?.();
    });
    beforeEach(() => {
      prefix = `ct${randomUUID().replace(/-/g, '').slice(0, 12)}-`;
    });

    it('round-trips events exactly, with revisions, positions and recordedAt', async () => {
      const events = [ev('A'), ev('B', { big: 'x'.repeat(10_000) })];
      const r = await store.appendToStream(stream('s'), 'no-stream', events);
      expect(r.nextExpectedRevision).toBe(1);
      const read = await store.readStream(stream('s'));
      expect(read.map(({ eventId, type, schemaVersion, data, metadata }) => ({ eventId, type, schemaVersion, data, metadata }))).toEqual(events);
      expect(read.map((e) => e.revision)).toEqual([0, 1]);
      expect(read.every((e) => e.streamName === stream('s') && !Number.isNaN(Date.parse(e.recordedAt)))).toBe(true);
      expect(comparePositions(read[0].position, read[1].position)).toBeLessThan(0);
      expect(comparePositions(read[1].position, r.position)).toBe(0);
    });

    it('gives an event identically on every read path: recordedAt in UTC with milliseconds, tricky text intact', async () => {
      const marker = await store.appendToStream(stream('m'), 'no-stream', [ev()]);
      const before = Date.now();
      const tricky = ev('Tricky', { text: 'quote " backslash \\ newline \n tab \t sep \u2028 emoji 😀 nul-free', deep: { a: [{ b: [{ c: 'd' }] }] }, n: -0.5, e: 1e21 });
      await store.appendToStream(stream('t'), 'no-stream', [tricky]);
      const after = Date.now();
      const [viaStream] = await store.readStream(stream('t'));
      const viaAll = (await store.readAll({ after: marker.position, maxCount: 100_000 })).filter((e) => e.eventId === tricky.eventId);
      const [viaSub] = await collect(store, stream('t'), (got) => got.length >= 1);
      expect(viaStream.data).toEqual(tricky.data);
      expect(viaStream.recordedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(new Date(viaStream.recordedAt).toISOString()).toBe(viaStream.recordedAt);
      expect(Date.parse(viaStream.recordedAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(viaStream.recordedAt)).toBeLessThanOrEqual(after + 1000);
      for (const other of [viaAll[0], viaSub]) expect(other).toEqual(viaStream);
    });

    it('checks every kind of expected revision, failing with a typed error naming the actual one', async () => {
      const s = stream('x');
      await expect(store.appendToStream(s, 'stream-exists', [ev()])).rejects.toMatchObject({ name: 'WrongExpectedRevisionError', actual: -1 });
      await expect(store.appendToStream(s, 0, [ev()])).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      await store.appendToStream(s, 'no-stream', [ev()]);
      await expect(store.appendToStream(s, 'no-stream', [ev()])).rejects.toMatchObject({ streamName: s, expected: 'no-stream', actual: 0 });
      await store.appendToStream(s, 'stream-exists', [ev()]);
      await store.appendToStream(s, 1, [ev(), ev()]);
      await expect(store.appendToStream(s, 1, [ev()])).rejects.toMatchObject({ expected: 1, actual: 3 });
      expect((await store.appendToStream(s, 'any', [ev()])).nextExpectedRevision).toBe(4);
      expect((await store.readStream(s)).map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
    });

    it('reads a missing stream as empty, and honours fromRevision and maxCount', async () => {
      expect(await store.readStream(stream('missing'))).toEqual([]);
      const s = stream('r');
      await store.appendToStream(s, 'no-stream', [ev(), ev(), ev(), ev(), ev()]);
      expect((await store.readStream(s, { fromRevision: 2 })).map((e) => e.revision)).toEqual([2, 3, 4]);
      expect((await store.readStream(s, { fromRevision: 1, maxCount: 2 })).map((e) => e.revision)).toEqual([1, 2]);
      expect(await store.readStream(s, { fromRevision: 5 })).toEqual([]);
    });

    it('reads all streams in one global order, from a position', async () => {
      await store.appendToStream(stream('a'), 'no-stream', [ev()]);
      await store.appendToStream(stream('b'), 'no-stream', [ev()]);
      await store.appendToStream(stream('a'), 0, [ev()]);
      const all: RecordedEvent[] = [];
      for (let after: RecordedEvent['position'] | undefined; ; ) {
        const batch = await store.readAll({ after, maxCount: 1000 });
        if (batch.length === 0) break;
        all.push(...batch);
        after = batch[batch.length - 1].position;
      }
      const mine = all.filter((e) => e.streamName.startsWith(prefix));
      expect(mine.map((e) => `${e.streamName.slice(prefix.length)}@${e.revision}`)).toEqual(['a@0', 'b@0', 'a@1']);
      for (let i = 1; i < all.length; i++) expect(comparePositions(all[i - 1].position, all[i].position)).toBeLessThan(0);
      const afterFirst = (await store.readAll({ after: mine[0].position, maxCount: 100_000 })).filter((e) => e.streamName.startsWith(prefix));
      expect(afterFirst.map((e) => e.eventId)).toEqual([mine[1].eventId, mine[2].eventId]);
    });

    it('treats re-appending the same event ids as success, without duplicates', async () => {
      const s = stream('idem');
      const batch = [ev(), ev()];
      const first = await store.appendToStream(s, 'no-stream', batch);
      const again = await store.appendToStream(s, 'no-stream', batch);
      expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
      expect(await store.readStream(s)).toHaveLength(2);
    });

    it('concurrent appenders on one stream: exactly one wins each revision, losers get the typed conflict', async () => {
      const s = stream('race');
      await store.appendToStream(s, 'no-stream', [ev()]);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.appendToStream(s, 0, [ev()])));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(losers).toHaveLength(19);
      for (const l of losers) expect(l.reason).toBeInstanceOf(WrongExpectedRevisionError);
      expect((await store.readStream(s)).map((e) => e.revision)).toEqual([0, 1]);
    });

    it('concurrent writers that retry on conflict lose no update', async () => {
      const s = stream('counter');
      const writers = 8;
      const each = 5;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let i = 0; i < each; i++) {
            for (;;) {
              const current = await store.readStream(s);
              try {
                await store.appendToStream(s, current.length === 0 ? 'no-stream' : current.length - 1, [ev()]);
                break;
              } catch (e) {
                if (!(e instanceof WrongExpectedRevisionError)) throw e;
              }
            }
          }
        }),
      );
      const events = await store.readStream(s);
      expect(events.map((e) => e.revision)).toEqual(Array.from({ length: writers * each }, (_, i) => i));
    });

    it('a subscriber misses and reorders nothing while transactions commit out of order', async () => {
      // Without a hook to delay commits (EventStoreDB), plain concurrency is the test.
      const slow = { store: slowCommits ? await slowCommits(() => Math.floor(Math.random() * 40)) : store };
      {
        const total = 150;
        const streams = 15;
        const got: RecordedEvent[] = [];
        const sub = store.subscribeToAll({ streamPrefixes: [prefix] }, async (e) => {
          got.push(e);
        });
        let next = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            while (next < total) {
              const i = next++;
              const s = stream(`s${i % streams}`);
              // Each stream has one writer at a time here, so expected revisions are exact.
              for (;;) {
                const cur = await slow.store.readStream(s);
                try {
                  await slow.store.appendToStream(s, cur.length === 0 ? 'no-stream' : cur.length - 1, [ev('Seq', { i })]);
                  break;
                } catch (e) {
                  if (!(e instanceof WrongExpectedRevisionError)) throw e;
                }
              }
            }
          }),
        );
        const deadline = Date.now() + 20_000;
        while (got.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 300)); // anything extra would be a duplicate
        await sub.stop();
        expect(got).toHaveLength(total);
        expect(new Set(got.map((e) => e.eventId)).size).toBe(total);
        for (let i = 1; i < got.length; i++) expect(comparePositions(got[i - 1].position, got[i].position)).toBeLessThan(0);
        const perStream = new Map<string, number[]>();
        for (const e of got) perStream.set(e.streamName, [...(perStream.get(e.streamName) ?? []), e.revision]);
        for (const revs of perStream.values()) expect(revs).toEqual(revs.map((_, i) => i));
      }
    }, 60_000);

    it('resumes from a checkpoint without duplicates, reports catching up, and stops cleanly', async () => {
      await store.appendToStream(stream('c'), 'no-stream', [ev(), ev(), ev()]);
      const first = await collect(store, prefix, (g) => g.length >= 3);
      expect(first).toHaveLength(3);
      await store.appendToStream(stream('c'), 2, [ev(), ev()]);
      const rest: RecordedEvent[] = [];
      let caughtUp = false;
      const sub = store.subscribeToAll({ after: first[2].position, streamPrefixes: [prefix], onCaughtUp: () => (caughtUp = true) }, async (e) => {
        rest.push(e);
      });
      const deadline = Date.now() + 10_000;
      while ((rest.length < 2 || !caughtUp) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await store.appendToStream(stream('c'), 4, [ev()]); // live delivery after catching up
      while (rest.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await sub.stop();
      expect(caughtUp).toBe(true);
      expect(rest.map((e) => e.revision)).toEqual([3, 4, 5]);
      await store.appendToStream(stream('c'), 5, [ev()]);
      await new Promise((r) => setTimeout(r, 700));
      expect(rest).toHaveLength(3); // nothing after stop()
      await expect(sub.done).resolves.toBeUndefined();
    });

    it('awaits onBatchEnd after each run of delivered events, and ends on its error', async () => {
      await store.appendToStream(stream('batch'), 'no-stream', [ev(), ev(), ev()]);
      const log: string[] = [];
      let delivered = 0;
      const sub = store.subscribeToAll(
        {
          streamPrefixes: [prefix],
          onBatchEnd: async () => {
            log.push(`end@${delivered}`);
            if (delivered >= 3) throw new Error('commit failed');
          },
        },
        async () => {
          delivered++;
        },
      );
      await expect(sub.done).rejects.toThrow('commit failed');
      expect(delivered).toBe(3);
      expect(log[log.length - 1]).toBe('end@3');
    });

    it('a subscriber to rare streams moves past other streams\' events (onProgress) and still gets the next match', async () => {
      const other = `${prefix}x-`; // a prefix of its own, so only this test's events are "other"
      const rare = `${prefix}rare-`;
      await store.appendToStream(`${rare}s`, 'no-stream', [ev()]);
      for (let i = 0; i < 3; i++) await store.appendToStream(`${other}s${i}`, 'no-stream', Array.from({ length: 400 }, () => ev()));
      const progress: RecordedEvent['position'][] = [];
      const got: RecordedEvent[] = [];
      const sub = store.subscribeToAll({ streamPrefixes: [rare], onProgress: async (p) => void progress.push(p) }, async (e) => void got.push(e));
      const deadline = Date.now() + 15_000;
      while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const lastOther = (await store.readStream(`${other}s2`)).at(-1)!;
      while (/^(PGlite|PostgreSQL)/.test(name) && !progress.some((p) => comparePositions(p, lastOther.position) >= 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await store.appendToStream(`${rare}s`, 0, [ev()]);
      while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await sub.stop();
      expect(got.map((e) => e.revision)).toEqual([0, 1]);
      // Progress only ever moves forward, never past an undelivered match.
      for (let i = 1; i < progress.length; i++) expect(comparePositions(progress[i], progress[i - 1])).toBeGreaterThan(0);
      for (const p of progress) expect(comparePositions(p, got[1].position)).toBeLessThan(0);
      if (/^(PGlite|PostgreSQL)/.test(name)) expect(progress.some((p) => comparePositions(p, lastOther.position) >= 0)).toBe(true);
    }, 30_000);

    it('ends the subscription when the handler throws, so the owner can resubscribe', async () => {
      await store.appendToStream(stream('boom'), 'no-stream', [ev()]);
      const sub = store.subscribeToAll({ streamPrefixes: [prefix] }, async () => {
        throw new Error('handler failed');
      });
      await expect(sub.done).rejects.toThrow('handler failed');
    });
  });
}
