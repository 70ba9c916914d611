import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { SecretScope } from '../secret/secret';
import { groupKey } from '../group/place';
import { ciRoleName, directlyReadable, jobRoleName, kvPath, kvValuePath, openBaoGlob, NAME_HASH_HEX, OWNED_PREFIX, renderBaoState, RoleNameCollisionError, ScopedSecret, scopeHash } from './policy-renderer';

// Golden files: the exact bytes OpenBao receives. Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff.
const GOLDEN = join(__dirname, 'golden');
const opts = { kvMount: 'secret', kvPrefix: 'pipeline-secrets', audience: 'pipeline-secrets', tokenTtlSeconds: 300 };
const unscoped = { environment: null, branch: null, protectedOnly: false };
const prod = { environment: 'production', branch: 'main', protectedOnly: true };
const hashOf = (placeKey: string, sc: SecretScope) => scopeHash(placeKey, sc);
const secrets: ScopedSecret[] = [
  // current value written under another scope (the secret moved to production since)
  { projectId: 'payments', name: 'STRIPE_KEY', scope: prod, currentValuePath: `pipeline-secrets/payments/STRIPE_KEY/${hashOf('payments', unscoped)}-00000000000000aa` },
  // current value of the one-path layout of earlier releases
  { projectId: 'payments', name: 'NPM_TOKEN', scope: unscoped, currentValuePath: 'pipeline-secrets/payments/NPM_TOKEN' },
  // current value written under its scope: the scope's glob covers it
  { projectId: 'payments', name: 'DB_PASSWORD', scope: prod, currentValuePath: `pipeline-secrets/payments/DB_PASSWORD/${hashOf('payments', prod)}-00000000000000bb` },
  { projectId: 'payments', name: 'STAGING_DB', scope: { environment: 'staging**', branch: null, protectedOnly: false } },
  // a scope OpenBao cannot express exactly: no role, no policy (read through the API only)
  { projectId: 'payments', name: 'RELEASE_KEY', scope: { environment: null, branch: 'release/*', protectedOnly: false } },
  { projectId: 'web', name: 'SENTRY_DSN', scope: unscoped },
];

function golden(name: string, actual: string) {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    mkdirSync(GOLDEN, { recursive: true });
    if (process.env.CI === 'true' && !existsSync(path)) throw new Error(`golden file ${name} is missing`);
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

describe('OpenBao policy renderer', () => {
  const state = renderBaoState(secrets, opts);

  it('renders one policy and one JWT role per project and distinct scope, matching the golden files', () => {
    expect([...state.policies.keys()]).toEqual([...state.roles.keys()]);
    expect([...state.policies.keys()]).toHaveLength(4);
    for (const [name, hcl] of state.policies) golden(`${name}.hcl`, hcl);
    for (const [name, role] of state.roles) golden(`${name}.role.json`, JSON.stringify(role, null, 2) + '\n');
  });

  it('binds the role claims to the scope and grants read on exactly those secrets', () => {
    const name = ciRoleName('payments', prod);
    expect(state.roles.get(name)!.bound_claims).toEqual({ project_id: 'payments', environment: 'production', ref: 'main', ref_type: 'branch', ref_protected: 'true' });
    const hcl = state.policies.get(name)!;
    const h = hashOf('payments', prod);
    expect(hcl.match(/^path "[^"]+"/gm)).toEqual([
      `path "secret/data/pipeline-secrets/payments/DB_PASSWORD/${h}-*"`,
      `path "secret/data/pipeline-secrets/payments/STRIPE_KEY/${h}-*"`,
      `path "secret/data/pipeline-secrets/payments/STRIPE_KEY/${hashOf('payments', unscoped)}-00000000000000aa"`,
      'path "auth/token/revoke-self"',
    ]);
    // read on the secrets; the only other capability is ending its own token
    const stanzas = hcl.split(/\n(?=path )/).slice(1);
    for (const st of stanzas.slice(0, 3)) expect(st).toMatch(/capabilities = \["read"\]/);
    expect(stanzas[3]).toMatch(/^path "auth\/token\/revoke-self" \{\n  capabilities = \["update"\]\n\}/);
    expect(hcl).not.toMatch(/create|delete|list|sudo|\+/);
    // the only glob: values written under this very scope
    expect(hcl.match(/\*/g)).toHaveLength(2);
    expect(hcl.match(/^path "[^"]*\*"/gm)!.every((l) => l.endsWith(`/${h}-*"`))).toBe(true);
    expect(state.roles.get(ciRoleName('payments', unscoped))!.bound_claims).toEqual({ project_id: 'payments' });
    expect(state.roles.get(name)!.token_no_default_policy).toBe(true);
  });

  it('grants no value written under another scope: after a move, only the current value and what is written from then on (issue 11, 2b)', () => {
    const staging = { environment: 'staging', branch: null, protectedOnly: false };
    // Written under production (two versions), then moved to staging; the current value is the second.
    const moved = renderBaoState([{ projectId: 'payments', name: 'MOVED', scope: staging, currentValuePath: `pipeline-secrets/payments/MOVED/${hashOf('payments', prod)}-0000000000000002` }], opts);
    const hcl = moved.policies.get(ciRoleName('payments', staging))!;
    expect(hcl.match(/^path "[^"]+"/gm)).toEqual([
      `path "secret/data/pipeline-secrets/payments/MOVED/${hashOf('payments', staging)}-*"`,
      `path "secret/data/pipeline-secrets/payments/MOVED/${hashOf('payments', prod)}-0000000000000002"`,
      'path "auth/token/revoke-self"',
    ]);
    expect(hcl).not.toContain(`${hashOf('payments', prod)}-*`);
    expect(hcl).not.toContain('"secret/data/pipeline-secrets/payments/MOVED"');
    // kvValuePath is where the writer puts a value of a scope: inside that scope's glob only
    const p = kvValuePath(opts, 'payments', 'MOVED', staging, '0123456789abcdef');
    expect(p).toBe(`pipeline-secrets/payments/MOVED/${hashOf('payments', staging)}-0123456789abcdef`);
    expect(() => kvValuePath(opts, 'payments', 'MOVED', staging, '../../x')).toThrow();
  });

  it("renders no role for a scope OpenBao's glob cannot express: its `*` crosses `/`, and `?` is literal there", () => {
    expect(openBaoGlob('release/**')).toBe('release/*');
    expect(openBaoGlob('production')).toBe('production');
    for (const g of ['release/*', 'v?', '*', 'release/*/x', 'a**b*']) expect({ g, out: openBaoGlob(g) }).toEqual({ g, out: null });
    expect(directlyReadable({ environment: 'staging**', branch: null, protectedOnly: false })).toBe(true);
    expect(directlyReadable({ environment: null, branch: 'release/*', protectedOnly: false })).toBe(false);
    expect(directlyReadable({ environment: 'prod-?', branch: 'main', protectedOnly: true })).toBe(false);
    const release = ciRoleName('payments', { environment: null, branch: 'release/*', protectedOnly: false });
    expect(state.roles.has(release)).toBe(false);
    expect(state.policies.has(release)).toBe(false);
    expect([...state.policies.values()].join()).not.toContain('RELEASE_KEY');
    // the expressible globstar becomes OpenBao's `*`
    expect(state.roles.get(ciRoleName('payments', { environment: 'staging**', branch: null, protectedOnly: false }))!.bound_claims.environment).toBe('staging*');
  });

  it('is deterministic: input order does not change a byte', () => {
    const again = renderBaoState([...secrets].reverse(), opts);
    expect([...again.policies]).toEqual([...state.policies]);
    expect(JSON.stringify([...again.roles])).toBe(JSON.stringify([...state.roles]));
  });

  it('a project with no secrets gets nothing; removing a secret removes its path', () => {
    expect(renderBaoState([], opts).policies.size).toBe(0);
    const fewer = renderBaoState(secrets.filter((s) => s.name !== 'STRIPE_KEY'), opts);
    expect(fewer.policies.get(ciRoleName('payments', prod))).not.toContain('STRIPE_KEY');
  });

  describe('names are injective over (project, scope)', () => {
    // The naming before issue 11: unscoped `ps-ci-<project>`, else `ps-ci-<project>-<12 hex of the scope only>`.
    const legacyName = (projectId: string, sc: SecretScope) =>
      sc.environment === null && sc.branch === null && !sc.protectedOnly
        ? `ps-ci-${projectId}`
        : `ps-ci-${projectId}-${createHash('sha256').update(JSON.stringify([sc.environment, sc.branch, sc.protectedOnly])).digest('hex').slice(0, 12)}`;
    // The attack: project P's protected production scope, and a project named P-<those 12 hex> with an unscoped secret.
    const P = 'acme';
    const attacker = `${P}-${legacyName(P, prod).slice(`ps-ci-${P}-`.length)}`;
    const attack: ScopedSecret[] = [
      { projectId: P, name: 'PROD_DB', scope: prod },
      { projectId: attacker, name: 'ANYTHING', scope: unscoped },
    ];

    it("project P's scoped name differs from project P-<hex>'s unscoped name, and each role grants only its own project's paths", () => {
      expect(legacyName(P, prod)).toBe(legacyName(attacker, unscoped)); // the collision the old naming had
      expect(ciRoleName(P, prod)).not.toBe(ciRoleName(attacker, unscoped));
      const st = renderBaoState(attack, opts);
      expect(st.roles.size).toBe(2);
      expect(st.policies.get(ciRoleName(attacker, unscoped))).not.toContain(`/${P}/PROD_DB`);
      expect(st.roles.get(ciRoleName(attacker, unscoped))!.bound_claims).toEqual({ project_id: attacker });
      expect(st.roles.get(ciRoleName(P, prod))!.bound_claims.project_id).toBe(P);
    });

    it('a desired state in which two owners map to one name is refused, not merged', () => {
      expect(() => renderBaoState(attack, opts, new Map(), legacyName)).toThrow(RoleNameCollisionError);
      try {
        renderBaoState(attack, opts, new Map(), legacyName);
      } catch (e) {
        expect((e as RoleNameCollisionError).roleName).toBe(legacyName(P, prod));
        expect((e as RoleNameCollisionError).owners).toHaveLength(2);
      }
    });

    it('every name (unscoped too) is prefix, project, dash and a fixed-length hash, so the name gives back its project', () => {
      const scopes: SecretScope[] = [unscoped, prod, { environment: 'staging*', branch: null, protectedOnly: false }, { environment: null, branch: 'main', protectedOnly: false }];
      const projects = ['p', 'p-1', `p-${'a'.repeat(12)}`, `p-${'a'.repeat(16)}`, 'p.x', 'p--'];
      const seen = new Map<string, string>();
      for (const projectId of projects) {
        for (const sc of scopes) {
          const n = ciRoleName(projectId, sc);
          expect(n).toMatch(new RegExp(`^${OWNED_PREFIX}[a-z0-9._-]+-[0-9a-f]{${NAME_HASH_HEX}}$`));
          expect(n.slice(OWNED_PREFIX.length, -(NAME_HASH_HEX + 1))).toBe(projectId);
          const owner = JSON.stringify([projectId, sc]);
          expect(seen.get(n) ?? owner).toBe(owner);
          seen.set(n, owner);
        }
      }
      expect(seen.size).toBe(projects.length * scopes.length);
    });
  });

  it('roles of a branch-scoped secret admit only branch jobs (ref_type), roles without a branch say nothing about it', () => {
    const branchRole = state.roles.get(ciRoleName('payments', prod))!;
    expect(branchRole.bound_claims.ref_type).toBe('branch');
    for (const sc of [unscoped, { environment: 'staging**', branch: null, protectedOnly: false }]) {
      expect(state.roles.get(ciRoleName('payments', sc))!.bound_claims).not.toHaveProperty('ref_type');
    }
  });

  it('the hash in a role name is the scope hash of its value paths', () => {
    expect(ciRoleName('payments', prod).slice(-NAME_HASH_HEX)).toBe(scopeHash('payments', prod));
  });

  describe('group secrets (issue 20, item 5): in the roles of every project whose jobs read the group', () => {
    // acme/payments holds pay-a and pay-b; acme/web holds web; project `acme` (named like the top group) is in no group.
    const G = 'acme/payments';
    const membership = new Map([
      ['pay-a', G],
      ['pay-b', G],
      ['web', 'acme/web'],
    ]);
    const prodOnly = { environment: 'production', branch: null, protectedOnly: true };
    const groupSecrets: ScopedSecret[] = [
      { projectId: groupKey(G), name: 'REGISTRY_TOKEN', scope: unscoped },
      { projectId: groupKey(G), name: 'DEPLOY_KEY', scope: prodOnly },
      // moved to production after its current value was written unscoped
      { projectId: groupKey(G), name: 'CLOUD_KEY', scope: prodOnly, currentValuePath: `pipeline-secrets/_groups/${G}/CLOUD_KEY/${hashOf(groupKey(G), unscoped)}-00000000000000cc` },
      { projectId: groupKey('acme'), name: 'ORG_TOKEN', scope: unscoped },
      // the same name one level down shadows it in the API; OpenBao grants both (the job may read each through its place's endpoint)
      { projectId: groupKey(G), name: 'ORG_TOKEN', scope: unscoped },
      // a scope OpenBao cannot express: API only, nowhere in a policy
      { projectId: groupKey(G), name: 'STAGING_ONLY', scope: { environment: 'staging-?', branch: null, protectedOnly: false } },
      { projectId: 'pay-a', name: 'OWN_SECRET', scope: unscoped },
      { projectId: 'acme', name: 'ACME_OWN', scope: unscoped },
      { projectId: groupKey('acme/other'), name: 'NOBODY_READS', scope: unscoped },
    ];
    const st = renderBaoState(groupSecrets, opts, membership);
    const paths = (hcl: string | undefined) => (hcl ?? '').match(/^path "[^"]+"/gm) ?? [];

    it('renders no role of a group; the golden files show a project role holding its own and inherited secrets', () => {
      expect([...st.roles.keys()].every((n) => !n.includes('group') && /^ps-ci-[a-z0-9._-]+-[0-9a-f]{16}$/.test(n))).toBe(true);
      expect([...st.roles.keys()].sort()).toEqual(
        [ciRoleName('pay-a', unscoped), ciRoleName('pay-a', prodOnly), ciRoleName('pay-b', unscoped), ciRoleName('pay-b', prodOnly), ciRoleName('web', unscoped), ciRoleName('acme', unscoped)].sort(),
      );
      for (const name of [ciRoleName('pay-a', unscoped), ciRoleName('pay-a', prodOnly)]) {
        golden(`group-${name}.hcl`, st.policies.get(name)!);
        golden(`group-${name}.role.json`, JSON.stringify(st.roles.get(name), null, 2) + '\n');
      }
    });

    it("a project's role of a scope grants its own secrets, then each group's nearest first, and the role is bound to that project", () => {
      const role = ciRoleName('pay-a', unscoped);
      expect(jobRoleName('pay-a', groupKey(G), unscoped)).toBe(role);
      expect(jobRoleName('pay-a', 'pay-a', unscoped)).toBe(role);
      expect(st.roles.get(role)!.bound_claims).toEqual({ project_id: 'pay-a' });
      expect(paths(st.policies.get(role))).toEqual([
        `path "secret/data/pipeline-secrets/pay-a/OWN_SECRET/${hashOf('pay-a', unscoped)}-*"`,
        `path "secret/data/pipeline-secrets/_groups/${G}/ORG_TOKEN/${hashOf(groupKey(G), unscoped)}-*"`,
        `path "secret/data/pipeline-secrets/_groups/${G}/REGISTRY_TOKEN/${hashOf(groupKey(G), unscoped)}-*"`,
        `path "secret/data/pipeline-secrets/_groups/acme/ORG_TOKEN/${hashOf(groupKey('acme'), unscoped)}-*"`,
        'path "auth/token/revoke-self"',
      ]);
      // the value paths the writer uses for a group secret are inside these globs
      expect(kvValuePath(opts, groupKey(G), 'REGISTRY_TOKEN', unscoped, '0123456789abcdef')).toBe(`pipeline-secrets/_groups/${G}/REGISTRY_TOKEN/${hashOf(groupKey(G), unscoped)}-0123456789abcdef`);
    });

    it('environment and protection: a production-protected group secret is only in the production-protected role, bound to both claims', () => {
      const role = ciRoleName('pay-b', prodOnly);
      expect(st.roles.get(role)!.bound_claims).toEqual({ project_id: 'pay-b', environment: 'production', ref_protected: 'true' });
      expect(paths(st.policies.get(role))).toEqual([
        `path "secret/data/pipeline-secrets/_groups/${G}/CLOUD_KEY/${hashOf(groupKey(G), prodOnly)}-*"`,
        `path "secret/data/pipeline-secrets/_groups/${G}/CLOUD_KEY/${hashOf(groupKey(G), unscoped)}-00000000000000cc"`,
        `path "secret/data/pipeline-secrets/_groups/${G}/DEPLOY_KEY/${hashOf(groupKey(G), prodOnly)}-*"`,
        'path "auth/token/revoke-self"',
      ]);
      expect(st.policies.get(ciRoleName('pay-b', unscoped))).not.toMatch(/DEPLOY_KEY|CLOUD_KEY/);
      expect([...st.policies.values()].join()).not.toContain('STAGING_ONLY');
    });

    it('a project outside the group, a sibling group, and a group nobody is in get none of its secrets', () => {
      const web = st.policies.get(ciRoleName('web', unscoped))!;
      expect(paths(web)).toEqual([`path "secret/data/pipeline-secrets/_groups/acme/ORG_TOKEN/${hashOf(groupKey('acme'), unscoped)}-*"`, 'path "auth/token/revoke-self"']);
      expect([...st.policies.values()].join()).not.toContain('NOBODY_READS');
      expect([...st.policies.values()].join()).not.toContain('acme/other');
    });

    it('a project and a group sharing a name never share a KV path or a role', () => {
      expect(kvPath(opts, 'acme', 'ORG_TOKEN')).toBe('pipeline-secrets/acme/ORG_TOKEN');
      expect(kvPath(opts, groupKey('acme'), 'ORG_TOKEN')).toBe('pipeline-secrets/_groups/acme/ORG_TOKEN');
      expect(hashOf('acme', unscoped)).not.toBe(hashOf(groupKey('acme'), unscoped));
      expect(() => ciRoleName(groupKey('acme'), unscoped)).toThrow(/group has no OpenBao role/);
      // project `acme` is in no group: its role holds its own secret only, never group acme's
      expect(paths(st.policies.get(ciRoleName('acme', unscoped)))).toEqual([`path "secret/data/pipeline-secrets/acme/ACME_OWN/${hashOf('acme', unscoped)}-*"`, 'path "auth/token/revoke-self"']);
      // and a project named acme placed in group acme reads both, on two paths, through one role of its own
      const both = renderBaoState(groupSecrets, opts, new Map([['acme', 'acme']]));
      expect(paths(both.policies.get(ciRoleName('acme', unscoped)))).toEqual([
        `path "secret/data/pipeline-secrets/acme/ACME_OWN/${hashOf('acme', unscoped)}-*"`,
        `path "secret/data/pipeline-secrets/_groups/acme/ORG_TOKEN/${hashOf(groupKey('acme'), unscoped)}-*"`,
        'path "auth/token/revoke-self"',
      ]);
    });

    it('moving a project out changes only its own policies: the group paths leave them, the other projects\' bytes stay', () => {
      const moved = renderBaoState(groupSecrets, opts, new Map([...membership, ['pay-b', 'elsewhere']]));
      expect(moved.roles.has(ciRoleName('pay-b', prodOnly))).toBe(false);
      expect(moved.policies.has(ciRoleName('pay-b', unscoped))).toBe(false);
      for (const [name, hcl] of moved.policies) expect({ name, same: hcl === st.policies.get(name) }).toEqual({ name, same: true });
      const out = renderBaoState(groupSecrets, opts, new Map([...membership].filter(([p]) => p !== 'pay-b')));
      expect([...out.policies.values()].filter((h) => h.includes('pay-b'))).toEqual([]);
    });

    it('is deterministic over input and membership order', () => {
      const again = renderBaoState([...groupSecrets].reverse(), opts, new Map([...membership].reverse()));
      expect([...again.policies]).toEqual([...st.policies]);
      expect(JSON.stringify([...again.roles])).toBe(JSON.stringify([...st.roles]));
    });

    it('a group secret appears in exactly one policy per project below its group (the scaling: N projects, N policies)', () => {
      const many = new Map(Array.from({ length: 50 }, (_, i) => [`p-${i}`, i % 2 ? `${G}/sub-${i % 5}` : G] as [string, string]));
      const out = renderBaoState(groupSecrets, opts, many);
      expect([...out.policies.values()].filter((h) => h.includes(`/_groups/${G}/REGISTRY_TOKEN/`))).toHaveLength(50);
      expect([...out.policies.values()].filter((h) => h.includes('/_groups/acme/ORG_TOKEN/'))).toHaveLength(50);
    });
  });
});
