import { generateKeyPairSync } from 'node:crypto';
import { StoreUnavailableError } from '@app/domain';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { JsonLogger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { migrateReadModels } from '../read-models/schema';
import { PgliteClient } from '../sql/pglite-client';
import { OpenBaoValueStore } from '../value-store/openbao-value-store';
import { PolicyReconciler } from './policy-reconciler';
import { OpenBaoPolicyTarget } from './policy-target';
import { PrivateOpenBao, privateOpenBaoAvailable, startPrivateOpenBao } from '../../../../test/support/private-openbao';

// OpenBao restarted empty (what dev mode does; what an OpenBao restored from an old backup looks
// like), against a PRIVATE OpenBao 2.7.2 dev server on a port of its own: the shared one is never
// restarted. The reconciler must notice the lost JWT mount and prepare again (its "prepared" flag
// used to stick), and the value store's readiness must fail once, loudly.
const TOKEN = 'private-restart-test-root';

// With the stack up (BAO_ADDR set) the binary must be there: a missing one fails instead of skipping.
const d = privateOpenBaoAvailable() || process.env.BAO_ADDR ? describe : describe.skip;
d('OpenBao restarted empty (private dev server)', () => {
  let bao: PrivateOpenBao | undefined;
  afterAll(async () => {
    await bao?.stop();
  });

  it('the reconciler prepares again and rewrites every role; readiness fails once; the loss is counted', async () => {
    bao = await startPrivateOpenBao(TOKEN);
    const addr = bao.addr;
    const sql = await PgliteClient.open();
    await migrateReadModels(sql);
    await sql.query(
      `INSERT INTO rm_secrets (project_id, name, description, environment, branch, protected_only, version, revision, created_at, updated_at)
       VALUES ('p', 'DB', null, 'production', 'main', true, 1, 0, now(), now())`,
    );
    const metrics = new Metrics();
    const logs: string[] = [];
    const logger = new JsonLogger('info');
    JsonLogger.setSink((line: string) => logs.push(line));
    const target = new OpenBaoPolicyTarget({ addr, token: TOKEN, jwtMount: 'jwt-ci', issuer: 'https://ci.example', publicKeysPem: [generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()] });
    const render = { kvMount: 'secret', kvPrefix: 'pipeline-secrets', audience: 'pipeline-secrets', tokenTtlSeconds: 300 };
    const reconciler = new PolicyReconciler(target, sql, render, logger, metrics);
    const values = new OpenBaoValueStore({ addr, token: TOKEN, kvMount: 'secret', kvPrefix: 'pipeline-secrets', jwtMount: 'jwt-ci', onStateLost: () => metrics.openBaoStateLost.inc({ what: 'kv-sentinel' }) });
    const role = ciRoleName('p', { environment: 'production', branch: 'main', protectedOnly: true });

    await reconciler.reconcileOnce();
    await values.ping();
    expect(await target.listRoles()).toEqual([role]);
    const ref = (await values.put({ projectId: 'p', name: 'DB', version: 1, scope: { environment: null, branch: null, protectedOnly: false } }, 'restart-canary')).valueRef;

    // Restarted empty: same address, same root token, nothing inside.
    await bao.restartEmpty();
    expect(await target.listRoles()).toEqual([]);

    await reconciler.reconcileOnce();
    expect(await target.isPrepared()).toBe(true);
    expect(await target.listRoles()).toEqual([role]);
    expect(await target.listPolicies()).toEqual([role]);
    expect(logs.some((l) => /OpenBao lost the JWT auth mount/.test(l) && /"level":"error"/.test(l))).toBe(true);

    await expect(values.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await values.ping(); // prepared again: ready for new values
    await expect(values.get(ref)).rejects.toMatchObject({ name: 'SecretValueMissingError' });
    const counted = (await metrics.registry.getSingleMetric('openbao_state_lost_total')!.get()).values;
    expect(counted.map((v) => [v.labels.what, v.value]).sort()).toEqual([['jwt-mount', 1], ['kv-sentinel', 1]]);
    JsonLogger.setSink((line) => process.stdout.write(line + '\n'));
    await sql.close();
  }, 30_000);
});
