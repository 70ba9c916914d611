import { AccessPolicyState, Grant, groupKey, isAtOrBelow, Principal, Role } from '@app/domain';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { AuthenticatedRequest } from '../http/request-context';
import { ME_MAX_PLACES, MeController, MeView } from './me.controller';

// GET /v1/me with its dependencies faked: the bound on the answer, and the rule that a place is
// listed only where the effective policy (own + inherited grants, read fresh) gives an action.

const now = new Date().toISOString();
const grant = (grantId: string, principal: Grant['principal'], role: Role, over: Partial<Grant> = {}): Grant => ({
  grantId,
  principal,
  role,
  environment: null,
  branch: null,
  expiresAt: null,
  grantedBy: 'root',
  grantedAt: now,
  revokedAt: null,
  revokedBy: null,
  ...over,
});
const policy = (key: string, grants: Grant[]): AccessPolicyState => ({ projectId: key, grants: new Map(grants.map((g) => [g.grantId, g])) });

interface World {
  grants: Record<string, Grant[]>;
  groupOf: Record<string, string | null>;
  /** What rm_grants says (may lag behind, or hold a revoked grant). */
  projected: string[];
  /** What rm_project_groups says now (may lag behind the streams). */
  members?: Record<string, string>;
}
function controller(w: World): MeController {
  const access = {
    policy: async (key: string) => ({ state: policy(key, w.grants[key] ?? []), revision: 0 }),
    groupOf: async (projectId: string) => w.groupOf[projectId] ?? null,
  } as unknown as AccessControl;
  const queries = {
    projectsWithRole: async (_u: unknown, _r: unknown, _at: string, limit: number) => w.projected.slice(0, limit),
    projectsInOrBelowGroupAt: async (groupId: string, _at: string, limit: number) =>
      Object.entries(w.members ?? {})
        .filter(([, g]) => isAtOrBelow(g, groupId))
        .map(([projectId, g]) => ({ projectId, groupId: g }))
        .sort((a, b) => (a.projectId < b.projectId ? -1 : 1))
        .slice(0, limit),
  } as unknown as ComplianceQueries;
  return new MeController(access, queries);
}
const req = { header: () => undefined } as unknown as AuthenticatedRequest;
const user = (id: string, groups: string[] = []): Principal => ({ kind: 'user', id, groups, admin: false });
const ask = (c: MeController, p: Principal): Promise<MeView> => c.me(p, req);

describe('GET /v1/me (issue 20, 7)', () => {
  it('lists a group where the user holds a grant, and the projects below it (as the tree is now) with inherited actions', async () => {
    const w: World = {
      grants: { [groupKey('acme')]: [grant('g1', { type: 'group', id: 'team' }, 'developer')] },
      groupOf: { a: 'acme/payments', b: 'acme', x: 'acme-x' },
      projected: [groupKey('acme')],
      members: { a: 'acme/payments', b: 'acme', x: 'acme-x' },
    };
    const r = await ask(controller(w), user('dana', ['team']));
    expect(r.groups).toEqual([{ groupId: 'acme', actions: ['read', 'list'] }]);
    // `acme-x` is not below `acme`.
    expect(r.projects).toEqual([
      { projectId: 'a', actions: ['read', 'list'] },
      { projectId: 'b', actions: ['read', 'list'] },
    ]);
    expect(r).not.toHaveProperty('truncated');
  });

  it('never lists a place where the user has no action: a revoked grant still projected, a grant without actions, a project the read model still thinks is below', async () => {
    const w: World = {
      grants: {
        [groupKey('gone')]: [grant('g1', { type: 'user', id: 'u' }, 'owner', { revokedAt: now, revokedBy: 'root' })],
        [groupKey('bg')]: [grant('g2', { type: 'user', id: 'u' }, 'break-glass')],
        [groupKey('live')]: [grant('g3', { type: 'user', id: 'u' }, 'reporter')],
        p: [grant('g4', { type: 'user', id: 'someone-else' }, 'owner')],
      },
      // The read model still has p in `live` (and a damaged row naming a group key); the fresh stream says p has left.
      groupOf: { p: null },
      projected: [groupKey('gone'), groupKey('bg'), groupKey('live'), 'p'],
      members: { p: 'live', 'group:live': 'live' },
    };
    const r = await ask(controller(w), user('u'));
    expect(r).toEqual({ principal: { type: 'user', id: 'u', groups: [], admin: false }, groups: [{ groupId: 'live', actions: ['list'] }], projects: [] });
  });

  it('is bounded: at most ME_MAX_PLACES projects and groups, sorted, `truncated: true` beyond (absent otherwise)', async () => {
    const ids = Array.from({ length: 2600 }, (_, i) => `p${String(i).padStart(5, '0')}`);
    const groups = Array.from({ length: 1200 }, (_, i) => `g${String(i).padStart(5, '0')}`);
    const grants: World['grants'] = {};
    for (const id of ids) grants[id] = [grant(`gr-${id}`, { type: 'user', id: 'u' }, 'reporter')];
    for (const g of groups) grants[groupKey(g)] = [grant(`gr-${g}`, { type: 'user', id: 'u' }, 'reporter')];
    const w: World = { grants, groupOf: {}, projected: [...ids.slice(0, 900), ...groups.map(groupKey), ...ids.slice(900)] };
    const r = await ask(controller(w), user('u'));
    expect(r.truncated).toBe(true);
    expect(r.projects.length).toBeLessThanOrEqual(ME_MAX_PLACES);
    expect(r.groups).toHaveLength(ME_MAX_PLACES);
    expect(r.groups.map((g) => g.groupId)).toEqual([...groups].sort().slice(0, ME_MAX_PLACES));
    expect(r.projects.map((p) => p.projectId)).toEqual([...r.projects.map((p) => p.projectId)].sort());
    // A group with more projects below it than the bound: cut, and said so.
    const many = Array.from({ length: 1500 }, (_, i) => `m${String(i).padStart(5, '0')}`);
    const big = await ask(
      controller({ grants: { [groupKey('big')]: [grant('gb', { type: 'user', id: 'u' }, 'reporter')] }, groupOf: Object.fromEntries(many.map((m) => [m, 'big/sub'])), projected: [groupKey('big')], members: Object.fromEntries(many.map((m) => [m, 'big/sub'])) }),
      user('u'),
    );
    expect(big.truncated).toBe(true);
    expect(big.projects).toHaveLength(ME_MAX_PLACES);
    expect(big.projects[0]).toEqual({ projectId: 'm00000', actions: ['list'] });
    // A small world is not truncated.
    expect(await ask(controller({ grants, groupOf: {}, projected: ids.slice(0, 3) }), user('u'))).not.toHaveProperty('truncated');
  });

  it('a CI job: its own project, read only, never a group', async () => {
    const r = await ask(controller({ grants: {}, groupOf: {}, projected: [] }), { kind: 'ci-job', id: 'sub', projectId: 'app', ref: 'main', refType: 'branch', refProtected: true } as unknown as Principal);
    expect(r).toEqual({ principal: { type: 'ci-job', id: 'sub', projectId: 'app' }, projects: [{ projectId: 'app', actions: ['read'] }], groups: [] });
  });
});
