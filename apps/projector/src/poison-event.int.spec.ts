import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventToAppend, StreamName } from '@app/domain';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { FilePolicyTarget } from '@app/infra/openbao/policy-target';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { ProjectionRunner } from '@app/infra/projection/projection-runner';
import { checkpoints } from '@app/infra/read-models/checkpoints';
import { migrateReadModels } from '@app/infra/read-models/secret-catalog';
import { PgliteClient } from '@app/infra/sql/pglite-client';
import { SqlClient } from '@app/infra/sql/sql-client';
import { until } from '../../../test/support/eventually';
import { accessHistoryProjection } from './compliance.projections';
import { projectionsWithReconciler, PROJECTIONS } from './projections';
import { rebuild } from './rebuild';

const meta = { correlationId: 'c', causationId: 'c', actor: { type: 'user' as const, id: 'alice' }, occurredAt: '2026-01-01T00:00:00.000Z' };
const ev = (type: string, data: Record<string, unknown>): EventToAppend => ({ eventId: randomUUID(), type, schemaVersion: 1, data, metadata: meta });
const scope = { environment: null, branch: null, protectedOnly: false };
const created = (name: string, extra: Record<string, unknown> = {}) =>
  ev('SecretCreated', { projectId: 'p', name, description: null, scope, version: 1, valueRef: `ref-${name}`, createdBy: 'alice', ...extra });

// A poison event is written straight into the store (no decider, no upcaster can repair it): a
// version that is not a number fails the INSERT with SQLSTATE 22P02 in the secrets and
// secret-history projections. Before the fix both projections retried it forever and every
// later secret stayed unprojected (and OpenBao unreconciled).
describe('a poison event (PGlite)', () => {
  JsonLogger.setSink(() => undefined);
  let sql: SqlClient;
  let dir: string;
  beforeEach(async () => {
    sql = await PgliteClient.open();
    dir = mkdtempSync(join(tmpdir(), 'ps-poison-'));
  });
  afterEach(async () => {
    await sql.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is dead-lettered and skipped: every projection and the policy reconciliation stay current, the metric rises, rebuild completes', async () => {
    const store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
    const poison = created('BAD', { version: 'not-a-number' });
    await store.appendToStream(StreamName.project('p'), 'any', [
      ev('RoleGranted', { projectId: 'p', grantId: 'g1', principal: { type: 'user', id: 'alice' }, role: 'owner', environment: null, branch: null, expiresAt: null, grantedBy: 'root', grantedAt: meta.occurredAt }),
    ]);
    await store.appendToStream(StreamName.secret('p', 'A'), 'no-stream', [created('A')]);
    await store.appendToStream(StreamName.secret('p', 'BAD'), 'no-stream', [poison]);
    await store.appendToStream(StreamName.secret('p', 'C'), 'no-stream', [created('C')]);

    const metrics = new Metrics();
    const target = new FilePolicyTarget(join(dir, 'policies'));
    const render = { kvMount: 'secret', kvPrefix: 'ps', audience: 'aud', tokenTtlSeconds: 300 };
    const reconciler = new PolicyReconciler(target, sql, render, new JsonLogger('error'), metrics);
    const runners = projectionsWithReconciler(reconciler).map((p) => new ProjectionRunner(store, sql, p, new JsonLogger('error'), metrics));
    for (const r of runners) await r.start();
    const last = (await store.readAll({ maxCount: 100 })).at(-1)!.position;
    try {
      await until(async () => {
        for (const p of PROJECTIONS) {
          const c = await checkpoints.load(sql, p.name);
          if (!c || c.commit < last.commit || (c.commit === last.commit && c.prepare < last.prepare)) return false;
        }
        return true;
      });
      // A secret created after the poison event is projected too.
      await store.appendToStream(StreamName.secret('p', 'D'), 'no-stream', [created('D')]);
      await until(async () => (await sql.query('SELECT 1 FROM rm_secrets WHERE name = $1', ['D'])).rows.length === 1);
      await reconciler.idle();
    } finally {
      for (const r of runners) await r.stop();
      reconciler.stop();
    }
    expect((await sql.query<{ name: string }>('SELECT name FROM rm_secrets ORDER BY name')).rows.map((r) => r.name)).toEqual(['A', 'C', 'D']);
    const letters = (await sql.query<{ projection: string; event_id: string; event_type: string; error: string }>('SELECT projection, event_id, event_type, error FROM projection_dead_letters ORDER BY projection')).rows;
    expect(letters.map((l) => [l.projection, l.event_id, l.event_type])).toEqual([
      ['secret-history', poison.eventId, 'SecretCreated'],
      ['secrets', poison.eventId, 'SecretCreated'],
    ]);
    // No payload value in the dead letter (the bad value itself is not copied).
    expect(JSON.stringify(letters)).not.toContain('ref-BAD');
    for (const r of runners) expect(r.health().ok).toBe(false); // stopped
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/projection_poison_events_total\{projection="secrets"\} 1/);
    expect(text).toMatch(/projection_poison_events_total\{projection="secret-history"\} 1/);
    // The reconciler rendered the policies of the healthy secrets.
    expect((await target.listPolicies()).length).toBeGreaterThan(0);

    // cli rebuild replays the poison event and completes.
    const result = await rebuild({ store, sql, target, render, logger: new JsonLogger('error') });
    expect(result.events.secrets).toBe(3); // A, C, D applied; BAD dead-lettered again
    expect((await sql.query<{ name: string }>('SELECT name FROM rm_secrets ORDER BY name')).rows.map((r) => r.name)).toEqual(['A', 'C', 'D']);
    expect((await sql.query('SELECT 1 FROM projection_dead_letters')).rows.length).toBe(2);
  });

  it('access history: a batch is one statement with its checkpoint (no transaction); a decision that cannot be written is dead-lettered, its neighbours are written', async () => {
    const store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
    const job = { type: 'ci-job', id: 'job-1', pipelineId: 'p1', jobId: 'j1', ref: 'main', refProtected: true, environment: 'production' };
    const accessed = (version: unknown) => ev('SecretAccessed', { projectId: 'p', name: 'A', version, principal: job, via: { scope: 'ci-job-scope' }, purpose: null });
    // Counts the transactions the runner opens (the one-statement way opens none).
    let transactions = 0;
    const counting = Object.create(sql) as SqlClient;
    counting.transaction = (fn) => {
      transactions++;
      return sql.transaction(fn);
    };
    const runner = () => new ProjectionRunner(store, counting, accessHistoryProjection, new JsonLogger('error'), new Metrics());
    await store.appendToStream(StreamName.access('p', 'A'), 'any', [accessed(1), accessed(2), accessed(3)]);
    expect(await runner().catchUp()).toBe(3);
    expect(transactions).toBe(0);
    const rows = async () => (await sql.query<{ version: number }>('SELECT version FROM rm_access_history ORDER BY pos_commit, pos_prepare')).rows.map((r) => r.version);
    expect(await rows()).toEqual([1, 2, 3]);
    expect(await checkpoints.load(sql, 'access-history')).toEqual((await store.readAll({ maxCount: 100 })).at(-1)!.position);

    // A version that is no integer: the batch's statement fails (22P02), nothing of it is written,
    // then each event alone: the bad one dead-lettered, the others written, the checkpoint past all.
    const bad = accessed('not-a-number');
    await store.appendToStream(StreamName.access('p', 'A'), 'any', [accessed(4), bad, accessed(6)]);
    expect(await runner().catchUp()).toBe(2);
    expect(transactions).toBeGreaterThan(0);
    expect(await rows()).toEqual([1, 2, 3, 4, 6]);
    expect((await sql.query<{ event_id: string }>(`SELECT event_id FROM projection_dead_letters WHERE projection = 'access-history'`)).rows.map((r) => r.event_id)).toEqual([bad.eventId]);
    expect(await checkpoints.load(sql, 'access-history')).toEqual((await store.readAll({ maxCount: 100 })).at(-1)!.position);
  });

  it('a projection whose checkpoint cannot be loaded (database down) keeps retrying, reports unready and a growing lag, and recovers by itself', async () => {
    const store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
    await store.appendToStream(StreamName.secret('p', 'A'), 'no-stream', [created('A')]);
    let down = true;
    const flaky: SqlClient = {
      dialect: sql.dialect,
      query: (q, p) => (down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })) : sql.query(q, p)),
      transaction: (fn) => (down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })) : sql.transaction(fn)),
      listen: (c, h) => sql.listen(c, h),
      close: async () => undefined,
    };
    const metrics = new Metrics();
    const runner = new ProjectionRunner(store, flaky, PROJECTIONS[0], new JsonLogger('error'), metrics);
    await runner.start(); // must not throw, must not give up
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(runner.health().ok).toBe(false);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/projection_stuck\{projection="secrets"\} 1/);
      const lag = Number(/projection_lag_seconds\{projection="secrets"\} ([0-9.]+)/.exec(text)?.[1]);
      expect(lag).toBeGreaterThan(1);
      // Down long enough that an uncapped doubling (250 ms, 500 ms, ... 4 s, 8 s) would next retry ~8 s
      // after the outage ends (attempts at 7.75 s then 15.75 s), where the 2 s cap retries within 2 s:
      // a 5 s bound tells them apart with room for a loaded machine (it was 2.5 s and flaked at 2.6 s).
      await new Promise((r) => setTimeout(r, 6500));
      down = false;
      const back = Date.now();
      await until(async () => (await sql.query('SELECT 1 FROM rm_secrets WHERE name = $1', ['A'])).rows.length === 1 && runner.health().ok, 10_000);
      expect(Date.now() - back).toBeLessThan(5000); // backoff capped at 2 s
      expect(await metrics.registry.metrics()).toMatch(/projection_stuck\{projection="secrets"\} 0/);
    } finally {
      await runner.stop();
    }
  }, 30_000);
});
