import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ROOT } from './deploy-tools';
import { BUILD_TIMEOUT_MS, ComposeProject, buildImages, compose, composeOk, composeProject, dockerOk, leftovers } from './docker-tools';
import { eventually } from '../support/eventually';
import { consumeAll } from '../support/kafka';

// docker-compose.yml brought up for real from the images `scripts/images build` makes (no
// registry), under a project name and loopback ports of the tests' own. In order: the stack comes
// up healthy (`docker compose up -d --wait`); the README walkthrough runs against it, with a CI job
// that logs in to the composed OpenBao directly, audit records read back from the composed Kafka
// and `cli verify` of a record against the composed service's checkpoint; killing each app's
// process loses no acknowledged write (the restart policy brings it back, and every write is
// projected and audited); `docker compose down -v` leaves no container, network or volume.

const P: ComposeProject = composeProject('ps-deploy-test', 38280);
const API = `http://127.0.0.1:${P.ports.api}`;
const BAO = `http://127.0.0.1:${P.ports.openbao}`;
const SERVICES = ['postgres', 'kafka', 'openbao', 'command-api', 'projector', 'auditor'];
const APPS = ['command-api', 'projector', 'auditor'];

const cli = (args: string[]) => composeOk(P, ['exec', '-T', 'command-api', 'node', 'dist/apps/cli/src/main.js', ...args]);
/** The project's CLI on this machine (verify needs no server: files in, verdict out). */
const hostCli = (args: string[]) =>
  spawnSync('node', ['-r', '@swc-node/register', 'apps/cli/src/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

async function call(method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json, type: res.headers.get('content-type') ?? '' };
}

function psState(): Map<string, { state: string; health: string; exitCode: number }> {
  const out = composeOk(P, ['ps', '-a', '--format', 'json']);
  // compose v2 prints one JSON object per line
  const rows = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return new Map(rows.map((r: any) => [r.Service, { state: r.State, health: r.Health ?? '', exitCode: r.ExitCode }]));
}

// docker exec/compose calls take seconds each on a loaded 2-core machine
jest.setTimeout(120_000);
let upSeconds = 0;
let work: string;
const kafka = new Kafka({ clientId: 'compose-deploy-test', brokers: [`127.0.0.1:${P.ports.kafka}`], logLevel: logLevel.NOTHING });
let ADMIN: string, ALICE: string, BOB: string, AUDREY: string, JOB: string;

beforeAll(() => {
  buildImages();
  work = mkdtempSync(join(tmpdir(), 'ps-compose-'));
  compose(P, ['down', '-v', '--remove-orphans'], { timeoutMs: 180_000 }); // a run that died before its afterAll
  const t = Date.now();
  const up = compose(P, ['up', '-d', '--wait', '--wait-timeout', '600'], { timeoutMs: 660_000 });
  upSeconds = (Date.now() - t) / 1000;
  if (up.status !== 0) {
    const logs = compose(P, ['logs', '--no-color', '--tail', '60']).stdout;
    throw new Error(`docker compose up -d --wait failed (exit ${up.status}):\n${up.stderr.slice(-4000)}\n--- logs ---\n${logs.slice(-12000)}`);
  }
  console.log(`docker compose up -d --wait: ${upSeconds.toFixed(1)} s`);
}, BUILD_TIMEOUT_MS + 700_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('docker compose up -d --wait', () => {
  it('brings every long-running service up healthy, and the one-shots finished with 0', () => {
    const ps = psState();
    for (const s of SERVICES) expect({ s, ...ps.get(s) }).toEqual({ s, state: 'running', health: 'healthy', exitCode: 0 });
    for (const s of ['openbao-init', 'dev-keys']) expect({ s, state: ps.get(s)?.state, exitCode: ps.get(s)?.exitCode }).toEqual({ s, state: 'exited', exitCode: 0 });
  });

  it('publishes only on 127.0.0.1', () => {
    for (const s of SERVICES) {
      const ports = composeOk(P, ['port', s, s === 'postgres' ? '5432' : s === 'kafka' ? '9092' : s === 'openbao' ? '8200' : '8080']);
      expect({ s, ports }).toEqual({ s, ports: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    }
  });

  it('runs OpenBao as a real server (initialised, unsealed, raft storage), and gives no app its root token', async () => {
    const health = await (await fetch(`${BAO}/v1/sys/health`)).json();
    expect(health).toMatchObject({ initialized: true, sealed: false });
    // dev mode would answer with the well-known dev root token; this OpenBao has none of that
    const dev = await fetch(`${BAO}/v1/auth/token/lookup-self`, { headers: { 'X-Vault-Token': 'root' } });
    expect(dev.status).toBe(403);
    for (const app of APPS) {
      const token = composeOk(P, ['exec', '-T', app, 'cat', '/run/openbao/token']);
      const self = (await (await fetch(`${BAO}/v1/auth/token/lookup-self`, { headers: { 'X-Vault-Token': token } })).json()) as any;
      expect({ app, policies: self.data.policies }).toEqual({ app, policies: [app === 'command-api' ? 'pipeline-secrets-command-api' : 'pipeline-secrets-projector'] });
      // the root token's place (the openbao-init volume) is mounted in no app
      expect(compose(P, ['exec', '-T', app, 'ls', '/var/lib/openbao-init']).status).not.toBe(0);
      // and the command API's token cannot touch policies, mounts or other apps' paths
      if (app === 'command-api') {
        const r = await fetch(`${BAO}/v1/sys/policies/acl/ps-ci-evil`, { method: 'PUT', headers: { 'X-Vault-Token': token }, body: JSON.stringify({ policy: 'path "*" { capabilities = ["sudo","read"] }' }) });
        expect(r.status).toBe(403);
      }
    }
  });
});

describe('what each container may touch', () => {
  it("the auditor reads OpenBao's audit file but cannot forge or truncate it; no app can write its code or its token", () => {
    expect(compose(P, ['exec', '-T', 'auditor', 'test', '-r', '/openbao/audit/audit-service.log']).status).toBe(0);
    for (const cmd of ['echo forged >> /openbao/audit/audit-service.log', ': > /openbao/audit/audit-service.log']) {
      const r = compose(P, ['exec', '-T', 'auditor', 'sh', '-c', cmd]);
      expect({ cmd, failed: r.status !== 0 }).toEqual({ cmd, failed: true });
    }
    for (const app of APPS) {
      for (const path of ['/app/dist/apps/command-api/src/main.js', '/run/openbao/token']) {
        const r = compose(P, ['exec', '-T', app, 'sh', '-c', `echo x >> ${path}`]);
        expect({ app, path, failed: r.status !== 0 }).toEqual({ app, path, failed: true });
      }
      expect(composeOk(P, ['exec', '-T', app, 'id', '-u'])).toBe('10001');
    }
  });
});

describe('the README walkthrough against the composed stack', () => {
  let secretMeta: any;

  beforeAll(() => {
    ADMIN = cli(['token', '--sub', 'root', '--admin']);
    ALICE = cli(['token', '--sub', 'alice']);
    BOB = cli(['token', '--sub', 'bob', '--groups', 'readers']);
    AUDREY = cli(['token', '--sub', 'audrey']);
    JOB = cli(['token', '--ci', '--project', 'payments', '--ref', 'main', '--protected', '--pipeline', '7', '--job', '42', '--user', 'alice']);
  }, 120_000);

  it('an admin bootstraps the owner; the owner creates a secret for protected main', async () => {
    expect((await call('POST', '/v1/projects/payments/grants', ADMIN, { principal: { type: 'user', id: 'alice' }, role: 'owner' })).status).toBe(201);
    const created = await call('POST', '/v1/projects/payments/secrets', ALICE, { name: 'DEPLOY_TOKEN', value: 's3cr3t', branch: 'main', protectedOnly: true });
    expect(created.status).toBe(201);
    expect(created.text).not.toContain('s3cr3t');
  });

  it('the CI job reads it through the API, one by one and in a batch', async () => {
    const one = await call('POST', '/v1/projects/payments/secrets/DEPLOY_TOKEN/access', JOB, { purpose: 'deploy' });
    expect(one.status).toBe(200);
    expect(one.json.value).toBe('s3cr3t');
    const batch = await call('POST', '/v1/projects/payments/secrets/access', JOB, { names: ['DEPLOY_TOKEN', 'NOT_THERE'], purpose: 'deploy' });
    expect(batch.status).toBe(200);
    expect(batch.json).toMatchObject({ items: [{ name: 'DEPLOY_TOKEN', version: 1, value: 's3cr3t' }], denied: [{ name: 'NOT_THERE', reason: 'secret-not-found' }] });
  });

  it('the CI job logs in to the composed OpenBao directly with its JWT and reads the value; another ref cannot', async () => {
    secretMeta = (
      await eventually(
        () => call('GET', '/v1/projects/payments/secrets/DEPLOY_TOKEN', JOB),
        (r: any) => r.status === 200 && !!r.json?.openbao?.role,
        30_000,
        250,
      )
    ).json;
    expect(secretMeta.openbao).toMatchObject({ path: expect.stringMatching(/^secret\/data\/pipeline-secrets\/payments\/DEPLOY_TOKEN\//), version: 1 });
    const role = secretMeta.openbao.role;
    // the projector renders the role into OpenBao after the event is projected: wait for it
    const login = await eventually(
      async () => {
        const r = await fetch(`${BAO}/v1/auth/jwt-ci/login`, { method: 'POST', body: JSON.stringify({ role, jwt: JOB }) });
        return { status: r.status, json: (await r.json()) as any };
      },
      (r: any) => r.status === 200,
      30_000,
      250,
    );
    expect(login.status).toBe(200);
    const jobToken = login.json.auth.client_token;
    const read = await fetch(`${BAO}/v1/${secretMeta.openbao.path}?version=${secretMeta.openbao.version}`, { headers: { 'X-Vault-Token': jobToken } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as any).data.data.value).toBe('s3cr3t');
    // the job token reads nothing else: not the service's sentinel, not the mount's listing
    expect((await fetch(`${BAO}/v1/secret/metadata/pipeline-secrets?list=true`, { headers: { 'X-Vault-Token': jobToken } })).status).toBe(403);
    // a job of an unprotected feature branch of the same project cannot log in to that role
    const feature = cli(['token', '--ci', '--project', 'payments', '--ref', 'feature/x', '--pipeline', '8', '--job', '43', '--user', 'alice']);
    const refused = await fetch(`${BAO}/v1/auth/jwt-ci/login`, { method: 'POST', body: JSON.stringify({ role, jwt: feature }) });
    expect([400, 403]).toContain(refused.status);
    // nor can a token signed by another key that claims the same issuer and scope
    const forged = JOB.split('.').slice(0, 2).join('.') + '.' + Buffer.from('x'.repeat(64)).toString('base64url');
    expect([400, 403]).toContain((await fetch(`${BAO}/v1/auth/jwt-ci/login`, { method: 'POST', body: JSON.stringify({ role, jwt: forged }) })).status);
  });

  it('a reporter sees metadata but the value is a 403 problem, audited', async () => {
    expect((await call('POST', '/v1/projects/payments/grants', ALICE, { principal: { type: 'group', id: 'readers' }, role: 'reporter' })).status).toBe(201);
    const denied = await call('POST', '/v1/projects/payments/secrets/DEPLOY_TOKEN/access', BOB, {});
    expect(denied.status).toBe(403);
    expect(denied.type).toContain('application/problem+json');
    expect(denied.text).not.toContain('s3cr3t');
  });

  it('an auditor asks who read it: the history shows the reads and the denial, never the value', async () => {
    expect((await call('POST', '/v1/projects/payments/grants', ALICE, { principal: { type: 'user', id: 'audrey' }, role: 'auditor' })).status).toBe(201);
    const denied = await eventually(
      () => call('GET', '/v1/projects/payments/access-history?decision=denied', AUDREY),
      (r: any) => r.status === 200 && r.text.includes('bob'),
      30_000,
      250,
    );
    expect(denied.status).toBe(200);
    expect(denied.text).toContain('bob');
    const csv = await call('GET', '/v1/projects/payments/access-history', AUDREY, undefined, { Accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.text).not.toContain('s3cr3t');
    const readers = await call('GET', `/v1/projects/payments/secrets/DEPLOY_TOKEN/readers?at=${new Date().toISOString().slice(0, 19)}Z`, AUDREY);
    expect(readers.status).toBe(200);
  });

  it('the audit records come back from the composed Kafka, without the value', async () => {
    const records = await eventually(
      () => consumeAll(kafka, 'secrets.audit.v1', 1_000_000, 5_000),
      (got) => Array.isArray(got) && got.some((m) => m.value.includes('DEPLOY_TOKEN') && m.value.includes('bob')),
      60_000,
      500,
    );
    expect(Array.isArray(records)).toBe(true);
    expect(records.some((m) => m.value.includes('DEPLOY_TOKEN'))).toBe(true);
    for (const m of records) expect(m.value).not.toContain('s3cr3t');
    const checkpoints = await consumeAll(kafka, 'secrets.audit.checkpoints.v1', 1, 30_000);
    expect(checkpoints.length).toBeGreaterThan(0);
  }, 120_000);

  it('cli verify proves a record in the composed service checkpoint, and refuses a forged one', async () => {
    const pub = await call('GET', '/v1/audit/public-key', undefined);
    expect(pub.status).toBe(200);
    writeFileSync(join(work, 'audit.pub'), pub.json.publicKeyPem);
    const checkpoint = await eventually(
      () => call('GET', '/v1/audit/checkpoints/latest', AUDREY),
      (r: any) => r.status === 200 && Number(r.text.split('\n')[1]) >= 3,
      30_000,
      500,
    );
    expect(checkpoint.status).toBe(200);
    writeFileSync(join(work, 'checkpoint.txt'), checkpoint.text);
    const record = await eventually(() => call('GET', '/v1/audit/records/2', AUDREY), (r: any) => r.status === 200, 30_000, 500);
    expect(record.status).toBe(200);
    writeFileSync(join(work, 'record.json'), record.text);
    const ok = hostCli(['verify', 'inclusion', '--record', join(work, 'record.json'), '--checkpoint', join(work, 'checkpoint.txt'), '--public-key', join(work, 'audit.pub')]);
    expect({ status: ok.status, err: ok.stderr.slice(-500) }).toEqual({ status: 0, err: expect.any(String) });
    // a record altered after the fact no longer verifies
    const forged = JSON.parse(record.text);
    forged.record = JSON.parse(JSON.stringify(forged.record).replace(/"(alice|root|bob|audrey)"/, '"mallory"'));
    writeFileSync(join(work, 'forged.json'), JSON.stringify(forged));
    const bad = hostCli(['verify', 'inclusion', '--record', join(work, 'forged.json'), '--checkpoint', join(work, 'checkpoint.txt'), '--public-key', join(work, 'audit.pub')]);
    expect(bad.status).not.toBe(0);
  }, 120_000);

  it('the pipeline evidence verifies with cli verify evidence', async () => {
    const digest = createHash('sha256').update('app').digest('hex');
    const ev = await call('POST', '/v1/projects/payments/pipelines/7/evidence', JOB, { subjects: [{ name: 'app.tar.gz', digest: { sha256: digest } }] });
    expect([200, 201]).toContain(ev.status);
    writeFileSync(join(work, 'evidence.json'), ev.text);
    const ok = hostCli(['verify', 'evidence', '--envelope', join(work, 'evidence.json'), '--public-key', join(work, 'audit.pub'), '--project', 'payments', '--pipeline', '7']);
    expect({ status: ok.status, err: ok.stderr.slice(-500) }).toEqual({ status: 0, err: expect.any(String) });
  }, 120_000);
});

describe('a killed app container loses nothing', () => {
  const acknowledged: string[] = [];

  /** Kills the app's main process from the host (SIGKILL, as a crash or the OOM killer would). */
  function crash(app: string): string {
    const id = composeOk(P, ['ps', '-q', app]);
    const pid = dockerOk(P.env, ['inspect', '--format', '{{.State.Pid}}', id]);
    process.kill(Number(pid), 'SIGKILL');
    return id;
  }
  async function healthyAgain(app: string, id: string) {
    const s = await eventually(
      async () => dockerOk(P.env, ['inspect', '--format', '{{.RestartCount}} {{.State.Health.Status}}', id]),
      (v) => /^[1-9]\d* healthy$/.test(v),
      180_000,
      1000,
    );
    expect({ app, s }).toEqual({ app, s: expect.stringMatching(/^[1-9]\d* healthy$/) });
  }
  async function write(name: string): Promise<number> {
    const r = await call('POST', '/v1/projects/payments/secrets', ALICE, { name, value: `v-${name}` }).catch(() => ({ status: 0 }));
    if (r.status === 201) acknowledged.push(name);
    return r.status;
  }

  it.each(['projector', 'auditor'])('%s: killed, writes go on through the API, it restarts and catches up', async (app) => {
    const id = crash(app);
    for (let i = 0; i < 5; i++) expect(await write(`KILL_${app.replace('-', '_').toUpperCase()}_${i}`)).toBe(201);
    await healthyAgain(app, id);
  }, 240_000);

  it('command-api: killed while writing; every write it acknowledged is there', async () => {
    const id = composeOk(P, ['ps', '-q', 'command-api']);
    let i = 0;
    const writer = (async () => {
      const until = Date.now() + 20_000;
      // a refused connection fails at once: pause then, so the loop does not spin while the API is down
      while (Date.now() < until) if ((await write(`KILL_API_${i++}`)) !== 201) await new Promise((r) => setTimeout(r, 200));
    })();
    await new Promise((r) => setTimeout(r, 1500));
    crash('command-api');
    await writer;
    await healthyAgain('command-api', id);
    for (let j = 0; j < 3; j++) expect(await write(`KILL_API_AFTER_${j}`)).toBe(201);
  }, 240_000);

  it('every acknowledged write is stored, projected and audited', async () => {
    expect(acknowledged.length).toBeGreaterThanOrEqual(13);
    const listed = await eventually(
      () => call('GET', '/v1/projects/payments/secrets', ALICE),
      (r: any) => r.status === 200 && acknowledged.every((n) => r.text.includes(`"${n}"`)),
      60_000,
      500,
    );
    expect(acknowledged.filter((n) => !listed.text.includes(`"${n}"`))).toEqual([]);
    const records = await eventually(
      () => consumeAll(kafka, 'secrets.audit.v1', 1_000_000, 5_000),
      (got) => Array.isArray(got) && acknowledged.every((n) => got.some((m) => m.value.includes(`"${n}"`) || m.value.includes(`/${n}`))),
      90_000,
      1000,
    );
    expect(acknowledged.filter((n) => !records.some((m) => m.value.includes(`"${n}"`) || m.value.includes(`/${n}`)))).toEqual([]);
    for (const m of records) expect(m.value).not.toMatch(/v-KILL_/);
  }, 240_000);
});

describe('docker compose down -v', () => {
  it('leaves no container, network or volume of the project', () => {
    composeOk(P, ['down', '-v', '--remove-orphans', '--timeout', '30'], { timeoutMs: 180_000 });
    expect(leftovers(P)).toEqual({ containers: [], networks: [], volumes: [] });
  }, 200_000);
});
