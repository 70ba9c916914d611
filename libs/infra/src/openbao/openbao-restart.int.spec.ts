import { ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StoreUnavailableError } from '@app/domain';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { JsonLogger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { migrateReadModels } from '../read-models/schema';
import { PgliteClient } from '../sql/pglite-client';
import { OpenBaoValueStore } from '../value-store/openbao-value-store';
import { baoClient } from './bao-client';
import { PolicyReconciler } from './policy-reconciler';
import { OpenBaoPolicyTarget } from './policy-target';

// OpenBao restarted empty (what dev mode does; what an OpenBao restored from an old backup looks
// like), against a PRIVATE OpenBao 2.7.2 dev server on a port of its own: the shared one is never
// restarted. The reconciler must notice the lost JWT mount and prepare again (its "prepared" flag
// used to stick), and the value store's readiness must fail once, loudly.
const BAO_BIN = process.env.BAO_BIN ?? join(homedir(), '.cache', 'pipeline-secrets-stack', 'bin', 'bao-2.7.2');
const TOKEN = 'private-restart-test-root';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startBao(port: number): Promise<ChildProcess> {
  const child = spawn(BAO_BIN, ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, `-dev-root-token-id=${TOKEN}`], { stdio: 'ignore' });
  const client = baoClient(`http://127.0.0.1:${port}`, TOKEN);
  for (let i = 0; i < 200; i++) {
    try {
      await client.tokenLookupSelf();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error('private OpenBao did not start');
}

async function stopBao(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const d = existsSync(BAO_BIN) ? describe : describe.skip;
d('OpenBao restarted empty (private dev server)', () => {
  let bao: ChildProcess | undefined;
  afterAll(async () => {
    if (bao) await stopBao(bao);
  });

  it('the reconciler prepares again and rewrites every role; readiness fails once; the loss is counted', async () => {
    const port = await freePort();
    const addr = `http://127.0.0.1:${port}`;
    bao = await startBao(port);
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
    await stopBao(bao);
    bao = await startBao(port);
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
