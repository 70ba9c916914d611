import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ciRoleName, renderBaoState } from '@app/domain/openbao/policy-renderer';
import { JsonLogger } from '../logging/logger';
import { migrateReadModels } from '../read-models/schema';
import { PgliteClient } from '../sql/pglite-client';
import { OpenBaoValueStore, parseBaoRef } from '../value-store/openbao-value-store';
import { baoClient } from './bao-client';
import { loadScopedSecrets, PolicyReconciler } from './policy-reconciler';
import { OpenBaoPolicyTarget } from './policy-target';
import { PrivateOpenBao, privateOpenBaoAvailable, startPrivateOpenBao } from '../../../../test/support/private-openbao';

// The service policies exactly as docs/openbao.md documents them, on a PRIVATE OpenBao 2.7.2 dev
// server: tokens created from the root token with only those policies run the projector's
// reconciler and sweep and the command-api's value store; the escalations are refused.
const ROOT = 'private-policy-test-root';
const DOC = join(__dirname, '..', '..', '..', '..', 'docs', 'openbao.md');

function documentedPolicies(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of readFileSync(DOC, 'utf8').matchAll(/```hcl\n# service policy: ([a-z-]+)\n([\s\S]*?)```/g)) out.set(m[1], m[2]);
  return out;
}

// With the stack up (BAO_ADDR set) the binary must be there: a missing one fails instead of skipping.
const d = privateOpenBaoAvailable() || process.env.BAO_ADDR ? describe : describe.skip;
d('documented service policies (private OpenBao)', () => {
  let bao: PrivateOpenBao;
  let addr: string;
  const root = () => baoClient(addr, ROOT);
  beforeAll(async () => {
    bao = await startPrivateOpenBao(ROOT);
    addr = bao.addr;
  }, 30_000);
  afterAll(async () => {
    await bao?.stop();
  });

  async function tokenWith(app: string): Promise<string> {
    const hcl = documentedPolicies().get(app);
    expect(hcl).toBeDefined();
    await root().write(`sys/policies/acl/pipeline-secrets-${app}`, { policy: hcl });
    const res = await root().write('auth/token/create-orphan', { policies: [`pipeline-secrets-${app}`], no_default_policy: true, ttl: '1h' });
    return String(res.auth.client_token);
  }

  it('the projector token runs prepare, the reconciler and the sweep; the command-api token writes, reads and destroys values; foreign power is refused', async () => {
    const projector = await tokenWith('projector');
    const commandApi = await tokenWith('command-api');
    const sql = await PgliteClient.open();
    await migrateReadModels(sql);
    await sql.query(
      `INSERT INTO rm_secrets (project_id, name, description, environment, branch, protected_only, version, revision, created_at, updated_at)
       VALUES ('p', 'DB', null, 'production', 'main', true, 1, 0, now(), now()), ('p', 'NPM', null, null, null, false, 1, 0, now(), now())`,
    );
    const render = { kvMount: 'secret', kvPrefix: 'pipeline-secrets', audience: 'pipeline-secrets', tokenTtlSeconds: 300 };
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const target = new OpenBaoPolicyTarget({ addr, token: projector, jwtMount: 'jwt-ci', issuer: 'https://ci.example', publicKeysPem: [pem] });
    const reconciler = new PolicyReconciler(target, sql, render, new JsonLogger('error'));
    const first = await reconciler.reconcileOnce(); // enables the mount, writes config, policies and roles
    expect(first.written).toHaveLength(4);
    expect((await reconciler.reconcileOnce()).written).toEqual([]); // reads back equal: the comma string reads back as a list
    const roleName = ciRoleName('p', { environment: null, branch: null, protectedOnly: false });
    expect((await root().read(`auth/jwt-ci/role/${roleName}`)).data.token_policies).toEqual([roleName]);

    const api = new OpenBaoValueStore({ addr, token: commandApi, kvMount: 'secret', kvPrefix: 'pipeline-secrets', jwtMount: 'jwt-ci' });
    await api.ping();
    const { valueRef } = await api.put({ projectId: 'p', name: 'DB', version: 1, scope: { environment: null, branch: null, protectedOnly: false } }, 'policy-canary');
    expect(await api.get(valueRef)).toBe('policy-canary');
    // The command-api token creates values but can never overwrite one (no "update" on data).
    const path = parseBaoRef(valueRef)!.path;
    await expect(baoClient(addr, commandApi).write(`secret/data/${path}`, { data: { value: 'overwritten' } })).rejects.toMatchObject({ response: { statusCode: 403 } });
    expect(await api.get(valueRef)).toBe('policy-canary');
    // and destroys its own (a failed append, a delete): the per-version path is gone
    const second = await api.put({ projectId: 'p', name: 'DB', version: 2, scope: { environment: null, branch: null, protectedOnly: false } }, 'policy-canary-2');
    await api.destroy([second.valueRef]);
    await expect(api.get(second.valueRef)).rejects.toMatchObject({ name: 'SecretValueMissingError' });
    const sweep = new OpenBaoValueStore({ addr, token: projector, kvMount: 'secret', kvPrefix: 'pipeline-secrets', jwtMount: 'jwt-ci' });
    await sweep.ping();
    const seen = [];
    for await (const v of sweep.versions()) seen.push(v.ref);
    expect(seen).toEqual([valueRef]);
    await sweep.destroy([valueRef]);
    await expect(api.get(valueRef)).rejects.toMatchObject({ name: 'SecretValueMissingError' });
    await reconciler.reconcileOnce();

    // Escalations: a ps-ci-* role carrying a foreign policy, the default policy, or fields the renderer never sets.
    const good = renderBaoState([{ projectId: 'p', name: 'NPM', scope: { environment: null, branch: null, protectedOnly: false } }], render).roles.get(roleName)!;
    const attempts: Record<string, unknown>[] = [
      { ...good, token_policies: 'platform-admin' },
      { ...good, token_policies: 'root' },
      { ...good, token_policies: 'default' },
      { ...good, token_policies: ['ps-ci-zz'] }, // a list never matches the glob
      { ...good, token_policies: ['ps-ci-zz', 'root'] },
      { ...good, token_policies: 'ps-ci-zz,root' },
      { ...good, token_policies: 'ps-ci-zz', token_no_default_policy: false },
      { ...good, token_policies: 'ps-ci-zz', policies: 'root' },
      { ...good, token_policies: 'ps-ci-zz', token_period: 86400 },
      { ...good, token_policies: 'ps-ci-zz', token_type: 'batch' },
    ];
    const byProjector = baoClient(addr, projector);
    const statuses = [];
    for (const body of attempts) {
      statuses.push(await byProjector.write('auth/jwt-ci/role/ps-ci-zz', body).then(() => 200, (e: { response?: { statusCode?: number } }) => e.response?.statusCode ?? String(e)));
    }
    expect(statuses).toEqual(attempts.map(() => 403));
    // the command-api's token touches no role, policy or mount at all
    const byApi = baoClient(addr, commandApi);
    for (const [path, body] of [
      [`auth/jwt-ci/role/${roleName}`, { ...good, token_policies: roleName }],
      ['sys/policies/acl/ps-ci-zz', { policy: 'path "*" { capabilities = ["read"] }' }],
      ['auth/jwt-ci/config', { bound_issuer: 'x' }],
    ] as const) {
      await expect(byApi.write(path, body)).rejects.toMatchObject({ response: { statusCode: 403 } });
    }

    // Round-3 review item 3: a role of ANOTHER name on the service's JWT mount (written by an operator
    // or an attacker with root) is drift: the periodic reconcile, with the documented projector
    // token, lists the mount's roles and deletes every one it did not render; the projector token
    // still cannot write one.
    await root().write('auth/jwt-ci/role/backdoor', { ...good, token_policies: roleName });
    await expect(byProjector.write('auth/jwt-ci/role/backdoor2', { ...good, token_policies: roleName })).rejects.toMatchObject({ response: { statusCode: 403 } });
    const repaired = await reconciler.reconcileOnce();
    expect(repaired.removed).toEqual(['role/backdoor']);
    expect(((await root().list('auth/jwt-ci/role')).data.keys as string[]).sort()).toEqual([...renderBaoState(await loadScopedSecrets(sql, 'secret'), render).roles.keys()].sort());
    expect((await reconciler.reconcileOnce()).removed).toEqual([]);
    await sql.close();
  }, 30_000);
});
