/* Command-path benchmark: create / grant / access over HTTP with concurrent clients
 * (autocannon), against the embedded profile and, when DATABASE_URL is set, PostgreSQL.
 * In the same run it measures the raw rate of single-row INSERT transactions on the same
 * kind of database, so the ratio can be read on a noisy machine.
 *
 *   npm run bench:commands                     # embedded (PGlite)
 *   DATABASE_URL=postgres://... npm run bench:commands   # also PostgreSQL (scripts/stack env)
 *
 * Env: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 16), BENCH_PROJECTS (default 32,
 * 4 secrets each; requests pick a project and secret at random).
 */
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { loadAuditSigningKey } from '@app/infra/audit/signing-key';
import { loadOrCreateDevIssuer, mintCiToken, mintUserToken } from '@app/infra/auth/dev-issuer';
import { writeTestMasterKey } from '../test/support/test-master-key';
import { startServer } from './server';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const AUD = 'pipeline-secrets';
const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 32);
const SECRETS_PER_PROJECT = 4;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}


function run(opts: autocannon.Options): Promise<Figures> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, r) => {
      if (err) return reject(err);
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx });
    });
  });
}

async function commandScenarios(base: string, dataDir: string, label: string): Promise<Record<string, { peak: Figures; at80: Figures }>> {
  const keys = await loadOrCreateDevIssuer(dataDir);
  const admin = await mintUserToken(keys, AUD, { sub: 'bench-admin', admin: true, ttlSeconds: 3600 });
  const owner = await mintUserToken(keys, AUD, { sub: 'bench-owner', ttlSeconds: 3600 });
  // Load spread the way a platform sees it: many projects, many secrets (one project stream is
  // one aggregate; hammering a single one measures its optimistic-concurrency retries instead).
  const projects = Array.from({ length: PROJECTS }, (_, i) => `bench-${Date.now()}-${i}`);
  const h = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
  for (const project of projects) {
    let res = await fetch(`${base}/v1/projects/${project}/grants`, { method: 'POST', headers: h(admin), body: JSON.stringify({ principal: { type: 'user', id: 'bench-owner' }, role: 'owner' }) });
    if (res.status !== 201) throw new Error(`bootstrap grant failed: ${res.status}`);
    for (let s = 0; s < SECRETS_PER_PROJECT; s++) {
      res = await fetch(`${base}/v1/projects/${project}/secrets`, { method: 'POST', headers: h(owner), body: JSON.stringify({ name: `BENCH_READ_${s}`, value: 'x'.repeat(64) }) });
      if (res.status !== 201) throw new Error(`seed secret failed: ${res.status}`);
    }
  }
  const jobs = await Promise.all(projects.map((project) => mintCiToken(keys, AUD, { project, ref: 'main', protected: true, ttlSeconds: 3600 })));
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];

  let n = 0;
  const scenarios: Record<string, autocannon.Options> = {
    create: {
      url: base,
      method: 'POST',
      headers: h(owner),
      requests: [{ setupRequest: (r) => ({ ...r, path: `/v1/projects/${pick(projects)}/secrets`, body: JSON.stringify({ name: `S_${label.toUpperCase()}_${n++}_${randomUUID().slice(0, 8).toUpperCase()}`, value: 'v'.repeat(64) }) }) }],
    },
    grant: {
      url: base,
      method: 'POST',
      headers: h(owner),
      requests: [{ setupRequest: (r) => ({ ...r, path: `/v1/projects/${pick(projects)}/grants`, body: JSON.stringify({ principal: { type: 'user', id: `u-${n++}-${randomUUID().slice(0, 8)}` }, role: 'developer' }) }) }],
    },
    access: {
      url: base,
      method: 'POST',
      requests: [
        {
          setupRequest: (r) => {
            const i = Math.floor(Math.random() * projects.length);
            return { ...r, path: `/v1/projects/${projects[i]}/secrets/BENCH_READ_${Math.floor(Math.random() * SECRETS_PER_PROJECT)}/access`, headers: h(jobs[i]), body: '{}' };
          },
        },
      ],
    },
  };
  const out: Record<string, { peak: Figures; at80: Figures }> = {};
  for (const [name, opts] of Object.entries(scenarios)) {
    const peak = await run({ ...opts, connections: CONNECTIONS, duration: SECONDS });
    const at80 = await run({ ...opts, connections: CONNECTIONS, duration: SECONDS, overallRate: Math.max(1, Math.floor(peak.rps * 0.8)) });
    out[name] = { peak, at80 };
  }
  return out;
}

async function rawPgliteInserts(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-raw-pglite-'));
  const db = new PGlite(dir);
  await db.query('CREATE TABLE raw (id bigserial PRIMARY KEY, stream text NOT NULL, data jsonb NOT NULL)');
  const payload = JSON.stringify({ name: 'X', v: 'y'.repeat(200) });
  const t0 = performance.now();
  let count = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    // PGlite is single-connection: the raw baseline is one INSERT transaction after another.
    await db.query('INSERT INTO raw (stream, data) VALUES ($1, $2)', [`s-${count}`, payload]);
    count++;
  }
  const rate = count / ((performance.now() - t0) / 1000);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

async function rawPgInserts(url: string): Promise<number> {
  const setup = new Client({ connectionString: url });
  await setup.connect();
  await setup.query('DROP TABLE IF EXISTS bench_raw; CREATE TABLE bench_raw (id bigserial PRIMARY KEY, stream text NOT NULL, data jsonb NOT NULL)');
  await setup.end();
  const pool = new Pool({ connectionString: url, max: CONNECTIONS });
  const payload = JSON.stringify({ name: 'X', v: 'y'.repeat(200) });
  let count = 0;
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        await pool.query('INSERT INTO bench_raw (stream, data) VALUES ($1, $2)', [`s-${count}`, payload]);
        count++;
      }
    }),
  );
  const rate = count / ((performance.now() - t0) / 1000);
  await pool.query('DROP TABLE bench_raw');
  await pool.end();
  return rate;
}

function report(label: string, raw: number, results: Record<string, { peak: Figures; at80: Figures }>) {
  console.log(`\n== ${label}: raw single-row INSERT transactions: ${raw.toFixed(0)}/s (${CONNECTIONS} connections, ${SECONDS}s)`);
  console.log('scenario | peak cmd/s | ratio to raw | p50 ms | p99 ms | at 80% of peak: cmd/s, p50 ms, p99 ms | errors/non-2xx');
  for (const [name, { peak, at80 }] of Object.entries(results)) {
    console.log(
      `${name.padEnd(8)} | ${peak.rps.toFixed(0).padStart(10)} | ${(peak.rps / raw).toFixed(2).padStart(12)} | ${String(peak.p50).padStart(6)} | ${String(peak.p99).padStart(6)} | ${at80.rps.toFixed(0)}, ${at80.p50}, ${at80.p99} | ${peak.errors + at80.errors}/${peak.non2xx + at80.non2xx}`,
    );
  }
}

async function main() {
  const embeddedDir = mkdtempSync(join(tmpdir(), 'bench-embedded-'));
  const server = await startServer({ DATA_DIR: embeddedDir, PROFILE: 'embedded', ...(process.env.BENCH_APPS ? { APPS: process.env.BENCH_APPS } : {}) }, 18080);
  try {
    const results = await commandScenarios('http://127.0.0.1:18080', embeddedDir, 'emb');
    server.kill('SIGTERM');
    const raw = await rawPgliteInserts();
    report('embedded (PGlite)', raw, results);
  } finally {
    server.kill('SIGKILL');
    rmSync(embeddedDir, { recursive: true, force: true });
  }
  // scripts/stack env exports TEST_DATABASE_URL: the benchmark writes there, never into a trial's database.
  const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) {
    console.log('\n(PostgreSQL run skipped: DATABASE_URL not set; `eval "$(scripts/stack env)"` first)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-pg-'));
  const run = randomUUID().slice(0, 8);
  // The production profile refuses to generate its audit signing key: the benchmark mints one,
  // as a mounted secret would provide it, so the run needs nothing prepared by hand.
  const signingKeyFile = join(dir, 'audit-signing.key');
  loadAuditSigningKey(signingKeyFile, true);
  const pgServer = await startServer(
    {
      DATA_DIR: dir,
      PROFILE: 'production',
      DATABASE_URL: url,
      DEV_ISSUER: '1',
      MASTER_KEY_FILE: writeTestMasterKey(dir),
      AUDIT_SIGNING_KEY_FILE: signingKeyFile,
      // With BAO_ADDR set (scripts/stack env) values live in OpenBao: a private JWT mount and KV
      // prefix, so this run's dev issuer key never replaces the shared mount's configuration.
      ...(process.env.BAO_ADDR ? { BAO_JWT_MOUNT: `jwt-bench-${run}`, BAO_KV_PREFIX: `ps-bench-${run}` } : {}),
    },
    18081,
  );
  try {
    const results = await commandScenarios('http://127.0.0.1:18081', dir, 'pg');
    const raw = await rawPgInserts(url);
    report('PostgreSQL', raw, results);
  } finally {
    pgServer.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
