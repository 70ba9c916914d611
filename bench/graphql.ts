/* GraphQL vs REST, in one run against one app started in-process (embedded profile; also the
 * production profile on PostgreSQL when DATABASE_URL is set, as `eval "$(scripts/stack env)"` gives it).
 *
 *   npm run bench:graphql
 *   eval "$(scripts/stack env)" && npm run bench:graphql     # also production (PostgreSQL)
 *
 * Two reads a reviewer's or admin tool makes most: access history, first page of 100 rows
 * (REST GET …/access-history?limit=100 vs GraphQL accessHistory(first: 100) selecting every field
 * REST returns), and the project's secrets (REST GET …/secrets vs GraphQL projectSecrets(first: 100),
 * every field). Each pair runs REST then GraphQL, BENCH_ROUNDS times (ABAB..., default 3), BENCH_SECONDS each,
 * BENCH_CONNECTIONS connections; the ratio of the means is printed, and each round's ratio beside it. Goal: GraphQL >= 0.8x REST throughput, p99 <= 1.5x REST.
 *
 * autocannon runs in a worker thread (BENCH_WORKERS, default 1), so the load generator does not share the
 * server's event loop. Env: BENCH_SECONDS (default 8), BENCH_CONNECTIONS (default 8), BENCH_HISTORY_ROWS
 * (default 150), BENCH_SECRETS (default 40), BENCH_CPU_PROF (a directory: the last round's REST and GraphQL
 * runs of each scenario are CPU-profiled in-process, one .cpuprofile each, for Chrome DevTools or speedscope).
 */
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '@app/infra/logging/logger';
import { startEmbedded } from '../test/support/embedded-app';
import { writeTestMasterKey } from '../test/support/test-master-key';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const HISTORY_ROWS = Number(process.env.BENCH_HISTORY_ROWS ?? 150);
const SECRETS = Number(process.env.BENCH_SECRETS ?? 40);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CPU_PROF = process.env.BENCH_CPU_PROF;

/** The server's CPU profile (this process: the app runs in-process) while `work` runs, written to BENCH_CPU_PROF/<file>. */
async function profiled<T>(file: string, work: () => Promise<T>): Promise<T> {
  if (!CPU_PROF) return work();
  mkdirSync(CPU_PROF, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(CPU_PROF, `${file.replace(/[^A-Za-z0-9_.-]+/g, '-')}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

function run(opts: autocannon.Options): Promise<Figures> {
  return new Promise((resolve, reject) => {
    // The load generator in a worker thread: the server keeps the main event loop to itself.
    autocannon({ duration: SECONDS, connections: CONNECTIONS, workers: WORKERS, ...opts }, (err, r) => {
      if (err) return reject(err);
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors });
    });
  });
}

const HISTORY_QUERY = `query H($p: String!) { accessHistory(projectId: $p, first: 100) {
  edges { cursor node { eventId occurredAt projectId secret action decision reason version channel purpose correlationId
    principal { type id pipelineId jobId ref refProtected environment triggeredBy }
    via { grantId role accessRequestId breakGlass scope channel requestId policy } } }
  pageInfo { hasNextPage endCursor } } }`;
const SECRETS_QUERY = `query S($p: String!) { projectSecrets(projectId: $p, first: 100) {
  edges { cursor node { projectId name description environment branch protectedOnly version revision createdAt updatedAt } }
  pageInfo { hasNextPage endCursor } } }`;

async function profile(name: string, env: Record<string, string>): Promise<string[]> {
  JsonLogger.setSink(() => undefined);
  const t = await startEmbedded({ env: { LOG_LEVEL: 'warn', ...env } });
  try {
    await t.app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    const P = `bench-gql-${randomUUID().slice(0, 8)}`;
    const admin = await t.userToken('root', { admin: true, ttlSeconds: 3600 });
    const owner = await t.userToken('bench-owner', { ttlSeconds: 3600 });
    const h = (tok: string) => ({ Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' });
    const ok = async (r: Promise<Response>) => {
      const res = await r;
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    await ok(fetch(`${base}/v1/projects/${P}/grants`, { method: 'POST', headers: h(admin), body: JSON.stringify({ principal: { type: 'user', id: 'bench-owner' }, role: 'owner' }) }));
    for (let i = 0; i < SECRETS; i++) {
      await ok(fetch(`${base}/v1/projects/${P}/secrets`, { method: 'POST', headers: h(owner), body: JSON.stringify({ name: `BENCH_${String(i).padStart(3, '0')}`, value: 'v'.repeat(64), description: 'bench' }) }));
    }
    // Access history: HISTORY_ROWS decisions (batch reads of 10 names, one event each).
    for (let done = 0; done < HISTORY_ROWS; done += 10) {
      const names = Array.from({ length: 10 }, (_, k) => `BENCH_${String((done + k) % SECRETS).padStart(3, '0')}`);
      await ok(fetch(`${base}/v1/projects/${P}/secrets/access`, { method: 'POST', headers: h(owner), body: JSON.stringify({ names: [...new Set(names)], purpose: 'bench' }) }));
    }
    // Wait for the projections.
    for (let i = 0; ; i++) {
      const hist = await ok(fetch(`${base}/v1/projects/${P}/access-history?limit=100`, { headers: h(owner) }));
      const list = await ok(fetch(`${base}/v1/projects/${P}/secrets`, { headers: h(owner) }));
      if ((hist.items as unknown[]).length === 100 && (list.items as unknown[]).length === SECRETS) break;
      if (i > 600) throw new Error('projections did not catch up');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The GraphQL answers are right before they are timed.
    for (const [q, pick, n] of [[HISTORY_QUERY, 'accessHistory', 100], [SECRETS_QUERY, 'projectSecrets', SECRETS]] as const) {
      const g = await ok(fetch(`${base}/graphql`, { method: 'POST', headers: h(owner), body: JSON.stringify({ query: q, variables: { p: P } }) }));
      const data = g.data as Record<string, { edges: unknown[] }> | undefined;
      if (g.errors || data?.[pick].edges.length !== n) throw new Error(`GraphQL ${pick}: ${JSON.stringify(g).slice(0, 400)}`);
    }
    const scenarios: Record<string, { rest: autocannon.Options; gql: autocannon.Options }> = {
      'accessHistory first page (100 rows)': {
        rest: { url: `${base}/v1/projects/${P}/access-history?limit=100`, headers: h(owner) },
        gql: { url: `${base}/graphql`, method: 'POST', headers: h(owner), body: JSON.stringify({ query: HISTORY_QUERY, variables: { p: P } }) },
      },
      [`projectSecrets (${SECRETS} secrets)`]: {
        rest: { url: `${base}/v1/projects/${P}/secrets`, headers: h(owner) },
        gql: { url: `${base}/graphql`, method: 'POST', headers: h(owner), body: JSON.stringify({ query: SECRETS_QUERY, variables: { p: P } }) },
      },
    };
    const rows: string[] = [];
    for (const [label, s] of Object.entries(scenarios)) {
      await run({ ...s.rest, duration: 2 }); // warm-up
      await run({ ...s.gql, duration: 2 });
      const rest: Figures[] = [];
      const gql: Figures[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const last = round === ROUNDS - 1;
        rest.push(await (last ? profiled(`${name}-${label}-rest`, () => run(s.rest)) : run(s.rest)));
        gql.push(await (last ? profiled(`${name}-${label}-graphql`, () => run(s.gql)) : run(s.gql)));
      }
      const mean = (fs: Figures[], k: keyof Figures) => fs.reduce((a, f) => a + f[k], 0) / fs.length;
      const bad = [...rest, ...gql].reduce((a, f) => a + f.non2xx + f.errors, 0);
      const r = { rps: mean(rest, 'rps'), p50: mean(rest, 'p50'), p99: mean(rest, 'p99') };
      const g = { rps: mean(gql, 'rps'), p50: mean(gql, 'p50'), p99: mean(gql, 'p99') };
      const line = `| ${name} | ${label} | ${r.rps.toFixed(0)} | ${g.rps.toFixed(0)} | **${(g.rps / r.rps).toFixed(2)}** | ${r.p50.toFixed(0)} / ${g.p50.toFixed(0)} | ${r.p99.toFixed(0)} / ${g.p99.toFixed(0)} | **${(g.p99 / r.p99).toFixed(2)}** | ${bad} |`;
      console.log(line);
      console.log(`   rounds: REST ${rest.map((f) => f.rps.toFixed(0)).join(', ')} req/s; GraphQL ${gql.map((f) => f.rps.toFixed(0)).join(', ')} req/s; ratio per round ${gql.map((f, i) => (f.rps / rest[i].rps).toFixed(2)).join(', ')}`);
      rows.push(line);
    }
    return rows;
  } finally {
    await t.close();
  }
}

async function main() {
  console.log(`GraphQL vs REST: ${CONNECTIONS} connections, ${SECONDS} s per run, REST/GraphQL alternated ${ROUNDS} times per scenario, NODE_ENV=${process.env.NODE_ENV ?? ''}`);
  const header = ['| profile | scenario | REST req/s | GraphQL req/s | throughput ratio | p50 ms REST / GraphQL | p99 ms REST / GraphQL | p99 ratio | non-2xx + errors |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  console.log(header.join('\n'));
  const rows = await profile('embedded (PGlite)', {});
  if (process.env.DATABASE_URL) {
    const keyDir = mkdtempSync(join(tmpdir(), 'ps-bench-gql-key-'));
    rows.push(...(await profile('production (PostgreSQL)', { PROFILE: 'production', DATABASE_URL: process.env.DATABASE_URL, DEV_ISSUER: '1', MASTER_KEY_FILE: writeTestMasterKey(keyDir) })));
  }
  console.log(`\n${header.join('\n')}\n${rows.join('\n')}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
