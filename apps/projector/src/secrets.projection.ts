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
          `INSERT INTO rm_secrets (project_id, name, description, environment, branch, protected_only, version, revision, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
           ON CONFLICT (project_id, name) DO UPDATE SET description = EXCLUDED.description, environment = EXCLUDED.environment,
             branch = EXCLUDED.branch, protected_only = EXCLUDED.protected_only, version = EXCLUDED.version,
             revision = EXCLUDED.revision, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
           WHERE rm_secrets.revision < EXCLUDED.revision`,
          [d.projectId, d.name, d.description, d.scope.environment, d.scope.branch, d.scope.protectedOnly, d.version, recorded.revision, at],
        );
        return;
      }
      case 'SecretValueUpdated':
        await tx.query('UPDATE rm_secrets SET version = $3, revision = $4, updated_at = $5 WHERE project_id = $1 AND name = $2 AND revision < $4', [
          e.data.projectId, e.data.name, e.data.version, recorded.revision, at,
        ]);
        return;
      case 'SecretMetadataChanged': {
        const d = e.data;
        await tx.query(
          `UPDATE rm_secrets SET description = $3, environment = $4, branch = $5, protected_only = $6, revision = $7, updated_at = $8
           WHERE project_id = $1 AND name = $2 AND revision < $7`,
          [d.projectId, d.name, d.description, d.scope.environment, d.scope.branch, d.scope.protectedOnly, recorded.revision, at],
        );
        return;
      }
      case 'SecretDeleted':
        await tx.query('DELETE FROM rm_secrets WHERE project_id = $1 AND name = $2 AND revision < $3', [e.data.projectId, e.data.name, recorded.revision]);
        return;
    }
  },
};
