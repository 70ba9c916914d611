import { SecretSubject } from '../authorization/ability';
import { GrantInterval, grantPlacesAt, grantsActingOn, readersAt } from './readers';

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

describe('readers through the group tree (issue 20)', () => {
  const at = '2026-03-10T00:00:00.000Z';
  const P = { type: 'project' as const, id: 'pay-a' };
  const G = { type: 'group' as const, id: 'acme/payments' };
  const TOP = { type: 'group' as const, id: 'acme' };
  // pay-a: in acme/payments from 03-01 to 03-20, then in no group.
  const history = [
    { groupId: 'acme/payments', from: '2026-03-01T00:00:00.000Z' },
    { groupId: null, from: '2026-03-20T00:00:00.000Z' },
  ];

  it('grantPlacesAt follows the tree as it was at T: before, during and after the membership', () => {
    expect(grantPlacesAt(P, { history }, '2026-02-28T23:59:59.999Z')).toEqual([P]);
    expect(grantPlacesAt(P, { history }, '2026-03-01T00:00:00.000Z')).toEqual([P, G, TOP]);
    expect(grantPlacesAt(P, { history }, '2026-03-20T00:00:00.000Z')).toEqual([P]);
    // A project never placed, and a group (which never moves: the history is ignored).
    expect(grantPlacesAt(P, { history: [] }, at)).toEqual([P]);
    expect(grantPlacesAt(G, { history }, '2026-01-01T00:00:00.000Z')).toEqual([G, TOP]);
  });

  it('a group secret is reached only by groups: never by a project, whatever the project history says', () => {
    expect(grantPlacesAt(G, { history }, at).every((p) => p.type === 'group')).toBe(true);
  });

  it('grantsActingOn tags the grants of places above the target with inheritedFrom; the target keeps its own untagged', () => {
    const own = grant({ grantId: 'own', principal: { type: 'user', id: 'olive' }, role: 'owner' });
    const fromG = grant({ grantId: 'from-g', principal: { type: 'group', id: 'team-pay' } });
    const fromTop = grant({ grantId: 'from-top', principal: { type: 'user', id: 'audrey' }, role: 'auditor' });
    const merged = grantsActingOn(P, [
      { place: P, grants: [own] },
      { place: G, grants: [fromG] },
      { place: TOP, grants: [fromTop] },
    ]);
    expect(merged.map((g) => [g.grantId, g.inheritedFrom?.id ?? null])).toEqual([
      ['own', null],
      ['from-g', 'acme/payments'],
      ['from-top', 'acme'],
    ]);
    // The intervals themselves come back whole.
    expect(merged[1]).toMatchObject({ validFrom: fromG.validFrom, validTo: null, grantedBy: 'alice' });
  });

  it('readers of a project secret name an inherited grant (a group claim) with via.inheritedFrom; an auditor grant above is no reader', () => {
    const s = { ...secret, projectId: 'pay-a' };
    const grants = grantsActingOn(P, [
      { place: P, grants: [] },
      { place: G, grants: [grant({ grantId: 'from-g', principal: { type: 'group', id: 'team-pay' } })] },
      { place: TOP, grants: [grant({ grantId: 'from-top', role: 'auditor' })] },
    ]);
    const rs = readersAt(s, grants, at);
    expect(rs).toEqual([
      {
        principal: { type: 'group', id: 'team-pay' },
        via: { grantId: 'from-g', role: 'developer', grantedBy: 'alice', grantedAt: '2026-01-01T00:00:00.000Z', expiresAt: null, environment: null, branch: null, inheritedFrom: { type: 'group', id: 'acme/payments' } },
      },
      { principal: { type: 'ci-scope', projectId: 'pay-a', environment: 'production', branch: null, protectedOnly: true }, via: { rule: 'ci-job-scope' } },
    ]);
  });

  it('an inherited grant that expired before T is no reader at T', () => {
    const expired = grant({ grantId: 'exp', expiresAt: '2026-03-05T00:00:00.000Z', validTo: '2026-03-05T00:00:00.000Z' });
    const grants = grantsActingOn(P, [{ place: P, grants: [] }, { place: G, grants: [expired] }]);
    expect(ids('2026-03-04T23:59:59.999Z', grants, { ...secret, projectId: 'pay-a' })).toEqual(['user:bob', 'ci-scope']);
    expect(ids('2026-03-05T00:00:00.000Z', grants, { ...secret, projectId: 'pay-a' })).toEqual(['ci-scope']);
  });

  it("a group secret's CI readers are the projects in or below the group at T, each with the group it was in; never one beside it or above it", () => {
    const s = { projectId: 'group:acme/payments', name: 'REGISTRY_TOKEN', environment: 'production', branch: null, protectedOnly: false };
    const rs = readersAt(s, [], at, [
      { projectId: 'pay-b', groupId: 'acme/payments/eu' },
      { projectId: 'pay-a', groupId: 'acme/payments' },
      { projectId: 'pay-a', groupId: 'acme/payments' },
      { projectId: 'beside', groupId: 'acme/payments-x' },
      { projectId: 'above', groupId: 'acme' },
    ]);
    expect(rs).toEqual([
      { principal: { type: 'ci-scope', projectId: 'pay-a', environment: 'production', branch: null, protectedOnly: false }, via: { rule: 'ci-job-scope', memberOf: { type: 'group', id: 'acme/payments' } } },
      { principal: { type: 'ci-scope', projectId: 'pay-b', environment: 'production', branch: null, protectedOnly: false }, via: { rule: 'ci-job-scope', memberOf: { type: 'group', id: 'acme/payments/eu' } } },
    ]);
    // No member at T: no CI reader at all (and never the internal group key as a project).
    expect(readersAt(s, [], at, [])).toEqual([]);
    expect(JSON.stringify(readersAt(s, [grant({})], at, []))).not.toContain('group:');
  });
});
