import { randomUUID } from 'node:crypto';
import { Position, RecordedEvent, SubscriptionHandle } from '@app/domain';
import { PgClient } from '../../sql/pg-client';
import { PgliteClient } from '../../sql/pglite-client';
import { SqlClient } from '../../sql/sql-client';
import { countingStatements } from '../../../../../test/support/counting-sql';
import { until } from '../../../../../test/support/eventually';
import { PostgresEventStore } from './postgres-event-store';

/**
 * Live subscriptions of one store wait at the same position, so one append used to cost one scan
 * per subscription (issue 23: 2.5 scans per CI access with every app in one process). They now
 * share one statement; each still gets exactly its own streams' events, in order.
 */

const ev = (i: number) => ({
  eventId: randomUUID(),
  type: 'Tested',
  schemaVersion: 1,
  data: { i },
  metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'system' as const, id: 't' }, occurredAt: new Date().toISOString() },
});

function sharedScanSuite(label: string, open: () => Promise<SqlClient>) {
  describe(`PostgresEventStore shared subscription scans (${label})`, () => {
    let raw: SqlClient;
    beforeAll(async () => {
      raw = await open();
    });
    afterAll(async () => {
      await raw.close();
    });

    it('six live subscriptions cost about one scan per append, and each gets exactly its streams in order', async () => {
      const counting = countingStatements(raw, 'WITH scanned AS');
      const store = await PostgresEventStore.create(counting.sql);
      const run = randomUUID().slice(0, 8);
      const a = `sa${run}-`;
      const b = `sb${run}-`;
      const c = `sc${run}-`;
      const d = `sd${run}-`;
      // Start after a marker event: on a shared server other tests' events came before.
      const start: Position = (await store.appendToStream(`${a}start`, 'no-stream', [ev(-1)])).position;
      const specs: { prefixes?: string[] }[] = [{ prefixes: [a] }, { prefixes: [b] }, { prefixes: [c] }, { prefixes: [a, b] }, { prefixes: [d] }, {}];
      const got: string[][] = specs.map(() => []);
      const caught: boolean[] = specs.map(() => false);
      const handles: SubscriptionHandle[] = specs.map((spec, k) =>
        store.subscribeToAll({ after: start, streamPrefixes: spec.prefixes, onCaughtUp: () => (caught[k] = true) }, async (e: RecordedEvent) => {
          if (e.streamName.includes(run)) got[k].push(`${e.streamName}#${e.revision}`);
        }),
      );
      try {
        await until(() => caught.every(Boolean));
        await new Promise((r) => setTimeout(r, 100));
        counting.reset();
        const streams = [a, b, c, d].map((p) => `${p}x`);
        const appended: string[] = [];
        const APPENDS = 30;
        for (let i = 0; i < APPENDS; i++) {
          const s = streams[i % 4];
          const r = await store.appendToStream(s, 'any', [ev(i)]);
          appended.push(`${s}#${r.nextExpectedRevision}`);
          await new Promise((r) => setTimeout(r, 15)); // each append its own wake-up
        }
        const want = specs.map((spec) => appended.filter((x) => !spec.prefixes || spec.prefixes.some((p) => x.startsWith(p))));
        await until(() => got.every((g, k) => g.length >= want[k].length));
        await new Promise((r) => setTimeout(r, 100));
        expect(got).toEqual(want);
        // One scan per subscription per wake-up would be ~6 x 30 = 180.
        expect(counting.count()).toBeLessThan(APPENDS * 2.5);
      } finally {
        await Promise.all(handles.map((h) => h.stop()));
      }
    });

    it('appends every 2 ms wake the subscriptions at most every 20 ms (one shared scan each time); nothing is lost or reordered', async () => {
      const counting = countingStatements(raw, 'WITH scanned AS');
      const store = await PostgresEventStore.create(counting.sql);
      const run = randomUUID().slice(0, 8);
      const p = `sp${run}-`;
      const start: Position = (await store.appendToStream(`${p}start`, 'no-stream', [ev(-1)])).position;
      const got: number[][] = [[], [], []];
      const caught = [false, false, false];
      const handles = got.map((g, k) =>
        store.subscribeToAll({ after: start, streamPrefixes: k === 2 ? [p, `other${run}-`] : [p], onCaughtUp: () => (caught[k] = true) }, async (e) => void (e.streamName === `${p}x` && g.push(e.revision))),
      );
      try {
        await until(() => caught.every(Boolean));
        await new Promise((r) => setTimeout(r, 50));
        counting.reset();
        const t0 = Date.now();
        for (let i = 0; i < 60; i++) {
          await store.appendToStream(`${p}x`, 'any', [ev(i)]);
          await new Promise((r) => setTimeout(r, 2));
        }
        const appending = Date.now() - t0;
        await until(() => got.every((g) => g.length >= 60));
        await new Promise((r) => setTimeout(r, 50));
        for (const g of got) expect(g).toEqual(Array.from({ length: 60 }, (_, i) => i));
        // One wake-up per 20 ms at most (however slow the machine made the loop), a few more at the ends;
        // before: one per append per subscription (up to 180).
        expect(counting.count()).toBeLessThanOrEqual(Math.ceil(appending / 20) * 2 + 6);
      } finally {
        await Promise.all(handles.map((h) => h.stop()));
      }
    });

    it('review of issue 23: a subscription naming a prefix twice still gets only its own streams from a shared scan', async () => {
      const store = await PostgresEventStore.create(raw);
      const run = randomUUID().slice(0, 8);
      const a = `da${run}-`;
      const b = `db${run}-`;
      const start: Position = (await store.appendToStream(`${a}start`, 'no-stream', [ev(-1)])).position;
      const gotA: string[] = [];
      const gotB: string[] = [];
      const caught = [false, false];
      const hA = store.subscribeToAll({ after: start, streamPrefixes: [a, a], onCaughtUp: () => (caught[0] = true) }, async (e) => void gotA.push(e.streamName));
      const hB = store.subscribeToAll({ after: start, streamPrefixes: [b], onCaughtUp: () => (caught[1] = true) }, async (e) => void gotB.push(e.streamName));
      try {
        await until(() => caught.every(Boolean));
        for (let i = 0; i < 6; i++) await store.appendToStream(`${i % 2 ? a : b}x`, 'any', [ev(i)]);
        await until(() => gotA.length >= 3 && gotB.length >= 3);
        await new Promise((r) => setTimeout(r, 100));
        expect(gotA).toEqual([`${a}x`, `${a}x`, `${a}x`]);
        expect(gotB).toEqual([`${b}x`, `${b}x`, `${b}x`]);
      } finally {
        await Promise.all([hA.stop(), hB.stop()]);
      }
    });

    it('a subscription started later (catching up) and one live share nothing they should not: both complete and in order', async () => {
      const store = await PostgresEventStore.create(raw);
      const run = randomUUID().slice(0, 8);
      const p = `sl${run}-`;
      const start: Position = (await store.appendToStream(`${p}start`, 'no-stream', [ev(-1)])).position;
      const live: number[] = [];
      const late: number[] = [];
      let liveCaught = false;
      const h1 = store.subscribeToAll({ after: start, streamPrefixes: [p], onCaughtUp: () => (liveCaught = true) }, async (e) => void (e.streamName === `${p}old` && live.push(e.revision)));
      await until(() => liveCaught);
      for (let i = 0; i < 50; i++) await store.appendToStream(`${p}old`, 'any', [ev(i)]);
      const h2 = store.subscribeToAll({ after: start, streamPrefixes: [p] }, async (e) => void (e.streamName === `${p}old` && late.push(e.revision)));
      try {
        for (let i = 50; i < 60; i++) await store.appendToStream(`${p}old`, 'any', [ev(i)]);
        const all = Array.from({ length: 60 }, (_, i) => i);
        await until(() => live.length >= 60 && late.length >= 60);
        expect(live).toEqual(all);
        expect(late).toEqual(all);
      } finally {
        await Promise.all([h1.stop(), h2.stop()]);
      }
    });
  });
}

sharedScanSuite('PGlite', () => PgliteClient.open());
const DATABASE_URL = process.env.DATABASE_URL;
if (DATABASE_URL) sharedScanSuite('PostgreSQL', () => PgClient.connect(DATABASE_URL, 10));
