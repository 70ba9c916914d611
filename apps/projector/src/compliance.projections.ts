import { AccessEvent, AccessPolicyEvent, ProjectGroupEvent, RecordedEvent, SecretEvent, StreamCategory, toDomainEvent } from '@app/domain';
import { checkpoints } from '@app/infra/read-models/checkpoints';
import { SqlExecutor } from '@app/infra/sql/sql-client';
import { Projection } from '@app/infra/projection/projection-runner';

// The read models compliance reviewers query. Each is a pure function of the events; none
// has a column a secret value could go in.

/** Grants with their validity interval [valid_from, valid_to): valid_to is the earlier of expiry and revocation. */
export const grantsProjection: Projection = {
  name: 'grants',
  streamPrefixes: [`${StreamCategory.project}-`],
  async apply(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
    const e = toDomainEvent<AccessPolicyEvent>(recorded);
    switch (e.type) {
      case 'RoleGranted': {
        const d = e.data;
        await tx.query(
          `INSERT INTO rm_grants (project_id, grant_id, principal_type, principal_id, role, environment, branch, granted_by, granted_at, expires_at, valid_from, valid_to, access_request_id, break_glass)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $10, $11, $12)
           ON CONFLICT (project_id, grant_id) DO NOTHING`,
          [d.projectId, d.grantId, d.principal.type, d.principal.id, d.role, d.environment, d.branch, d.grantedBy, d.grantedAt, d.expiresAt, d.accessRequestId ?? null, d.breakGlass === true],
        );
        return;
      }
      case 'RoleRevoked': {
        const d = e.data;
        await tx.query(
          `UPDATE rm_grants SET revoked_at = $3, revoked_by = $4,
             valid_to = CASE WHEN valid_to IS NULL OR valid_to > $3::timestamptz THEN $3::timestamptz ELSE valid_to END
           WHERE project_id = $1 AND grant_id = $2 AND revoked_at IS NULL`,
          [d.projectId, d.grantId, d.revokedAt, d.revokedBy],
        );
        return;
      }
      case 'RoleExpired': {
        // valid_to already is the expiry; this only notes that the expiry is in the log.
        await tx.query('UPDATE rm_grants SET expiry_recorded_at = $3 WHERE project_id = $1 AND grant_id = $2', [e.data.projectId, e.data.grantId, e.data.recordedAt]);
        return;
      }
    }
  },
};

/**
 * Each project's membership over time (ProjectGroupChanged): one row per event, [valid_from,
 * valid_to) in group_id (null: in no group), so "which group was P in at T" and "which projects were
 * in or below G at T" are queries, and the tree as it was at T is what readers?at= uses. Keyed by
 * the event's stream revision and closing only rows of earlier revisions, so applying an event
 * twice changes nothing and a rebuild gives the same rows.
 */
export const projectGroupsProjection: Projection = {
  name: 'project-groups',
  streamPrefixes: [`${StreamCategory.projectGroup}-`],
  async apply(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
    const e = toDomainEvent<ProjectGroupEvent>(recorded);
    if (e.type !== 'ProjectGroupChanged') return;
    const d = e.data;
    // Rows of earlier revisions only: applying this event again never closes the row it opened.
    await tx.query('UPDATE rm_project_groups SET valid_to = $3::timestamptz WHERE project_id = $1 AND revision < $2 AND valid_to IS NULL', [d.projectId, recorded.revision, d.changedAt]);
    await tx.query(
      `INSERT INTO rm_project_groups (project_id, revision, group_id, valid_from) VALUES ($1, $2, $3, $4::timestamptz)
       ON CONFLICT (project_id, revision) DO NOTHING`,
      [d.projectId, recorded.revision, d.groupId, d.changedAt],
    );
  },
};

/** Each secret's scope over time (for "who could read it at T") and every value version's reference (to tell a committed KV version from an orphan). */
export const secretHistoryProjection: Projection = {
  name: 'secret-history',
  streamPrefixes: [`${StreamCategory.secret}-`],
  async apply(tx: SqlExecutor, recorded: RecordedEvent): Promise<void> {
    const e = toDomainEvent<SecretEvent>(recorded);
    const at = String(recorded.metadata.occurredAt);
    const closeOpenScope = () =>
      tx.query('UPDATE rm_secret_scopes SET valid_to = $3 WHERE project_id = $1 AND name = $2 AND valid_to IS NULL', [e.data.projectId, e.data.name, at]);
    const openScope = (scope: { environment: string | null; branch: string | null; protectedOnly: boolean }) =>
      tx.query(
        `INSERT INTO rm_secret_scopes (project_id, name, revision, environment, branch, protected_only, valid_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [e.data.projectId, e.data.name, recorded.revision, scope.environment, scope.branch, scope.protectedOnly, at],
      );
    const version = (v: number, valueRef: string, by: string) =>
      tx.query(
        // Keyed by the event (its stream revision): a replay is a no-op, but a value reference seen
        // before (KV versions restart when OpenBao restarts empty) is a new row, never a dropped one.
        `INSERT INTO rm_secret_versions (project_id, name, revision, version, value_ref, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project_id, name, revision) DO NOTHING`,
        [e.data.projectId, e.data.name, recorded.revision, v, valueRef, by, at],
      );
    switch (e.type) {
      case 'SecretCreated':
        await closeOpenScope();
        await openScope(e.data.scope);
        await version(e.data.version, e.data.valueRef, e.data.createdBy);
        return;
      case 'SecretValueUpdated':
        await version(e.data.version, e.data.valueRef, e.data.updatedBy);
        return;
      case 'SecretMetadataChanged':
        await closeOpenScope();
        await openScope(e.data.scope);
        return;
      case 'SecretDeleted':
        await closeOpenScope();
        return;
    }
  },
};

const HISTORY_COLUMNS = [
  ['pos_commit', 'bigint'],
  ['pos_prepare', 'bigint'],
  ['event_id', 'text'],
  ['project_id', 'text'],
  ['secret_name', 'text'],
  ['action', 'text'],
  ['decision', 'text'],
  ['reason', 'text'],
  ['version', 'integer'],
  ['principal_type', 'text'],
  ['principal_id', 'text'],
  ['pipeline_id', 'text'],
  ['job_id', 'text'],
  ['ref', 'text'],
  ['ref_protected', 'boolean'],
  ['environment', 'text'],
  ['triggered_by', 'text'],
  ['via_grant_id', 'text'],
  ['via_role', 'text'],
  ['via_scope', 'text'],
  ['channel', 'text'],
  ['via_request_id', 'text'],
  ['via_policy', 'text'],
  ['purpose', 'text'],
  ['correlation_id', 'text'],
  ['occurred_at', 'timestamptz'],
  ['job_project_id', 'text'],
  ['via_inherited_from', 'text'],
] as const;

const HISTORY_INSERT = `INSERT INTO rm_access_history (${HISTORY_COLUMNS.map(([c]) => c).join(', ')})
  SELECT * FROM unnest(${HISTORY_COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')})
  ON CONFLICT DO NOTHING`;

/** The rows and the projection's checkpoint (the two parameters after the columns) in one statement. */
const HISTORY_INSERT_WITH_CHECKPOINT = `WITH history AS (${HISTORY_INSERT}), checkpoint AS (${checkpoints.cte(HISTORY_COLUMNS.length + 1, HISTORY_COLUMNS.length + 2)})
  SELECT 1 WHERE false`;

function historyColumns(events: RecordedEvent[]): unknown[][] {
  const columns: unknown[][] = HISTORY_COLUMNS.map(() => []);
  for (const event of events) {
    const row = historyRow(event);
    if (row) row.forEach((v, i) => columns[i].push(v));
  }
  return columns;
}

function historyRow(recorded: RecordedEvent): unknown[] | null {
  const e = toDomainEvent<AccessEvent>(recorded);
  if (e.type !== 'SecretAccessed' && e.type !== 'SecretAccessDenied') return null;
  const p = e.data.principal;
  const via = e.type === 'SecretAccessed' ? e.data.via : null;
  const openbao = e.data.via && 'channel' in e.data.via && e.data.via.channel === 'openbao' ? e.data.via : null;
  return [
    recorded.position.commit.toString(),
    recorded.position.prepare.toString(),
    recorded.eventId,
    e.data.projectId,
    e.data.name,
    e.type === 'SecretAccessed' ? 'read' : e.data.action,
    e.type === 'SecretAccessed' ? 'allowed' : 'denied',
    e.type === 'SecretAccessDenied' ? e.data.reason : null,
    e.type === 'SecretAccessed' ? e.data.version : null,
    p.type,
    p.id,
    p.pipelineId ?? null,
    p.jobId ?? null,
    p.ref ?? null,
    p.refProtected ?? null,
    p.environment ?? null,
    p.triggeredBy ?? null,
    via && 'grantId' in via ? via.grantId : null,
    via && 'role' in via ? via.role : null,
    via && 'scope' in via ? via.scope : null,
    openbao ? 'openbao' : 'api',
    openbao ? openbao.requestId : null,
    openbao ? openbao.policy : null,
    e.data.purpose,
    recorded.metadata.correlationId === undefined ? null : String(recorded.metadata.correlationId),
    String(recorded.metadata.occurredAt),
    // A CI job's decision about a group secret: the job's own project.
    e.data.jobProjectId ?? null,
    // An inherited grant allowed it: the group it was granted on.
    via && 'inheritedFrom' in via && via.inheritedFrom ? via.inheritedFrom.id : null,
  ];
}

/** Every access decision, one row each, written a batch per statement (the history is the bulk of the store). */
export const accessHistoryProjection: Projection = {
  name: 'access-history',
  streamPrefixes: [`${StreamCategory.access}-`],
  async apply(tx, recorded) {
    await accessHistoryProjection.applyBatch!(tx, [recorded]);
  },
  async applyBatch(tx: SqlExecutor, events: RecordedEvent[]): Promise<void> {
    const columns = historyColumns(events);
    if (columns[0].length > 0) await tx.query(HISTORY_INSERT, columns);
  },
  // The usual way: rows and checkpoint in one statement, atomic without BEGIN/COMMIT (one round
  // trip per batch instead of four: every CI access is one of these rows).
  async applyWithCheckpoint(sql: SqlExecutor, events: RecordedEvent[], _prepared: unknown, checkpoint: { projection: string; position: string }): Promise<boolean> {
    await sql.query(HISTORY_INSERT_WITH_CHECKPOINT, [...historyColumns(events), checkpoint.projection, checkpoint.position]);
    return true;
  },
};
