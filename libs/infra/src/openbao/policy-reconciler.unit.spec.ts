import { groupKey } from '@app/domain';
import { ciRoleName, DesiredBaoState, JwtRole, Membership, renderBaoState, ScopedSecret } from '@app/domain/openbao/policy-renderer';
import { JsonLogger } from '../logging/logger';
import { SqlClient } from '../sql/sql-client';
import { PolicyReconciler } from './policy-reconciler';
import { PolicyTarget } from './policy-target';

// The reconciler's two kinds of run (issue 20, item 5): a full run reads every desired object back
// and repairs anything; a `changes` run (after a projection batch) writes only what the events
// changed since the rendering this process last applied and reads nothing, so a move in a group of
// N projects costs the moved project's objects, not N reads.

class MemoryTarget implements PolicyTarget {
  readonly kind = 'files';
  policies = new Map<string, string>();
  roles = new Map<string, JwtRole>();
  calls: string[] = [];
  failWrites = false;
  async prepare() {}
  async isPrepared() {
    return true;
  }
  async listPolicies() {
    this.calls.push('list');
    return [...this.policies.keys()].sort();
  }
  async readPolicy(name: string) {
    this.calls.push(`read policy/${name}`);
    return this.policies.get(name);
  }
  async writePolicy(name: string, hcl: string) {
    if (this.failWrites) throw new Error('injected');
    this.calls.push(`write policy/${name}`);
    this.policies.set(name, hcl);
  }
  async deletePolicy(name: string) {
    this.calls.push(`delete policy/${name}`);
    this.policies.delete(name);
  }
  async listRoles() {
    this.calls.push('list');
    return [...this.roles.keys()].sort();
  }
  async readRole(name: string) {
    this.calls.push(`read role/${name}`);
    return this.roles.get(name);
  }
  async writeRole(name: string, role: JwtRole) {
    this.calls.push(`write role/${name}`);
    this.roles.set(name, role);
  }
  async deleteRole(name: string) {
    this.calls.push(`delete role/${name}`);
    this.roles.delete(name);
  }
}

const opts = { kvMount: 'secret', kvPrefix: 'ps', audience: 'pipeline-secrets', tokenTtlSeconds: 300 };
const unscoped = { environment: null, branch: null, protectedOnly: false };
const G = 'acme/payments';
const projects = Array.from({ length: 50 }, (_, i) => `p-${i}`);
const secrets: ScopedSecret[] = [{ projectId: groupKey(G), name: 'REGISTRY_TOKEN', scope: unscoped }, ...projects.map((p) => ({ projectId: p, name: 'OWN', scope: unscoped }))];

function setup() {
  const target = new MemoryTarget();
  let input: { secrets: ScopedSecret[]; membership: Membership } = { secrets, membership: new Map(projects.map((p) => [p, G])) };
  const reconciler = new (class extends PolicyReconciler {
    override async desired(): Promise<DesiredBaoState> {
      return renderBaoState(input.secrets, opts, input.membership);
    }
  })(target, undefined as unknown as SqlClient, opts, new JsonLogger('error'));
  return { target, reconciler, set: (i: Partial<typeof input>) => (input = { ...input, ...i }) };
}

describe('PolicyReconciler: full and changes runs', () => {
  it('a changes run after a move writes only the moved project\'s objects and reads nothing back', async () => {
    const { target, reconciler, set } = setup();
    expect((await reconciler.reconcileOnce('full')).written).toHaveLength(100);
    target.calls = [];
    set({ membership: new Map(projects.map((p, i) => [p, i === 7 ? 'elsewhere' : G])) });
    const r = await reconciler.reconcileOnce('changes');
    expect(r).toEqual({ written: [`policy/${ciRoleName('p-7', unscoped)}`], removed: [] });
    expect(target.calls).toEqual([`write policy/${ciRoleName('p-7', unscoped)}`]);
    expect(target.policies.get(ciRoleName('p-7', unscoped))).not.toContain('_groups');
    // the same state is what a full run finds: nothing to do
    target.calls = [];
    expect(await reconciler.reconcileOnce('full')).toEqual({ written: [], removed: [] });
    expect(target.calls.filter((c) => !c.startsWith('read') && c !== 'list')).toEqual([]);
  });

  it('a changes run removes what the events removed, and a new group secret writes each project policy of its scope once', async () => {
    const { target, reconciler, set } = setup();
    await reconciler.reconcileOnce('full');
    set({ secrets: [...secrets, { projectId: groupKey(G), name: 'NEW', scope: unscoped }] });
    target.calls = [];
    expect((await reconciler.reconcileOnce('changes')).written).toHaveLength(50);
    expect(target.calls.every((c) => c.startsWith('write policy/'))).toBe(true);
    set({ secrets: secrets.filter((s) => s.projectId !== 'p-3'), membership: new Map(projects.filter((p) => p !== 'p-3').map((p) => [p, G])) });
    const r = await reconciler.reconcileOnce('changes');
    expect(r.removed).toEqual([`policy/${ciRoleName('p-3', unscoped)}`, `role/${ciRoleName('p-3', unscoped)}`]);
    expect(target.roles.has(ciRoleName('p-3', unscoped))).toBe(false);
  });

  it('without an applied state (first run, or after a failed one) a changes run is a full one; drift is left to full runs', async () => {
    const { target, reconciler, set } = setup();
    expect((await reconciler.reconcileOnce('changes')).written).toHaveLength(100); // nothing applied yet: full
    // someone strips a policy by hand: a changes run with no event does not see it, a full run repairs it
    const name = ciRoleName('p-1', unscoped);
    const want = target.policies.get(name)!;
    target.policies.set(name, 'path "x" {}');
    expect(await reconciler.reconcileOnce('changes')).toEqual({ written: [], removed: [] });
    expect((await reconciler.reconcileOnce('full')).written).toEqual([`policy/${name}`]);
    expect(target.policies.get(name)).toBe(want);
    // a run that fails half-way leaves the state unknown: the next changes run compares everything
    set({ secrets: [...secrets, { projectId: groupKey(G), name: 'NEW', scope: unscoped }] });
    target.failWrites = true;
    await expect(reconciler.reconcileOnce('changes')).rejects.toThrow('injected');
    target.failWrites = false;
    target.policies.set(name, 'path "x" {}');
    target.calls = [];
    const r = await reconciler.reconcileOnce('changes');
    expect(r.written).toHaveLength(50);
    expect(target.calls.some((c) => c.startsWith('read'))).toBe(true);
    expect(target.policies.get(name)).toContain('/NEW/');
  });

  it('schedule: requests coalesce; any request for a full run makes the next run full', async () => {
    const { target, reconciler } = setup();
    const modes: string[] = [];
    const once = reconciler.reconcileOnce.bind(reconciler);
    reconciler.reconcileOnce = (mode = 'full') => {
      modes.push(mode);
      return once(mode);
    };
    reconciler.schedule(0, 'changes');
    reconciler.schedule(0, 'full');
    reconciler.schedule(0, 'changes');
    await reconciler.idle();
    reconciler.schedule(0, 'changes');
    reconciler.schedule(0, 'changes');
    await reconciler.idle();
    expect(modes).toEqual(['full', 'changes']);
    expect(target.roles.size).toBe(50);
    reconciler.stop();
  });
});
