import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateDevIssuer, mintUserToken } from '@app/infra/auth/dev-issuer';

// "A crash loses no event": kill -9 the embedded service in the middle of a write load,
// start it again on the same DATA_DIR, and find every command it had acknowledged.
const ROOT = join(__dirname, '../..');
const PORT = 18400 + Math.floor(Math.random() * 500);
const BASE = `http://127.0.0.1:${PORT}`;

function startService(dataDir: string): ChildProcess {
  return spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/main.ts')], {
    cwd: ROOT,
    // Only what the embedded profile needs: inheriting the stack's BAO_ADDR or KAFKA_BROKERS would make
    // this "embedded" service write to the shared OpenBao (whose ACL policy names are global) and Kafka.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: String(PORT), LOG_LEVEL: 'error', PROFILE: 'embedded', APPS: 'command-api,projector,auditor' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
}

async function ready(ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(`${BASE}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error('service did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('crash recovery (embedded profile, kill -9)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ps-crash-'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every acknowledged create survives a kill -9 in the middle of the load', async () => {
    child = startService(dataDir);
    await ready();
    const keys = await loadOrCreateDevIssuer(dataDir);
    const admin = await mintUserToken(keys, 'pipeline-secrets', { sub: 'root', admin: true, ttlSeconds: 600 });
    const owner = await mintUserToken(keys, 'pipeline-secrets', { sub: 'alice', ttlSeconds: 600 });
    const h = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
    expect((await fetch(`${BASE}/v1/projects/crash/grants`, { method: 'POST', headers: h(admin), body: JSON.stringify({ principal: { type: 'user', id: 'alice' }, role: 'owner' }) })).status).toBe(201);

    const acknowledged: string[] = [];
    let n = 0;
    let killed = false;
    const workers = Array.from({ length: 8 }, async () => {
      while (!killed) {
        const name = `S_${n++}`;
        try {
          const r = await fetch(`${BASE}/v1/projects/crash/secrets`, { method: 'POST', headers: h(owner), body: JSON.stringify({ name, value: 'v' }) });
          if (r.status === 201) acknowledged.push(name);
        } catch {
          /* the connection died with the process */
        }
      }
    });
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    killed = true;
    await Promise.all(workers);

    child = startService(dataDir);
    await ready();
    const missing: string[] = [];
    for (const name of acknowledged) {
      const r = await fetch(`${BASE}/v1/projects/crash/secrets/${name}/access`, { method: 'POST', headers: h(owner), body: '{}' });
      if (r.status !== 200) missing.push(`${name}:${r.status}`);
    }
    expect({ acknowledged: acknowledged.length >= 150, missing }).toEqual({ acknowledged: true, missing: [] });
  }, 180_000);
});
