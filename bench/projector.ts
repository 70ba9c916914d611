/* Projector benchmark on PostgreSQL (scripts/stack): replay throughput and live lag.
 *
 *   eval "$(scripts/stack env)" && npm run bench:projector
 *
 * In a scratch database it seeds BENCH_EVENTS (default 50,000) events, mostly access decisions,
 * then measures, in the same run:
 *   - raw: reading every event page by page and inserting one plain row per event into an
 *     unindexed table with one multi-row INSERT per page (the floor cost of "read the store,
 *     write a row"), in events/s;
 *   - replay: every projection from nothing to the end of the store, as `cli rebuild` does
 *     (per-projection checkpoints, indexes, one transaction per page), in events/s;
 *   - lag: live subscriptions while a writer appends BENCH_RATE (default 1,000) events/s for
 *     BENCH_SECONDS (default 10): for each event, commit time of its read-model row minus the
 *     time its append was acknowledged; p50/p99/max.
 */
import { randomUUID } from 'node:crypto';
import { CURRENT_SCHEMA_VERSION, EventToAppend, RecordedEvent, StreamName } from '@app/domain';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { migrateReadModels } from '@app/infra/read-models/schema';
import { PgClient } from '@app/infra/sql/pg-client';
import { Projection, ProjectionRunner } from '@app/infra/projection/projection-runner';
import { PROJECTIONS } from '../apps/projector/src/projections';
import { scratchDatabase } from '../test/support/scratch-database';
import { seedHistory } from '../test/support/seed-events';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

async function main() {
  if (!url) throw new Error('set DATABASE_URL or TEST_DATABASE_URL (eval "$(scripts/stack env)")');
  JsonLogger.setSink(() => undefined);
  const db = await scratchDatabase(url, 'bench_projector');
  const sql = await PgClient.connect(db.url);
  try {
    const store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
    let t = Date.now();
    await seedHistory(store, 'bench', EVENTS);
    console.log(`seeded ${EVENTS} events in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // Raw: read every page, one plain INSERT of the page's rows.
    await sql.query('CREATE UNLOGGED TABLE IF NOT EXISTS raw_rows (event_id text, type text, stream text, at timestamptz)');
    await sql.query('ALTER TABLE raw_rows SET LOGGED');
    t = performance.now();
    let after: RecordedEvent['position'] | undefined;
    let rawCount = 0;
    for (;;) {
      const page = await store.readAll({ after, maxCount: 2000 });
      if (page.length === 0) break;
      after = page[page.length - 1].position;
      await sql.transaction((tx) =>
        tx.query('INSERT INTO raw_rows SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])', [
          page.map((e) => e.eventId),
          page.map((e) => e.type),
          page.map((e) => e.streamName),
          page.map((e) => e.recordedAt),
        ]),
      );
      rawCount += page.length;
    }
    const rawRate = rawCount / ((performance.now() - t) / 1000);

    // Replay: every projection from nothing, as `cli rebuild` does.
    const metrics = new Metrics();
    const logger = new JsonLogger('error');
    t = performance.now();
    const perProjection: Record<string, string> = {};
    for (const p of PROJECTIONS) {
      const t1 = performance.now();
      const n = await new ProjectionRunner(store, sql, p, logger, metrics).catchUp();
      perProjection[p.name] = `${n} ev in ${((performance.now() - t1) / 1000).toFixed(2)} s`;
    }
    const replaySeconds = (performance.now() - t) / 1000;
    const replayRate = EVENTS / replaySeconds;

    // Lag under a steady write rate, live subscriptions.
    const acked = new Map<string, number>();
    const committed = new Map<string, number>();
    const history = PROJECTIONS.find((p) => p.name === 'access-history')!;
    let pending: RecordedEvent[] = [];
    const timed: Projection = {
      ...history,
      async applyBatch(tx, events) {
        pending = events;
        await history.applyBatch!(tx, events);
      },
      afterCommit() {
        const now = performance.now();
        for (const e of pending) committed.set(e.eventId, now);
      },
    };
    const runners = [
      new ProjectionRunner(store, sql, timed, logger, metrics),
      ...PROJECTIONS.filter((p) => p !== history).map((p) => new ProjectionRunner(store, sql, p, logger, metrics)),
    ];
    for (const r of runners) await r.start();
    const perTick = Math.max(1, Math.round(RATE / 100));
    const startAt = Date.now();
    const end = startAt + SECONDS * 1000;
    let sent = 0;
    let tick = 0;
    const inFlight = new Set<Promise<void>>();
    const principal = { type: 'user', id: 'lag-user' };
    while (Date.now() < end) {
      const batch: EventToAppend[] = Array.from({ length: perTick }, () => ({
        eventId: randomUUID(),
        type: 'SecretAccessed',
        schemaVersion: CURRENT_SCHEMA_VERSION.SecretAccessed,
        data: { projectId: 'bench', name: 'SECRET_1', version: 1, principal, via: { grantId: 'g', role: 'developer' }, purpose: null },
        metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'user', id: 'lag-user' }, occurredAt: new Date().toISOString() },
      }));
      // One append per event, as the command-api makes them; not awaited here, so a slow append
      // does not lower the offered rate.
      for (const e of batch) {
        inFlight.add(
          store.appendToStream(StreamName.access('bench', 'SECRET_1'), 'any', [e]).then(() => {
            acked.set(e.eventId, performance.now());
          }),
        );
      }
      sent += batch.length;
      // Paced on the wall clock (tick k starts at k × 10 ms), so slow appends do not lower the offered rate.
      const wait = startAt + ++tick * 10 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inFlight);
    const drainUntil = Date.now() + 10_000;
    while (committed.size < sent && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));
    for (const r of runners) await r.stop();
    // An event can be projected before its append's promise resolved here: that counts as 0 lag, not negative.
    const positive = [...acked].map(([id, a]) => Math.max(0, (committed.get(id) ?? Infinity) - a));

    console.log('');
    console.log('| measure | figure |');
    console.log('| --- | --- |');
    console.log(`| raw read + multi-row INSERT (baseline) | ${Math.round(rawRate).toLocaleString('en')} ev/s |`);
    console.log(`| replay, all ${PROJECTIONS.length} projections | ${Math.round(replayRate).toLocaleString('en')} ev/s (${replaySeconds.toFixed(2)} s for ${EVENTS.toLocaleString('en')}; ${(replayRate / rawRate).toFixed(2)}× raw) |`);
    for (const [k, v] of Object.entries(perProjection)) console.log(`| · ${k} | ${v} |`);
    console.log(`| live rate offered / achieved | ${RATE} / ${Math.round(sent / SECONDS)} ev/s for ${SECONDS} s |`);
    console.log(`| lag p50 / p99 / max | ${pct(positive, 50).toFixed(1)} / ${pct(positive, 99).toFixed(1)} / ${Math.max(...positive).toFixed(1)} ms (${committed.size} of ${sent} events projected) |`);
  } finally {
    await sql.close();
    await db.drop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
