import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordedEvent } from '../ports/event-store';
import { auditKey, OcsfApiActivity, OcsfGroupManagement, OcsfRecord, OcsfUserAccessManagement, toOcsf } from '.';

// Groups in the audit records (issue 20, 6): a group's secret or grant names the group, never a
// project; a CI job's decision about a group secret names the group and the job's project; a move
// of a project between groups is recorded. Every record is checked against the OCSF 1.3.0 class
// schemas kept in schema/ (the same files ocsf.unit.spec.ts validates with).

const schema = (file: string) => JSON.parse(readFileSync(join(__dirname, 'schema', file), 'utf8'));
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
addFormats(ajv);
const validateApi = ajv.compile(schema('ocsf-1.3.0-api-activity.schema.json'));
const validateUam = ajv.compile(schema('ocsf-1.3.0-user-access-management.schema.json'));
const validateGroup = ajv.compile(schema('ocsf-1.3.0-group-management.schema.json'));

function expectValid(record: OcsfRecord | null): asserts record is OcsfRecord {
  expect(record).not.toBeNull();
  const validate = record!.class_uid === 6003 ? validateApi : record!.class_uid === 3006 ? validateGroup : validateUam;
  const ok = validate(record);
  expect(ok ? [] : validate.errors).toEqual([]);
}

const opts = { productName: 'pipeline-secrets-audit', productVersion: '0.1.0', vendorName: 'example.org', burst: false };
const at = '2025-03-01T10:00:00.000Z';
let seq = 0;
function recorded(type: string, data: Record<string, unknown>, actor: RecordedEvent['metadata']['actor'] = { type: 'user', id: 'gina' }): RecordedEvent {
  seq++;
  return {
    eventId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    data,
    metadata: { correlationId: 'corr', causationId: 'cause', actor, occurredAt: at },
    streamName: `s-${seq}`,
    revision: 0,
    position: { commit: 1n, prepare: BigInt(seq) },
    recordedAt: '2025-03-01T10:00:00.250Z',
  };
}

// The group `acme` is named like the project `acme`: the two must never meet in a record.
const G = 'acme/payments';
const GK = `group:${G}`;
const scope = { environment: 'prod*', branch: null, protectedOnly: false };
const ciJob = { type: 'ci-job', id: 'project_path:app:ref_type:branch:ref:main', pipelineId: 'pl-9', jobId: 'job-3', ref: 'main', refProtected: true, environment: 'production' };
const ciActor = { type: 'ci-job' as const, id: ciJob.id };

const groupEvents = (key: string) => ({
  created: recorded('SecretCreated', { projectId: key, name: 'REG', description: 'registry', scope, version: 1, valueRef: 'kv#1', createdBy: 'gina' }),
  updated: recorded('SecretValueUpdated', { projectId: key, name: 'REG', version: 2, valueRef: 'kv#2', updatedBy: 'gina' }),
  metadataChanged: recorded('SecretMetadataChanged', { projectId: key, name: 'REG', description: null, scope, changedBy: 'gina' }),
  deleted: recorded('SecretDeleted', { projectId: key, name: 'REG', lastVersion: 2, deletedBy: 'gina' }),
  rotationOverdue: recorded('SecretRotationOverdue', { projectId: key, name: 'REG', version: 2, intervalDays: 30, lastRotatedAt: at, dueAt: at, recordedAt: at }, { type: 'system', id: 'rotation-overdue' }),
  readByJob: recorded('SecretAccessed', { projectId: key, name: 'REG', version: 2, principal: ciJob, via: { scope: 'ci-job-scope' }, purpose: null, jobProjectId: 'app' }, ciActor),
  readByUser: recorded('SecretAccessed', { projectId: key, name: 'REG', version: 2, principal: { type: 'user', id: 'olive' }, via: { grantId: 'g-1', role: 'developer', inheritedFrom: { type: 'group', id: 'acme' } }, purpose: 'debug' }),
  deniedToJob: recorded('SecretAccessDenied', { projectId: key, name: 'REG', action: 'read', principal: { ...ciJob, environment: 'staging' }, reason: 'environment-mismatch', purpose: null, jobProjectId: 'app' }, ciActor),
  deniedGroupWide: recorded('SecretAccessDenied', { projectId: key, name: null, action: 'manage-grants', principal: { type: 'user', id: 'mallory' }, reason: 'no-grant', purpose: null }),
  notDelivered: recorded('SecretValueNotDelivered', { accessEventId: '00000000-0000-4000-8000-000000000001', projectId: key, name: 'REG', version: 2, reason: 'secret-deleted' }),
  suppressed: recorded('SecretAccessDenialsSuppressed', { projectId: key, principal: { type: 'user', id: 'mallory' }, reason: 'no-grant', count: 3, rateLimited: 0, projects: 1, firstAt: at, lastAt: at, windowSeconds: 60 }, { type: 'system', id: 'denial-summary' }),
  grantedToUser: recorded('RoleGranted', { projectId: key, grantId: 'g-1', principal: { type: 'user', id: 'olive' }, role: 'developer', environment: 'prod*', branch: null, expiresAt: null, grantedBy: 'gina', grantedAt: at }),
  grantedToClaim: recorded('RoleGranted', { projectId: key, grantId: 'g-2', principal: { type: 'group', id: 'team-a' }, role: 'reporter', environment: null, branch: null, expiresAt: null, grantedBy: 'gina', grantedAt: at }),
  revoked: recorded('RoleRevoked', { projectId: key, grantId: 'g-1', principal: { type: 'user', id: 'olive' }, role: 'developer', revokedBy: 'gina', revokedAt: at }),
  expired: recorded('RoleExpired', { projectId: key, grantId: 'g-1', principal: { type: 'user', id: 'olive' }, role: 'developer', expiresAt: at, recordedAt: at }, { type: 'system', id: 'grant-expiry' }),
  breakGlass: recorded('BreakGlassInvoked', { projectId: key, grantId: 'bg-1', principal: { type: 'user', id: 'carol' }, principalGroups: ['oncall'], role: 'owner', environment: null, branch: null, reason: 'down', durationSeconds: 900, invokedAt: at, expiresAt: at, eligibleVia: 'g-bg' }),
  requested: recorded('AccessRequested', { projectId: key, requestId: 'ar-1', requester: { type: 'user', id: 'rita' }, requesterGroups: ['t'], role: 'developer', environment: null, branch: null, durationSeconds: 600, reason: 'incident', requestedAt: at, expiresAt: at }),
});

/** Every resource of a record (API Activity's `resources`, IAM's `resource`). */
const resourcesOf = (r: OcsfRecord) => ('resources' in r ? r.resources : [r.resource]);

describe('OCSF records of groups (issue 20)', () => {
  it.each(Object.entries(groupEvents(GK)))('%s of a group is valid OCSF 1.3.0 and names the group, never a project', (_name, event) => {
    const r = toOcsf(event, opts);
    expectValid(r);
    const resources = resourcesOf(r);
    // The group is named as a group: a `group` resource, or a secret of it (uid under the group key, data.group_id).
    const named = resources.some((x) => (x.type === 'group' && x.uid === GK && x.name === G) || (x.type === 'secret' && x.uid.startsWith(`${GK}/`) && (x.data as { group_id?: string }).group_id === G));
    expect(named).toBe(true);
    for (const x of resources) {
      // Only the job's own project is ever a project here.
      if (x.type === 'project') expect(x.uid).toBe('app');
      expect(x.data ?? {}).not.toHaveProperty('project_id');
    }
    expect(r.message).not.toMatch(/project (group:)?acme\b/);
  });

  it('a group secret is `group:<path>/<NAME>` with data.group_id, and the group itself follows', () => {
    const r = toOcsf(groupEvents(GK).created, opts) as OcsfApiActivity;
    expect(r.resources).toEqual([
      { type: 'secret', uid: `${GK}/REG`, name: 'REG', version: '1', data: { group_id: G, scope: { environment: 'prod*', branch: null, protected_only: false } } },
      { type: 'group', uid: GK, name: G },
    ]);
    expect(r.message).toBe(`user gina created secret ${GK}/REG`);
  });

  it("a CI job's read of a group secret names the group AND the job's project", () => {
    const r = toOcsf(groupEvents(GK).readByJob, opts) as OcsfApiActivity;
    expect(r.resources).toEqual([
      { type: 'secret', uid: `${GK}/REG`, name: 'REG', version: '2', data: { group_id: G } },
      { type: 'group', uid: GK, name: G },
      { type: 'project', uid: 'app', name: 'app' },
    ]);
    expect(r.message).toContain('(a job of project app)');
    const denied = toOcsf(groupEvents(GK).deniedToJob, opts) as OcsfApiActivity;
    expect(denied.resources.map((x) => [x.type, x.uid])).toEqual([['secret', `${GK}/REG`], ['group', GK], ['project', 'app']]);
    expect(denied).toMatchObject({ status_detail: 'environment-mismatch', status_id: 2 });
  });

  it('a project secret read by its own job is unchanged (one resource, data.project_id)', () => {
    const r = toOcsf(recorded('SecretAccessed', { projectId: 'app', name: 'DB', version: 1, principal: ciJob, via: { scope: 'ci-job-scope' }, purpose: null }, ciActor), opts) as OcsfApiActivity;
    expectValid(r);
    expect(r.resources).toEqual([{ type: 'secret', uid: 'app/DB', name: 'DB', version: '1', data: { project_id: 'app' } }]);
  });

  it('a group named like a project: no record of the group `acme` names the project `acme`', () => {
    for (const [name, event] of Object.entries(groupEvents('group:acme'))) {
      const r = toOcsf(event, opts)!;
      expectValid(r);
      const json = JSON.stringify(r);
      expect([name, json]).not.toEqual([name, expect.stringContaining('"project_id":"acme"')]);
      for (const x of resourcesOf(r)) expect([name, x.type, x.uid]).not.toEqual([name, 'project', 'acme']);
      expect([name, r.message]).not.toEqual([name, expect.stringMatching(/project acme\b/)]);
      expect(json).not.toContain('"uid":"acme/REG"');
    }
  });

  it('a grant on a group: User Access Management on the group; to a group claim, Group Management with the claim as `group` and the place as `resource`', () => {
    const user = toOcsf(groupEvents(GK).grantedToUser, opts) as OcsfUserAccessManagement;
    expectValid(user);
    expect(user).toMatchObject({ class_uid: 3005, user: { uid: 'olive' }, resource: { type: 'group', uid: GK, name: G, data: { environment: 'prod*', branch: null } } });
    expect(user.message).toBe(`user gina granted role developer on group ${G} to user olive`);
    const claim = toOcsf(groupEvents(GK).grantedToClaim, opts) as OcsfGroupManagement;
    expectValid(claim);
    expect(claim).toMatchObject({ class_uid: 3006, group: { uid: 'team-a', name: 'team-a' }, resource: { type: 'group', uid: GK, name: G } });
  });

  it.each([
    ['into a group', { groupId: G, previousGroupId: null }, [['project', 'app', undefined], ['group', GK, ['project-group:new']]], `user root moved project app into group ${G}`],
    ['between groups', { groupId: G, previousGroupId: 'acme' }, [['project', 'app', undefined], ['group', GK, ['project-group:new']], ['group', 'group:acme', ['project-group:previous']]], `user root moved project app into group ${G} (from group acme)`],
    ['out of its group', { groupId: null, previousGroupId: G }, [['project', 'app', undefined], ['group', GK, ['project-group:previous']]], `user root took project app out of group ${G}`],
  ])('ProjectGroupChanged %s: API Activity Update on the project, the groups as resources', (_label, move, resources, message) => {
    const e = recorded('ProjectGroupChanged', { projectId: 'app', ...move, changedBy: 'root', changedAt: at }, { type: 'user', id: 'root' });
    const r = toOcsf(e, opts) as OcsfApiActivity;
    expectValid(r);
    expect(r).toMatchObject({ class_uid: 6003, activity_id: 3, activity_name: 'Update', type_uid: 600303, severity_id: 2, status_id: 1, api: { operation: 'ChangeProjectGroup' }, metadata: { event_code: 'ProjectGroupChanged' } });
    expect(r.resources.map((x) => [x.type, x.uid, x.labels])).toEqual(resources);
    expect(r.resources[0].data).toEqual({ group_id: move.groupId, previous_group_id: move.previousGroupId });
    expect(r.message).toBe(message);
    expect(auditKey(e)).toBe('app/*');
  });

  it('Kafka keys: a group secret is `group:{groupId}/{name}`, a group grant `group:{groupId}/*`, never a project key', () => {
    const e = groupEvents(GK);
    for (const k of ['created', 'updated', 'metadataChanged', 'deleted', 'rotationOverdue', 'readByJob', 'readByUser', 'deniedToJob', 'notDelivered'] as const) expect(auditKey(e[k])).toBe(`group:${G}/REG`);
    for (const k of ['grantedToUser', 'grantedToClaim', 'revoked', 'expired', 'deniedGroupWide', 'suppressed'] as const) expect(auditKey(e[k])).toBe(`group:${G}/*`);
    // The group `acme` and the project `acme` never share a key (so never a partition order either).
    expect(auditKey(groupEvents('group:acme').created)).toBe('group:acme/REG');
    expect(auditKey(recorded('SecretCreated', { projectId: 'acme', name: 'REG', description: null, scope, version: 1, valueRef: 'kv#1', createdBy: 'a' }))).toBe('acme/REG');
  });

  describe('forged or damaged places map to nothing harmful, and never stop a relay', () => {
    const forged = ['group:../x', 'group:', 'group:ACME', 'group:a//b', 'group:a/b/c/d/e/f/g/h/i', 'group:acme/', 'group:%2e%2e'];

    it.each(forged)('projectId %j: every kind of record is still valid, names an unknown place, never a project or a group', (key) => {
      for (const [name, event] of Object.entries(groupEvents(key))) {
        let r: OcsfRecord | null = null;
        expect(() => (r = toOcsf(event, opts))).not.toThrow();
        expectValid(r);
        for (const x of resourcesOf(r!)) {
          expect([name, x.type]).not.toEqual([name, 'group']);
          if (x.type === 'project') expect([name, x.uid]).toEqual([name, 'app']); // only the job's own project
        }
        expect(JSON.stringify(r)).not.toContain(key.slice('group:'.length) || '\u0000');
        expect(auditKey(event).startsWith('/')).toBe(true);
      }
    });

    it('a forged jobProjectId (a group key, a path, the place itself, not a string) adds no resource', () => {
      for (const jobProjectId of ['group:acme', '../x', 'ACME', GK, 42, { id: 'app' }, null]) {
        const e = recorded('SecretAccessed', { projectId: GK, name: 'REG', version: 1, principal: ciJob, via: { scope: 'ci-job-scope' }, purpose: null, jobProjectId }, ciActor);
        const r = toOcsf(e, opts) as OcsfApiActivity;
        expectValid(r);
        expect(r.resources.map((x) => x.type)).toEqual(['secret', 'group']);
      }
    });

    it('ProjectGroupChanged with a group key as the project, or malformed group paths: an unknown place, no group named', () => {
      const e = recorded('ProjectGroupChanged', { projectId: 'group:acme', groupId: 'ACME/../x', previousGroupId: { id: 'acme' }, changedBy: 'root', changedAt: at }, { type: 'user', id: 'root' });
      const r = toOcsf(e, opts) as OcsfApiActivity;
      expectValid(r);
      expect(r.resources).toEqual([{ type: 'unknown', uid: '?', name: 'unknown place', data: { group_id: null, previous_group_id: null } }]);
    });
  });

  it('canary values in a group event (value refs, extra fields, principal extras) never reach a record', () => {
    const CANARY = 'CANARY-grp-5d1e';
    for (const event of Object.values(groupEvents(GK))) {
      const poisoned: RecordedEvent = {
        ...event,
        data: {
          ...event.data,
          ...(typeof event.data.valueRef === 'string' ? { valueRef: `kv:${CANARY}` } : {}),
          ...(event.data.principal ? { principal: { ...(event.data.principal as object), token: CANARY, groups: [CANARY] } } : {}),
          value: CANARY,
          group: { secret: CANARY },
        },
        metadata: { ...event.metadata, authorization: CANARY },
      };
      const r = toOcsf(poisoned, opts);
      expectValid(r);
      expect(JSON.stringify(r)).not.toContain(CANARY);
    }
    const move = recorded('ProjectGroupChanged', { projectId: 'app', groupId: G, previousGroupId: null, changedBy: 'root', changedAt: at, value: CANARY, note: CANARY }, { type: 'user', id: 'root' });
    expect(JSON.stringify(toOcsf(move, opts))).not.toContain(CANARY);
  });
});
