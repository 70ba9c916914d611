import { SqlClient, SqlExecutor } from '../sql/sql-client';

// The secrets read model: metadata only (there is no column a value could go in). Written by
// the projector, read by the list endpoint.

export interface SecretMetadata {
  projectId: string;
  name: string;
  description: string | null;
  environment: string | null;
  branch: string | null;
  protectedOnly: boolean;
  version: number;
  revision: number;
  createdAt: string;
  updatedAt: string;
  /** Days a value version may live (null: no rotation interval). */
  rotationIntervalDays: number | null;
  /** When the current value version was written. */
  lastRotatedAt: string;
}

export interface SecretCatalog {
  list(projectId: string): Promise<SecretMetadata[]>;
}

export { migrateReadModels, READ_MODEL_MIGRATIONS } from './schema';

interface Row {
  project_id: string;
  name: string;
  description: string | null;
  environment: string | null;
  branch: string | null;
  protected_only: boolean;
  version: number;
  revision: number;
  created_at: Date | string;
  updated_at: Date | string;
  rotation_interval_days: number | null;
  last_rotated_at: Date | string | null;
}

const iso = (v: Date | string) => (v instanceof Date ? v.toISOString() : new Date(v).toISOString());

export class SqlSecretCatalog implements SecretCatalog {
  constructor(private readonly sql: SqlExecutor) {}

  async list(projectId: string): Promise<SecretMetadata[]> {
    const { rows } = await this.sql.query<Row>('SELECT * FROM rm_secrets WHERE project_id = $1 ORDER BY name LIMIT 10000', [projectId]);
    return rows.map((r) => ({
      projectId: r.project_id,
      name: r.name,
      description: r.description,
      environment: r.environment,
      branch: r.branch,
      protectedOnly: r.protected_only,
      version: r.version,
      revision: r.revision,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
      rotationIntervalDays: r.rotation_interval_days,
      lastRotatedAt: iso(r.last_rotated_at ?? r.updated_at),
    }));
  }
}
