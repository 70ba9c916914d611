import { randomUUID } from 'node:crypto';
import { EventToAppend, StreamName } from '@app/domain';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { migrateReadModels } from '@app/infra/read-models/secret-catalog';
import { PgliteClient } from '@app/infra/sql/pglite-client';
import { ProjectionRunner } from '@app/infra/projection/projection-runner';
import { accessHistoryProjection, projectGroupsProjection } from './compliance.projections';

// Membership over time (issue 20): ProjectGroupChanged projected into intervals, idempotently, and
// a rebuild from nothing gives the same rows; the access history keeps a group secret decision's
// job project and an inherited grant's group.
const meta = (at: string) => ({ correlationId: 'c', causationId: 'c', actor: { type: 'user' as const, id: 'root' }, occurredAt: at });
const moved = (projectId: string, groupId: string | null, previousGroupId: string | null, at: string): EventToAppend => ({
  eventId: randomUUID(),
  type: 'ProjectGroupChanged',
  schemaVersion: 1,
  data: { projectId, groupId, previousGroupId, changedBy: 'root', changedAt: at },
  metadata: meta(at),
});

describe('project-groups projection (PGlite)', () => {
  JsonLogger.setSink(() => undefined);
  let sql: PgliteClient;
  let store: PostgresEventStore;
  beforeAll(async () => {
    sql = await PgliteClient.open();
    store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
  }, 120_000);
  afterAll(() => sql?.close());

  it('projects intervals, applying an event twice changes nothing, a rebuild gives the same rows, and the queries answer the tree at T', async () => {
    const t = (d: number) => `2026-03-${String(d).padStart(2, '0')}T00:00:00.000Z`;
    await store.appendToStream(StreamName.projectGroup('pay-a'), 'no-stream', [moved('pay-a', 'acme/payments', null, t(1))]);
    await store.appendToStream(StreamName.projectGroup('pay_b'), 'no-stream', [moved('pay_b', 'acme/pay_ments/eu', null, t(2))]);
    await store.appendToStream(StreamName.projectGroup('beside'), 'no-stream', [moved('beside', 'acme/paymentsx', null, t(2))]);
    // A group whose `_` a naive LIKE would take for a wildcard: acme/payxments must not be "below" acme/pay_ments.
    await store.appendToStream(StreamName.projectGroup('trick'), 'no-stream', [moved('trick', 'acme/payxments/eu', null, t(2))]);
    await store.appendToStream(StreamName.projectGroup('pay-a'), 0, [moved('pay-a', null, 'acme/payments', t(10)), moved('pay-a', 'acme/payments/eu', null, t(15))]);

    const runner = () => new ProjectionRunner(store, sql, projectGroupsProjection, new JsonLogger('error'), new Metrics());
    await runner().catchUp();
    const dump = async () => (await sql.query('SELECT project_id, revision, group_id, valid_from, valid_to FROM rm_project_groups ORDER BY project_id, revision')).rows;
    const rows = await dump();
    expect(rows.filter((r) => r.project_id === 'pay-a').map((r) => [r.revision, r.group_id, new Date(r.valid_from as string).toISOString(), r.valid_to && new Date(r.valid_to as string).toISOString()])).toEqual([
      [0, 'acme/payments', t(1), t(10)],
      [1, null, t(10), t(15)],
      [2, 'acme/payments/eu', t(15), null],
    ]);

    // Every event applied again (a batch replayed after a crash): the same rows.
    const all = await store.readAll({ maxCount: 100 });
    await sql.transaction(async (tx) => {
      for (const e of all) await projectGroupsProjection.apply(tx, e);
    });
    expect(await dump()).toEqual(rows);

    // Rebuild from nothing: the same rows.
    await sql.query('TRUNCATE rm_project_groups');
    await sql.query("DELETE FROM projection_checkpoints WHERE projection = 'project-groups'");
    await runner().catchUp();
    expect(await dump()).toEqual(rows);

    const q = new ComplianceQueries(sql);
    expect(await q.projectGroupHistory('pay-a')).toEqual([
      { groupId: 'acme/payments', from: t(1) },
      { groupId: null, from: t(10) },
      { groupId: 'acme/payments/eu', from: t(15) },
    ]);
    expect(await q.projectGroupHistory('never-placed')).toEqual([]);
    expect(await q.projectsInOrBelowGroupAt('acme/payments', t(5))).toEqual([{ projectId: 'pay-a', groupId: 'acme/payments' }]);
    expect(await q.projectsInOrBelowGroupAt('acme/payments', t(12))).toEqual([]);
    expect(await q.projectsInOrBelowGroupAt('acme/payments', t(15))).toEqual([{ projectId: 'pay-a', groupId: 'acme/payments/eu' }]);
    expect(await q.projectsInOrBelowGroupAt('acme/pay_ments', t(5))).toEqual([{ projectId: 'pay_b', groupId: 'acme/pay_ments/eu' }]);
    expect((await q.projectsInOrBelowGroupAt('acme', t(5))).map((m) => m.projectId)).toEqual(['beside', 'pay-a', 'pay_b', 'trick']);
  }, 60_000);

  it("access history keeps a job's project of a group secret decision and the group an inherited grant came from", async () => {
    const at = '2026-03-01T00:00:00.000Z';
    const job = { type: 'ci-job', id: 'job-1', pipelineId: 'p1', jobId: 'j1', ref: 'main', refProtected: true, environment: 'production' };
    await store.appendToStream(StreamName.access('group:acme/payments', 'TOKEN'), 'any', [
      { eventId: randomUUID(), type: 'SecretAccessed', schemaVersion: 1, data: { projectId: 'group:acme/payments', name: 'TOKEN', version: 1, principal: job, via: { scope: 'ci-job-scope' }, purpose: null, jobProjectId: 'pay-a' }, metadata: meta(at) },
      { eventId: randomUUID(), type: 'SecretAccessed', schemaVersion: 1, data: { projectId: 'group:acme/payments', name: 'TOKEN', version: 1, principal: { type: 'user', id: 'dana' }, via: { grantId: 'g1', role: 'developer', inheritedFrom: { type: 'group', id: 'acme' } }, purpose: null }, metadata: meta(at) },
    ]);
    await new ProjectionRunner(store, sql, accessHistoryProjection, new JsonLogger('error'), new Metrics()).catchUp();
    const page = await new ComplianceQueries(sql).accessHistory({ projectId: 'group:acme/payments' }, 10);
    expect(page.items.map((i) => [i.principal.id, i.jobProjectId ?? null, i.via])).toEqual([
      ['dana', null, { grantId: 'g1', role: 'developer', inheritedFrom: { type: 'group', id: 'acme' } }],
      ['job-1', 'pay-a', { scope: 'ci-job-scope' }],
    ]);
  }, 60_000);
});
