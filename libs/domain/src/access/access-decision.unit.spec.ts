import { accessPolicyDecider, RoleGranted } from '../access-policy/access-policy';
import { fold } from '../decider';
import { CiJobPrincipal, UserPrincipal } from '../principal';
import { secretDecider, SecretState } from '../secret/secret';
import { AccessSecret, decideAccess, purposeError } from './access-decision';

const meta = { now: '2026-06-01T00:00:00.000Z', actor: { type: 'user' as const, id: 'x' } };
const secret: SecretState = fold(secretDecider, [
  { type: 'SecretCreated', data: { projectId: 'p', name: 'TOKEN', description: null, scope: { environment: null, branch: null, protectedOnly: true }, version: 1, valueRef: 'r1', createdBy: 'a' } },
  { type: 'SecretValueUpdated', data: { projectId: 'p', name: 'TOKEN', version: 2, valueRef: 'r2', updatedBy: 'a' } },
]);
const devGrant: RoleGranted = {
  type: 'RoleGranted',
  data: { projectId: 'p', grantId: 'g1', principal: { type: 'user', id: 'alice' }, role: 'developer', environment: null, branch: null, expiresAt: null, grantedBy: 'root', grantedAt: '2026-01-01T00:00:00.000Z' },
};
const policy = fold(accessPolicyDecider, [devGrant]);
const alice: UserPrincipal = { kind: 'user', id: 'alice', groups: [], admin: false };
const mallory: UserPrincipal = { kind: 'user', id: 'mallory', groups: [], admin: false };
const job: CiJobPrincipal = { kind: 'ci-job', id: 'j', projectId: 'p', ref: 'main', refType: 'branch', refProtected: false, pipelineId: '7', jobId: '42' };
const cmd = (principal: AccessSecret['data']['principal'], name = 'TOKEN'): AccessSecret => ({
  type: 'AccessSecret', data: { projectId: 'p', name, principal, purpose: 'deploy' }, metadata: meta,
});

describe('decideAccess', () => {
  it('records SecretAccessed with the version read and the grant that allowed it', () => {
    expect(decideAccess(cmd(alice), { secret, policy })).toEqual({
      type: 'SecretAccessed',
      data: { projectId: 'p', name: 'TOKEN', version: 2, principal: { type: 'user', id: 'alice' }, via: { grantId: 'g1', role: 'developer' }, purpose: 'deploy' },
    });
  });

  it('records SecretAccessDenied with the reason, and the job identity', () => {
    expect(decideAccess(cmd(job), { secret, policy })).toEqual({
      type: 'SecretAccessDenied',
      data: {
        projectId: 'p', name: 'TOKEN', action: 'read', reason: 'unprotected-ref', purpose: 'deploy',
        principal: { type: 'ci-job', id: 'j', pipelineId: '7', jobId: '42', ref: 'main', refProtected: false },
      },
    });
  });

  it('tells a missing secret apart only to principals who may see the project', () => {
    const absent = secretDecider.initialState();
    expect(decideAccess(cmd(alice, 'NOPE'), { secret: absent, policy })).toMatchObject({ type: 'SecretAccessDenied', data: { reason: 'secret-not-found' } });
    expect(decideAccess(cmd(job, 'NOPE'), { secret: absent, policy })).toMatchObject({ data: { reason: 'secret-not-found' } });
    expect(decideAccess(cmd(mallory, 'NOPE'), { secret: absent, policy })).toMatchObject({ data: { reason: 'no-grant' } });
    expect(decideAccess(cmd(mallory), { secret, policy })).toMatchObject({ data: { reason: 'no-grant' } });
  });
});

describe('decideAccess is the last gate for the purpose', () => {
  const withPurpose = (purpose: unknown): AccessSecret => ({ ...cmd(alice), data: { ...cmd(alice).data, purpose: purpose as string } });
  it.each([
    ['a lone high surrogate', 'deploy \ud800'],
    ['a lone low surrogate', '\udc00'],
    ['a control character', 'x\u001b[31m'],
    ['a right-to-left override (the record would display other than it holds)', 'deploy \u202egnitset'],
    ['a bidirectional isolate', 'a\u2066b\u2069'],
    ['more than 512 characters', 'p'.repeat(513)],
    ['a number', 42],
  ])('refuses %s, naming purpose', (_n, purpose) => {
    expect(() => decideAccess(withPurpose(purpose), { secret, policy })).toThrow(expect.objectContaining({ kind: 'invalid', field: 'purpose' }));
    expect(purposeError(purpose)).toMatchObject({ field: 'purpose' });
  });
  it('accepts 512 characters counted in code points, and null', () => {
    expect(decideAccess(withPurpose('😀'.repeat(512)), { secret, policy }).type).toBe('SecretAccessed');
    expect(decideAccess(withPurpose(null), { secret, policy }).type).toBe('SecretAccessed');
    expect(purposeError(null)).toBeNull();
  });
});

// Issue 9: scope coverage by glob containment, and tags are not branches.
describe('decideAccess: scopes', () => {
  const scoped = (environment: string | null, branch: string | null): SecretState =>
    fold(secretDecider, [
      { type: 'SecretCreated', data: { projectId: 'p', name: 'TOKEN', description: null, scope: { environment, branch, protectedOnly: false }, version: 1, valueRef: 'r1', createdBy: 'a' } },
    ]);
  const narrowed = (environment: string): RoleGranted => ({ ...devGrant, data: { ...devGrant.data, environment } });

  it('a developer narrowed to prod? is denied the prod* secret (scope-mismatch), and reads a prod1 one', () => {
    const p = fold(accessPolicyDecider, [narrowed('prod?')]);
    expect(decideAccess(cmd(alice), { secret: scoped('prod*', null), policy: p })).toMatchObject({ type: 'SecretAccessDenied', data: { reason: 'scope-mismatch' } });
    expect(decideAccess(cmd(alice), { secret: scoped('prod1', null), policy: p })).toMatchObject({ type: 'SecretAccessed' });
  });

  it('a tag job named main is denied the secret scoped to branch main (ref-type-mismatch); the branch job reads it', () => {
    const tag: CiJobPrincipal = { ...job, refType: 'tag' };
    expect(decideAccess(cmd(tag), { secret: scoped(null, 'main'), policy })).toMatchObject({ type: 'SecretAccessDenied', data: { reason: 'ref-type-mismatch' } });
    expect(decideAccess(cmd(job), { secret: scoped(null, 'main'), policy })).toMatchObject({ type: 'SecretAccessed' });
    expect(decideAccess(cmd(tag), { secret: scoped(null, null), policy })).toMatchObject({ type: 'SecretAccessed' });
  });
});
