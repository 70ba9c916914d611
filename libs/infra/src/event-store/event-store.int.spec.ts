import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from './postgres/postgres-event-store';
import { EsdbEventStore } from './eventstoredb/esdb-event-store';
import { describeEventStoreContract } from './event-store.contract';
import { PgClient } from '../sql/pg-client';
import { PgliteClient } from '../sql/pglite-client';

describeEventStoreContract('PGlite (embedded profile)', {
  async create() {
    const sql = await PgliteClient.open();
    const store = await PostgresEventStore.create(sql);
    return { store, close: () => sql.close(), slowCommits: (d) => PostgresEventStore.create(sql, { beforeCommit: () => new Promise((r) => setTimeout(r, d())) }) };
  },
});

const DATABASE_URL = process.env.DATABASE_URL;
if (DATABASE_URL) {
  describeEventStoreContract('PostgreSQL (real server, DATABASE_URL)', {
    async create() {
      const sql = await PgClient.connect(DATABASE_URL, 30);
      const store = await PostgresEventStore.create(sql);
      return { store, close: () => sql.close(), slowCommits: (d) => PostgresEventStore.create(sql, { beforeCommit: () => new Promise((r) => setTimeout(r, d())) }) };
    },
  });
} else {
  console.warn('SKIPPED event-store contract on PostgreSQL: DATABASE_URL not set (scripts/test-all sets it)');
  describe.skip('EventStore contract: PostgreSQL — SKIPPED, DATABASE_URL not set', () => it('needs DATABASE_URL', () => undefined));
}

const EVENTSTORE_URL = process.env.EVENTSTORE_URL;
if (EVENTSTORE_URL) {
  describeEventStoreContract('EventStoreDB (EVENTSTORE_URL)', {
    async create() {
      const store = await EsdbEventStore.connect(EVENTSTORE_URL);
      return { store, close: () => store.close() };
    },
  });
} else {
  console.warn('SKIPPED event-store contract on EventStoreDB: EVENTSTORE_URL not set (no EventStoreDB can be installed on this machine; docker-compose.yml provides one)');
  describe.skip('EventStore contract: EventStoreDB — SKIPPED, EVENTSTORE_URL not set (not installable here; use docker-compose)', () =>
    it('needs EVENTSTORE_URL', () => undefined));
}

// Adapter-specific regression: the global order is the xid8 column compared as a number. Once
// selected as text it sorts "10" before "9"; a real server crosses such boundaries all the time.
describe('PostgresEventStore (PGlite) orders transaction ids numerically', () => {
  it('reads txid 9 before txid 10', async () => {
    const sql = await PgliteClient.open();
    try {
      const store = await PostgresEventStore.create(sql);
      const insert = `INSERT INTO es_events (txid, stream_name, revision, event_id, type, schema_version, data, metadata)
        VALUES ($1::text::xid8, $2, 0, gen_random_uuid(), 'T', 1, '{}', '{"correlationId":"c","causationId":"c","actor":{"type":"system","id":"t"},"occurredAt":"2026-01-01T00:00:00Z"}')`;
      await sql.query(insert, ['10', 'order-b']);
      await sql.query(insert, ['9', 'order-a']);
      const all = (await store.readAll({ maxCount: 100 })).filter((e) => e.streamName.startsWith('order-'));
      expect(all.map((e) => e.streamName)).toEqual(['order-a', 'order-b']);
    } finally {
      await sql.close();
    }
  });
});

// Reads of several stream tails asked for together go out as one statement: each caller still
// gets exactly its stream from its revision, and a read asked for after a commit sees it.
describe('PostgresEventStore (PGlite) combines concurrent stream reads', () => {
  const meta = { correlationId: 'c', causationId: 'c', actor: { type: 'system' as const, id: 't' }, occurredAt: '2026-01-01T00:00:00.000Z' };
  const e = (n: number) => ({ eventId: randomUUID(), type: 'T', schemaVersion: 1, data: { n }, metadata: meta });
  it('answers each read with its own stream and revisions, in one round trip, and sees the latest commit', async () => {
    const sql = await PgliteClient.open();
    try {
      const store = await PostgresEventStore.create(sql);
      await store.appendToStream('batch-a', 'no-stream', [e(0), e(1), e(2)]);
      await store.appendToStream('batch-b', 'no-stream', [e(10)]);
      let statements = 0;
      const query = sql.query.bind(sql);
      sql.query = ((text: string, params?: unknown[]) => {
        if (/es_events/.test(text)) statements++;
        return query(text, params);
      }) as typeof sql.query;
      const [a, aFrom2, b, missing, aAgain] = await Promise.all([
        store.readStream('batch-a'),
        store.readStream('batch-a', { fromRevision: 2 }),
        store.readStream('batch-b'),
        store.readStream('batch-none'),
        store.readStream('batch-a', { fromRevision: 3 }),
      ]);
      expect(statements).toBe(1);
      expect(a.map((x) => [x.streamName, x.revision, x.data.n])).toEqual([['batch-a', 0, 0], ['batch-a', 1, 1], ['batch-a', 2, 2]]);
      expect(aFrom2.map((x) => x.revision)).toEqual([2]);
      expect(b.map((x) => [x.streamName, x.data.n])).toEqual([['batch-b', 10]]);
      expect(missing).toEqual([]);
      expect(aAgain).toEqual([]);
      // A read asked for after an append returns it (no cached head answers for the store).
      await store.appendToStream('batch-a', 2, [e(3)]);
      const [after] = await Promise.all([store.readStream('batch-a', { fromRevision: 3 }), store.readStream('batch-b', { fromRevision: 1 })]);
      expect(after.map((x) => x.data.n)).toEqual([3]);
      // A failing statement fails every read it carried, and the next reads work again.
      const real = sql.query;
      sql.query = (() => Promise.reject(new Error('boom'))) as typeof sql.query;
      const failed = await Promise.allSettled([store.readStream('batch-a'), store.readStream('batch-b')]);
      expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
      sql.query = real;
      expect((await Promise.all([store.readStream('batch-a'), store.readStream('batch-b')])).map((x) => x.length)).toEqual([4, 1]);
    } finally {
      await sql.close();
    }
  });
});

// A catch-up reads the next page while the current one is handled: every event still arrives
// once and in order, across many full pages, with appends landing during the catch-up.
describe('PostgresEventStore (PGlite) reads ahead while catching up', () => {
  const meta = { correlationId: 'c', causationId: 'c', actor: { type: 'system' as const, id: 't' }, occurredAt: '2026-01-01T00:00:00.000Z' };
  const e = (n: number) => ({ eventId: randomUUID(), type: 'T', schemaVersion: 1, data: { n }, metadata: meta });
  it('delivers every event of its streams exactly once, in order, over several full pages', async () => {
    const sql = await PgliteClient.open();
    try {
      const store = await PostgresEventStore.create(sql);
      // 9,000 events: 3 of every 4 in other streams, so pages are full and mostly skipped.
      let n = 0;
      for (let chunk = 0; chunk < 30; chunk++) {
        await store.appendToStream(`ahead-other-${chunk}`, 'any', Array.from({ length: 225 }, () => e(-1)));
        await store.appendToStream('ahead-mine', 'any', Array.from({ length: 75 }, () => e(n++)));
      }
      const got: number[] = [];
      let late = 0;
      const sub = store.subscribeToAll({ streamPrefixes: ['ahead-mine'] }, async (ev) => {
        got.push(Number(ev.data.n));
        // appends while the catch-up is under way (pages already read ahead must not hide them)
        if (got.length % 500 === 0 && late < 4) await store.appendToStream('ahead-mine', 'any', [e(n++)]).then(() => late++);
      });
      const deadline = Date.now() + 60_000;
      while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200));
      await sub.stop();
      expect(late).toBe(4);
      expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    } finally {
      await sql.close();
    }
  }, 120_000);
});
