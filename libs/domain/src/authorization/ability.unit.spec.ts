import { accessPolicyDecider, AccessPolicyEvent, AccessPolicyState, RoleGranted } from '../access-policy/access-policy';
import { fold } from '../decider';
import { CiJobPrincipal, UserPrincipal } from '../principal';
import { ACTIONS, Role, ROLE_ACTIONS, ROLES } from '../roles';
import { authorize, SecretSubject } from './ability';

const now = '2026-06-01T12:00:00.000Z';
const alice: UserPrincipal = { kind: 'user', id: 'alice', groups: ['team-a'], admin: false };
const plain: SecretSubject = { projectId: 'p', name: 'TOKEN', environment: null, branch: null, protectedOnly: false };

function grant(grantId: string, role: Role, over: Partial<RoleGranted['data']> = {}): RoleGranted {
  return {
    type: 'RoleGranted',
    data: { projectId: 'p', grantId, principal: { type: 'user', id: 'alice' }, role, environment: null, branch: null, expiresAt: null, grantedBy: 'root', grantedAt: '2026-01-01T00:00:00.000Z', ...over },
  };
}
const policy = (...events: AccessPolicyEvent[]): AccessPolicyState => fold(accessPolicyDecider, events);

describe('authorize: every role × action', () => {
  for (const role of ROLES) {
    for (const action of ACTIONS) {
      const expected = (ROLE_ACTIONS[role] as readonly string[]).includes(action);
      it(`${role} ${expected ? 'may' : 'may not'} ${action}`, () => {
        const target = action === 'manage-grants' || action === 'read-audit' ? { projectId: 'p' } : plain;
        const d = authorize(alice, policy(grant('g1', role)), action, target, now);
        expect(d.allowed).toBe(expected);
        if (d.allowed) expect(d.via).toEqual({ grantId: 'g1', role });
        else expect(d.reason).toBe('role-lacks-action');
      });
    }
  }
});

describe('authorize: users, scopes and time', () => {
  it('denies by default: no grant at all', () => {
    expect(authorize(alice, policy(), 'list', plain, now)).toEqual({ allowed: false, reason: 'no-grant' });
  });

  it('honours group grants and ignores grants on other principals', () => {
    const viaGroup = policy(grant('g1', 'developer', { principal: { type: 'group', id: 'team-a' } }));
    expect(authorize(alice, viaGroup, 'read', plain, now).allowed).toBe(true);
    const other = policy(grant('g1', 'owner', { principal: { type: 'user', id: 'bob' } }), grant('g2', 'owner', { principal: { type: 'group', id: 'team-b' } }));
    expect(authorize(alice, other, 'read', plain, now)).toEqual({ allowed: false, reason: 'no-grant' });
  });

  it('an expired grant allows nothing, and says so', () => {
    const p = policy(grant('g1', 'developer', { expiresAt: '2026-06-01T11:59:59.999Z' }));
    expect(authorize(alice, p, 'read', plain, now)).toEqual({ allowed: false, reason: 'grant-expired' });
    expect(authorize(alice, p, 'read', plain, '2026-06-01T11:00:00.000Z').allowed).toBe(true);
  });

  it('a revoked grant allows nothing from the next decision on', () => {
    const g = grant('g1', 'developer');
    const p = policy(g, grant('g0', 'owner', { principal: { type: 'user', id: 'root' } }), {
      type: 'RoleRevoked', data: { projectId: 'p', grantId: 'g1', principal: g.data.principal, role: 'developer', revokedBy: 'root', revokedAt: now },
    });
    expect(authorize(alice, p, 'read', plain, now)).toEqual({ allowed: false, reason: 'grant-revoked' });
  });

  it('a grant narrowed by environment covers only secrets scoped within the glob', () => {
    const p = policy(grant('g1', 'developer', { environment: 'prod*' }));
    expect(authorize(alice, p, 'read', { ...plain, environment: 'production' }, now).allowed).toBe(true);
    expect(authorize(alice, p, 'read', { ...plain, environment: 'staging' }, now)).toEqual({ allowed: false, reason: 'scope-mismatch' });
    // an unscoped secret is used in every environment, so a narrowed grant does not cover it
    expect(authorize(alice, p, 'read', plain, now)).toEqual({ allowed: false, reason: 'scope-mismatch' });
  });

  it('a grant narrowed by branch covers only secrets scoped within the glob', () => {
    const p = policy(grant('g1', 'maintainer', { branch: 'release/*' }));
    expect(authorize(alice, p, 'update', { ...plain, branch: 'release/1.2' }, now).allowed).toBe(true);
    expect(authorize(alice, p, 'update', { ...plain, branch: 'main' }, now).allowed).toBe(false);
  });

  // Issue 9 item 3: coverage is glob containment, not the secret's glob read as a string.
  it('a developer narrowed to prod? cannot read a prod* secret (prod* also means production)', () => {
    const p = policy(grant('g1', 'developer', { environment: 'prod?' }));
    expect(authorize(alice, p, 'read', { ...plain, environment: 'prod*' }, now)).toEqual({ allowed: false, reason: 'scope-mismatch' });
    expect(authorize(alice, p, 'list', { ...plain, environment: 'prod*' }, now).allowed).toBe(false);
    expect(authorize(alice, p, 'read', { ...plain, environment: 'prod1' }, now).allowed).toBe(true);
    expect(authorize(alice, p, 'read', { ...plain, environment: 'prod?' }, now).allowed).toBe(true);
  });

  it('a maintainer narrowed to release/* can neither read nor write release/** secrets; release/** covers release/*', () => {
    const narrow = policy(grant('g1', 'maintainer', { branch: 'release/*' }));
    for (const action of ['read', 'create', 'update', 'delete', 'list'] as const) {
      expect(authorize(alice, narrow, action, { ...plain, branch: 'release/**' }, now).allowed).toBe(false);
    }
    const wide = policy(grant('g1', 'maintainer', { branch: 'release/**' }));
    expect(authorize(alice, wide, 'update', { ...plain, branch: 'release/*' }, now).allowed).toBe(true);
    expect(authorize(alice, wide, 'update', { ...plain, branch: 'release/a/*' }, now).allowed).toBe(true);
  });

  it('narrowed grants confer no project-wide power', () => {
    const p = policy(grant('g1', 'owner', { environment: 'prod' }));
    expect(authorize(alice, p, 'manage-grants', { projectId: 'p' }, now).allowed).toBe(false);
    expect(authorize(alice, p, 'read-audit', { projectId: 'p' }, now).allowed).toBe(false);
  });

  it('grants on one project say nothing about another', () => {
    const p = policy(grant('g1', 'owner'));
    expect(authorize(alice, p, 'read', { ...plain, projectId: 'q' }, now).allowed).toBe(false);
    expect(authorize(alice, p, 'manage-grants', { projectId: 'q' }, now).allowed).toBe(false);
  });

  it('an admin may bootstrap the first owner of an ownerless project only', () => {
    const admin: UserPrincipal = { ...alice, id: 'root', admin: true };
    expect(authorize(admin, policy(), 'bootstrap-owner', { projectId: 'p' }, now)).toEqual({ allowed: true, via: { scope: 'admin-bootstrap' } });
    expect(authorize(admin, policy(), 'read', plain, now).allowed).toBe(false);
    expect(authorize(admin, policy(grant('g1', 'owner', { principal: { type: 'user', id: 'bob' } })), 'bootstrap-owner', { projectId: 'p' }, now).allowed).toBe(false);
    expect(authorize(alice, policy(), 'bootstrap-owner', { projectId: 'p' }, now).allowed).toBe(false);
  });
});

describe('authorize: CI jobs', () => {
  const job: CiJobPrincipal = {
    kind: 'ci-job', id: 'job-42', projectId: 'p', ref: 'main', refType: 'branch', refProtected: true,
    environment: 'production', pipelineId: '7', jobId: '42', userId: 'alice',
  };
  const noGrants = policy();

  it('reads secrets of its own project whose scope it matches, without any grant', () => {
    expect(authorize(job, noGrants, 'read', plain, now)).toEqual({ allowed: true, via: { scope: 'ci-job-scope' } });
    expect(authorize(job, noGrants, 'read', { ...plain, environment: 'prod*', branch: 'main', protectedOnly: true }, now).allowed).toBe(true);
  });

  it('never reads secrets of another project', () => {
    expect(authorize({ ...job, projectId: 'q' }, noGrants, 'read', plain, now)).toEqual({ allowed: false, reason: 'other-project' });
  });

  it('needs a protected ref for a protectedOnly secret', () => {
    expect(authorize({ ...job, refProtected: false }, noGrants, 'read', { ...plain, protectedOnly: true }, now)).toEqual({ allowed: false, reason: 'unprotected-ref' });
  });

  it('needs a matching environment (and having one) for an environment-scoped secret', () => {
    expect(authorize(job, noGrants, 'read', { ...plain, environment: 'staging' }, now)).toEqual({ allowed: false, reason: 'environment-mismatch' });
    const { environment: _omit, ...noEnv } = job;
    expect(authorize(noEnv, noGrants, 'read', { ...plain, environment: '*' }, now)).toEqual({ allowed: false, reason: 'environment-mismatch' });
  });

  it('needs a matching branch for a branch-scoped secret', () => {
    expect(authorize({ ...job, ref: 'feature/x' }, noGrants, 'read', { ...plain, branch: 'main' }, now)).toEqual({ allowed: false, reason: 'branch-mismatch' });
    expect(authorize({ ...job, ref: 'release/2' }, noGrants, 'read', { ...plain, branch: 'release/*' }, now).allowed).toBe(true);
  });

  // Issue 9 item 6: a tag named like a branch is not that branch.
  it('a tag job never matches a branch-scoped secret, whatever the tag is called; unscoped secrets stay readable', () => {
    const tag: CiJobPrincipal = { ...job, refType: 'tag', ref: 'main' };
    expect(authorize(tag, noGrants, 'read', { ...plain, branch: 'main' }, now)).toEqual({ allowed: false, reason: 'ref-type-mismatch' });
    expect(authorize(tag, noGrants, 'read', { ...plain, branch: '**' }, now)).toEqual({ allowed: false, reason: 'ref-type-mismatch' });
    expect(authorize(tag, noGrants, 'read', { ...plain, environment: 'prod*' }, now).allowed).toBe(true);
    expect(authorize(job, noGrants, 'read', { ...plain, branch: 'main' }, now).allowed).toBe(true);
  });

  it('may do nothing but read, even with grants on the project', () => {
    for (const action of ['list', 'create', 'update', 'delete'] as const) {
      expect(authorize(job, policy(grant('g1', 'owner', { principal: { type: 'user', id: 'job-42' } })), action, plain, now)).toEqual({ allowed: false, reason: 'ci-job-action' });
    }
    expect(authorize(job, noGrants, 'manage-grants', { projectId: 'p' }, now).allowed).toBe(false);
  });
});

describe('authorize: a break-glass owner grant (issue 18 item 5)', () => {
  it('reads, writes and reads audit, but never manages grants', () => {
    const state = policy(grant('bg', 'owner', { breakGlass: true, expiresAt: '2026-06-01T13:00:00.000Z' }));
    expect(authorize(alice, state, 'read', plain, now).allowed).toBe(true);
    expect(authorize(alice, state, 'update', plain, now).allowed).toBe(true);
    expect(authorize(alice, state, 'read-audit', { projectId: 'p' }, now).allowed).toBe(true);
    expect(authorize(alice, state, 'manage-grants', { projectId: 'p' }, now)).toEqual({ allowed: false, reason: 'role-lacks-action' });
  });
});
