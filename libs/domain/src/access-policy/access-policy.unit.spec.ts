import { DeciderSpecification } from '../testing/decider-specification';
import { CommandMetadata } from '../secret/secret';
import { accessPolicyDecider, AccessPolicyEvent, RoleGranted } from './access-policy';

const now = '2026-01-01T00:00:00.000Z';
const meta: CommandMetadata = { now, actor: { type: 'user', id: 'root' } };
const spec = DeciderSpecification.for(accessPolicyDecider);

function granted(grantId: string, over: Partial<RoleGranted['data']> = {}): RoleGranted {
  return {
    type: 'RoleGranted',
    data: {
      projectId: 'p', grantId, principal: { type: 'user', id: 'alice' }, role: 'owner',
      environment: null, branch: null, expiresAt: null, grantedBy: 'root', grantedAt: '2025-12-01T00:00:00.000Z', ...over,
    },
  };
}
const grantCmd = (grantId: string, over: Record<string, unknown> = {}) => ({
  type: 'GrantRole' as const,
  data: { projectId: 'p', grantId, principal: { type: 'user' as const, id: 'bob' }, role: 'developer' as const, environment: null, branch: null, expiresAt: null, ...over },
  metadata: meta,
});

describe('Project access policy decider', () => {
  it('grants a role, narrowed and expiring', () =>
    spec
      .given([granted('g1')])
      .when(grantCmd('g2', { environment: 'prod*', branch: 'main', expiresAt: '2026-02-01T00:00:00.000Z' }))
      .then([
        {
          type: 'RoleGranted',
          data: {
            projectId: 'p', grantId: 'g2', principal: { type: 'user', id: 'bob' }, role: 'developer',
            environment: 'prod*', branch: 'main', expiresAt: '2026-02-01T00:00:00.000Z', grantedBy: 'root', grantedAt: now,
          },
        },
      ]));

  it('refuses an expiry in the past, naming the field', () =>
    spec.given([]).when(grantCmd('g2', { expiresAt: '2025-01-01T00:00:00.000Z' })).thenThrows('expiry-in-past', 'invalid'));

  it('refuses an identical grant already in force, and a reused grant id', () => {
    spec.given([granted('g1', { principal: { type: 'user', id: 'bob' }, role: 'developer' })]).when(grantCmd('g2')).thenThrows('grant-duplicate', 'already-exists');
    spec.given([granted('g1')]).when(grantCmd('g1')).thenThrows('grant-exists');
  });

  it('allows the same grant again once the first has expired', () =>
    spec
      .given([granted('g0'), granted('g1', { principal: { type: 'user', id: 'bob' }, role: 'developer', expiresAt: '2025-12-31T00:00:00.000Z' })])
      .when(grantCmd('g2'))
      .then([expect.objectContaining({ type: 'RoleGranted' }) as unknown as AccessPolicyEvent]));

  it('revokes a grant', () =>
    spec
      .given([granted('g1'), granted('g2', { principal: { type: 'group', id: 'devs' }, role: 'developer' })])
      .when({ type: 'RevokeRole', data: { grantId: 'g2' }, metadata: meta })
      .then([
        { type: 'RoleRevoked', data: { projectId: 'p', grantId: 'g2', principal: { type: 'group', id: 'devs' }, role: 'developer', revokedBy: 'root', revokedAt: now } },
      ]));

  it('does not revoke an unknown or already revoked grant', () => {
    spec.given([granted('g1')]).when({ type: 'RevokeRole', data: { grantId: 'nope' }, metadata: meta }).thenThrows('grant-not-found', 'not-found');
    spec
      .given([granted('g1'), granted('g2'), { type: 'RoleRevoked', data: { projectId: 'p', grantId: 'g2', principal: { type: 'user', id: 'alice' }, role: 'owner', revokedBy: 'x', revokedAt: now } }])
      .when({ type: 'RevokeRole', data: { grantId: 'g2' }, metadata: meta })
      .thenThrows('grant-not-found');
  });

  it('never revokes the last owner', () =>
    spec.given([granted('g1')]).when({ type: 'RevokeRole', data: { grantId: 'g1' }, metadata: meta }).thenThrows('last-owner', 'conflict'));

  it('counts neither narrowed nor expired owner grants as another owner', () =>
    spec
      .given([granted('g1'), granted('g2', { environment: 'prod' }), granted('g3', { expiresAt: '2025-12-15T00:00:00.000Z' })])
      .when({ type: 'RevokeRole', data: { grantId: 'g1' }, metadata: meta })
      .thenThrows('last-owner'));

  it('revokes an owner when another full owner remains', () =>
    spec
      .given([granted('g1'), granted('g2', { principal: { type: 'user', id: 'carol' } })])
      .when({ type: 'RevokeRole', data: { grantId: 'g1' }, metadata: meta })
      .then([expect.objectContaining({ type: 'RoleRevoked' }) as unknown as AccessPolicyEvent]));

  describe('recording expiries', () => {
    const expiring = granted('g2', { principal: { type: 'user', id: 'dave' }, role: 'maintainer', expiresAt: '2025-12-31T00:00:00.000Z' });
    const record = (grantId: string) => ({ type: 'RecordGrantExpiry' as const, data: { grantId }, metadata: { now, actor: { type: 'system' as const, id: 'grant-expiry' } } });

    it('records a passed expiry once, naming the grant, principal, role and expiry', () =>
      spec
        .given([granted('g1'), expiring])
        .when(record('g2'))
        .then([
          {
            type: 'RoleExpired',
            data: { projectId: 'p', grantId: 'g2', principal: { type: 'user', id: 'dave' }, role: 'maintainer', expiresAt: '2025-12-31T00:00:00.000Z', recordedAt: now },
          },
        ]));

    it('records nothing twice, nothing early, nothing for grants that never expire, are revoked or unknown', () => {
      const expired = { type: 'RoleExpired' as const, data: { projectId: 'p', grantId: 'g2', principal: { type: 'user' as const, id: 'dave' }, role: 'maintainer' as const, expiresAt: '2025-12-31T00:00:00.000Z', recordedAt: now } };
      spec.given([granted('g1'), expiring, expired]).when(record('g2')).then([]);
      spec.given([granted('g1'), granted('g3', { expiresAt: '2026-06-01T00:00:00.000Z' })]).when(record('g3')).then([]);
      spec.given([granted('g1')]).when(record('g1')).then([]);
      spec.given([granted('g1')]).when(record('nope')).then([]);
      spec
        .given([granted('g1'), expiring, { type: 'RoleRevoked', data: { projectId: 'p', grantId: 'g2', principal: { type: 'user', id: 'dave' }, role: 'maintainer', revokedBy: 'x', revokedAt: '2025-12-15T00:00:00.000Z' } }])
        .when(record('g2'))
        .then([]);
    });
  });

  describe('the last owner rule counts only owners that do not expire', () => {
    const expiringOwner = granted('g2', { principal: { type: 'user', id: 'carol' }, expiresAt: '2026-03-01T00:00:00.000Z' });
    it('refuses to revoke the last permanent owner while the only other owner expires', () =>
      spec.given([granted('g1'), expiringOwner]).when({ type: 'RevokeRole', data: { grantId: 'g1' }, metadata: meta }).thenThrows('last-owner', 'conflict'));
    it('revokes the expiring owner while a permanent one stays', () =>
      spec
        .given([granted('g1'), expiringOwner])
        .when({ type: 'RevokeRole', data: { grantId: 'g2' }, metadata: meta })
        .then([expect.objectContaining({ type: 'RoleRevoked' }) as unknown as AccessPolicyEvent]));
    it('revokes a permanent owner when another permanent owner stays, expiring ones besides', () =>
      spec
        .given([granted('g1'), expiringOwner, granted('g3', { principal: { type: 'group', id: 'admins' } })])
        .when({ type: 'RevokeRole', data: { grantId: 'g1' }, metadata: meta })
        .then([expect.objectContaining({ type: 'RoleRevoked' }) as unknown as AccessPolicyEvent]));
  });

  describe('the decider is the last gate: invalid grants never become events', () => {
    it.each([
      ['environment: 42', { environment: 42 }, 'environment'],
      ['environment: undefined', { environment: undefined }, 'environment'],
      ['a glob with a lone surrogate', { branch: 'main\ud800' }, 'branch'],
      ['a glob of 256 characters', { branch: 'a'.repeat(256) }, 'branch'],
      ['expiresAt with a +25:00 offset', { expiresAt: '2030-01-01T00:00:00+25:00' }, 'expiresAt'],
      ['expiresAt on 30 February', { expiresAt: '2030-02-30T00:00:00Z' }, 'expiresAt'],
      ['expiresAt in year 0000', { expiresAt: '0000-01-01T00:00:00Z' }, 'expiresAt'],
      ['an unknown role', { role: 'god' }, 'role'],
      ['a principal of another type', { principal: { type: 'robot', id: 'x' } }, 'principal.type'],
      ['a principal id with a space', { principal: { type: 'user', id: 'a b' } }, 'principal.id'],
      ['a bad project id', { projectId: 'Bad_Project' }, 'projectId'],
    ])('GrantRole refuses %s', (_n, over, field) => {
      let caught: { kind?: string; field?: string } | undefined;
      try {
        accessPolicyDecider.decide(grantCmd('g2', over) as never, accessPolicyDecider.initialState());
      } catch (e) {
        caught = e as { kind?: string; field?: string };
      }
      expect({ kind: caught?.kind, field: caught?.field }).toEqual({ kind: 'invalid', field });
    });
  });
});
