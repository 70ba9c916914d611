import { CURRENT_SCHEMA_VERSION } from '../events';
import { RecordedEvent } from '../ports/event-store';
import { secretHistory } from './secret-history';

let n = 0;
const rec = (streamName: string, type: keyof typeof CURRENT_SCHEMA_VERSION, data: Record<string, unknown>, at: string, actor = 'alice'): RecordedEvent => {
  n += 1;
  return {
    eventId: `e${n}`,
    type,
    schemaVersion: CURRENT_SCHEMA_VERSION[type],
    data,
    metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'user', id: actor }, occurredAt: at },
    streamName,
    revision: n,
    position: { commit: BigInt(n), prepare: BigInt(n) },
    recordedAt: at,
  };
};
const CANARY_REF = 'bao:kv/canary-ref-hunter2#1';
const scope = (environment: string | null, branch: string | null = null) => ({ environment, branch, protectedOnly: true });
const grant = (grantId: string, role: string, environment: string | null, extra: Record<string, unknown> = {}) => ({
  projectId: 'p',
  grantId,
  principal: { type: 'user', id: `u-${grantId}` },
  role,
  environment,
  branch: null,
  expiresAt: null,
  grantedBy: 'alice',
  grantedAt: '2026-01-01T00:00:00.000Z',
  ...extra,
});

describe('secretHistory', () => {
  const secretStream = () => [
    rec('secret-p/DB', 'SecretCreated', { projectId: 'p', name: 'DB', description: 'db', scope: scope('staging'), version: 1, valueRef: CANARY_REF, createdBy: 'alice' }, '2026-01-02T00:00:00.000Z'),
    rec('secret-p/DB', 'SecretValueUpdated', { projectId: 'p', name: 'DB', version: 2, valueRef: CANARY_REF + '2', updatedBy: 'bob' }, '2026-01-03T00:00:00.000Z', 'bob'),
    rec('secret-p/DB', 'SecretMetadataChanged', { projectId: 'p', name: 'DB', description: 'db', scope: scope('production'), changedBy: 'alice', rotationIntervalDays: 30 }, '2026-01-04T00:00:00.000Z'),
    rec('secret-p/DB', 'SecretDeleted', { projectId: 'p', name: 'DB', lastVersion: 2, deletedBy: 'carol' }, '2026-01-09T00:00:00.000Z', 'carol'),
  ];
  const projectStream = () => [
    rec('project-p', 'RoleGranted', grant('g-prod', 'developer', 'production', { accessRequestId: 'r1' }), '2026-01-05T00:00:00.000Z'),
    rec('project-p', 'RoleGranted', grant('g-dev', 'developer', 'dev'), '2026-01-05T00:00:00.000Z'),
    rec('project-p', 'RoleGranted', grant('g-aud', 'auditor', null), '2026-01-05T00:00:00.000Z'),
    rec('project-p', 'RoleGranted', grant('g-bg', 'owner', null, { breakGlass: true }), '2026-01-06T00:00:00.000Z'),
    rec('project-p', 'RoleRevoked', { projectId: 'p', grantId: 'g-prod', principal: { type: 'user', id: 'u-g-prod' }, role: 'developer', revokedBy: 'dave', revokedAt: '2026-01-07T00:00:00.000Z' }, '2026-01-07T00:00:00.000Z', 'dave'),
    rec('project-p', 'RoleRevoked', { projectId: 'p', grantId: 'g-dev', principal: { type: 'user', id: 'u-g-dev' }, role: 'developer', revokedBy: 'dave', revokedAt: '2026-01-07T00:00:00.000Z' }, '2026-01-07T00:00:00.000Z', 'dave'),
    rec('project-p', 'RoleExpired', { projectId: 'p', grantId: 'g-bg', principal: { type: 'user', id: 'u-g-bg' }, role: 'owner', expiresAt: '2026-01-08T00:00:00.000Z', recordedAt: '2026-01-08T00:00:01.000Z' }, '2026-01-08T00:00:01.000Z', 'system'),
  ];

  it('metadata: creation, value versions, scope and rotation changes, deletion, with who and when; never a value reference', () => {
    const items = secretHistory('p', 'DB', secretStream(), []);
    expect(items.map((i) => [i.type, i.actor.id, i.at, i.version])).toEqual([
      ['SecretCreated', 'alice', '2026-01-02T00:00:00.000Z', 1],
      ['SecretValueUpdated', 'bob', '2026-01-03T00:00:00.000Z', 2],
      ['SecretMetadataChanged', 'alice', '2026-01-04T00:00:00.000Z', undefined],
      ['SecretDeleted', 'carol', '2026-01-09T00:00:00.000Z', 2],
    ]);
    expect(items[0].changes).toEqual({ description: { from: null, to: 'db' }, environment: { from: null, to: 'staging' }, branch: { from: null, to: null }, protectedOnly: { from: null, to: true }, rotationIntervalDays: { from: null, to: null } });
    expect(items[2].changes).toEqual({ environment: { from: 'staging', to: 'production' }, rotationIntervalDays: { from: null, to: 30 } });
    expect(JSON.stringify(items, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('canary-ref-hunter2');
  });

  it('grants: only those whose role reads and whose narrowing covers a scope the secret had, with provenance', () => {
    const items = secretHistory('p', 'DB', secretStream(), projectStream()).filter((i) => i.kind === 'grant');
    expect(items.map((i) => [i.type, i.grant!.grantId, i.actor.id])).toEqual([
      ['RoleGranted', 'g-prod', 'alice'],
      ['RoleGranted', 'g-bg', 'alice'],
      ['RoleRevoked', 'g-prod', 'dave'],
      ['RoleExpired', 'g-bg', 'system'],
    ]);
    expect(items[0].grant).toMatchObject({ environment: 'production', accessRequestId: 'r1' });
    expect(items[1].grant).toMatchObject({ breakGlass: true, role: 'owner' });
  });

  it('a grant that covers only an earlier scope stays on the timeline (it explains a reader lost by the scope change)', () => {
    const staging = rec('project-p', 'RoleGranted', grant('g-stg', 'developer', 'staging'), '2026-01-02T12:00:00.000Z');
    const items = secretHistory('p', 'DB', secretStream(), [staging]).filter((i) => i.kind === 'grant');
    expect(items.map((i) => i.grant!.grantId)).toEqual(['g-stg']);
  });

  it('an empty secret stream gives an empty history', () => {
    expect(secretHistory('p', 'DB', [], projectStream())).toEqual([]);
  });
});

describe('secretHistory of a group secret (issue 20)', () => {
  it("lists the grants of the groups above it too, tagged inheritedFrom, in log order; the group's own untagged", () => {
    const K = 'group:acme/payments';
    const secret = [rec(`secret-${K}/TOKEN`, 'SecretCreated', { projectId: K, name: 'TOKEN', description: null, scope: { environment: 'production', branch: null, protectedOnly: false }, version: 1, valueRef: CANARY_REF, createdBy: 'gina' }, '2026-02-01T00:00:00.000Z', 'gina')];
    const own = [rec(`project-${K}`, 'RoleGranted', { ...grant('own', 'developer', null), projectId: K }, '2026-02-02T00:00:00.000Z')];
    const above = [
      rec('project-group:acme', 'RoleGranted', { ...grant('top', 'developer', 'prod*'), projectId: 'group:acme' }, '2026-02-03T00:00:00.000Z'),
      rec('project-group:acme', 'RoleGranted', { ...grant('top-staging', 'developer', 'staging'), projectId: 'group:acme' }, '2026-02-04T00:00:00.000Z'),
      rec('project-group:acme', 'RoleRevoked', { projectId: 'group:acme', grantId: 'top', revokedBy: 'alice', revokedAt: '2026-02-05T00:00:00.000Z' }, '2026-02-05T00:00:00.000Z'),
    ];
    const items = secretHistory(K, 'TOKEN', secret, own, [{ groupId: 'acme', events: above }]).filter((i) => i.kind === 'grant');
    // The staging grant never covered the production secret: not on the timeline.
    expect(items.map((i) => [i.type, i.grant?.grantId, i.grant?.inheritedFrom ?? null])).toEqual([
      ['RoleGranted', 'own', null],
      ['RoleGranted', 'top', { type: 'group', id: 'acme' }],
      ['RoleRevoked', 'top', { type: 'group', id: 'acme' }],
    ]);
    expect(JSON.stringify(items.map(({ position: _p, ...i }) => i))).not.toContain('canary-ref');
  });
});
