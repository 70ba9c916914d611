import { randomUUID } from 'node:crypto';
import { EventToAppend } from '@app/domain';
import { scratchDatabase } from '../../../../../test/support/scratch-database';
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

    it('two bursts in flight together over the same streams in opposite orders both commit grouped (streams locked in name order: no deadlock, no fallback)', async () => {
      const names = Array.from({ length: 8 }, (_, i) => `${p}x${i}`);
      const one = Promise.all(names.map((n) => store.appendToStream(n, 'any', [ev('One')])));
      await new Promise((r) => setImmediate(r));
      const two = Promise.all([...names].reverse().map((n) => store.appendToStream(n, 'any', [ev('Two')])));
      await Promise.all([one, two]);
      expect(c.count()).toBe(2);
      // Which statement reaches PostgreSQL first is a race (two pool connections), but each holds
      // its streams' locks to its commit and both lock in name order: every stream shows the two
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
  suite('PostgreSQL', async () => {
    const db = await scratchDatabase(url, 'grouped_append');
    const sql = await PgClient.connect(db.url);
    return {
      sql,
      close: async () => {
        await sql.close();
        await db.drop();
      },
    };
  });
else console.warn('grouped-append: PostgreSQL case SKIPPED (TEST_DATABASE_URL or DATABASE_URL not set)');
