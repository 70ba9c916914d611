import { randomUUID } from 'node:crypto';
import { PgliteClient } from '../libs/infra/src/sql/pglite-client';
import { PostgresEventStore } from '../libs/infra/src/event-store/postgres/postgres-event-store';
(async () => {
  const sql = await PgliteClient.open(process.argv[2]);
  const store = await PostgresEventStore.create(sql);
  const ev = () => ({ eventId: randomUUID(), type: 'T', schemaVersion: 1, data: { a: 1, b: 'x'.repeat(100) }, metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'user' as const, id: 'a' }, occurredAt: new Date().toISOString() } });
  const time = async (label: string, n: number, fn: (i: number) => Promise<unknown>) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn(i);
    console.log(label, ((performance.now() - t0) / n).toFixed(3), 'ms/op');
  };
  await time('raw insert', 500, () => sql.query('SELECT 1'));
  await time('append any (one stream)', 500, () => store.appendToStream('access-p', 'any', [ev()]));
  await time('append new streams', 500, (i) => store.appendToStream(`s-${i}`, 'no-stream', [ev()]));
  await time('readStream small', 500, (i) => store.readStream(`s-${i}`));
  await time('readStream from end', 500, () => store.readStream('access-p', { fromRevision: 500 }));
  await time('tx begin/commit empty', 500, () => sql.transaction(async () => undefined));
  await time('advisory lock in tx', 500, () => sql.transaction(async (tx) => tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['x'])));
  await time('notify in tx', 500, () => sql.transaction(async (tx) => tx.query('SELECT pg_notify($1, $2)', ['es_events_appended', 'x'])));
  await time('readAll 500', 20, () => store.readAll({ maxCount: 500 }));
  await sql.close();
})();
