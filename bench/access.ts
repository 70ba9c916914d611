/* CI-job access benchmark on the real stack (production profile: PostgreSQL + OpenBao):
 * the service's brokered access beside a CI job reading OpenBao directly, in one run.
 *
 *   eval "$(scripts/stack env)" && npm run bench:access
 *
 *   (A) service, single access: POST /v1/projects/{p}/secrets/{name}/access by a CI job
 *   (B) OpenBao directly: JWT login to the secret's role + one KV read + revoke-self
 *   (C) service, batch access of 5: POST /v1/projects/{p}/secrets/access {names} (skipped, with
 *       a line saying so, while the endpoint does not exist)
 *   (D) OpenBao directly: JWT login + 5 KV reads (in parallel) + revoke-self
 *   (B') OpenBao directly, inline auth: one KV read carrying the job's JWT login as headers
 *       (X-Vault-Inline-Auth-*): no login, no stored token, no revoke — how the platform's own
 *       runner reads OpenBao (gitlab-runner's gitlab_secrets_manager resolver)
 *   (D') OpenBao directly, inline auth: 5 such reads in parallel
 *   (E) one KV read with a reused token
 * each closed-loop at BENCH_CONNECTIONS (16) for BENCH_SECONDS (10) after a 2 s warm-up.
 * A, C and E are single HTTP requests driven by autocannon; B and D are multi-request jobs, so
 * they run as BENCH_CONNECTIONS workers over a keep-alive agent and are timed per job.
 *
 * It creates everything it needs: a private JWT mount and KV prefix, BENCH_PROJECTS (16)
 * projects each with an owner and 5 secrets in one scope (environment production, branch
 * main, protected), and waits for the projector to render the roles.
 *
 * BENCH_ROUNDTRIPS=1 (default on) also starts a second command-api (APPS=command-api) whose
 * PostgreSQL and OpenBao connections go through counting TCP proxies in this process, and counts
 * round trips (a client→server burst after a server→client one, per connection) per request
 * type over BENCH_RT_REQUESTS (30) sequential requests, minus the idle rate.
 * BENCH_CPU_PROF=<dir> runs load A against that second command-api under node --cpu-prof
 * (the profile is written to <dir> when it exits) instead of counting.
 * BENCH_CPU_PROF_ALL=<dir> runs the benchmark's own service (every app: command-api, projector,
 * auditor) under --cpu-prof, runs only load A (after its warm-up) and stops: the profile is what
 * one access costs the whole service (its last BENCH_SECONDS are load A).
 * BENCH_SPLIT=1 runs the service as compose and the Helm chart deploy it: the command API in one
 * process, the projector and the auditor in another; service CPU is the sum of both processes.
 * OpenBao's own CPU per job is printed beside the service's when its pid is known (BENCH_BAO_PID,
 * or the pid file scripts/stack writes).
 */
import autocannon from 'autocannon';
import { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { loadAuditSigningKey } from '@app/infra/audit/signing-key';
import { loadOrCreateDevIssuer, mintCiToken, mintUserToken } from '@app/infra/auth/dev-issuer';
import { scratchDatabase } from '../test/support/scratch-database';
import { writeTestMasterKey } from '../test/support/test-master-key';
import { startServer } from './server';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 16);
const RT_REQUESTS = Number(process.env.BENCH_RT_REQUESTS ?? 30);
const ROUNDTRIPS = process.env.BENCH_ROUNDTRIPS !== '0';
const CPU_PROF = process.env.BENCH_CPU_PROF;
const CPU_PROF_ALL = process.env.BENCH_CPU_PROF_ALL;
const SPLIT = process.env.BENCH_SPLIT === '1';
const BATCH = 5;
const AUD = 'pipeline-secrets';
const SCOPE = { environment: 'production', branch: 'main', protectedOnly: true };
const NAMES = Array.from({ length: BATCH }, (_, i) => `BENCH_ACCESS_${i}`);

interface Figures {
  rps: number;
  /** CPU time of the service process (all its apps) per request during the run, from /proc. */
  cpuMs?: number;
  /** With the service in two processes (BENCH_SPLIT=1): the command API process's own share of cpuMs. */
  apiCpuMs?: number;
  /** CPU time of the OpenBao server process per request during the run, from /proc (when its pid is known). */
  baoCpuMs?: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  skipped?: string;
}

function need(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set: run \`eval "$(scripts/stack env)"\` first (the benchmark needs PostgreSQL and OpenBao)`);
    process.exit(2);
  }
  return v;
}

const STACK_DB_URL = process.env.TEST_DATABASE_URL ?? need('DATABASE_URL');
const BAO_ADDR = need('BAO_ADDR').replace(/\/+$/, '');
const BAO_TOKEN = need('BAO_TOKEN');
const RUN = randomUUID().slice(0, 8);
const JWT_MOUNT = `jwt-bench-${RUN}`;
const KV_PREFIX = `ps-bench-${RUN}`;


function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

function cannon(opts: autocannon.Options): Promise<Figures> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, r) => {
      if (err) return reject(err);
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx });
    });
  });
}

async function cannonWarm(opts: autocannon.Options, pid?: number | number[]): Promise<Figures> {
  if (WARMUP > 0) await cannon({ ...opts, connections: CONNECTIONS, duration: WARMUP });
  return withCpu(pid, () => cannon({ ...opts, connections: CONNECTIONS, duration: SECONDS }));
}

/** user+system CPU time of a process so far, in ms (Linux /proc; undefined elsewhere). */
function cpuMsOf(pid: number | number[] | undefined): number | undefined {
  if (Array.isArray(pid)) {
    const each = pid.map((p) => cpuMsOf(p));
    return each.every((c) => c !== undefined) ? (each as number[]).reduce((a, b) => a + b, 0) : undefined;
  }
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return undefined;
  }
}

/**
 * The OpenBao server's pid: BENCH_BAO_PID, else the pid file scripts/stack writes (its default run
 * directory, or STACK_HOME's); undefined when neither is there (the column is then left out).
 */
function baoPid(): number | undefined {
  if (process.env.BENCH_BAO_PID) return Number(process.env.BENCH_BAO_PID);
  const home = process.env.STACK_HOME ?? join(os.homedir(), '.cache', 'pipeline-secrets-stack');
  try {
    const pid = Number(readFileSync(join(home, 'run', 'openbao', 'bao.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && cpuMsOf(pid) !== undefined ? pid : undefined;
  } catch {
    return undefined;
  }
}
const BAO_PID = baoPid();

async function withCpu(pid: number | number[] | undefined, run: () => Promise<Figures>): Promise<Figures> {
  const c0 = cpuMsOf(pid);
  const a0 = Array.isArray(pid) && pid.length > 1 ? cpuMsOf(pid[0]) : undefined;
  const b0 = cpuMsOf(BAO_PID);
  const t0 = performance.now();
  const f = await run();
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpuMsOf(pid);
  const a1 = a0 !== undefined && Array.isArray(pid) ? cpuMsOf(pid[0]) : undefined;
  const b1 = cpuMsOf(BAO_PID);
  if (c0 !== undefined && c1 !== undefined && f.rps > 0) f.cpuMs = (c1 - c0) / (f.rps * seconds);
  if (a0 !== undefined && a1 !== undefined && f.rps > 0) f.apiCpuMs = (a1 - a0) / (f.rps * seconds);
  if (b0 !== undefined && b1 !== undefined && f.rps > 0) f.baoCpuMs = (b1 - b0) / (f.rps * seconds);
  return f;
}

// ---- OpenBao directly, over one keep-alive agent ----
const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS * 2 });
const baoUrl = new URL(BAO_ADDR);

function bao(method: string, path: string, token: string | Record<string, string> | undefined, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        agent,
        host: baoUrl.hostname,
        port: baoUrl.port,
        method,
        path: `/v1/${path}`,
        headers: { ...(typeof token === 'string' ? { 'X-Vault-Token': token } : (token ?? {})), ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** OpenBao's inline auth (2.4+): a login's parameters as headers, each base64url (no padding) of JSON {key, value}. */
function inlineAuth(mount: string, role: string, jwt: string): Record<string, string> {
  const param = (key: string, value: string) => Buffer.from(JSON.stringify({ key, value })).toString('base64url');
  return { 'X-Vault-Inline-Auth-Path': `auth/${mount}/login`, 'X-Vault-Inline-Auth-Parameter-role': param('role', role), 'X-Vault-Inline-Auth-Parameter-jwt': param('jwt', jwt) };
}

async function baoOk(method: string, path: string, token: string | Record<string, string> | undefined, body?: unknown): Promise<any> {
  const r = await bao(method, path, token, body);
  if (r.status < 200 || r.status >= 300) throw new Error(`OpenBao ${method} ${path.replace(/\?.*$/, '')}: ${r.status} ${JSON.stringify(r.json?.errors ?? '')}`);
  return r.json;
}

interface Target {
  project: string;
  jwt: string;
  role: string;
  reads: string[]; // `<mount>/data/<path>?version=<n>`, one per secret in NAMES order
}

/** A CI job on its own: login with its JWT, `n` KV reads in parallel, revoke its token. */
async function directJob(t: Target, n: number): Promise<void> {
  const login = await baoOk('POST', `auth/${JWT_MOUNT}/login`, undefined, { role: t.role, jwt: t.jwt });
  const token = login.auth.client_token as string;
  const picks = n === 1 ? [t.reads[Math.floor(Math.random() * t.reads.length)]] : t.reads.slice(0, n);
  const values = await Promise.all(picks.map((p) => baoOk('GET', p, token)));
  if (values.some((v) => typeof v?.data?.data?.value !== 'string')) throw new Error('KV read without a value');
  await baoOk('POST', 'auth/token/revoke-self', token);
}

/** One single access through the service (A's request), on the keep-alive agent; fails unless 200 with a value. */
function serviceSingle(base: string, t: Target): Promise<void> {
  const u = new URL(`${base}/v1/projects/${t.project}/secrets/${NAMES[Math.floor(Math.random() * BATCH)]}/access`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: u.hostname, port: u.port, method: 'POST', path: u.pathname, headers: { authorization: `Bearer ${t.jwt}`, 'content-type': 'application/json', 'content-length': 2 } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`service access: ${res.statusCode}`));
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (typeof body?.value !== 'string') return reject(new Error('service access without a value'));
          resolve();
        });
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

/** A CI job reading with inline auth: `n` KV reads in parallel, each carrying the login as headers; nothing to revoke. */
async function inlineJob(t: Target, n: number): Promise<void> {
  const auth = inlineAuth(JWT_MOUNT, t.role, t.jwt);
  const picks = n === 1 ? [t.reads[Math.floor(Math.random() * t.reads.length)]] : t.reads.slice(0, n);
  const values = await Promise.all(picks.map((p) => baoOk('GET', p, auth)));
  if (values.some((v) => typeof v?.data?.data?.value !== 'string')) throw new Error('KV read without a value');
}

async function closedLoop(job: () => Promise<void>, seconds: number): Promise<Figures> {
  const lat: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        const s = performance.now();
        try {
          await job();
          lat.push(performance.now() - s);
        } catch (e) {
          errors++;
          firstError ??= e;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  if (firstError) console.error(`  (first error: ${String(firstError)})`);
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]) : NaN);
  return { rps: lat.length / elapsed, p50: q(0.5), p99: q(0.99), errors, non2xx: 0 };
}

/** Open loop: starts a job every 1/rate s whatever the earlier ones do, for `seconds`; latency of each job. */
async function paced(job: () => Promise<void>, rate: number, seconds: number): Promise<Figures> {
  const lat: number[] = [];
  let errors = 0;
  const running: Promise<void>[] = [];
  const t0 = performance.now();
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const s = performance.now();
    running.push(job().then(() => void lat.push(performance.now() - s), () => void errors++));
  }
  await Promise.all(running);
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]) : NaN);
  return { rps: lat.length / elapsed, p50: q(0.5), p99: q(0.99), errors, non2xx: 0 };
}

async function closedLoopWarm(job: () => Promise<void>): Promise<Figures> {
  if (WARMUP > 0) await closedLoop(job, WARMUP);
  return withCpu(undefined, () => closedLoop(job, SECONDS));
}

// ---- round-trip counting TCP proxy ----
class CountingProxy {
  count = 0;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(private readonly upstreamHost: string, private readonly upstreamPort: number) {}

  async listen(): Promise<number> {
    this.server = net.createServer((client) => {
      const up = net.connect(this.upstreamPort, this.upstreamHost);
      this.sockets.add(client).add(up);
      let last: 'c' | 's' = 's';
      client.on('data', (d) => {
        if (last === 's') this.count++;
        last = 'c';
        up.write(d);
      });
      up.on('data', (d) => {
        last = 's';
        client.write(d);
      });
      const end = () => {
        client.destroy();
        up.destroy();
      };
      client.on('close', end).on('error', end);
      up.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server?.close();
  }
}

async function main() {
  // A scratch database: the projector renders OpenBao roles and policies for every project in
  // its store, so a shared database would have it re-render every earlier run's projects during
  // the measurements.
  const scratch = await scratchDatabase(STACK_DB_URL, 'bench_access');
  const DB_URL = scratch.url;
  const dir = mkdtempSync(join(tmpdir(), 'bench-access-'));
  const signingKeyFile = join(dir, 'audit-signing.key');
  loadAuditSigningKey(signingKeyFile, true);
  const env = {
    PROFILE: 'production',
    DATABASE_URL: DB_URL,
    DEV_ISSUER: '1',
    DATA_DIR: dir,
    MASTER_KEY_FILE: writeTestMasterKey(dir),
    AUDIT_SIGNING_KEY_FILE: signingKeyFile,
    BAO_ADDR,
    BAO_TOKEN,
    BAO_JWT_MOUNT: JWT_MOUNT,
    BAO_KV_PREFIX: KV_PREFIX,
  };
  const PORT = 18090;
  const base = `http://127.0.0.1:${PORT}`;
  const db = new Pool({ connectionString: DB_URL, max: 2 });
  let server: ChildProcess | undefined;
  let second: ChildProcess | undefined;
  let backend: ChildProcess | undefined;
  const proxies: CountingProxy[] = [];
  try {
    if (CPU_PROF_ALL) mkdirSync(CPU_PROF_ALL, { recursive: true });
    const profArgs = CPU_PROF_ALL ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_ALL}`] : [];
    // BENCH_SPLIT=1: the apps in two processes, as compose and the Helm chart run them (the command
    // API alone; the projector and the auditor beside it); CPU is then the sum of both.
    if (SPLIT) backend = await startServer({ ...env, APPS: 'projector,auditor' }, PORT + 3, profArgs);
    server = await startServer(SPLIT ? { ...env, APPS: 'command-api' } : env, PORT, profArgs);
    const pids = [server.pid!, ...(backend ? [backend.pid!] : [])];
    const keys = await loadOrCreateDevIssuer(dir);
    const admin = await mintUserToken(keys, AUD, { sub: 'bench-admin', admin: true, ttlSeconds: 7200 });
    const owner = await mintUserToken(keys, AUD, { sub: 'bench-owner', ttlSeconds: 7200 });
    const h = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
    const post = async (url: string, token: string, body: unknown, expect: number) => {
      const res = await fetch(url, { method: 'POST', headers: h(token), body: JSON.stringify(body) });
      if (res.status !== expect) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
      return res;
    };
    const projects = Array.from({ length: PROJECTS }, (_, i) => `bacc-${RUN}-${i}`);
    for (const p of projects) {
      await post(`${base}/v1/projects/${p}/grants`, admin, { principal: { type: 'user', id: 'bench-owner' }, role: 'owner' }, 201);
      for (const name of NAMES) await post(`${base}/v1/projects/${p}/secrets`, owner, { name, value: `v-${randomUUID()}`, ...SCOPE }, 201);
    }
    const claims = { ref: 'main', protected: true, environment: 'production', ttlSeconds: 7200 };
    const targets: Target[] = [];
    for (const project of projects) {
      const reads: string[] = [];
      for (const name of NAMES) {
        const { rows } = await db.query<{ value_ref: string }>('SELECT value_ref FROM rm_secret_versions WHERE project_id=$1 AND name=$2 ORDER BY revision DESC LIMIT 1', [project, name]);
        for (let i = 0; !rows.length && i < 100; i++) {
          await new Promise((r) => setTimeout(r, 100));
          rows.push(...(await db.query<{ value_ref: string }>('SELECT value_ref FROM rm_secret_versions WHERE project_id=$1 AND name=$2 ORDER BY revision DESC LIMIT 1', [project, name])).rows);
        }
        const m = /^bao:([^:]+):(.+)#(\d+)$/.exec(rows[0]?.value_ref ?? '');
        if (!m) throw new Error(`no OpenBao value_ref for ${project}/${name} (got ${rows[0]?.value_ref})`);
        reads.push(`${m[1]}/data/${m[2]}?version=${m[3]}`);
      }
      targets.push({ project, jwt: await mintCiToken(keys, AUD, { project, ...claims }), role: ciRoleName(project, SCOPE), reads });
    }
    // The projector renders the roles and policies from the events: wait until every job can
    // log in and read each of its values directly.
    const deadline = Date.now() + 90_000;
    for (const t of targets) {
      for (;;) {
        const problem = await Promise.all([directJob(t, BATCH), inlineJob(t, BATCH)]).then(
          () => undefined,
          (e: unknown) => String(e),
        );
        if (!problem) break;
        if (Date.now() > deadline) throw new Error(`a job of ${t.project} still cannot read its values directly: ${problem}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    console.log(`setup: ${PROJECTS} projects x ${BATCH} secrets (scope production/main/protected), mount ${JWT_MOUNT}, prefix ${KV_PREFIX}; ${CONNECTIONS} connections, ${SECONDS} s each after ${WARMUP} s warm-up`);

    const pickTarget = () => Math.floor(Math.random() * targets.length);
    const single = (url: string): autocannon.Options => ({
      url,
      method: 'POST',
      requests: [
        {
          setupRequest: (r) => {
            const t = targets[pickTarget()];
            return { ...r, path: `/v1/projects/${t.project}/secrets/${NAMES[Math.floor(Math.random() * BATCH)]}/access`, headers: h(t.jwt), body: '{}' };
          },
        },
      ],
    });
    const batch = (url: string): autocannon.Options => ({
      url,
      method: 'POST',
      requests: [
        {
          setupRequest: (r) => {
            const t = targets[pickTarget()];
            return { ...r, path: `/v1/projects/${t.project}/secrets/access`, headers: h(t.jwt), body: JSON.stringify({ names: NAMES }) };
          },
        },
      ],
    });

    // Is the batch endpoint there? One call that must return every value.
    const probe = await fetch(`${base}/v1/projects/${targets[0].project}/secrets/access`, { method: 'POST', headers: h(targets[0].jwt), body: JSON.stringify({ names: NAMES }) });
    const probeBody = (await probe.json().catch(() => null)) as { items?: { name: string; value: string }[]; denied?: unknown[] } | null;
    const batchAvailable = probe.status === 200 && probeBody?.items?.length === BATCH;
    const batchSkip = batchAvailable ? undefined : `not available: POST .../secrets/access answered ${probe.status}${probeBody?.items ? ` with ${probeBody.items.length} items` : ''}`;

    const results: Record<string, Figures> = {};
    const load0 = os.loadavg().map((l) => l.toFixed(1)).join(' ');
    // What the service spends with nothing to do (polls, timers): part of every per-job CPU figure.
    // Measured after 5 s of quiet, once the setup's own events and audit lines are handled.
    await new Promise((r) => setTimeout(r, 5000));
    const idle0 = cpuMsOf(pids);
    await new Promise((r) => setTimeout(r, 5000));
    const idle1 = cpuMsOf(pids);
    const idleMsPerSecond = idle0 !== undefined && idle1 !== undefined ? (idle1 - idle0) / 5 : undefined;
    if (idleMsPerSecond !== undefined) console.log(`service idle: ${idleMsPerSecond.toFixed(1)} ms CPU per second`);
    console.log('running A (service, single access) ...');
    results.A = await cannonWarm(single(base), pids);
    if (CPU_PROF_ALL) {
      const A = results.A;
      console.log(`A under the profiler (every app): ${A.rps.toFixed(0)}/s, p50 ${A.p50} ms, p99 ${A.p99} ms, ${A.errors}/${A.non2xx} errors/non-2xx, ${A.cpuMs?.toFixed(2)} ms CPU per access; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
      await stop(server, 'SIGINT');
      await stop(backend, 'SIGINT');
      console.log(`profile written to ${CPU_PROF_ALL}`);
      return;
    }
    // Latency at half of A's peak rate, right after A (before the direct phases' reads reach the auditor).
    const half = Math.max(1, Math.round(results.A.rps / 2));
    console.log(`running A at ${half}/s (half of its peak, open loop) ...`);
    // The same open-loop driver as B' at that rate (evenly spaced requests): autocannon's overallRate
    // sends each connection's quota at the start of every second (bursts of 16 at once), which
    // measured the burst, not the rate.
    results['A@50%'] = await withCpu(pids, () => paced(() => serviceSingle(base, targets[pickTarget()]), half, SECONDS));
    console.log('running B (OpenBao direct: login + read + revoke) ...');
    results.B = await closedLoopWarm(() => directJob(targets[pickTarget()], 1));
    console.log("running B' (OpenBao direct, inline auth: one read) ...");
    results["B'"] = await closedLoopWarm(() => inlineJob(targets[pickTarget()], 1));
    console.log(`running B' at ${half}/s (A's half-peak rate, open loop) ...`);
    results["B'@50%"] = await withCpu(undefined, () => paced(() => inlineJob(targets[pickTarget()], 1), half, SECONDS));
    if (batchAvailable) {
      console.log(`running C (service, batch of ${BATCH}) ...`);
      results.C = await cannonWarm(batch(base), pids);
    } else {
      results.C = { rps: NaN, p50: NaN, p99: NaN, errors: 0, non2xx: 0, skipped: batchSkip };
    }
    console.log(`running D (OpenBao direct: login + ${BATCH} reads + revoke) ...`);
    results.D = await closedLoopWarm(() => directJob(targets[pickTarget()], BATCH));
    console.log(`running D' (OpenBao direct, inline auth: ${BATCH} reads in parallel) ...`);
    results["D'"] = await closedLoopWarm(() => inlineJob(targets[pickTarget()], BATCH));
    console.log('running E (OpenBao: one KV read, reused token) ...');
    const reusedTarget = targets[0];
    const reused = (await baoOk('POST', `auth/${JWT_MOUNT}/login`, undefined, { role: reusedTarget.role, jwt: reusedTarget.jwt })).auth.client_token as string;
    results.E = await cannonWarm({
      url: BAO_ADDR,
      method: 'GET',
      headers: { 'X-Vault-Token': reused },
      requests: [{ setupRequest: (r) => ({ ...r, path: `/v1/${reusedTarget.reads[Math.floor(Math.random() * BATCH)]}` }) }],
    });
    await baoOk('POST', 'auth/token/revoke-self', reused);


    const labels: Record<string, string> = {
      'A@50%': `A at ${half}/s (open loop)`,
      "B'@50%": `B' at ${half}/s (open loop)`,
      A: 'A service single access (CI job)',
      B: 'B OpenBao direct: login+read+revoke',
      "B'": "B' OpenBao direct: inline-auth read",
      C: `C service batch access of ${BATCH}`,
      D: `D OpenBao direct: login+${BATCH} reads+revoke`,
      "D'": `D' OpenBao direct: ${BATCH} inline reads`,
      E: 'E OpenBao KV read, reused token',
    };
    console.log(`\n== CI-job access, ${CONNECTIONS} connections, ${SECONDS} s each (one job = one row's unit of work; service ${SPLIT ? 'in two processes: command-api | projector+auditor' : 'in one process, every app'}); load average before/after: ${load0} / ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`case                                     |    jobs/s |  p50 ms |  p99 ms | errors/non-2xx | service CPU ms/job${BAO_PID ? ' | OpenBao CPU ms/job' : ''}`);
    for (const [k, f] of Object.entries(results)) {
      if (f.skipped) {
        console.log(`${labels[k].padEnd(40)} | SKIPPED — ${f.skipped}`);
        continue;
      }
      console.log(`${labels[k].padEnd(40)} | ${f.rps.toFixed(0).padStart(9)} | ${String(f.p50).padStart(7)} | ${String(f.p99).padStart(7)} | ${f.errors}/${f.non2xx} | ${f.cpuMs !== undefined ? f.cpuMs.toFixed(2) : '-'}${f.baoCpuMs !== undefined ? ` | ${f.baoCpuMs.toFixed(2)}` : ''}`);
    }
    const { A, B, C, D } = results;
    const Bi = results["B'"];
    const Di = results["D'"];
    // A case with failures is no baseline: its failed jobs are not in its rate (e.g. OpenBao 403s
    // while another service on the same OpenBao prunes this run's ps-ci-* policies).
    const failed = Object.entries(results).filter(([, f]) => !f.skipped && f.errors + f.non2xx > 0);
    if (failed.length) console.log(`\nNOT A VALID COMPARISON: ${failed.map(([k, f]) => `${k} had ${f.errors + f.non2xx} failed requests/jobs`).join(', ')}`);
    console.log(`\nA/B throughput ratio: ${(A.rps / B.rps).toFixed(2)} (target >= 1.0: ${A.rps >= B.rps ? 'met' : 'NOT met'})`);
    console.log(`A/B' throughput ratio: ${(A.rps / Bi.rps).toFixed(2)} (target >= 0.5: ${A.rps >= 0.5 * Bi.rps ? 'met' : 'NOT met'}; stretch >= 0.8: ${A.rps >= 0.8 * Bi.rps ? 'met' : 'NOT met'})`);
    if (!C.skipped) console.log(`C/D' throughput ratio: ${(C.rps / Di.rps).toFixed(2)} (target >= 0.8: ${C.rps >= 0.8 * Di.rps ? 'met' : 'NOT met'})`);
    const [Ah, Bh] = [results['A@50%'], results["B'@50%"]];
    console.log(`p99 of A at ${half}/s ${Ah.p99} ms vs 2 x p99 of B' at the same rate = ${2 * Bh.p99} ms (target: ${Ah.p99 <= 2 * Bh.p99 ? 'met' : 'NOT met'})`);
    if (A.cpuMs !== undefined) console.log(`service CPU per single access: ${A.cpuMs.toFixed(2)} ms (target <= 2 ms: ${A.cpuMs <= 2 ? 'met' : 'NOT met'})`);
    if (A.apiCpuMs !== undefined) console.log(`  of which the command API process (BENCH_SPLIT=1): ${A.apiCpuMs.toFixed(2)} ms`);
    if (A.cpuMs !== undefined && idleMsPerSecond !== undefined)
      console.log(`  of which the idle service's own ${idleMsPerSecond.toFixed(1)} ms/s spread over A's ${A.rps.toFixed(0)} jobs/s: ${(idleMsPerSecond / A.rps).toFixed(2)} ms`);
    if (A.baoCpuMs !== undefined && Bi.baoCpuMs !== undefined)
      console.log(`OpenBao's own CPU per job: ${Bi.baoCpuMs.toFixed(2)} ms for an inline-auth read (B'), ${A.baoCpuMs.toFixed(2)} ms per service access (A)`);
    if (C.skipped) console.log(`C/D throughput ratio: n/a (C ${C.skipped})`);
    else {
      console.log(`C/D throughput ratio: ${(C.rps / D.rps).toFixed(2)} (target >= 1.0: ${C.rps >= D.rps ? 'met' : 'NOT met'})`);
      console.log(`p99 C ${C.p99} ms vs 1.5 x p99 D = ${(1.5 * D.p99).toFixed(0)} ms (target C <= 1.5 x D: ${C.p99 <= 1.5 * D.p99 ? 'met' : 'NOT met'})`);
    }

    if (CPU_PROF || ROUNDTRIPS) {
      const PORT2 = 18091;
      const base2 = `http://127.0.0.1:${PORT2}`;
      if (CPU_PROF) {
        mkdirSync(CPU_PROF, { recursive: true });
        second = await startServer({ ...env, APPS: 'command-api' }, PORT2, ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`]);
        console.log(`\n== CPU profile: load A against a second command-api (APPS=command-api) under --cpu-prof`);
        const f = await cannon({ ...single(base2), connections: CONNECTIONS, duration: SECONDS });
        console.log(`single access under the profiler: ${f.rps.toFixed(0)}/s, p50 ${f.p50} ms, p99 ${f.p99} ms, ${f.errors}/${f.non2xx} errors/non-2xx`);
        await stop(second, 'SIGINT');
        console.log(`profile written to ${CPU_PROF}`);
      } else {
        const pg = new URL(DB_URL);
        const pgProxy = new CountingProxy(pg.hostname, Number(pg.port || 5432));
        const baoProxy = new CountingProxy(baoUrl.hostname, Number(baoUrl.port || 80));
        proxies.push(pgProxy, baoProxy);
        const pgPort = await pgProxy.listen();
        const baoPort = await baoProxy.listen();
        pg.host = `127.0.0.1:${pgPort}`;
        second = await startServer({ ...env, APPS: 'command-api', DATABASE_URL: pg.toString(), BAO_ADDR: `http://127.0.0.1:${baoPort}` }, PORT2);
        const t = targets[0];
        let n = 0;
        const kinds: Record<string, () => Promise<unknown>> = {
          create: () => post(`${base2}/v1/projects/${t.project}/secrets`, owner, { name: `RT_${RUN.toUpperCase()}_${n++}`, value: 'x'.repeat(32), ...SCOPE }, 201),
          update: async () => {
            const r = await fetch(`${base2}/v1/projects/${t.project}/secrets/${NAMES[0]}/value`, { method: 'PUT', headers: h(owner), body: JSON.stringify({ value: `u-${n++}` }) });
            if (r.status >= 300) throw new Error(`update: ${r.status} ${await r.text()}`);
          },
          grant: () => post(`${base2}/v1/projects/${t.project}/grants`, owner, { principal: { type: 'user', id: `rt-${n++}` }, role: 'developer' }, 201),
          access: () => post(`${base2}/v1/projects/${t.project}/secrets/${NAMES[1]}/access`, t.jwt, {}, 200),
          ...(batchAvailable ? { [`batch access of ${BATCH}`]: () => post(`${base2}/v1/projects/${t.project}/secrets/access`, t.jwt, { names: NAMES }, 200) } : {}),
        };
        // warm every path once (caches, connections), then measure the idle rate over the same time
        for (const k of Object.values(kinds)) await k();
        console.log(`\n== round trips per request (second command-api, APPS=command-api, through counting proxies; ${RT_REQUESTS} sequential requests each, idle rate subtracted)`);
        console.log('request                  | PostgreSQL | OpenBao | ms/request');
        for (const [name, fn] of Object.entries(kinds)) {
          const idle0 = [pgProxy.count, baoProxy.count];
          const ti = performance.now();
          await new Promise((r) => setTimeout(r, 1000));
          const idleMs = performance.now() - ti;
          const idle = [(pgProxy.count - idle0[0]) / idleMs, (baoProxy.count - idle0[1]) / idleMs];
          const c0 = [pgProxy.count, baoProxy.count];
          const t0 = performance.now();
          for (let i = 0; i < RT_REQUESTS; i++) await fn();
          const ms = performance.now() - t0;
          const per = (i: number, c: number) => Math.max(0, (c - c0[i] - idle[i] * ms) / RT_REQUESTS).toFixed(2);
          console.log(`${name.padEnd(24)} | ${per(0, pgProxy.count).padStart(10)} | ${per(1, baoProxy.count).padStart(7)} | ${(ms / RT_REQUESTS).toFixed(1)}`);
        }
      }
    }
  } finally {
    await stop(second);
    await stop(server);
    await stop(backend);
    for (const p of proxies) p.close();
    await db.end();
    // What this run made in OpenBao: its JWT mount (and the roles in it) and its projects' policies.
    // (The ~80 KV values under its prefix stay; they are a few KB.)
    await bao('DELETE', `sys/auth/${JWT_MOUNT}`, BAO_TOKEN).catch(() => undefined);
    const policies = await bao('GET', 'sys/policies/acl?list=true', BAO_TOKEN).catch(() => undefined);
    for (const name of (policies?.json?.data?.keys ?? []) as string[]) {
      if (name.startsWith(`ps-ci-bacc-${RUN}-`)) await bao('DELETE', `sys/policies/acl/${name}`, BAO_TOKEN).catch(() => undefined);
    }
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
    await scratch.drop().catch((e: unknown) => console.error(`could not drop ${DB_URL}: ${String(e)}`));
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
