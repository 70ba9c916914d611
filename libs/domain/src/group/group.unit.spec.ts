import { accessPolicyDecider, AccessPolicyEvent, AccessPolicyState, RoleGranted } from '../access-policy/access-policy';
import { decideAccess } from '../access/access-decision';
import { authorize, SecretSubject } from '../authorization/ability';
import { fold } from '../decider';
import { DomainError } from '../errors';
import { CiJobPrincipal, UserPrincipal } from '../principal';
import { Role } from '../roles';
import { secretDecider } from '../secret/secret';
import { ancestorsOf, groupAndAncestors, groupKey, isAtOrBelow, isGroupId, placeOf, requireGroupId, requirePlaceKey } from './place';
import { groupAt, projectGroupDecider, ProjectGroupState } from './project-group';
import { effectivePolicy, grantPlaces, jobPlaceKeys, resolveDownTheTree } from './tree';

const now = '2026-06-01T12:00:00.000Z';
const meta = (over: Partial<{ now: string; id: string; type: 'user' | 'ci-job' | 'system' }> = {}) => ({ now: over.now ?? now, actor: { type: over.type ?? 'user', id: over.id ?? 'root' } });

function grant(place: string, grantId: string, role: Role, over: Partial<RoleGranted['data']> = {}): RoleGranted {
  return {
    type: 'RoleGranted',
    data: { projectId: place, grantId, principal: { type: 'user', id: 'alice' }, role, environment: null, branch: null, expiresAt: null, grantedBy: 'root', grantedAt: '2026-01-01T00:00:00.000Z', ...over },
  };
}
const policy = (...events: AccessPolicyEvent[]): AccessPolicyState => fold(accessPolicyDecider, events);
const alice: UserPrincipal = { kind: 'user', id: 'alice', groups: ['team-a'], admin: false };
const job = (over: Partial<CiJobPrincipal> = {}): CiJobPrincipal => ({
  kind: 'ci-job', id: 'job', projectId: 'api', ref: 'main', refType: 'branch', refProtected: true, environment: 'production', pipelineId: '7', jobId: '42', ...over,
});
const groupSecret = (groupId: string, over: Partial<SecretSubject> = {}): SecretSubject => ({ projectId: groupKey(groupId), name: 'REGISTRY_TOKEN', environment: null, branch: null, protectedOnly: false, ...over });

describe('group paths', () => {
  it.each(['acme', 'acme/payments', 'a/b/c/d/e/f/g/h', 'a.b/c_d/e-f'])('accepts %s', (g) => {
    expect(isGroupId(g)).toBe(true);
    expect(requireGroupId('groupId', g)).toBe(g);
  });

  it.each([
    ['depth 9', 'a/b/c/d/e/f/g/h/i'],
    ['a trailing /', 'acme/'],
    ['a leading /', '/acme'],
    ['an empty segment', 'acme//payments'],
    ['..', 'acme/../root'],
    ['.', 'acme/./x'],
    ['upper case', 'Acme/payments'],
    ['%2F once decoded', 'acme%2Fpayments'],
    ['a backslash', 'acme\\payments'],
    ['a colon (a place key is not a path)', 'group:acme'],
    ['the empty string', ''],
    ['a lone surrogate', 'acme/\uD800'],
    ['a segment of 65 characters', `acme/${'a'.repeat(65)}`],
  ])('refuses %s, naming the field', (_what, g) => {
    expect(isGroupId(g)).toBe(false);
    expect(() => requireGroupId('groupId', g)).toThrow(DomainError);
    try {
      requireGroupId('groupId', g);
    } catch (e) {
      expect((e as DomainError).field).toBe('groupId');
    }
  });

  it('refuses what is not a string', () => {
    for (const v of [null, undefined, 7, ['acme'], { toString: () => 'acme' }]) expect(() => requireGroupId('groupId', v)).toThrow(DomainError);
  });

  it('place keys: a project and a group of the same name never share a key', () => {
    expect(groupKey('acme')).toBe('group:acme');
    expect(placeOf('acme')).toEqual({ type: 'project', id: 'acme' });
    expect(placeOf('group:acme')).toEqual({ type: 'group', id: 'acme' });
    expect(placeOf('group:acme/../x')).toBeNull();
    expect(placeOf('group:')).toBeNull();
    expect(placeOf('Group:acme')).toBeNull();
    expect(() => requirePlaceKey('projectId', 'group:ACME')).toThrow(DomainError);
    expect(requirePlaceKey('projectId', 'group:acme/payments')).toBe('group:acme/payments');
  });

  it('ancestors nearest first, and "below" is segment-wise', () => {
    expect(groupAndAncestors('a/b/c')).toEqual(['a/b/c', 'a/b', 'a']);
    expect(ancestorsOf('a/b/c')).toEqual(['a/b', 'a']);
    expect(ancestorsOf('a')).toEqual([]);
    expect(isAtOrBelow('acme/payments', 'acme')).toBe(true);
    expect(isAtOrBelow('acme-x/payments', 'acme')).toBe(false);
    expect(isAtOrBelow('acme', 'acme/payments')).toBe(false);
  });
});

describe('ProjectGroupChanged (given / when / then)', () => {
  const change = (groupId: string | null, asPlatformAdmin = true, m = meta()) => ({ type: 'ChangeProjectGroup' as const, data: { projectId: 'api', groupId, asPlatformAdmin }, metadata: m });
  const given = (...groups: (string | null)[]): ProjectGroupState =>
    groups.reduce<ProjectGroupState>(
      (s, g, i) => projectGroupDecider.evolve(s, { type: 'ProjectGroupChanged', data: { projectId: 'api', groupId: g, previousGroupId: s.groupId, changedBy: 'root', changedAt: `2026-0${i + 1}-01T00:00:00.000Z` } }),
      projectGroupDecider.initialState(),
    );

  it('a platform admin puts a project in a group', () => {
    expect(projectGroupDecider.decide(change('acme/payments'), given())).toEqual([
      { type: 'ProjectGroupChanged', data: { projectId: 'api', groupId: 'acme/payments', previousGroupId: null, changedBy: 'root', changedAt: now } },
    ]);
  });

  it('moves it, naming where it was, and takes it out with null', () => {
    expect(projectGroupDecider.decide(change('acme/other'), given('acme/payments'))[0].data.previousGroupId).toBe('acme/payments');
    expect(projectGroupDecider.decide(change(null), given('acme/payments'))[0].data).toMatchObject({ groupId: null, previousGroupId: 'acme/payments' });
  });

  it('putting it where it is records nothing', () => {
    expect(projectGroupDecider.decide(change('acme'), given('acme'))).toEqual([]);
    expect(projectGroupDecider.decide(change(null), given())).toEqual([]);
  });

  it('refuses anyone but a platform admin, and any CI job or the system, whatever the DTO let through', () => {
    expect(() => projectGroupDecider.decide(change('acme', false), given())).toThrow(/platform admin/);
    expect(() => projectGroupDecider.decide(change('acme', true, meta({ type: 'ci-job' })), given())).toThrow(/platform admin/);
    expect(() => projectGroupDecider.decide(change('acme', true, meta({ type: 'system' })), given())).toThrow(/platform admin/);
  });

  it('refuses a path of depth 9, with .., upper case or a trailing /, and unknown fields', () => {
    for (const g of ['a/b/c/d/e/f/g/h/i', 'acme/..', 'ACME', 'acme/']) expect(() => projectGroupDecider.decide(change(g), given())).toThrow(DomainError);
    expect(() => projectGroupDecider.decide({ ...change('acme'), data: { ...change('acme').data, extra: 1 } as never }, given())).toThrow(/extra/);
    expect(() => projectGroupDecider.decide({ ...change('acme'), data: { projectId: 'group:acme', groupId: 'acme', asPlatformAdmin: true } }, given())).toThrow(DomainError);
  });

  it('answers which group a project was in at any instant', () => {
    const s = given('acme', 'other', null);
    expect(groupAt(s, '2025-12-31T00:00:00.000Z')).toBeNull();
    expect(groupAt(s, '2026-01-01T00:00:00.000Z')).toBe('acme');
    expect(groupAt(s, '2026-02-01T00:00:00.000Z')).toBe('other');
    expect(groupAt(s, '2026-02-28T23:59:59.999Z')).toBe('other');
    expect(groupAt(s, '2026-03-01T00:00:00.000Z')).toBeNull();
  });
});

describe('the tree resolver', () => {
  it('grants act downward only: project ← its group ← ancestors; a group never sees a project grant', () => {
    expect(grantPlaces({ type: 'project', id: 'api' }, 'acme/payments')).toEqual([
      { type: 'project', id: 'api' },
      { type: 'group', id: 'acme/payments' },
      { type: 'group', id: 'acme' },
    ]);
    expect(grantPlaces({ type: 'group', id: 'acme/payments' }, 'ignored')).toEqual([
      { type: 'group', id: 'acme/payments' },
      { type: 'group', id: 'acme' },
    ]);
    expect(jobPlaceKeys('api', 'acme/payments')).toEqual(['api', 'group:acme/payments', 'group:acme']);
    expect(jobPlaceKeys('api', null)).toEqual(['api']);
  });

  const acmeOwner = policy(grant('group:acme', 'g-acme', 'owner'));
  const paymentsDev = policy(grant('group:acme/payments', 'g-pay', 'developer', { principal: { type: 'group', id: 'team-a' }, environment: 'prod*' }));
  const projectReporter = policy(grant('api', 'g-api', 'reporter'));

  it('an inherited grant acts as if granted there, and is named with inheritedFrom', () => {
    const eff = effectivePolicy({ type: 'project', id: 'api' }, [
      { place: { type: 'project', id: 'api' }, state: projectReporter },
      { place: { type: 'group', id: 'acme/payments' }, state: paymentsDev },
      { place: { type: 'group', id: 'acme' }, state: acmeOwner },
    ]);
    const s: SecretSubject = { projectId: 'api', name: 'DB', environment: null, branch: null, protectedOnly: false };
    expect(authorize(alice, eff, 'read', s, now)).toEqual({ allowed: true, via: { grantId: 'g-acme', role: 'owner', inheritedFrom: { type: 'group', id: 'acme' } } });
    expect(authorize(alice, eff, 'manage-grants', { projectId: 'api' }, now)).toMatchObject({ allowed: true, via: { grantId: 'g-acme' } });
    // The group claim: team-a's narrowed grant on acme/payments covers a production-scoped secret.
    const bob: UserPrincipal = { kind: 'user', id: 'bob', groups: ['team-a'], admin: false };
    expect(authorize(bob, eff, 'read', { ...s, environment: 'production' }, now)).toEqual({
      allowed: true,
      via: { grantId: 'g-pay', role: 'developer', inheritedFrom: { type: 'group', id: 'acme/payments' } },
    });
    // …and not an unscoped one (the glob narrows the inherited grant exactly as it would there).
    expect(authorize(bob, eff, 'read', s, now)).toEqual({ allowed: false, reason: 'scope-mismatch' });
  });

  it('a project grant never reaches a group secret', () => {
    const eff = effectivePolicy({ type: 'group', id: 'acme/payments' }, [
      { place: { type: 'group', id: 'acme/payments' }, state: policy() },
      { place: { type: 'group', id: 'acme' }, state: policy() },
    ]);
    expect(authorize(alice, eff, 'list', groupSecret('acme/payments'), now)).toEqual({ allowed: false, reason: 'no-grant' });
    // A policy that claims another place than the one it is passed for is ignored (defence in depth).
    const forged = effectivePolicy({ type: 'group', id: 'acme/payments' }, [{ place: { type: 'group', id: 'acme/payments' }, state: projectReporter }]);
    expect(forged.grants.size).toBe(0);
  });

  it('an expired or revoked inherited grant acts no more', () => {
    const expired = policy(grant('group:acme', 'g1', 'owner', { expiresAt: '2026-05-01T00:00:00.000Z' }));
    const eff = effectivePolicy({ type: 'project', id: 'api' }, [
      { place: { type: 'project', id: 'api' }, state: policy() },
      { place: { type: 'group', id: 'acme' }, state: expired },
    ]);
    expect(authorize(alice, eff, 'list', { projectId: 'api', name: 'X', environment: null, branch: null, protectedOnly: false }, now)).toEqual({ allowed: false, reason: 'grant-expired' });
  });

  it('a CI job reads group secrets of its own chain only, with the group scope checked', () => {
    const places = jobPlaceKeys('api', 'acme/payments');
    const eff = policy();
    expect(authorize(job(), { ...eff, projectId: 'group:acme' }, 'read', groupSecret('acme'), now, { jobPlaces: places })).toEqual({ allowed: true, via: { scope: 'ci-job-scope' } });
    // A group the project is not in, a sibling, and a group whose name is the project's.
    expect(authorize(job(), eff, 'read', groupSecret('acme/other'), now, { jobPlaces: places })).toEqual({ allowed: false, reason: 'other-project' });
    expect(authorize(job(), eff, 'read', groupSecret('api'), now, { jobPlaces: places })).toEqual({ allowed: false, reason: 'other-project' });
    // Without the chain (a project in no group, or a caller that forgot it): its project only.
    expect(authorize(job(), eff, 'read', groupSecret('acme'), now)).toEqual({ allowed: false, reason: 'other-project' });
    // A chain that is not the job's own project's is not believed.
    expect(authorize(job(), eff, 'read', groupSecret('acme'), now, { jobPlaces: ['other', 'group:acme'] })).toEqual({ allowed: false, reason: 'other-project' });
    // Environment and protection of the group secret are checked as for a project's.
    expect(authorize(job({ environment: 'staging' }), eff, 'read', groupSecret('acme', { environment: 'production' }), now, { jobPlaces: places })).toEqual({ allowed: false, reason: 'environment-mismatch' });
    expect(authorize(job({ refProtected: false }), eff, 'read', groupSecret('acme', { protectedOnly: true }), now, { jobPlaces: places })).toEqual({ allowed: false, reason: 'unprotected-ref' });
  });

  it('resolves a name nearest first; a secret the job does not match shadows nothing', () => {
    const c = (key: string, env: string | null) => ({ key, secret: env === undefined ? null : { env } });
    const matches = (_k: string, s: { env: string | null }) => s.env === null || s.env === 'production';
    const chain = [c('api', 'staging'), { key: 'group:acme/payments', secret: null }, c('group:acme', null)];
    expect(resolveDownTheTree(chain, matches)).toEqual({ chosen: chain[2], nearest: chain[0] });
    expect(resolveDownTheTree([c('api', null), c('group:acme', null)], matches).chosen?.key).toBe('api');
    expect(resolveDownTheTree([c('api', 'staging')], matches)).toEqual({ chosen: null, nearest: { key: 'api', secret: { env: 'staging' } } });
    expect(resolveDownTheTree([{ key: 'api', secret: null }], matches)).toEqual({ chosen: null, nearest: null });
  });

  it('decideAccess records the inherited grant in via, and the group place key as the place', () => {
    const created = secretDecider.evolve(secretDecider.initialState(), {
      type: 'SecretCreated',
      data: { projectId: 'group:acme', name: 'REGISTRY_TOKEN', description: null, scope: { environment: null, branch: null, protectedOnly: false }, version: 1, valueRef: 'r', createdBy: 'root' },
    });
    const eff = effectivePolicy({ type: 'group', id: 'acme' }, [{ place: { type: 'group', id: 'acme' }, state: acmeOwner }]);
    const e = decideAccess({ type: 'AccessSecret', data: { projectId: 'group:acme', name: 'REGISTRY_TOKEN', principal: alice, purpose: null }, metadata: meta() }, { secret: created, policy: eff });
    expect(e).toMatchObject({ type: 'SecretAccessed', data: { projectId: 'group:acme', via: { grantId: 'g-acme', role: 'owner' } } });
  });
});

describe('group secrets in the secret decider', () => {
  const create = (projectId: string, branch: string | null) => ({
    type: 'CreateSecret' as const,
    data: { projectId, name: 'REGISTRY_TOKEN', description: null, scope: { environment: 'prod*', branch, protectedOnly: true }, valueRef: 'ref' },
    metadata: meta(),
  });

  it('creates a group secret scoped by environment and protection', () => {
    expect(secretDecider.decide(create('group:acme/payments', null), secretDecider.initialState())[0].data).toMatchObject({ projectId: 'group:acme/payments' });
  });

  it('refuses a branch scope on a group secret, at create and at patch', () => {
    expect(() => secretDecider.decide(create('group:acme', 'main'), secretDecider.initialState())).toThrow(/branch/);
    const s = secretDecider.evolve(secretDecider.initialState(), { type: 'SecretCreated', data: { ...create('group:acme', null).data, version: 1, createdBy: 'root' } });
    expect(() => secretDecider.decide({ type: 'ChangeSecretMetadata', data: { branch: 'main' }, metadata: meta() }, s)).toThrow(/branch/);
  });

  it('refuses a malformed place key', () => {
    for (const p of ['group:', 'group:../x', 'group:ACME', 'GROUP:acme']) expect(() => secretDecider.decide(create(p, null), secretDecider.initialState())).toThrow(DomainError);
  });
});
