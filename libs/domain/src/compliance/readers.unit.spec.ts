import { SecretSubject } from '../authorization/ability';
import { GrantInterval, readersAt } from './readers';

const secret = { projectId: 'p', name: 'DB', environment: 'production', branch: null, protectedOnly: true };
const grant = (over: Partial<GrantInterval>): GrantInterval => ({
  grantId: 'g1',
  principal: { type: 'user', id: 'bob' },
  role: 'developer',
  environment: null,
  branch: null,
  grantedBy: 'alice',
  grantedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  validFrom: '2026-01-01T00:00:00.000Z',
  validTo: null,
  ...over,
});
const ids = (at: string, grants: GrantInterval[], s: SecretSubject | null = secret) =>
  readersAt(s, grants, at).map((r) => (r.principal.type === 'ci-scope' ? 'ci-scope' : `${r.principal.type}:${r.principal.id}`));

describe('readersAt', () => {
  const expiring = grant({ grantId: 'g-exp', expiresAt: '2026-02-01T00:00:00.000Z', validTo: '2026-02-01T00:00:00.000Z' });
  const revoked = grant({ grantId: 'g-rev', principal: { type: 'group', id: 'ops' }, revokedAt: '2026-01-15T00:00:00.000Z', validTo: '2026-01-15T00:00:00.000Z' });

  it('before a grant: nobody through it', () => {
    expect(ids('2025-12-31T23:59:59.999Z', [expiring, revoked])).toEqual(['ci-scope']);
  });
  it('during a grant, from its first instant', () => {
    expect(ids('2026-01-01T00:00:00.000Z', [expiring, revoked])).toEqual(['group:ops', 'user:bob', 'ci-scope']);
  });
  it('after revocation the revoked grant no longer counts; the instant of revocation is excluded', () => {
    expect(ids('2026-01-15T00:00:00.000Z', [expiring, revoked])).toEqual(['user:bob', 'ci-scope']);
  });
  it('after expiry', () => {
    expect(ids('2026-02-01T00:00:00.000Z', [expiring, revoked])).toEqual(['ci-scope']);
  });
  it('says through which grant', () => {
    const [r] = readersAt(secret, [expiring], '2026-01-10T00:00:00.000Z');
    expect(r).toEqual({
      principal: { type: 'user', id: 'bob' },
      via: { grantId: 'g-exp', role: 'developer', grantedBy: 'alice', grantedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-02-01T00:00:00.000Z', environment: null, branch: null },
    });
  });
  it('roles without read and narrowings that exclude the secret do not count', () => {
    const at = '2026-01-10T00:00:00.000Z';
    expect(ids(at, [grant({ role: 'reporter' }), grant({ grantId: 'a', role: 'auditor' })])).toEqual(['ci-scope']);
    expect(ids(at, [grant({ environment: 'staging' })])).toEqual(['ci-scope']);
    expect(ids(at, [grant({ environment: 'prod*' })])).toEqual(['user:bob', 'ci-scope']);
    // A branch-narrowed grant does not cover a secret with no branch scope.
    expect(ids(at, [grant({ branch: 'main' })])).toEqual(['ci-scope']);
  });
  it('a narrowed grant counts only when the secret glob lies within its own (containment, not string match)', () => {
    const at = '2026-01-10T00:00:00.000Z';
    const wide = { ...secret, environment: 'prod*' };
    expect(ids(at, [grant({ environment: 'prod?' })], wide)).toEqual(['ci-scope']);
    expect(ids(at, [grant({ environment: 'prod**' })], wide)).toEqual(['user:bob', 'ci-scope']);
    const branchy = { ...secret, environment: null, branch: 'release/**' };
    expect(ids(at, [grant({ branch: 'release/*' })], branchy)).toEqual(['ci-scope']);
    expect(ids(at, [grant({ branch: 'release/**' })], { ...branchy, branch: 'release/*' })).toEqual(['user:bob', 'ci-scope']);
  });
  it('a secret that did not exist at T has no readers', () => {
    expect(ids('2026-01-10T00:00:00.000Z', [expiring], null)).toEqual([]);
  });
});
