import { RecordedEvent, SecretEvent, StreamCategory, toDomainEvent } from '@app/domain';
import { SqlExecutor } from '@app/infra/sql/sql-client';
import { Projection } from '@app/infra/projection/projection-runner';

/** Secret metadata for the list endpoint. Upserts keyed by (project, name) and guarded by revision, so replays change nothing. */
export const secretsProjection: Projection = {
  name: 'secrets',
  streamPrefixes: [`${StreamCategory.secret}-`],
  async apply(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
    const e = toDomainEvent<SecretEvent>(recorded);
    const at = String(recorded.metadata.occurredAt);
    switch (e.type) {
      case 'SecretCreated': {
        const d = e.data;
        await tx.query(
          `INSERT INTO rm_secrets (project_id, name, description, environment, branch, protected_only, version, revision, created_at, updated_at,
             rotation_interval_days, last_rotated_at, rotation_overdue_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $9, NULL)
           ON CONFLICT (project_id, name) DO UPDATE SET description = EXCLUDED.description, environment = EXCLUDED.environment,
             branch = EXCLUDED.branch, protected_only = EXCLUDED.protected_only, version = EXCLUDED.version,
             revision = EXCLUDED.revision, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
             rotation_interval_days = EXCLUDED.rotation_interval_days, last_rotated_at = EXCLUDED.last_rotated_at,
             rotation_overdue_version = NULL
           WHERE rm_secrets.revision < EXCLUDED.revision`,
          [d.projectId, d.name, d.description, d.scope.environment, d.scope.branch, d.scope.protectedOnly, d.version, recorded.revision, at, d.rotationIntervalDays ?? null],
        );
        return;
      }
      case 'SecretValueUpdated':
        // A new value version restarts the rotation interval.
        await tx.query('UPDATE rm_secrets SET version = $3, revision = $4, updated_at = $5, last_rotated_at = $5 WHERE project_id = $1 AND name = $2 AND revision < $4', [
          e.data.projectId, e.data.name, e.data.version, recorded.revision, at,
        ]);
        return;
      case 'SecretMetadataChanged': {
        const d = e.data;
        await tx.query(
          // rotationIntervalDays absent: the secret had no interval and still has none.
          `UPDATE rm_secrets SET description = $3, environment = $4, branch = $5, protected_only = $6, revision = $7, updated_at = $8,
             rotation_interval_days = CASE WHEN $9::boolean THEN $10::integer ELSE rotation_interval_days END
           WHERE project_id = $1 AND name = $2 AND revision < $7`,
          [d.projectId, d.name, d.description, d.scope.environment, d.scope.branch, d.scope.protectedOnly, recorded.revision, at, d.rotationIntervalDays !== undefined, d.rotationIntervalDays ?? null],
        );
        return;
      }
      case 'SecretRotationOverdue':
        // A fact about a version, not a change of the metadata: updated_at stays.
        await tx.query('UPDATE rm_secrets SET rotation_overdue_version = $3, revision = $4 WHERE project_id = $1 AND name = $2 AND revision < $4', [
          e.data.projectId, e.data.name, e.data.version, recorded.revision,
        ]);
        return;
      case 'SecretDeleted':
        await tx.query('DELETE FROM rm_secrets WHERE project_id = $1 AND name = $2 AND revision < $3', [e.data.projectId, e.data.name, recorded.revision]);
        return;
    }
  },
};
