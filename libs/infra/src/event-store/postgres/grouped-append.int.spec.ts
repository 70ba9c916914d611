import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { EventToAppend } from '@app/domain';
import { scratchDatabase, scratchPgClient } from '../../../../../test/support/scratch-database';
import { PgClient } from '../../sql/pg-client';
import { PgliteClient } from '../../sql/pglite-client';
import { SqlClient } from '../../sql/sql-client';
import { countingStatements } from '../../../../../test/support/counting-sql';
import { PostgresEventStore } from './postgres-event-store';

/**
 * Appends with expected revision 'any' asked for in the same turn of the event loop (CI jobs'
 * access decisions arriving together) go out as ONE statement and ONE commit (issue 23, third
 * session). Each caller must still get exactly its own outcome, as if alone.
 */
const ev = (type: string, data: Record<string, unknown> = {}): EventToAppend => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  data: { text: 'quote " backslash \\ nl \n ünï 😀 \u2028', ...data },
  metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'system', id: 't' }, occurredAt: '2026-01-01T00:00:00.000Z' },
});

function suite(label: string, open: () => Promise<{ sql: SqlClient; close(): Promise<void> }>) {
  describe(`PostgresEventStore, appends made together (${label})`, () => {
    let db: { sql: SqlClient; close(): Promise<void> };
    let c: ReturnType<typeof countingStatements>;
    let store: PostgresEventStore;
    let p: string;
    beforeAll(async () => {
      db = await open();
      c = countingStatements(db.sql, 'es_append');
      store = await PostgresEventStore.create(c.sql);
    }, 60_000);
    afterAll(() => db?.close());
    beforeEach(() => {
      p = `ga${randomUUID().slice(0, 8)}-`;
      c.reset();
    });

    it("twelve 'any' appends in one turn (one stream three times): one statement, one transaction; each caller its own revision and position, in the order asked per stream", async () => {
      const asked = Array.from({ length: 12 }, (_, i) => ({ stream: i % 4 === 0 ? `${p}same` : `${p}s${11 - i}`, events: i === 5 ? [ev('Two', { i }), ev('Two', { i, second: true })] : [ev('One', { i })] }));
      const results = await Promise.all(asked.map((a) => store.appendToStream(a.stream, 'any', a.events)));
      expect(c.count()).toBe(1);
      // One transaction: every event of the burst has the same commit position.
      expect(new Set(results.map((r) => r.position.commit)).size).toBe(1);
      // The stream asked three times got revisions 0, 1, 2 in the order asked.
      expect(results.filter((_, i) => i % 4 === 0).map((r) => r.nextExpectedRevision)).toEqual([0, 1, 2]);
      expect(results[5].nextExpectedRevision).toBe(1); // two events in one append
      for (const [i, a] of asked.entries()) {
        const read = await store.readStream(a.stream);
        const mine = read.filter((e) => a.events.some((x) => x.eventId === e.eventId));
        expect(mine.map((e) => ({ eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata }))).toEqual(a.events.map(({ eventId, type, data, metadata }) => ({ eventId, type, data, metadata })));
        expect(mine.at(-1)!.revision).toBe(results[i].nextExpectedRevision);
        expect(mine.at(-1)!.position).toEqual(results[i].position);
      }
      expect((await store.readStream(`${p}same`)).map((e) => e.data.i)).toEqual([0, 4, 8]);
    });

    it('an event id already used fails only its own append; an idempotent retry in the burst replays its first result; the others are written once', async () => {
      const seeded = ev('Seed');
      const first = await store.appendToStream(`${p}a`, 'any', [seeded]);
      const used = ev('Used');
      await store.appendToStream(`${p}b`, 'any', [used]);
      c.reset();
      const burst = await Promise.allSettled([
        store.appendToStream(`${p}c`, 'any', [ev('C0'), ev('C1')]),
        store.appendToStream(`${p}d`, 'any', [used]), // the id lives in stream b
        store.appendToStream(`${p}a`, 'any', [seeded]), // a retry of the first append
        store.appendToStream(`${p}e`, 'any', [ev('E0')]),
      ]);
      expect(burst.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(String((burst[1] as PromiseRejectedResult).reason)).toMatch(/already used/);
      expect((burst[2] as PromiseFulfilledResult<unknown>).value).toEqual(first);
      expect((await store.readStream(`${p}c`)).map((e) => e.type)).toEqual(['C0', 'C1']);
      expect(await store.readStream(`${p}d`)).toEqual([]);
      expect((await store.readStream(`${p}a`)).map((e) => e.type)).toEqual(['Seed']);
      expect((await store.readStream(`${p}e`)).map((e) => e.type)).toEqual(['E0']);
      // The grouped statement failed as a whole (nothing of it written), then each alone.
      expect(c.count()).toBe(1 + 4);
    });

    it('two bursts in flight together over the same streams in opposite orders both commit grouped (every stream locked first, in lock-key order: no deadlock, no fallback)', async () => {
      const names = Array.from({ length: 8 }, (_, i) => `${p}x${i}`);
      const one = Promise.all(names.map((n) => store.appendToStream(n, 'any', [ev('One')])));
      await new Promise((r) => setImmediate(r));
      const two = Promise.all([...names].reverse().map((n) => store.appendToStream(n, 'any', [ev('Two')])));
      await Promise.all([one, two]);
      expect(c.count()).toBe(2);
      // Which statement reaches PostgreSQL first is a race (two pool connections), but each holds
      // its streams' locks to its commit and both take them all first, in the same order: every stream shows the two
      // bursts in the same order.
      const orders = new Set<string>();
      for (const n of names) orders.add((await store.readStream(n)).map((e) => e.type).join(','));
      expect([...orders]).toHaveLength(1);
      expect([...orders][0].split(',').sort()).toEqual(['One', 'Two']);
    });

    it('appends with an expected revision are never grouped: a conflict stays its own', async () => {
      await store.appendToStream(`${p}r`, 'no-stream', [ev('R0')]);
      c.reset();
      const [ok, conflict] = await Promise.allSettled([store.appendToStream(`${p}r`, 0, [ev('R1')]), store.appendToStream(`${p}r`, 0, [ev('R1b')])]);
      expect([ok.status, conflict.status].sort()).toEqual(['fulfilled', 'rejected']);
      expect(c.count()).toBe(2);
      expect((await store.readStream(`${p}r`)).length).toBe(2);
    });
  });
}

suite('PGlite', async () => {
  const sql = await PgliteClient.open();
  return { sql, close: () => sql.close() };
});

const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
if (url)
  suite('PostgreSQL', () => scratchPgClient(url, 'grouped_append'));
else console.warn('grouped-append: PostgreSQL case SKIPPED (TEST_DATABASE_URL or DATABASE_URL not set)');

/**
 * Per-stream order = global (txid, seq) order, with groups (review of 57a824a): a transaction's id
 * is assigned at its first write, so a group that wrote one stream and then waited for another's
 * lock could write a later revision of a third stream with an id below that of an append that
 * locked, wrote and committed that stream meanwhile — readers then got revision r+1 before r —
 * and, holding an id while it waited, it held every reader back (pg_snapshot_xmin). A
 * single-connection PGlite cannot interleave transactions: PostgreSQL only.
 */
if (url)
  describe('PostgresEventStore, appends made together keep per-stream order = global order (PostgreSQL)', () => {
    let db: { url: string; drop(): Promise<void> };
    let sql: PgClient;
    let store: PostgresEventStore;
    let p: string;
    beforeAll(async () => {
      db = await scratchDatabase(url, 'grouped_order');
      sql = await PgClient.connect(db.url);
      store = await PostgresEventStore.create(sql);
    }, 60_000);
    afterAll(async () => {
      await sql?.close();
      await db?.drop();
    });
    beforeEach(() => {
      p = `go${randomUUID().slice(0, 8)}-`;
    });

    const inStreamOrder = (events: { streamName: string; revision: number }[]): number => {
      const next = new Map<string, number>();
      let out = 0;
      for (const e of events) {
        if (e.revision !== (next.get(e.streamName) ?? 0)) out++;
        next.set(e.streamName, Math.max(next.get(e.streamName) ?? 0, e.revision + 1));
      }
      return out;
    };

    it('a group waiting for one stream neither lets another append to a later stream commit below it nor holds readers back', async () => {
      // Another session holds the lock of stream "am" (an append in flight there).
      const holder = new Client({ connectionString: db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${p}am`]);
        // One group: a, am, b (name order puts am between them).
        const group = Promise.all([`${p}a`, `${p}am`, `${p}b`].map((s) => store.appendToStream(s, 'any', [ev('Group')])));
        await new Promise((r) => setTimeout(r, 300));
        // Meanwhile: an append to b, alone, and one to an unrelated stream.
        const single = store.appendToStream(`${p}b`, 'any', [ev('Single')]);
        await store.appendToStream(`${p}other`, 'any', [ev('Other')]);
        // A reader sees the unrelated event while the group still waits (the group holds no id yet).
        expect((await store.readAll({ streamPrefixes: [`${p}other`] })).map((e) => e.type)).toEqual(['Other']);
        await new Promise((r) => setTimeout(r, 200));
        await holder.query('COMMIT');
        await Promise.all([group, single]);
      } finally {
        await holder.end();
      }
      const all = await store.readAll({ streamPrefixes: [p] });
      expect(all).toHaveLength(5);
      expect(inStreamOrder(all)).toBe(0);
      expect((await store.readStream(`${p}b`)).map((e) => e.revision)).toEqual([0, 1]);
    });

    it('forty callers appending one event at a time to twenty streams for 2 s: a subscriber gets every event, each stream in revision order', async () => {
      const streams = Array.from({ length: 20 }, (_, i) => `${p}s${String(i).padStart(2, '0')}`);
      const got: { streamName: string; revision: number }[] = [];
      const sub = store.subscribeToAll({ streamPrefixes: [p] }, async (e) => void got.push(e));
      let appended = 0;
      const end = Date.now() + 2000;
      await Promise.all(
        Array.from({ length: 40 }, async (_, c) => {
          for (let i = 0; Date.now() < end; i++) {
            await store.appendToStream(streams[(c * 7 + i * 3) % streams.length], 'any', [ev('E')]);
            appended++;
            await new Promise((r) => setTimeout(r, i % 3));
          }
        }),
      );
      const deadline = Date.now() + 20_000;
      while (got.length < appended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await sub.stop();
      expect(appended).toBeGreaterThan(200);
      expect(got).toHaveLength(appended);
      expect(inStreamOrder(got)).toBe(0);
    }, 60_000);
  });
