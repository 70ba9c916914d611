import { SqlClient } from '../sql/sql-client';
import { Migration, runMigrations } from '../sql/migrations';

// Read models: what the projector writes and the query endpoints read. Metadata only: no table
// has a column a secret value could go in. Every table here is dropped and rebuilt by
// `cli rebuild`, so each must be a pure function of the event store.

export const READ_MODEL_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'projection checkpoints and secrets read model',
    sql: `CREATE TABLE IF NOT EXISTS projection_checkpoints (
      projection text PRIMARY KEY,
      position   text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS rm_secrets (
      project_id     text NOT NULL,
      name           text NOT NULL,
      description    text,
      environment    text,
      branch         text,
      protected_only boolean NOT NULL,
      version        integer NOT NULL,
      revision       integer NOT NULL,
      created_at     timestamptz NOT NULL,
      updated_at     timestamptz NOT NULL,
      PRIMARY KEY (project_id, name)
    );`,
  },
  {
    version: 2,
    name: 'grants with validity intervals, secret scope history, value versions, access history',
    sql: `CREATE TABLE IF NOT EXISTS rm_grants (
      project_id     text NOT NULL,
      grant_id       text NOT NULL,
      principal_type text NOT NULL,
      principal_id   text NOT NULL,
      role           text NOT NULL,
      environment    text,
      branch         text,
      granted_by     text NOT NULL,
      granted_at     timestamptz NOT NULL,
      expires_at     timestamptz,
      revoked_at     timestamptz,
      revoked_by     text,
      valid_from     timestamptz NOT NULL,
      valid_to       timestamptz,
      PRIMARY KEY (project_id, grant_id)
    );
    CREATE INDEX IF NOT EXISTS rm_grants_validity ON rm_grants (project_id, valid_from, valid_to);
    CREATE TABLE IF NOT EXISTS rm_secret_scopes (
      project_id     text NOT NULL,
      name           text NOT NULL,
      revision       integer NOT NULL,
      environment    text,
      branch         text,
      protected_only boolean NOT NULL,
      valid_from     timestamptz NOT NULL,
      valid_to       timestamptz,
      PRIMARY KEY (project_id, name, revision)
    );
    CREATE TABLE IF NOT EXISTS rm_secret_versions (
      project_id text NOT NULL,
      name       text NOT NULL,
      revision   integer NOT NULL,
      version    integer NOT NULL,
      value_ref  text NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (project_id, name, revision)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS rm_secret_versions_ref ON rm_secret_versions (value_ref);
    CREATE TABLE IF NOT EXISTS rm_access_history (
      pos_commit     bigint NOT NULL,
      pos_prepare    bigint NOT NULL,
      event_id       text NOT NULL UNIQUE,
      project_id     text NOT NULL,
      secret_name    text,
      action         text NOT NULL,
      decision       text NOT NULL,
      reason         text,
      version        integer,
      principal_type text NOT NULL,
      principal_id   text NOT NULL,
      pipeline_id    text,
      job_id         text,
      ref            text,
      ref_protected  boolean,
      environment    text,
      triggered_by   text,
      via_grant_id   text,
      via_role       text,
      via_scope      text,
      purpose        text,
      correlation_id text,
      occurred_at    timestamptz NOT NULL,
      PRIMARY KEY (pos_commit, pos_prepare)
    );
    CREATE INDEX IF NOT EXISTS rm_access_history_project ON rm_access_history (project_id, pos_commit DESC, pos_prepare DESC);
    CREATE INDEX IF NOT EXISTS rm_access_history_secret ON rm_access_history (project_id, secret_name, pos_commit DESC, pos_prepare DESC);
    CREATE INDEX IF NOT EXISTS rm_access_history_principal ON rm_access_history (project_id, principal_id, pos_commit DESC, pos_prepare DESC);
    CREATE INDEX IF NOT EXISTS rm_access_history_pipeline ON rm_access_history (project_id, pipeline_id, pos_commit DESC, pos_prepare DESC) WHERE pipeline_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS rm_access_history_denied ON rm_access_history (project_id, pos_commit DESC, pos_prepare DESC) WHERE decision = 'denied';
    CREATE INDEX IF NOT EXISTS rm_access_history_time ON rm_access_history (project_id, occurred_at)`,
  },
  {
    version: 3,
    name: 'grants: when their expiry was recorded (RoleExpired)',
    sql: `ALTER TABLE rm_grants ADD COLUMN IF NOT EXISTS expiry_recorded_at timestamptz;
    CREATE INDEX IF NOT EXISTS rm_grants_expiry_due ON rm_grants (expires_at) WHERE expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_recorded_at IS NULL`,
  },
  {
    version: 4,
    name: 'access history: the channel (api or openbao) and, for direct reads, OpenBao request id and policy',
    sql: `ALTER TABLE rm_access_history ADD COLUMN IF NOT EXISTS channel text NOT NULL DEFAULT 'api';
    ALTER TABLE rm_access_history ADD COLUMN IF NOT EXISTS via_request_id text;
    ALTER TABLE rm_access_history ADD COLUMN IF NOT EXISTS via_policy text;
    CREATE INDEX IF NOT EXISTS rm_access_history_channel ON rm_access_history (project_id, channel, pos_commit DESC, pos_prepare DESC)`,
  },
  {
    version: 5,
    name: 'secret versions: one row per event (the stream revision); a value reference may repeat (OpenBao restarted empty restarts KV versions)',
    sql: `DROP INDEX IF EXISTS rm_secret_versions_ref;
    CREATE INDEX IF NOT EXISTS rm_secret_versions_value_ref ON rm_secret_versions (value_ref)`,
  },
  {
    version: 6,
    name: 'projection dead letters: events a projection could not apply (no payload)',
    sql: `CREATE TABLE IF NOT EXISTS projection_dead_letters (
      projection  text NOT NULL,
      event_id    text NOT NULL,
      position    text NOT NULL,
      stream_name text NOT NULL,
      event_type  text NOT NULL,
      error       text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (projection, event_id)
    )`,
  },
  {
    version: 7,
    name: 'grants: provenance (the access request or break-glass that made them)',
    sql: `ALTER TABLE rm_grants ADD COLUMN IF NOT EXISTS access_request_id text;
    ALTER TABLE rm_grants ADD COLUMN IF NOT EXISTS break_glass boolean NOT NULL DEFAULT false`,
  },
  {
    version: 8,
    name: 'secrets: rotation interval, when the current version was written, and the version whose SecretRotationOverdue is recorded',
    // last_rotated_at of rows projected before this migration: the current version's row in
    // rm_secret_versions (written from the same event's occurredAt the projection uses), so a
    // migrated read model equals a rebuilt one. No secret had an interval before this migration.
    sql: `ALTER TABLE rm_secrets ADD COLUMN IF NOT EXISTS rotation_interval_days integer;
    ALTER TABLE rm_secrets ADD COLUMN IF NOT EXISTS last_rotated_at timestamptz;
    ALTER TABLE rm_secrets ADD COLUMN IF NOT EXISTS rotation_overdue_version integer;
    UPDATE rm_secrets s SET last_rotated_at = COALESCE(
      (SELECT v.created_at FROM rm_secret_versions v WHERE v.project_id = s.project_id AND v.name = s.name AND v.version = s.version ORDER BY v.revision DESC LIMIT 1),
      s.updated_at)
    WHERE s.last_rotated_at IS NULL`,
  },
  {
    version: 9,
    name: 'project memberships over time (ProjectGroupChanged); access history: the job\'s project of a group secret decision and the group an inherited grant came from',
    // Keyed by the event (its stream revision): a replay is a no-op. group_id null = in no group from valid_from on.
    // The two access-history columns are filled for decisions projected from now on; decisions about
    // group secrets projected before (only since groups were built, issue 20) get them from `cli rebuild`.
    sql: `CREATE TABLE IF NOT EXISTS rm_project_groups (
      project_id text NOT NULL,
      revision   integer NOT NULL,
      group_id   text,
      valid_from timestamptz NOT NULL,
      valid_to   timestamptz,
      PRIMARY KEY (project_id, revision)
    );
    CREATE INDEX IF NOT EXISTS rm_project_groups_group ON rm_project_groups (group_id text_pattern_ops) WHERE group_id IS NOT NULL;
    ALTER TABLE rm_access_history ADD COLUMN IF NOT EXISTS job_project_id text;
    ALTER TABLE rm_access_history ADD COLUMN IF NOT EXISTS via_inherited_from text`,
  },
];

/** Tables the projector owns: emptied by `cli rebuild`, then replayed. */
export const PROJECTED_TABLES = ['rm_secrets', 'rm_grants', 'rm_secret_scopes', 'rm_secret_versions', 'rm_access_history', 'rm_project_groups'] as const;

export function migrateReadModels(sql: SqlClient): Promise<void> {
  return runMigrations(sql, 'read-models', READ_MODEL_MIGRATIONS);
}

