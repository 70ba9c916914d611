import { GrantInterval, GROUP_KEY_PREFIX, GroupMemberAt, Role, SecretSubject } from '@app/domain';
import { SqlExecutor } from '../sql/sql-client';

// Queries over the projected compliance read models (access history, grant intervals, secret
// scope history). Keyset pagination on the event's global position: newest first, and a page
// boundary never moves when new decisions are recorded (they sort before every cursor).

export interface AccessHistoryFilter {
  projectId: string;
  secret?: string;
  principal?: string;
  pipeline?: string;
  decision?: 'allowed' | 'denied';
  channel?: 'api' | 'openbao';
  from?: string;
  to?: string;
}

export interface HistoryCursor {
  commit: bigint;
  prepare: bigint;
}

export interface AccessHistoryItem {
  eventId: string;
  occurredAt: string;
  /** The place key of the secret (a project id, or `group:<path>`: public surfaces turn that into groupId). */
  projectId: string;
  /** A CI job's decision about a group secret: the job's own project (absent otherwise). */
  jobProjectId?: string;
  secret: string | null;
  action: string;
  decision: 'allowed' | 'denied';
  reason: string | null;
  version: number | null;
  principal: {
    type: string;
    id: string;
    pipelineId: string | null;
    jobId: string | null;
    ref: string | null;
    refProtected: boolean | null;
    environment: string | null;
    triggeredBy: string | null;
  };
  via: { grantId: string; role: string; accessRequestId?: string; breakGlass?: true; inheritedFrom?: { type: 'group'; id: string } } | { scope: string } | { channel: 'openbao'; requestId: string; policy: string | null } | null;
  /** `api` (the service decided) or `openbao` (a direct read OpenBao decided, from its audit device) */
  channel: 'api' | 'openbao';
  purpose: string | null;
  correlationId: string | null;
}

interface HistoryRow {
  pos_commit: string;
  pos_prepare: string;
  event_id: string;
  project_id: string;
  secret_name: string | null;
  action: string;
  decision: 'allowed' | 'denied';
  reason: string | null;
  version: number | null;
  principal_type: string;
  principal_id: string;
  pipeline_id: string | null;
  job_id: string | null;
  ref: string | null;
  ref_protected: boolean | null;
  environment: string | null;
  triggered_by: string | null;
  via_grant_id: string | null;
  via_role: string | null;
  via_scope: string | null;
  channel: string | null;
  via_request_id: string | null;
  via_policy: string | null;
  /** From the grant the access went through (rm_grants): the request or break-glass behind it. */
  via_access_request_id?: string | null;
  via_break_glass?: boolean | null;
  purpose: string | null;
  correlation_id: string | null;
  occurred_at: Date | string;
  job_project_id?: string | null;
  via_inherited_from?: string | null;
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

export function encodeCursor(c: HistoryCursor): string {
  return Buffer.from(`${c.commit}.${c.prepare}`).toString('base64url');
}

/** Undefined for anything that is not a cursor this service issued. */
export function decodeCursor(text: string): HistoryCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) return undefined;
  const m = /^(\d{1,19})\.(\d{1,19})$/.exec(Buffer.from(text, 'base64url').toString('latin1'));
  if (!m) return undefined;
  const commit = BigInt(m[1]);
  const prepare = BigInt(m[2]);
  const max = 2n ** 63n - 1n;
  return commit <= max && prepare <= max ? { commit, prepare } : undefined;
}

function toItem(r: HistoryRow): AccessHistoryItem {
  return {
    eventId: r.event_id,
    occurredAt: iso(r.occurred_at),
    projectId: r.project_id,
    ...(typeof r.job_project_id === 'string' ? { jobProjectId: r.job_project_id } : {}),
    secret: r.secret_name,
    action: r.action,
    decision: r.decision,
    reason: r.reason,
    version: r.version === null ? null : Number(r.version),
    principal: {
      type: r.principal_type,
      id: r.principal_id,
      pipelineId: r.pipeline_id,
      jobId: r.job_id,
      ref: r.ref,
      refProtected: r.ref_protected,
      environment: r.environment,
      triggeredBy: r.triggered_by,
    },
    via:
      r.via_grant_id !== null
        ? {
            grantId: r.via_grant_id,
            role: r.via_role ?? '',
            ...(typeof r.via_access_request_id === 'string' ? { accessRequestId: r.via_access_request_id } : {}),
            ...(r.via_break_glass === true ? { breakGlass: true as const } : {}),
            ...(typeof r.via_inherited_from === 'string' ? { inheritedFrom: { type: 'group' as const, id: r.via_inherited_from } } : {}),
          }
        : r.via_scope !== null
          ? { scope: r.via_scope }
          : r.via_request_id !== null
            ? { channel: 'openbao', requestId: r.via_request_id, policy: r.via_policy }
            : null,
    channel: r.channel === 'openbao' ? 'openbao' : 'api',
    purpose: r.purpose,
    correlationId: r.correlation_id,
  };
}

export interface HistoryPage {
  items: AccessHistoryItem[];
  /** The keyset cursor of each item (the cursor that continues after it). */
  cursors: string[];
  nextCursor: string | null;
}

// The grant lives on the place it was made on: the group's, for an inherited one.
const GRANT_PLACE = `COALESCE('${GROUP_KEY_PREFIX}' || h.via_inherited_from, h.project_id)`;
const GRANT_PROVENANCE = `(SELECT g.access_request_id FROM rm_grants g WHERE g.project_id = ${GRANT_PLACE} AND g.grant_id = h.via_grant_id) AS via_access_request_id,
         (SELECT g.break_glass FROM rm_grants g WHERE g.project_id = ${GRANT_PLACE} AND g.grant_id = h.via_grant_id) AS via_break_glass`;

function historyWhere(filter: AccessHistoryFilter, cursor?: HistoryCursor): { where: string[]; params: unknown[] } {
  const where = ['project_id = $1'];
  const params: unknown[] = [filter.projectId];
  const add = (clause: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (filter.secret !== undefined) add((n) => `secret_name = ${n}`, filter.secret);
  if (filter.principal !== undefined) add((n) => `principal_id = ${n}`, filter.principal);
  if (filter.pipeline !== undefined) add((n) => `pipeline_id = ${n}`, filter.pipeline);
  if (filter.decision !== undefined) add((n) => `decision = ${n}`, filter.decision);
  if (filter.channel !== undefined) add((n) => `channel = ${n}`, filter.channel);
  if (filter.from !== undefined) add((n) => `occurred_at >= ${n}::timestamptz`, filter.from);
  if (filter.to !== undefined) add((n) => `occurred_at < ${n}::timestamptz`, filter.to);
  if (cursor) {
    params.push(cursor.commit.toString(), cursor.prepare.toString());
    where.push(`(pos_commit, pos_prepare) < ($${params.length - 1}::bigint, $${params.length}::bigint)`);
  }
  return { where, params };
}

/** rows holds up to limit + 1 rows, newest first: the extra one only says there is a next page. */
function pageOf(rows: HistoryRow[], limit: number): HistoryPage {
  const page = rows.slice(0, limit);
  const cursors = page.map((r) => encodeCursor({ commit: BigInt(r.pos_commit), prepare: BigInt(r.pos_prepare) }));
  const nextCursor = rows.length > limit && cursors.length ? cursors[cursors.length - 1] : null;
  return { items: page.map(toItem), cursors, nextCursor };
}

export class ComplianceQueries {
  constructor(private readonly sql: SqlExecutor) {}

  /** One page, newest first. `nextCursor` is null on the last page. */
  async accessHistory(filter: AccessHistoryFilter, limit: number, cursor?: HistoryCursor): Promise<{ items: AccessHistoryItem[]; nextCursor: string | null }> {
    const { items, nextCursor } = await this.accessHistoryPage(filter, limit, cursor);
    return { items, nextCursor };
  }

  /** accessHistory with each row's own keyset cursor beside it (GraphQL edges). */
  async accessHistoryPage(filter: AccessHistoryFilter, limit: number, cursor?: HistoryCursor): Promise<HistoryPage> {
    const { where, params } = historyWhere(filter, cursor);
    params.push(limit + 1);
    const { rows } = await this.sql.query<HistoryRow>(
      // The page first, then the provenance of the grant each access went through (immutable, so joined when read).
      `SELECT h.*, ${GRANT_PROVENANCE}
       FROM (SELECT * FROM rm_access_history WHERE ${where.join(' AND ')} ORDER BY pos_commit DESC, pos_prepare DESC LIMIT $${params.length}) h
       ORDER BY h.pos_commit DESC, h.pos_prepare DESC`,
      params,
    );
    return pageOf(rows, limit);
  }

  /**
   * The same page for each of several secrets (same filter, limit and cursor), in one round trip:
   * GraphQL's nested `history` over a list of secrets (no query per secret).
   */
  async accessHistoryOfSecrets(filter: AccessHistoryFilter, secrets: readonly string[], limit: number, cursor?: HistoryCursor): Promise<Map<string, HistoryPage>> {
    const { where, params } = historyWhere({ ...filter, secret: undefined }, cursor);
    params.push([...secrets]);
    const namesAt = params.length;
    params.push(limit + 1);
    const { rows } = await this.sql.query<HistoryRow>(
      `SELECT h.*, ${GRANT_PROVENANCE}
       FROM unnest($${namesAt}::text[]) AS s(name)
       CROSS JOIN LATERAL (SELECT * FROM rm_access_history WHERE ${where.join(' AND ')} AND secret_name = s.name
                           ORDER BY pos_commit DESC, pos_prepare DESC LIMIT $${params.length}) h
       ORDER BY h.secret_name, h.pos_commit DESC, h.pos_prepare DESC`,
      params,
    );
    const bySecret = new Map<string, HistoryRow[]>(secrets.map((n) => [n, []]));
    for (const r of rows) bySecret.get(r.secret_name ?? '')?.push(r);
    return new Map([...bySecret].map(([n, rs]) => [n, pageOf(rs, limit)]));
  }

  /** Every matching row, page by page (memory stays one page however long the history). */
  async *exportAccessHistory(filter: AccessHistoryFilter, pageSize = 1000): AsyncGenerator<AccessHistoryItem[]> {
    let cursor: HistoryCursor | undefined;
    for (;;) {
      const page = await this.accessHistory(filter, pageSize, cursor);
      if (page.items.length > 0) yield page.items;
      if (!page.nextCursor) return;
      cursor = decodeCursor(page.nextCursor);
    }
  }

  /** The secret's scope at `at` (null: it did not exist then), and whether it ever existed. */
  async secretScopeAt(projectId: string, name: string, at: string): Promise<{ everExisted: boolean; scope: SecretSubject | null }> {
    return (await this.secretScopesAt(projectId, [name], at)).get(name)!;
  }

  /** secretScopeAt for several secrets of a project in one round trip. */
  async secretScopesAt(projectId: string, names: readonly string[], at: string): Promise<Map<string, { everExisted: boolean; scope: SecretSubject | null }>> {
    const { rows } = await this.sql.query<{ name: string; environment: string | null; branch: string | null; protected_only: boolean; hit: boolean }>(
      `SELECT name, environment, branch, protected_only,
              (valid_from <= $3::timestamptz AND (valid_to IS NULL OR $3::timestamptz < valid_to)) AS hit
       FROM rm_secret_scopes WHERE project_id = $1 AND name = ANY($2::text[]) ORDER BY name, revision DESC`,
      [projectId, [...names], at],
    );
    return new Map(
      names.map((name) => {
        const mine = rows.filter((r) => r.name === name);
        const hit = mine.find((r) => r.hit);
        return [name, { everExisted: mine.length > 0, scope: hit ? { projectId, name, environment: hit.environment, branch: hit.branch, protectedOnly: hit.protected_only } : null }];
      }),
    );
  }

  /**
   * A project's membership history, oldest first, as group/project-group.ts groupAt takes it
   * (`{groupId, from}`: in groupId from `from` on; null = in no group). Empty: never placed.
   */
  async projectGroupHistory(projectId: string): Promise<{ groupId: string | null; from: string }[]> {
    const { rows } = await this.sql.query<{ group_id: string | null; valid_from: Date | string }>(
      'SELECT group_id, valid_from FROM rm_project_groups WHERE project_id = $1 ORDER BY revision LIMIT 100000',
      [projectId],
    );
    return rows.map((r) => ({ groupId: r.group_id, from: iso(r.valid_from) }));
  }

  /**
   * The projects in `groupId` or in a group below it at `at`, each with the group it was in then,
   * by project id (at most `limit`). `_` is the only LIKE wildcard a group path can hold: escaped.
   */
  async projectsInOrBelowGroupAt(groupId: string, at: string, limit = 10000): Promise<GroupMemberAt[]> {
    const below = `${groupId.split('_').join('\\_')}/%`;
    const { rows } = await this.sql.query<{ project_id: string; group_id: string }>(
      `SELECT project_id, group_id FROM rm_project_groups
        WHERE (group_id = $1 OR group_id LIKE $2 ESCAPE '\\')
          AND valid_from <= $3::timestamptz AND (valid_to IS NULL OR $3::timestamptz < valid_to)
        ORDER BY project_id, revision DESC LIMIT $4`,
      [groupId, below, at, limit],
    );
    return rows.map((r) => ({ projectId: r.project_id, groupId: r.group_id }));
  }

  /** Grants whose expiry has passed at `now` but is not yet recorded as RoleExpired (oldest first). */
  async grantsDueForExpiry(now: string, limit = 500): Promise<{ projectId: string; grantId: string }[]> {
    const { rows } = await this.sql.query<{ project_id: string; grant_id: string }>(
      `SELECT project_id, grant_id FROM rm_grants
        WHERE expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_recorded_at IS NULL AND expires_at <= $1::timestamptz
        ORDER BY expires_at LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => ({ projectId: r.project_id, grantId: r.grant_id }));
  }

  /**
   * Projects where a user (directly or through a group) holds one of `roles` at `at`, from the
   * projected grants: candidates only — callers confirm each against the event-sourced policy.
   */
  async projectsWithRole(user: { id: string; groups: string[] }, roles: readonly string[], at: string, limit = 1000): Promise<string[]> {
    const { rows } = await this.sql.query<{ project_id: string }>(
      `SELECT DISTINCT project_id FROM rm_grants
        WHERE role = ANY($3::text[]) AND valid_from <= $4::timestamptz AND (valid_to IS NULL OR $4::timestamptz < valid_to)
          AND ((principal_type = 'user' AND principal_id = $1) OR (principal_type = 'group' AND principal_id = ANY($2::text[])))
        ORDER BY project_id LIMIT $5`,
      [user.id, user.groups, [...roles], at, limit],
    );
    return rows.map((r) => r.project_id);
  }

  /** Grants made on the place (a project id or a group key) in force at `at`. */
  async grantsInForceAt(projectId: string, at: string): Promise<GrantInterval[]> {
    const { rows } = await this.sql.query<Record<string, unknown>>(
      `SELECT * FROM rm_grants WHERE project_id = $1 AND valid_from <= $2::timestamptz AND (valid_to IS NULL OR $2::timestamptz < valid_to)
       ORDER BY grant_id LIMIT 10000`,
      [projectId, at],
    );
    const opt = (v: unknown) => (v === null || v === undefined ? null : iso(v as Date | string));
    return rows.map((r) => ({
      grantId: String(r.grant_id),
      principal: { type: r.principal_type as 'user' | 'group', id: String(r.principal_id) },
      role: r.role as Role,
      environment: (r.environment as string | null) ?? null,
      branch: (r.branch as string | null) ?? null,
      grantedBy: String(r.granted_by),
      grantedAt: iso(r.granted_at as Date),
      expiresAt: opt(r.expires_at),
      revokedAt: opt(r.revoked_at),
      validFrom: iso(r.valid_from as Date),
      validTo: opt(r.valid_to),
      ...(typeof r.access_request_id === 'string' ? { accessRequestId: r.access_request_id } : {}),
      ...(r.break_glass === true ? { breakGlass: true as const } : {}),
    }));
  }
}
