import { EventStore } from '@app/domain';
import { RenderOptions } from '@app/domain/openbao/policy-renderer';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { MEMBERSHIP_TABLE, migrateMemberships } from '@app/infra/openbao/membership';
import { PolicyTarget } from '@app/infra/openbao/policy-target';
import { PROJECTED_TABLES } from '@app/infra/read-models/schema';
import { SqlClient } from '@app/infra/sql/sql-client';
import { ProjectionRunner } from '@app/infra/projection/projection-runner';
import { PROJECTIONS } from './projections';

export interface RebuildResult {
  events: Record<string, number>;
  removed: number;
  written: number;
  ms: number;
}

/**
 * Drops everything the projector owns — every read-model row and checkpoint, every `ps-ci-*`
 * policy and role in the target — replays the whole store, and reconciles once. Run it with the
 * projector stopped: a live projector would keep writing while the tables are emptied.
 */
export async function rebuild(deps: { store: EventStore; sql: SqlClient; target: PolicyTarget; render: RenderOptions; logger: JsonLogger }): Promise<RebuildResult> {
  const started = Date.now();
  const metrics = new Metrics();
  await deps.target.prepare();
  let removed = 0;
  for (const name of await deps.target.listRoles()) {
    await deps.target.deleteRole(name);
    removed++;
  }
  for (const name of await deps.target.listPolicies()) {
    await deps.target.deletePolicy(name);
    removed++;
  }
  await migrateMemberships(deps.sql);
  await deps.sql.transaction(async (tx) => {
    await tx.query(`TRUNCATE ${[...PROJECTED_TABLES, MEMBERSHIP_TABLE].join(', ')}`);
    await tx.query('DELETE FROM projection_checkpoints WHERE projection = ANY($1::text[])', [PROJECTIONS.map((p) => p.name)]);
    // The replay dead-letters again whatever it still cannot apply.
    await tx.query('DELETE FROM projection_dead_letters WHERE projection = ANY($1::text[])', [PROJECTIONS.map((p) => p.name)]);
  });
  const events: Record<string, number> = {};
  for (const p of PROJECTIONS) events[p.name] = await new ProjectionRunner(deps.store, deps.sql, p, deps.logger, metrics).catchUp();
  const result = await new PolicyReconciler(deps.target, deps.sql, deps.render, deps.logger).reconcileOnce();
  return { events, removed, written: result.written.length, ms: Date.now() - started };
}
