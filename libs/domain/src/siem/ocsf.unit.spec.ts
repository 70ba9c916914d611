import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordedEvent } from '../ports/event-store';
import { auditKey, MAX_PURPOSE_LENGTH, OcsfApiActivity, OcsfGroupManagement, OcsfRecord, OcsfUserAccessManagement, toOcsf } from '.';

const schema = (file: string) => JSON.parse(readFileSync(join(__dirname, 'schema', file), 'utf8'));
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true }) // anyOf branches name properties defined one level up;
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

/** A recorded event as the store would hand it over. */
function recorded(
  type: string,
  data: Record<string, unknown>,
  over: { actor?: RecordedEvent['metadata']['actor']; occurredAt?: string; eventId?: string } = {},
): RecordedEvent {
  seq++;
  return {
    eventId: over.eventId ?? `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    data,
    metadata: {
      correlationId: 'corr-1',
      causationId: 'cause-1',
      actor: over.actor ?? { type: 'user', id: 'alice' },
      occurredAt: over.occurredAt ?? at,
    },
    streamName: `secret-${seq}`,
    revision: 0,
    position: { commit: 1n, prepare: BigInt(seq) },
    recordedAt: '2025-03-01T10:00:00.250Z',
  };
}

const scope = { environment: 'prod*', branch: null, protectedOnly: true };
const ciJob = {
  type: 'ci-job',
  id: 'project_path:acme/app:ref_type:branch:ref:main',
  pipelineId: 'pl-42',
  jobId: 'job-7',
  ref: 'main',
  refProtected: true,
  environment: 'production',
  triggeredBy: 'bob',
};
const ciActor = { type: 'ci-job' as const, id: ciJob.id };

const events = {
  created: () => recorded('SecretCreated', { projectId: 'acme', name: 'DB_PASSWORD', description: 'db', scope, version: 1, valueRef: 'kv/acme/DB#1', createdBy: 'alice' }),
  updated: () => recorded('SecretValueUpdated', { projectId: 'acme', name: 'DB_PASSWORD', version: 2, valueRef: 'kv/acme/DB#2', updatedBy: 'alice' }),
  metadataChanged: () => recorded('SecretMetadataChanged', { projectId: 'acme', name: 'DB_PASSWORD', description: null, scope, changedBy: 'alice' }),
  deleted: () => recorded('SecretDeleted', { projectId: 'acme', name: 'DB_PASSWORD', lastVersion: 2, deletedBy: 'alice' }),
  createdWithRotation: () =>
    recorded('SecretCreated', { projectId: 'acme', name: 'DB_PASSWORD', description: null, scope, version: 1, valueRef: 'kv/acme/DB#1', createdBy: 'alice', rotationIntervalDays: 90 }),
  rotationCleared: () => recorded('SecretMetadataChanged', { projectId: 'acme', name: 'DB_PASSWORD', description: null, scope, changedBy: 'alice', rotationIntervalDays: null }),
  rotationOverdue: () =>
    recorded(
      'SecretRotationOverdue',
      { projectId: 'acme', name: 'DB_PASSWORD', version: 3, intervalDays: 90, lastRotatedAt: '2024-12-01T10:00:00.000Z', dueAt: '2025-03-01T10:00:00.000Z', recordedAt: at },
      { actor: { type: 'system', id: 'rotation-overdue' } },
    ),
  accessedByUser: () =>
    recorded('SecretAccessed', {
      projectId: 'acme',
      name: 'DB_PASSWORD',
      version: 2,
      principal: { type: 'user', id: 'alice' },
      via: { grantId: 'g-1', role: 'developer' },
      purpose: 'debugging',
    }),
  accessedByJob: () =>
    recorded('SecretAccessed', { projectId: 'acme', name: 'DB_PASSWORD', version: 2, principal: ciJob, via: { scope: 'ci-job-scope' }, purpose: null }, { actor: ciActor }),
  deniedToJob: () =>
    recorded(
      'SecretAccessDenied',
      { projectId: 'acme', name: 'DB_PASSWORD', action: 'read', principal: { ...ciJob, refProtected: false }, reason: 'unprotected-ref', purpose: null },
      { actor: ciActor },
    ),
  deniedGrants: () =>
    recorded('SecretAccessDenied', { projectId: 'acme', name: null, action: 'manage-grants', principal: { type: 'user', id: 'mallory' }, reason: 'no-grant', purpose: null }),
  granted: () =>
    recorded('RoleGranted', {
      projectId: 'acme',
      grantId: 'g-1',
      principal: { type: 'user', id: 'carol' },
      role: 'developer',
      environment: 'staging',
      branch: null,
      expiresAt: '2025-06-01T00:00:00Z',
      grantedBy: 'alice',
      grantedAt: at,
    }),
  grantedToGroup: () =>
    recorded('RoleGranted', {
      projectId: 'acme',
      grantId: 'g-2',
      principal: { type: 'group', id: 'team-a' },
      role: 'reporter',
      environment: null,
      branch: null,
      expiresAt: null,
      grantedBy: 'alice',
      grantedAt: at,
    }),
  revoked: () =>
    recorded('RoleRevoked', { projectId: 'acme', grantId: 'g-1', principal: { type: 'user', id: 'carol' }, role: 'developer', revokedBy: 'alice', revokedAt: at }),
  expired: () =>
    recorded(
      'RoleExpired',
      { projectId: 'acme', grantId: 'g-3', principal: { type: 'user', id: 'dave' }, role: 'maintainer', expiresAt: '2025-03-01T09:59:00.000Z', recordedAt: at },
      { actor: { type: 'system', id: 'grant-expiry' } },
    ),
};

describe('toOcsf', () => {
  it.each(Object.entries(events))('maps %s to a record valid against its OCSF 1.3.0 schema', (_name, make) => {
    const record = toOcsf(make(), opts);
    expectValid(record);
    expect(record.type_uid).toBe(record.class_uid * 100 + record.activity_id);
  });

  it.each([
    ['created', 1, 'Create', 'CreateSecret', 1],
    ['updated', 3, 'Update', 'UpdateSecretValue', 1],
    ['metadataChanged', 3, 'Update', 'ChangeSecretMetadata', 1],
    ['deleted', 4, 'Delete', 'DeleteSecret', 2],
    ['accessedByUser', 2, 'Read', 'AccessSecret', 1],
    ['deniedToJob', 2, 'Read', 'AccessSecret', 3],
  ] as const)('maps %s to API Activity %i %s', (name, activityId, activityName, operation, severity) => {
    const r = toOcsf(events[name](), opts) as OcsfApiActivity;
    expect(r).toMatchObject({
      class_uid: 6003,
      class_name: 'API Activity',
      category_uid: 6,
      category_name: 'Application Activity',
      activity_id: activityId,
      activity_name: activityName,
      type_uid: 600300 + activityId,
      type_name: `API Activity: ${activityName}`,
      severity_id: severity,
      api: { operation, service: { name: 'pipeline-secrets-audit' } },
    });
    expect(r.resources).toEqual([expect.objectContaining({ type: 'secret', uid: 'acme/DB_PASSWORD', name: 'DB_PASSWORD' })]);
  });

  it('fills metadata, time and actor from the recorded event', () => {
    const e = events.created();
    const r = toOcsf(e, opts)!;
    expect(r.metadata).toEqual({
      version: '1.3.0',
      product: { name: 'pipeline-secrets-audit', version: '0.1.0', vendor_name: 'example.org' },
      profiles: ['datetime'],
      uid: e.eventId,
      correlation_uid: 'corr-1',
      event_code: 'SecretCreated',
      log_name: 'secrets.audit.v1',
      original_time: at,
      logged_time: Date.parse('2025-03-01T10:00:00.250Z'),
    });
    expect(r.time).toBe(Date.parse(at));
    expect(r.time_dt).toBe(at);
    expect(r.actor).toEqual({ user: { uid: 'alice', type_id: 1, type: 'User' } });
    expect(r.src_endpoint).toEqual({ svc_name: 'admin-api' });
    expect(r.status_id).toBe(1);
    expect(r.status).toBe('Success');
    expect((r as OcsfApiActivity).resources[0]).toEqual({
      type: 'secret',
      uid: 'acme/DB_PASSWORD',
      name: 'DB_PASSWORD',
      version: '1',
      data: { project_id: 'acme', scope: { environment: 'prod*', branch: null, protected_only: true } },
    });
  });

  it('records a denial as Failure with the reason in status_detail', () => {
    const r = toOcsf(events.deniedToJob(), opts)!;
    expect(r).toMatchObject({ status_id: 2, status: 'Failure', status_detail: 'unprotected-ref', severity_id: 3, severity: 'Medium' });
    expect(r.actor.authorizations).toEqual([{ decision: 'Denied' }]);
  });

  it('maps a denial of a project-wide action to Other on the project', () => {
    const r = toOcsf(events.deniedGrants(), opts) as OcsfApiActivity;
    expectValid(r);
    expect(r).toMatchObject({ activity_id: 99, activity_name: 'Other', type_uid: 600399, status_detail: 'no-grant', api: { operation: 'ManageGrants' } });
    expect(r.resources).toEqual([{ type: 'project', uid: 'acme', name: 'acme' }]);
  });

  it('raises a burst of denials to High and says so', () => {
    const r = toOcsf(events.deniedToJob(), { ...opts, burst: true })!;
    expectValid(r);
    expect(r).toMatchObject({ severity_id: 4, severity: 'High', unmapped: { denial_burst: true } });
    expect(r.message).toContain('repeated denials');
  });

  it('ignores the burst flag on events that are not denials', () => {
    const e = events.accessedByUser();
    expect(toOcsf(e, { ...opts, burst: true })).toEqual(toOcsf(e, opts));
  });

  it('carries the pipeline and job of a CI job', () => {
    const r = toOcsf(events.accessedByJob(), opts)!;
    expectValid(r);
    expect(r.actor).toEqual({
      user: { uid: ciJob.id, type_id: 99, type: 'CI Job' },
      session: { uid: 'job-7' },
      authorizations: [{ decision: 'Allowed', policy: { name: 'ci-job-scope' } }],
    });
    expect(r.src_endpoint).toEqual({ svc_name: 'ci' });
    expect(r.unmapped?.ci).toEqual({ pipeline_id: 'pl-42', job_id: 'job-7', ref: 'main', ref_protected: true, environment: 'production', triggered_by: 'bob' });
    expect(r.message).toContain('pipeline pl-42, job job-7');
  });

  it('names the grant a user read through', () => {
    const r = toOcsf(events.accessedByUser(), opts)!;
    expect(r.actor.authorizations).toEqual([{ decision: 'Allowed', policy: { uid: 'g-1', name: 'developer' } }]);
    expect(r.unmapped).toEqual({ purpose: 'debugging' });
  });

  it('maps RoleGranted to User Access Management: Assign Privileges', () => {
    const r = toOcsf(events.granted(), opts) as OcsfUserAccessManagement;
    expect(r).toMatchObject({
      class_uid: 3005,
      class_name: 'User Access Management',
      category_uid: 3,
      category_name: 'Identity & Access Management',
      activity_id: 1,
      activity_name: 'Assign Privileges',
      type_uid: 300501,
      severity_id: 1,
      status_id: 1,
      user: { uid: 'carol', type_id: 1, type: 'User' },
      privileges: ['developer'],
      resource: {
        type: 'project',
        uid: 'acme',
        name: 'acme',
        data: { environment: 'staging', branch: null },
        labels: ['environment:staging', 'branch:*'],
      },
      actor: { user: { uid: 'alice', type_id: 1, type: 'User' } },
      unmapped: { grant: { grant_id: 'g-1', expires_at: '2025-06-01T00:00:00Z' } },
    });
    expect(r.metadata.profiles).toEqual(['datetime', 'host']);
  });

  it('maps RoleRevoked to Revoke Privileges, and a role granted to a group to Group Management (3006)', () => {
    const revoked = toOcsf(events.revoked(), opts) as OcsfUserAccessManagement;
    expect(revoked).toMatchObject({ activity_id: 2, activity_name: 'Revoke Privileges', type_uid: 300502, privileges: ['developer'] });
    const group = toOcsf(events.grantedToGroup(), opts) as OcsfGroupManagement;
    expectValid(group);
    expect(group).toMatchObject({ class_uid: 3006, class_name: 'Group Management', category_uid: 3, activity_id: 1, activity_name: 'Assign Privileges', type_uid: 300601, group: { uid: 'team-a', name: 'team-a' } });
    expect(group).not.toHaveProperty('user');
    // the same record is not a valid User Access Management record (no user), so the class matters
    expect(validateUam({ ...group, class_uid: 3005, type_uid: 300501 })).toBe(false);
    const revokedFromGroup = toOcsf({ ...events.revoked(), data: { ...events.revoked().data, principal: { type: 'group', id: 'team-a' } } }, opts) as OcsfGroupManagement;
    expectValid(revokedFromGroup);
    expect(revokedFromGroup).toMatchObject({ class_uid: 3006, activity_id: 2, type_uid: 300602, privileges: ['developer'] });
  });

  it('maps RoleExpired to Revoke Privileges with status_detail "expired", by the system, with the expiry time', () => {
    const r = toOcsf(events.expired(), opts) as OcsfUserAccessManagement;
    expect(r).toMatchObject({
      class_uid: 3005,
      activity_id: 2,
      type_uid: 300502,
      status_id: 1,
      status_detail: 'expired',
      privileges: ['maintainer'],
      user: { uid: 'dave' },
      unmapped: { grant: { grant_id: 'g-3', expires_at: '2025-03-01T09:59:00.000Z' } },
    });
    expect(r.src_endpoint).toEqual({ svc_name: 'internal' });
    expect(auditKey(events.expired())).toBe('acme/*');
  });

  it('has schemas that reject what OCSF 1.3.0 would not accept', () => {
    const good = toOcsf(events.created(), opts)!;
    expect(validateApi(good)).toBe(true);
    const { src_endpoint: _gone, ...noSource } = good;
    expect(validateApi(noSource)).toBe(false);
    expect(validateApi({ ...good, secret_value: 'x' })).toBe(false);
    expect(validateApi({ ...good, class_uid: 3005 })).toBe(false);
    expect(validateApi({ ...good, type_uid: 600305 })).toBe(false);
    expect(validateApi({ ...good, actor: {} })).toBe(false);
    expect(validateApi({ ...good, metadata: { ...good.metadata, version: '1.1.0' } })).toBe(false);
    const grant = toOcsf(events.granted(), opts) as OcsfUserAccessManagement;
    expect(validateUam(grant)).toBe(true);
    expect(validateUam({ ...grant, privileges: [] })).toBe(false);
    expect(validateUam({ ...grant, resources: [grant.resource] })).toBe(false);
  });

  it('returns null for event types that are not audit-relevant', () => {
    expect(toOcsf(recorded('SomethingElseHappened', { projectId: 'acme' }), opts)).toBeNull();
  });

  it('is deterministic: the same event gives a deep-equal record', () => {
    for (const make of Object.values(events)) {
      const e = make();
      expect(toOcsf(structuredClone(e), opts)).toEqual(toOcsf(e, opts));
      expect(JSON.stringify(toOcsf(structuredClone(e), opts))).toBe(JSON.stringify(toOcsf(e, opts)));
    }
  });

  it('truncates a purpose to the maximum length', () => {
    const e = events.accessedByUser();
    e.data.purpose = 'p'.repeat(MAX_PURPOSE_LENGTH + 50) + 'TAIL';
    const r = toOcsf(e, opts)!;
    expect(r.unmapped?.purpose).toBe('p'.repeat(MAX_PURPOSE_LENGTH));
  });

  describe('allow-list: nothing outside known fields reaches a record', () => {
    const CANARY = 'CANARY-7f3a9c';
    const canaryEvents = (): RecordedEvent[] => {
      const withExtras = (e: RecordedEvent): RecordedEvent => {
        const principal = e.data.principal as Record<string, unknown> | undefined;
        const scopeOf = e.data.scope as Record<string, unknown> | undefined;
        return {
          ...e,
          data: {
            ...e.data,
            ...(typeof e.data.valueRef === 'string' ? { valueRef: `vault:${CANARY}` } : {}),
            ...(e.data.description !== undefined ? { description: CANARY } : {}),
            ...(principal ? { principal: { ...principal, groups: [CANARY], token: CANARY } } : {}),
            ...(scopeOf ? { scope: { ...scopeOf, secretValue: CANARY } } : {}),
            ...(e.data.via ? { via: { ...(e.data.via as object), extra: CANARY } } : {}),
            ...(e.data.purpose !== undefined ? { purpose: 'x'.repeat(MAX_PURPOSE_LENGTH) + CANARY } : {}),
            value: CANARY,
            unexpected: { nested: CANARY },
          },
          metadata: { ...e.metadata, ip: CANARY, headers: { authorization: CANARY } },
        };
      };
      const enumsPoisoned = [
        recorded('SecretAccessDenied', { projectId: 'acme', name: 'X', action: CANARY, principal: { type: 'user', id: 'u' }, reason: CANARY, purpose: null }),
        recorded('RoleGranted', {
          projectId: 'acme',
          grantId: 'g',
          principal: { type: CANARY, id: 'u' },
          role: CANARY,
          environment: null,
          branch: null,
          expiresAt: null,
          grantedBy: 'a',
          grantedAt: at,
        }),
        recorded('SecretAccessed', { projectId: 'acme', name: 'X', version: 1, principal: { type: 'user', id: 'u' }, via: { scope: CANARY }, purpose: null }),
      ];
      return [...Object.values(events).map((make) => withExtras(make())), ...enumsPoisoned];
    };

    it('never copies a canary into any record, and every record stays valid', () => {
      const all = canaryEvents();
      expect(all.length).toBeGreaterThan(Object.keys(events).length);
      for (const e of all) {
        expect(JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toContain(CANARY);
        for (const burst of [false, true]) {
          const r = toOcsf(e, { ...opts, burst });
          expectValid(r);
          expect(JSON.stringify(r)).not.toContain(CANARY);
        }
      }
    });

    it('maps unknown enum values to neutral ones', () => {
      const [denial, grant] = canaryEvents().slice(-3);
      expect(toOcsf(denial, opts)).toMatchObject({ status_detail: 'other', activity_id: 99, api: { operation: 'Unknown' } });
      expect(toOcsf(grant, opts)).toMatchObject({ privileges: ['unknown'], user: { type: 'User' } });
    });
  });
});

describe('rotation in OCSF 1.3.0 (issue 14)', () => {
  it('SecretRotationOverdue is a schema-valid API Activity "Other" on the secret version, by the system, Medium, naming interval and dates', () => {
    const r = toOcsf(events.rotationOverdue(), opts) as OcsfApiActivity;
    expectValid(r);
    expect(r).toMatchObject({
      class_uid: 6003,
      activity_id: 99,
      activity_name: 'Other',
      type_uid: 600399,
      severity_id: 3,
      severity: 'Medium',
      status_id: 1,
      status_detail: 'rotation-overdue',
      api: { operation: 'RecordSecretRotationOverdue' },
      actor: { user: { uid: 'rotation-overdue', type_id: 3, type: 'System' } },
      metadata: { event_code: 'SecretRotationOverdue' },
      unmapped: { rotation: { interval_days: 90, last_rotated_at: '2024-12-01T10:00:00.000Z', due_at: '2025-03-01T10:00:00.000Z' } },
    });
    expect(r.resources).toEqual([{ type: 'secret', uid: 'acme/DB_PASSWORD', name: 'DB_PASSWORD', version: '3', data: { project_id: 'acme' } }]);
    expect(r.message).toContain('overdue for rotation');
  });

  it('a create or change names the interval (null when cleared); events without one keep their record', () => {
    expect((toOcsf(events.createdWithRotation(), opts) as OcsfApiActivity).resources[0].data).toMatchObject({ rotation_interval_days: 90 });
    expect((toOcsf(events.rotationCleared(), opts) as OcsfApiActivity).resources[0].data).toMatchObject({ rotation_interval_days: null });
    expect((toOcsf(events.created(), opts) as OcsfApiActivity).resources[0].data).not.toHaveProperty('rotation_interval_days');
  });

  it('copies only a whole number of days: anything else in an event becomes null or 0', () => {
    const bad = events.rotationOverdue();
    bad.data.intervalDays = 'ninety';
    expect((toOcsf(bad, opts) as OcsfApiActivity).unmapped?.rotation?.interval_days).toBe(0);
    const created = events.createdWithRotation();
    created.data.rotationIntervalDays = { CANARY: 1 };
    const r = toOcsf(created, opts) as OcsfApiActivity;
    expectValid(r);
    expect(r.resources[0].data).toMatchObject({ rotation_interval_days: null });
  });

  it('is keyed to its secret on Kafka', () => expect(auditKey(events.rotationOverdue())).toBe('acme/DB_PASSWORD'));
});

describe('auditKey', () => {
  it('keys secret events by project and secret', () => {
    for (const make of [events.created, events.updated, events.metadataChanged, events.deleted, events.accessedByJob, events.deniedToJob]) {
      expect(auditKey(make())).toBe('acme/DB_PASSWORD');
    }
  });

  it('keys grants and project-wide denials to the whole project', () => {
    expect(auditKey(events.granted())).toBe('acme/*');
    expect(auditKey(events.revoked())).toBe('acme/*');
    expect(auditKey(events.deniedGrants())).toBe('acme/*');
  });
});

describe('SecretAccessDenialsSuppressed: repeats folded into one OCSF record', () => {
  it('is a valid API Activity (Other) with count, start_time and end_time, severity High when rate-limited', () => {
    const r = toOcsf(
      recorded('SecretAccessDenialsSuppressed', {
        projectId: 'p1',
        principal: { type: 'user', id: 'mallory' },
        reason: 'rate-limited',
        count: 180,
        rateLimited: 180,
        projects: 180,
        firstAt: '2025-03-01T10:00:01.000Z',
        lastAt: '2025-03-01T10:00:05.000Z',
        windowSeconds: 60,
      }, { actor: { type: 'system', id: 'denial-summary' } }),
      opts,
    );
    expectValid(r);
    expect(r).toMatchObject({
      class_uid: 6003,
      activity_id: 99,
      status_id: 2,
      status_detail: 'rate-limited',
      severity_id: 4,
      count: 180,
      start_time: Date.parse('2025-03-01T10:00:01.000Z'),
      end_time: Date.parse('2025-03-01T10:00:05.000Z'),
      unmapped: { suppressed: { rate_limited: 180, projects: 180, window_seconds: 60 } },
    });
    expect((r as { actor: { user: { uid: string } } }).actor.user.uid).toBe('mallory');
  });
});

describe('access requests and break-glass in OCSF 1.3.0 (issue 14)', () => {
  const requester = { type: 'user', id: 'rita' };
  const common = { projectId: 'acme', requestId: '0b7c9d52-8f7e-4c3b-9a51-2f1f1f1f1f1f', requester };

  it('break-glass is User Access Management Assign Privileges at severity 5 Critical, the highest an event gets, schema-valid', () => {
    const r = toOcsf(
      recorded(
        'BreakGlassInvoked',
        {
          projectId: 'acme', grantId: 'bg-1', principal: { type: 'user', id: 'carol' }, principalGroups: ['oncall'], role: 'owner', environment: null, branch: null,
          reason: 'prod down, pager 7', durationSeconds: 900, invokedAt: at, expiresAt: '2025-03-01T10:15:00.000Z', eligibleVia: 'g-bg',
        },
        { actor: { type: 'user', id: 'carol' } },
      ),
      opts,
    ) as OcsfUserAccessManagement;
    expectValid(r);
    expect(r).toMatchObject({ class_uid: 3005, activity_id: 1, type_uid: 300501, severity_id: 5, severity: 'Critical', status_detail: 'break-glass', privileges: ['owner'] });
    expect(r.user).toEqual({ uid: 'carol', type_id: 1, type: 'User' });
    expect(r.unmapped?.break_glass).toEqual({ grant_id: 'bg-1', user: 'carol', reason: 'prod down, pager 7', duration_seconds: 900, expires_at: '2025-03-01T10:15:00.000Z', eligible_via: 'g-bg' });
    // No group list leaves for the SIEM.
    expect(JSON.stringify(r)).not.toContain('oncall');
  });

  it('the grant a break-glass or an approval made names its provenance; the break-glass one is High', () => {
    const grant = (extra: Record<string, unknown>) =>
      toOcsf(
        recorded('RoleGranted', {
          projectId: 'acme', grantId: 'g-9', principal: { type: 'user', id: 'rita' }, role: 'developer', environment: null, branch: null,
          expiresAt: '2025-03-01T10:10:00.000Z', grantedBy: 'oscar', grantedAt: at, ...extra,
        }),
        opts,
      ) as OcsfUserAccessManagement;
    const approved = grant({ accessRequestId: common.requestId });
    expectValid(approved);
    expect(approved.severity_id).toBe(1);
    expect(approved.unmapped?.grant).toEqual({ grant_id: 'g-9', expires_at: '2025-03-01T10:10:00.000Z', access_request_id: common.requestId });
    const broken = grant({ breakGlass: true });
    expectValid(broken);
    expect(broken).toMatchObject({ severity_id: 4, severity: 'High', status_detail: 'break-glass' });
    expect(broken.unmapped?.grant?.break_glass).toBe(true);
    // A plain grant's record is unchanged.
    expect(grant({}).unmapped?.grant).toEqual({ grant_id: 'g-9', expires_at: '2025-03-01T10:10:00.000Z' });
  });

  it('every access-request event is a schema-valid API Activity on the request, naming who decided', () => {
    const cases: Array<[string, Record<string, unknown>, number, string, RecordedEvent['metadata']['actor']]> = [
      ['AccessRequested', { ...common, requesterGroups: ['team'], role: 'developer', environment: null, branch: null, durationSeconds: 600, reason: 'incident 42', requestedAt: at, expiresAt: '2025-03-02T10:00:00.000Z' }, 1, 'pending', { type: 'user', id: 'rita' }],
      ['AccessRequestApproved', { ...common, approvedBy: 'oscar', approvedAt: at, comment: null, grantId: 'g-9', grantExpiresAt: '2025-03-01T10:10:00.000Z' }, 3, 'approved', { type: 'user', id: 'oscar' }],
      ['AccessRequestDenied', { ...common, deniedBy: 'oscar', deniedAt: at, comment: 'no' }, 3, 'denied', { type: 'user', id: 'oscar' }],
      ['AccessRequestCancelled', { ...common, cancelledAt: at }, 4, 'cancelled', { type: 'user', id: 'rita' }],
      ['AccessRequestExpired', { ...common, expiresAt: at, recordedAt: at }, 3, 'expired', { type: 'system', id: 'access-request-expiry' }],
    ];
    for (const [type, data, activity, status, actor] of cases) {
      const r = toOcsf(recorded(type, data, { actor }), opts) as OcsfApiActivity;
      expectValid(r);
      expect(r).toMatchObject({ class_uid: 6003, activity_id: activity, severity_id: 1, status_detail: status });
      expect(r.actor.user.uid).toBe(actor.id);
      expect(r.resources[0]).toEqual({ type: 'access-request', uid: common.requestId, name: common.requestId });
      expect(r.unmapped?.access_request?.requester).toBe('rita');
      expect(JSON.stringify(r)).not.toContain('"team"');
    }
  });

  it('a break-glass review is API Activity Update; unjustified is High', () => {
    const review = (outcome: string) =>
      toOcsf(
        recorded('BreakGlassReviewed', { projectId: 'acme', grantId: 'bg-1', principal: { type: 'user', id: 'carol' }, outcome, comment: 'seen', reviewedBy: 'oscar', reviewedAt: at }, { actor: { type: 'user', id: 'oscar' } }),
        opts,
      ) as OcsfApiActivity;
    const ok = review('justified');
    expectValid(ok);
    expect(ok).toMatchObject({ activity_id: 3, severity_id: 1, status_detail: 'justified', api: { operation: 'ReviewBreakGlass' } });
    const bad = review('unjustified');
    expectValid(bad);
    expect(bad).toMatchObject({ severity_id: 4, severity: 'High', status_detail: 'unjustified' });
  });
});
