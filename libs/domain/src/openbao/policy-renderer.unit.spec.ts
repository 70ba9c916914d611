import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ciRoleName, renderBaoState, ScopedSecret } from './policy-renderer';

// Golden files: the exact bytes OpenBao receives. Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff.
const GOLDEN = join(__dirname, 'golden');
const opts = { kvMount: 'secret', kvPrefix: 'pipeline-secrets', audience: 'pipeline-secrets', tokenTtlSeconds: 300 };
const unscoped = { environment: null, branch: null, protectedOnly: false };
const prod = { environment: 'production', branch: 'main', protectedOnly: true };
const secrets: ScopedSecret[] = [
  { projectId: 'payments', name: 'STRIPE_KEY', scope: prod },
  { projectId: 'payments', name: 'NPM_TOKEN', scope: unscoped },
  { projectId: 'payments', name: 'DB_PASSWORD', scope: prod },
  { projectId: 'payments', name: 'STAGING_DB', scope: { environment: 'staging*', branch: null, protectedOnly: false } },
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
    expect(state.roles.get(name)!.bound_claims).toEqual({ project_id: 'payments', environment: 'production', ref: 'main', ref_protected: 'true' });
    const hcl = state.policies.get(name)!;
    expect(hcl.match(/^path "[^"]+"/gm)).toEqual(['path "secret/data/pipeline-secrets/payments/DB_PASSWORD"', 'path "secret/data/pipeline-secrets/payments/STRIPE_KEY"', 'path "auth/token/revoke-self"']);
    // read on the secrets; the only other capability is ending its own token
    const stanzas = hcl.split(/\n(?=path )/).slice(1);
    for (const st of stanzas.slice(0, 2)) expect(st).toMatch(/capabilities = \["read"\]/);
    expect(stanzas[2]).toMatch(/^path "auth\/token\/revoke-self" \{\n  capabilities = \["update"\]\n\}/);
    expect(hcl).not.toMatch(/\*"|create|delete|list|sudo/);
    expect(state.roles.get('ps-ci-payments')!.bound_claims).toEqual({ project_id: 'payments' });
    expect(state.roles.get(name)!.token_no_default_policy).toBe(true);
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
});
