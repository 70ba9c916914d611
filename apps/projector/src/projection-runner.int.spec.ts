import { randomUUID } from 'node:crypto';
import { EventToAppend, RecordedEvent, StreamName } from '@app/domain';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { checkpoints } from '@app/infra/read-models/checkpoints';
import { migrateReadModels } from '@app/infra/read-models/secret-catalog';
import { PgliteClient } from '@app/infra/sql/pglite-client';
import { SqlExecutor } from '@app/infra/sql/sql-client';
import { Projection, ProjectionRunner } from '@app/infra/projection/projection-runner';
import { secretsProjection } from './secrets.projection';

const meta = { correlationId: 'c', causationId: 'c', actor: { type: 'user' as const, id: 'alice' }, occurredAt: '2026-01-01T00:00:00.000Z' };
const ev = (type: string, data: Record<string, unknown>): EventToAppend => ({ eventId: randomUUID(), type, schemaVersion: 1, data, metadata: meta });
const scope = { environment: null, branch: null, protectedOnly: false };

async function until(cond: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
}

describe('ProjectionRunner (PGlite)', () => {
  JsonLogger.setSink(() => undefined);

  it('builds the secrets read model, resubscribes from its checkpoint after a failed event, and a rebuild gives the same rows', async () => {
    const sql = await PgliteClient.open();
    const store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
    for (let i = 0; i < 5; i++) {
      const s = StreamName.secret('p', `S${i}`);
      await store.appendToStream(s, 'no-stream', [ev('SecretCreated', { projectId: 'p', name: `S${i}`, description: null, scope, version: 1, valueRef: `r${i}`, createdBy: 'alice' })]);
      await store.appendToStream(s, 0, [ev('SecretValueUpdated', { projectId: 'p', name: `S${i}`, version: 2, valueRef: `r${i}b`, updatedBy: 'alice' })]);
    }
    await store.appendToStream(StreamName.secret('p', 'S0'), 1, [ev('SecretDeleted', { projectId: 'p', name: 'S0', lastVersion: 2, deletedBy: 'alice' })]);

    // A projection that fails on the 7th event, once: its transaction must leave no trace.
    let seen = 0;
    let failed = false;
    const flaky: Projection = {
      ...secretsProjection,
      name: 'flaky-secrets',
      async apply(tx: SqlExecutor, e: RecordedEvent) {
        await secretsProjection.apply(tx, e);
        if (++seen === 7 && !failed) {
          failed = true;
          throw new Error('crash in the middle');
        }
      },
    };
    const runner = new ProjectionRunner(store, sql, flaky, new JsonLogger('error'), new Metrics());
    await runner.start();
    await until(async () => (await checkpoints.load(sql, 'flaky-secrets'))?.prepare === (await store.readAll({ maxCount: 100 })).at(-1)?.position.prepare);
    await runner.stop();
    expect(failed).toBe(true);
    const rows = (await sql.query<{ name: string; version: number; revision: number }>('SELECT name, version, revision FROM rm_secrets ORDER BY name')).rows;
    expect(rows).toEqual([
      { name: 'S1', version: 2, revision: 1 },
      { name: 'S2', version: 2, revision: 1 },
      { name: 'S3', version: 2, revision: 1 },
      { name: 'S4', version: 2, revision: 1 },
    ]);

    // Rebuild from nothing: the same rows.
    await sql.query('DELETE FROM rm_secrets');
    await sql.query("DELETE FROM projection_checkpoints WHERE projection = 'flaky-secrets'");
    const again = new ProjectionRunner(store, sql, { ...secretsProjection, name: 'flaky-secrets' }, new JsonLogger('error'), new Metrics());
    await again.start();
    await until(async () => (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM rm_secrets')).rows[0].n === 4 && again.isCaughtUp);
    await again.stop();
    expect((await sql.query('SELECT name, version, revision FROM rm_secrets ORDER BY name')).rows).toEqual(rows);
    await sql.close();
  });
});
