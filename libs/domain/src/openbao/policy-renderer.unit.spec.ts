import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { SecretScope } from '../secret/secret';
import { ciRoleName, directlyReadable, kvValuePath, openBaoGlob, NAME_HASH_HEX, OWNED_PREFIX, renderBaoState, RoleNameCollisionError, ScopedSecret } from './policy-renderer';

// Golden files: the exact bytes OpenBao receives. Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff.
const GOLDEN = join(__dirname, 'golden');
const opts = { kvMount: 'secret', kvPrefix: 'pipeline-secrets', audience: 'pipeline-secrets', tokenTtlSeconds: 300 };
const unscoped = { environment: null, branch: null, protectedOnly: false };
const prod = { environment: 'production', branch: 'main', protectedOnly: true };
const hashOf = (projectId: string, sc: SecretScope) => ciRoleName(projectId, sc).slice(-NAME_HASH_HEX);
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
      expect(() => renderBaoState(attack, opts, legacyName)).toThrow(RoleNameCollisionError);
      try {
        renderBaoState(attack, opts, legacyName);
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
});
