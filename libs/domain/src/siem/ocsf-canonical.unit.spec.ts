import canonicalize from 'canonicalize';
import { RecordedEvent } from '../ports/event-store';
import { canonicalJson } from '../audit-log';
import { toOcsf, toOcsfJson } from './ocsf';

// Issue 23, 4: every record is assembled with its keys in canonical (RFC 8785) order, so the
// auditor serialises a record with one JSON.stringify (toOcsfJson). Checked here for every record
// kind and the optional parts each can have: the string is byte for byte the canonical JSON of the
// record, and the record toOcsf hands out has no key the JSON lacks (no undefined-valued key).
const at = '2025-03-01T10:00:00.000Z';
let seq = 0;
const recorded = (type: string, data: Record<string, unknown>, actor: RecordedEvent['metadata']['actor'] = { type: 'user', id: 'alice' }): RecordedEvent => ({
  eventId: `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`,
  type,
  schemaVersion: 1,
  data,
  metadata: { correlationId: 'corr', causationId: 'cause', actor, occurredAt: at },
  streamName: `s-${seq}`,
  revision: 0,
  position: { commit: 1n, prepare: BigInt(seq) },
  recordedAt: '2025-03-01T10:00:00.250Z',
});
const scope = { environment: 'prod*', branch: null, protectedOnly: true };
const ciJob = { type: 'ci-job', id: 'project_path:acme/app', pipelineId: 'pl-42', jobId: 'job-7', ref: 'main', refProtected: true, environment: 'production', triggeredBy: 'bob' };
const ciActor = { type: 'ci-job' as const, id: ciJob.id };
const req = { projectId: 'acme', requestId: 'ar-1', requester: { type: 'user', id: 'rita' } };

const cases: Array<[string, RecordedEvent]> = [
  ['SecretCreated', recorded('SecretCreated', { projectId: 'acme', name: 'DB', description: 'db', scope, version: 1, valueRef: 'kv/acme/DB#1', createdBy: 'alice', rotationIntervalDays: 90 })],
  ['SecretCreated without rotation', recorded('SecretCreated', { projectId: 'acme', name: 'DB', description: null, scope, version: 1, valueRef: 'kv/acme/DB#1', createdBy: 'alice' })],
  ['SecretValueUpdated', recorded('SecretValueUpdated', { projectId: 'acme', name: 'DB', version: 2, valueRef: 'kv/acme/DB#2', updatedBy: 'alice' })],
  ['SecretMetadataChanged', recorded('SecretMetadataChanged', { projectId: 'acme', name: 'DB', description: null, scope, changedBy: 'alice', rotationIntervalDays: null })],
  ['SecretDeleted', recorded('SecretDeleted', { projectId: 'acme', name: 'DB', lastVersion: 2, deletedBy: 'alice' })],
  ['SecretRotationOverdue', recorded('SecretRotationOverdue', { projectId: 'acme', name: 'DB', version: 3, intervalDays: 90, lastRotatedAt: at, dueAt: at, recordedAt: at }, { type: 'system', id: 'rotation-overdue' })],
  ['SecretAccessed by a user through a grant, with purpose', recorded('SecretAccessed', { projectId: 'acme', name: 'DB', version: 2, principal: { type: 'user', id: 'alice' }, via: { grantId: 'g-1', role: 'developer' }, purpose: 'debugging' })],
  ['SecretAccessed by a CI job', recorded('SecretAccessed', { projectId: 'acme', name: 'DB', version: 2, principal: ciJob, via: { scope: 'ci-job-scope' }, purpose: null }, ciActor)],
  ['SecretAccessed directly in OpenBao', recorded('SecretAccessed', { projectId: 'acme', name: 'DB', version: 2, principal: ciJob, via: { channel: 'openbao', requestId: 'r-1', policy: 'ps-ci-acme-0123456789abcdef' }, purpose: null }, ciActor)],
  ['SecretAccessDenied to a job', recorded('SecretAccessDenied', { projectId: 'acme', name: 'DB', action: 'read', principal: { ...ciJob, refProtected: false }, reason: 'unprotected-ref', purpose: null }, ciActor)],
  ['SecretAccessDenied project-wide', recorded('SecretAccessDenied', { projectId: 'acme', name: null, action: 'manage-grants', principal: { type: 'user', id: 'mallory' }, reason: 'no-grant', purpose: 'x' })],
  ['SecretAccessDenialsSuppressed', recorded('SecretAccessDenialsSuppressed', { projectId: 'p1', principal: ciJob, reason: 'rate-limited', count: 180, rateLimited: 180, projects: 3, firstAt: at, lastAt: at, windowSeconds: 60 }, { type: 'system', id: 'denial-summary' })],
  ['SecretValueNotDelivered', recorded('SecretValueNotDelivered', { accessEventId: '00000000-0000-4000-8000-000000000001', projectId: 'p', name: 'DB', version: 3, reason: 'secret-deleted' })],
  ['OpenBaoDriftDetected', recorded('OpenBaoDriftDetected', { projectId: '*', who: { displayName: 'token', policies: ['root'] }, path: 'sys/policies/acl/ps-ci-p', operation: 'update', at, requestId: 'r-3' }, { type: 'user', id: 'openbao-token:token' })],
  ['OpenBaoDriftRepaired', recorded('OpenBaoDriftRepaired', { projectId: '*', requestId: 'r-3', path: 'auth/jwt-ci/role/ps-ci-p', written: ['policy/ps-ci-p'], removed: ['x'], at }, { type: 'system', id: 'openbao-drift-repair' })],
  ['RoleGranted', recorded('RoleGranted', { projectId: 'acme', grantId: 'g-1', principal: { type: 'user', id: 'carol' }, role: 'developer', environment: 'staging', branch: null, expiresAt: at, grantedBy: 'alice', grantedAt: at, accessRequestId: 'ar-1', breakGlass: true })],
  ['RoleGranted to a group', recorded('RoleGranted', { projectId: 'acme', grantId: 'g-2', principal: { type: 'group', id: 'team-a' }, role: 'reporter', environment: null, branch: null, expiresAt: null, grantedBy: 'alice', grantedAt: at })],
  ['RoleRevoked', recorded('RoleRevoked', { projectId: 'acme', grantId: 'g-1', principal: { type: 'user', id: 'carol' }, role: 'developer', revokedBy: 'alice', revokedAt: at })],
  ['RoleExpired', recorded('RoleExpired', { projectId: 'acme', grantId: 'g-3', principal: { type: 'user', id: 'dave' }, role: 'maintainer', expiresAt: at, recordedAt: at }, { type: 'system', id: 'grant-expiry' })],
  ['BreakGlassInvoked', recorded('BreakGlassInvoked', { projectId: 'acme', grantId: 'bg-1', principal: { type: 'user', id: 'carol' }, principalGroups: ['oncall'], role: 'owner', environment: null, branch: 'main', reason: 'prod down', durationSeconds: 900, invokedAt: at, expiresAt: at, eligibleVia: 'g-bg' })],
  ['BreakGlassReviewed', recorded('BreakGlassReviewed', { projectId: 'acme', grantId: 'bg-1', principal: { type: 'user', id: 'carol' }, outcome: 'unjustified', comment: 'seen', reviewedBy: 'oscar', reviewedAt: at })],
  ['AccessRequested', recorded('AccessRequested', { ...req, requesterGroups: ['team'], role: 'developer', environment: null, branch: null, durationSeconds: 600, reason: 'incident 42', requestedAt: at, expiresAt: at })],
  ['AccessRequestApproved', recorded('AccessRequestApproved', { ...req, approvedBy: 'oscar', approvedAt: at, comment: null, grantId: 'g-9', grantExpiresAt: at })],
  ['AccessRequestDenied', recorded('AccessRequestDenied', { ...req, deniedBy: 'oscar', deniedAt: at, comment: 'no' })],
  ['AccessRequestCancelled', recorded('AccessRequestCancelled', { ...req, cancelledAt: at })],
  ['AccessRequestExpired', recorded('AccessRequestExpired', { ...req, expiresAt: at, recordedAt: at }, { type: 'system', id: 'access-request-expiry' })],
  // Groups (issue 20): a group's secret, a job's read of it naming the job's project, a group grant, a move.
  ['SecretCreated in a group', recorded('SecretCreated', { projectId: 'group:acme/payments', name: 'REG', description: null, scope: { environment: 'prod*', branch: null, protectedOnly: false }, version: 1, valueRef: 'kv/_groups/acme/payments/REG#1', createdBy: 'gina' })],
  ['SecretAccessed of a group by a CI job', recorded('SecretAccessed', { projectId: 'group:acme/payments', name: 'REG', version: 1, principal: ciJob, via: { scope: 'ci-job-scope' }, purpose: null, jobProjectId: 'app' }, ciActor)],
  ['RoleGranted on a group', recorded('RoleGranted', { projectId: 'group:acme', grantId: 'g-7', principal: { type: 'group', id: 'team-a' }, role: 'owner', environment: null, branch: null, expiresAt: null, grantedBy: 'root', grantedAt: at })],
  ['ProjectGroupChanged', recorded('ProjectGroupChanged', { projectId: 'app', groupId: 'acme/payments', previousGroupId: 'acme', changedBy: 'root', changedAt: at }, { type: 'user', id: 'root' })],
];

describe('OCSF records in canonical key order (issue 23, 4)', () => {
  const opts = { productName: 'p', productVersion: '1', vendorName: 'v' };
  it.each(cases)('%s: toOcsfJson is the canonical JSON of its record', (_, event) => {
    for (const burst of [false, true]) {
      const json = toOcsfJson(event, { ...opts, burst });
      const record = toOcsf(event, { ...opts, burst });
      expect(json).not.toBeNull();
      expect(json).toBe(canonicalize(record));
      expect(json).toBe(canonicalJson(record));
      expect(json).toBe(canonicalJson(JSON.parse(json!)));
      expect(keysWithUndefined(record)).toEqual([]);
    }
  });

  it('leaves out, in the JSON, the fields a record does not have (a grant to a group has no user, a read no count)', () => {
    const group = JSON.parse(toOcsfJson(cases.find(([l]) => l === 'RoleGranted to a group')![1], { ...opts, burst: false })!);
    expect(Object.keys(group)).not.toContain('user');
    expect(Object.keys(group)).not.toContain('api');
    const read = JSON.parse(toOcsfJson(cases.find(([l]) => l === 'SecretAccessed by a CI job')![1], { ...opts, burst: false })!);
    for (const k of ['count', 'start_time', 'end_time', 'user', 'group', 'privileges', 'resource', 'status_detail']) expect(Object.keys(read)).not.toContain(k);
  });

  it('covers every kind toOcsf maps', () => {
    const kinds = new Set(cases.map(([, e]) => e.type));
    expect(kinds.size).toBe(22); // the case labels of toOcsf's switch
  });
});

/** Paths of keys whose value is undefined, anywhere in `v`. */
function keysWithUndefined(v: unknown, path = '$'): string[] {
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => (x === undefined ? [`${path}.${k}`] : keysWithUndefined(x, `${path}.${k}`)));
}
