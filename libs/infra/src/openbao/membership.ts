import { ProjectGroupEvent, RecordedEvent, StreamCategory, toDomainEvent } from '@app/domain';
import { Membership } from '@app/domain/openbao/policy-renderer';
import { Projection } from '../projection/projection-runner';
import { Migration, runMigrations } from '../sql/migrations';
import { SqlClient, SqlExecutor } from '../sql/sql-client';

// Which group each project is in now: the one input besides the secrets that the OpenBao renderer
// needs (a group secret is in the policies of every project whose jobs read the group). A fold of
// the `projectgroup-<project>` streams into one row per project, owned by the projector and
// rebuilt by `cli rebuild` like every read model. Kept apart from the compliance read models
// (which keep membership intervals over time): this is only "now", for rendering.

export const MEMBERSHIP_TABLE = 'rm_openbao_memberships';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'the group each project is in now (null: none), for the OpenBao renderer',
    sql: `CREATE TABLE IF NOT EXISTS ${MEMBERSHIP_TABLE} (
      project_id text PRIMARY KEY,
      group_id   text,
      revision   integer NOT NULL
    )`,
  },
];

export function migrateMemberships(sql: SqlClient): Promise<void> {
  return runMigrations(sql, 'openbao-memberships', MIGRATIONS);
}

/** ProjectGroupChanged → the project's row (guarded by the stream revision, so a replay changes nothing). */
export const membershipProjection: Projection = {
  name: 'openbao-memberships',
  streamPrefixes: [`${StreamCategory.projectGroup}-`],
  async apply(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
    const e = toDomainEvent<ProjectGroupEvent>(recorded);
    if (e.type !== 'ProjectGroupChanged') return;
    await tx.query(
      `INSERT INTO ${MEMBERSHIP_TABLE} (project_id, group_id, revision) VALUES ($1, $2, $3)
       ON CONFLICT (project_id) DO UPDATE SET group_id = EXCLUDED.group_id, revision = EXCLUDED.revision
       WHERE ${MEMBERSHIP_TABLE}.revision < EXCLUDED.revision`,
      [e.data.projectId, e.data.groupId, recorded.revision],
    );
  },
};

/** Every project in a group now → its group. */
export async function loadMembership(sql: SqlExecutor): Promise<Membership> {
  const { rows } = await sql.query<{ project_id: string; group_id: string }>(`SELECT project_id, group_id FROM ${MEMBERSHIP_TABLE} WHERE group_id IS NOT NULL ORDER BY project_id`);
  return new Map(rows.map((r) => [r.project_id, r.group_id]));
}
