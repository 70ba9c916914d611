import {
  ExposureGrant,
  ExposureRead,
  ExposureScope,
  ExposureSubject,
  ExposureVersion,
  GROUP_KEY_PREFIX,
  groupAndAncestors,
  groupKey,
  isAtOrBelow,
  jobPlaceKeys,
  MAX_DID_ITEMS,
  MembershipInterval,
  placeOf,
  Role,
} from '@app/domain';
import { SqlExecutor } from '../sql/sql-client';

// What an exposure report reads from the projected read models (issue 22): the grant, secret
// version, scope and membership intervals that overlap the window, and the allowed reads in it.
// Every statement is bounded by the window and keyed by the subject (principal, job's project or
// secret) or by an explicit list of place keys: no pattern is ever built from input (a group's
// places below it are found with `left(project_id, n) = $prefix`, never LIKE).
//
// Cost: reads are aggregated in the database (one GROUP BY over the rows of the window, on the
// (project_id, occurred_at) or (project_id, principal_id, …) indexes) and at most MAX_DID_ITEMS + 1
// of them are fetched; the rest grows with grants, versions and memberships, not with reads.

export interface ExposureData {
  grants: ExposureGrant[];
  versions: ExposureVersion[];
  scopes: ExposureScope[];
  memberships: MembershipInterval[];
  reads: ExposureRead[];
  readVersions: { placeKey: string; name: string; version: number; count: number }[];
}

const iso = (v: unknown): string => new Date(v as string).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

export class ExposureQueries {
  constructor(private readonly sql: SqlExecutor) {}

  async load(subject: ExposureSubject, from: string, to: string): Promise<ExposureData> {
    // Only the memberships the subject's places need (never every project's): a job's project's;
    // a secret's project's, or the projects in or below its group; for a principal, the projects in
    // or below the groups it holds grants on.
    let memberships: MembershipInterval[];
    let grants: ExposureGrant[];
    if (subject.type === 'user' || subject.type === 'group') {
      grants = await this.grants(subject, [], from, to);
      const groups = [...new Set(grants.map((g) => placeOf(g.placeKey)).flatMap((p) => (p?.type === 'group' ? [p.id] : [])))];
      memberships = groups.length > 0 ? await this.memberships(from, to, { belowGroups: groups }) : [];
    } else {
      const place = subject.type === 'ci-job' ? { type: 'project' as const, id: subject.projectId } : placeOf(subject.placeKey);
      memberships = !place ? [] : await this.memberships(from, to, place.type === 'project' ? { project: place.id } : { belowGroups: [place.id] });
      grants = await this.grants(subject, memberships, from, to);
    }
    const places = this.places(subject, grants, memberships);
    const [versions, scopes] = await Promise.all([this.versions(places), this.scopes(places)]);
    const { reads, readVersions } = await this.reads(subject, grants, from, to);
    return { grants, versions, scopes, memberships, reads, readVersions };
  }

  private async memberships(from: string, to: string, which: { project: string } | { belowGroups: string[] }): Promise<MembershipInterval[]> {
    // A group's subtree by prefix: `left(group_id, length(g) + 1) = g || '/'`, never a pattern.
    const where =
      'project' in which
        ? 'project_id = $3'
        : `(group_id = ANY($3::text[]) OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS g(id) WHERE left(group_id, length(g.id) + 1) = g.id || '/'))`;
    const { rows } = await this.sql.query<{ project_id: string; group_id: string; valid_from: string; valid_to: string | null }>(
      `SELECT project_id, group_id, valid_from, valid_to FROM rm_project_groups
        WHERE group_id IS NOT NULL AND valid_from < $2 AND (valid_to IS NULL OR valid_to > $1) AND ${where}
        ORDER BY project_id, valid_from`,
      [from, to, 'project' in which ? which.project : which.belowGroups],
    );
    return rows.map((r) => ({ projectId: r.project_id, groupId: r.group_id, validFrom: iso(r.valid_from), validTo: isoOrNull(r.valid_to) }));
  }

  private async grants(subject: ExposureSubject, memberships: MembershipInterval[], from: string, to: string): Promise<ExposureGrant[]> {
    const window = 'valid_from < $2 AND (valid_to IS NULL OR valid_to > $1)';
    let where: string;
    let params: unknown[];
    switch (subject.type) {
      case 'user':
        // The user's own grants and those of the group claims its tokens carried.
        where = `((principal_type = 'user' AND principal_id = $3) OR (principal_type = 'group' AND principal_id = ANY($4::text[]))) AND ${window}`;
        params = [from, to, subject.id, subject.groups ?? []];
        break;
      case 'group':
        where = `principal_type = 'group' AND principal_id = $3 AND ${window}`;
        params = [from, to, subject.id];
        break;
      case 'ci-job':
        return []; // a job reads by its scope, never through a grant
      case 'secret': {
        // The places whose grants may act on the secret during the window: itself and every group above it then.
        const place = placeOf(subject.placeKey);
        const groups = place?.type === 'group' ? [place.id] : memberships.filter((m) => m.projectId === place?.id).map((m) => m.groupId);
        const keys = [subject.placeKey, ...new Set(groups.flatMap((g) => groupAndAncestors(g)).map(groupKey))];
        where = `project_id = ANY($3::text[]) AND ${window}`;
        params = [from, to, keys];
        break;
      }
    }
    const { rows } = await this.sql.query<GrantRow>(`SELECT * FROM rm_grants WHERE ${where} ORDER BY project_id, grant_id`, params);
    return rows.map(grantOf);
  }

  /** The place keys whose secrets the report looks at. */
  private places(subject: ExposureSubject, grants: ExposureGrant[], memberships: MembershipInterval[]): { keys: string[]; groupPrefixes: string[] } {
    switch (subject.type) {
      case 'secret':
        return { keys: [subject.placeKey], groupPrefixes: [] };
      case 'ci-job': {
        const groups = memberships.filter((m) => m.projectId === subject.projectId).map((m) => m.groupId);
        return { keys: [...new Set([...jobPlaceKeys(subject.projectId, null), ...groups.flatMap((g) => jobPlaceKeys(subject.projectId, g))])], groupPrefixes: [] };
      }
      default: {
        // A grant acts on its place and, for a group, on every place below it: the groups below (by
        // prefix) and the projects that were in or below it during the window.
        const keys = new Set<string>();
        const prefixes = new Set<string>();
        for (const g of grants) {
          const place = placeOf(g.placeKey);
          if (!place) continue;
          keys.add(g.placeKey);
          if (place.type !== 'group') continue;
          prefixes.add(`${GROUP_KEY_PREFIX}${place.id}/`);
          for (const m of memberships) if (isAtOrBelow(m.groupId, place.id)) keys.add(m.projectId);
        }
        return { keys: [...keys], groupPrefixes: [...prefixes] };
      }
    }
  }

  private placeFilter(places: { keys: string[]; groupPrefixes: string[] }, first: number): { where: string; params: unknown[] } {
    const prefixes = places.groupPrefixes.map((_, i) => `left(project_id, length($${first + 1 + i})) = $${first + 1 + i}`);
    return { where: `(project_id = ANY($${first}::text[])${prefixes.map((p) => ` OR ${p}`).join('')})`, params: [places.keys, ...places.groupPrefixes] };
  }

  private async versions(places: { keys: string[]; groupPrefixes: string[] }): Promise<ExposureVersion[]> {
    const f = this.placeFilter(places, 1);
    // A version is current until the next one of its secret (LEAD, across a delete and re-create too),
    // or, the last version of a deleted secret, until the deletion (the end of its last scope
    // interval); null = current now. `could` also intersects each version with the scope intervals.
    const { rows } = await this.sql.query<{ project_id: string; name: string; revision: number; version: number; created_at: string; next_at: string | null; current: boolean; ended_at: string | null }>(
      `SELECT v.project_id, v.name, v.revision, v.version, v.created_at, v.next_at,
              EXISTS (SELECT 1 FROM rm_secrets s WHERE s.project_id = v.project_id AND s.name = v.name AND s.version = v.version AND s.revision >= v.revision) AS current,
              (SELECT max(sc.valid_to) FROM rm_secret_scopes sc WHERE sc.project_id = v.project_id AND sc.name = v.name) AS ended_at
         FROM (SELECT project_id, name, revision, version, created_at,
                      LEAD(created_at) OVER (PARTITION BY project_id, name ORDER BY revision) AS next_at
                 FROM rm_secret_versions WHERE ${f.where}) v
        ORDER BY v.project_id, v.name, v.revision`,
      f.params,
    );
    return rows.map((r) => ({
      placeKey: r.project_id,
      name: r.name,
      revision: Number(r.revision),
      version: Number(r.version),
      from: iso(r.created_at),
      to: r.current && r.next_at === null ? null : isoOrNull(r.next_at) ?? isoOrNull(r.ended_at) ?? iso(r.created_at),
    }));
  }

  private async scopes(places: { keys: string[]; groupPrefixes: string[] }): Promise<ExposureScope[]> {
    const f = this.placeFilter(places, 1);
    const { rows } = await this.sql.query<{ project_id: string; name: string; environment: string | null; branch: string | null; protected_only: boolean; valid_from: string; valid_to: string | null }>(
      `SELECT project_id, name, environment, branch, protected_only, valid_from, valid_to FROM rm_secret_scopes WHERE ${f.where} ORDER BY project_id, name, revision`,
      f.params,
    );
    return rows.map((r) => ({ placeKey: r.project_id, name: r.name, environment: r.environment, branch: r.branch, protectedOnly: r.protected_only, validFrom: iso(r.valid_from), validTo: isoOrNull(r.valid_to) }));
  }

  private async reads(subject: ExposureSubject, grants: ExposureGrant[], from: string, to: string): Promise<{ reads: ExposureRead[]; readVersions: ExposureData['readVersions'] }> {
    let where: string;
    const params: unknown[] = [from, to];
    switch (subject.type) {
      case 'user':
        where = `principal_type = 'user' AND principal_id = $3`;
        params.push(subject.id);
        break;
      case 'group':
        // What a group claim read: the reads its grants allowed.
        where = `via_grant_id = ANY($3::text[])`;
        params.push(grants.filter((g) => g.principal.type === 'group' && g.principal.id === subject.id).map((g) => g.grantId));
        break;
      case 'ci-job':
        where = `principal_type = 'ci-job' AND (job_project_id = $3 OR (project_id = $3 AND job_project_id IS NULL))`;
        params.push(subject.projectId);
        if (subject.ref !== undefined) where += ` AND ref = $${params.push(subject.ref)}`;
        if (subject.pipelineId !== undefined) where += ` AND pipeline_id = $${params.push(subject.pipelineId)}`;
        break;
      case 'secret':
        where = `project_id = $3 AND secret_name = $4`;
        params.push(subject.placeKey, subject.name);
        if (subject.version !== undefined) where += ` AND version = $${params.push(subject.version)}`;
        break;
    }
    const base = `FROM rm_access_history WHERE decision = 'allowed' AND action = 'read' AND occurred_at >= $1 AND occurred_at < $2 AND ${where}`;
    const [items, counts] = await Promise.all([
      this.sql.query<ReadRow>(
        `SELECT event_id, project_id, secret_name, version, principal_type, principal_id, job_project_id, pipeline_id, job_id, ref, channel, occurred_at, via_grant_id ${base}
          ORDER BY occurred_at, event_id LIMIT ${MAX_DID_ITEMS + 1}`,
        params,
      ),
      this.sql.query<{ project_id: string; secret_name: string; version: number; n: string }>(`SELECT project_id, secret_name, version, count(*) AS n ${base} GROUP BY project_id, secret_name, version`, params),
    ]);
    return {
      reads: items.rows.map((r) => ({
        eventId: r.event_id,
        placeKey: r.project_id,
        name: r.secret_name,
        version: Number(r.version),
        principal: { type: r.principal_type as 'user' | 'ci-job', id: r.principal_id },
        jobProjectId: r.job_project_id,
        pipelineId: r.pipeline_id,
        jobId: r.job_id,
        ref: r.ref,
        channel: r.channel,
        occurredAt: iso(r.occurred_at),
        viaGrantId: r.via_grant_id,
      })),
      readVersions: counts.rows.map((r) => ({ placeKey: r.project_id, name: r.secret_name, version: Number(r.version), count: Number(r.n) })),
    };
  }
}

interface ReadRow {
  event_id: string;
  project_id: string;
  secret_name: string;
  version: number;
  principal_type: string;
  principal_id: string;
  job_project_id: string | null;
  pipeline_id: string | null;
  job_id: string | null;
  ref: string | null;
  channel: string;
  occurred_at: string;
  via_grant_id: string | null;
}

interface GrantRow {
  project_id: string;
  grant_id: string;
  principal_type: 'user' | 'group';
  principal_id: string;
  role: Role;
  environment: string | null;
  branch: string | null;
  granted_by: string;
  granted_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  valid_from: string;
  valid_to: string | null;
  access_request_id: string | null;
  break_glass: boolean;
}

function grantOf(r: GrantRow): ExposureGrant {
  return {
    placeKey: r.project_id,
    grantId: r.grant_id,
    principal: { type: r.principal_type, id: r.principal_id },
    role: r.role,
    environment: r.environment,
    branch: r.branch,
    grantedBy: r.granted_by,
    grantedAt: iso(r.granted_at),
    expiresAt: isoOrNull(r.expires_at),
    revokedAt: isoOrNull(r.revoked_at),
    validFrom: iso(r.valid_from),
    validTo: isoOrNull(r.valid_to),
    ...(r.access_request_id ? { accessRequestId: r.access_request_id } : {}),
    ...(r.break_glass ? { breakGlass: true as const } : {}),
  };
}
