/* OpenBao audit ingestion benchmark (issue 11): OpenBao's file audit device → SecretAccessed
 * events in PostgreSQL, beside a raw read of the same file in the same run, and the delay from
 * OpenBao's answer to the event being in the store at a steady rate of direct reads.
 *
 *   eval "$(scripts/stack env)" && npm run --silent bench:openbao-ingest
 *
 * Needs BAO_ADDR, BAO_TOKEN, BAO_AUDIT_FILE (an OpenBao started by scripts/stack with its audit
 * devices) and TEST_DATABASE_URL or DATABASE_URL. In a scratch database and under a KV prefix of
 * its own:
 *   1. BENCH_READS (default 5,000) direct KV reads with a non-root token (a policy on the prefix
 *      only), BENCH_CONCURRENCY (16) at a time, so the audit file holds at least 2×BENCH_READS
 *      lines the ingester must turn into events (request + response entry per read);
 *   2. raw: read the whole audit file, split it into lines and JSON.parse each (what any reader
 *      of the file must do at least): lines/s;
 *   3. ingest: the real ingester from offset 0 over the same file into the scratch store (parse,
 *      filter to the prefix, one idempotent append per response entry): lines/s, ratio to raw;
 *   4. delay: the ingester running (poll 100 ms) while BENCH_RATE (200) reads/s go for
 *      BENCH_SECONDS (10) s; per read, es_events.recorded_at − the audit entry's time: p50/p99;
 *   BENCH_INLINE=1 (issue 23): every read in 1 and 4 is a CI job's inline-auth read (its JWT login
 *      as X-Vault-Inline-Auth-* headers on the read, a ps-ci- role on a JWT mount of this run):
 *      four audit lines per read (the login pair and the read pair), one event, attributed to the job;
 *   5. unauthenticated flood (issue 18, item 4): BENCH_UNAUTH (5,000) reads with no token, each on
 *      another (valid) project id, ingested with BENCH_UNAUTH_WINDOW (1) s windows: lines/s and
 *      how many events they became (one summary per address and window; before, one each).
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import vault from 'node-vault';
import { baoClient } from '@app/infra/openbao/bao-client';
import { OpenBaoAuditIngester } from '../apps/auditor/src/openbao-audit-ingester';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { PgClient } from '@app/infra/sql/pg-client';
import { scratchDatabase } from '../test/support/scratch-database';

const READS = Number(process.env.BENCH_READS ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const UNAUTH = Number(process.env.BENCH_UNAUTH ?? 5_000);
const UNAUTH_WINDOW = Number(process.env.BENCH_UNAUTH_WINDOW ?? 1);
const INLINE = process.env.BENCH_INLINE === '1';
const { BAO_ADDR, BAO_TOKEN, BAO_AUDIT_FILE } = process.env;
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** The file from `offset` to its current end, as text. */
async function readFrom(file: string, offset: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc((await fh.stat()).size - offset);
    await fh.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

async function main(): Promise<void> {
  if (!BAO_ADDR || !BAO_TOKEN || !BAO_AUDIT_FILE || !url) throw new Error('BAO_ADDR, BAO_TOKEN, BAO_AUDIT_FILE and TEST_DATABASE_URL (or DATABASE_URL) must be set: eval "$(scripts/stack env)"');
  const run = randomUUID().slice(0, 8);
  const prefix = `ps-bench-${run}`;
  const root = vault({ endpoint: BAO_ADDR, token: BAO_TOKEN });
  const names = Array.from({ length: 20 }, (_, i) => `S${i}`);
  for (const n of names) await root.write(`secret/data/${prefix}/bench/${n}`, { data: { value: `bench-${n}` } });
  await root.write(`sys/policies/acl/bench-${run}`, { policy: `path "secret/data/${prefix}/*" { capabilities = ["read"] }` });
  const token = (await root.write('auth/token/create', { policies: [`bench-${run}`], no_default_policy: true, ttl: '1h' })).auth.client_token as string;
  const reader = vault({ endpoint: BAO_ADDR, token });
  let read = (i: number): Promise<unknown> => reader.read(`secret/data/${prefix}/bench/${names[i % names.length]}`);
  const jwtMount = INLINE ? `jwt-ingest-${run}` : 'jwt-ci';
  if (INLINE) {
    // A CI job of project "bench" reading with inline auth through a ps-ci- role of this run's JWT mount.
    const role = `ps-ci-bench-${run}`;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await root.write(`sys/auth/${jwtMount}`, { type: 'jwt' });
    await root.write(`auth/${jwtMount}/config`, { bound_issuer: 'bench', jwt_validation_pubkeys: [publicKey.export({ type: 'spki', format: 'pem' })] });
    await root.write(`sys/policies/acl/${role}`, { policy: `path "secret/data/${prefix}/*" { capabilities = ["read"] }` });
    await root.write(`auth/${jwtMount}/role/${role}`, {
      role_type: 'jwt', user_claim: 'sub', bound_audiences: ['bench'], token_policies: role, token_no_default_policy: true, token_type: 'service',
      claim_mappings: { project_id: 'project_id', job_id: 'job_id', pipeline_id: 'pipeline_id' },
    });
    const jwt = await new SignJWT({ project_id: 'bench', job_id: '1', pipeline_id: '1' }).setProtectedHeader({ alg: 'RS256' }).setIssuer('bench').setAudience('bench').setSubject('job-1').setIssuedAt().setExpirationTime('2h').sign(privateKey);
    const client = baoClient(BAO_ADDR, 'unused');
    const inline = { mount: jwtMount, role, jwt };
    read = (i: number) => client.readFast(`secret/data/${prefix}/bench/${names[i % names.length]}`, { inline });
  }

  // Both the raw read and the ingester start where the audit file ends now: the shared file can be
  // gigabytes of earlier traffic (more than one string can hold), and only this run's part is measured.
  const st = statSync(BAO_AUDIT_FILE, { bigint: true });
  const startOffset = { inode: `${st.dev}:${st.ino}`, offset: Number(st.size) };
  let t = Date.now();
  for (let i = 0; i < READS; i += CONCURRENCY) await Promise.all(Array.from({ length: Math.min(CONCURRENCY, READS - i) }, (_, k) => read(i + k)));
  console.log(`${READS} direct reads in ${((Date.now() - t) / 1000).toFixed(1)} s (${Math.round(READS / ((Date.now() - t) / 1000))}/s)`);

  const db = await scratchDatabase(url, 'bench_openbao_ingest');
  const sql = await PgClient.connect(db.url);
  try {
    const store = await PostgresEventStore.create(sql);
    const logger = new JsonLogger('error');
    const scope = { kvMount: 'secret', kvPrefix: prefix, jwtMount };

    // raw
    t = performance.now();
    const text = await readFrom(BAO_AUDIT_FILE, startOffset.offset);
    let lines = 0;
    for (const l of text.split('\n')) {
      if (!l) continue;
      JSON.parse(l);
      lines++;
    }
    const rawS = (performance.now() - t) / 1000;
    const bytes = Buffer.byteLength(text);
    console.log(`raw read: ${lines} lines (${(bytes / 1e6).toFixed(1)} MB) in ${rawS.toFixed(2)} s = ${Math.round(lines / rawS)} lines/s`);

    // ingest this run's part of the file (from the offset stored above)
    const ingester = new OpenBaoAuditIngester(store, sql, { file: BAO_AUDIT_FILE, scope }, logger);
    await sql.query('CREATE TABLE IF NOT EXISTS openbao_audit_offsets (device text PRIMARY KEY, inode text NOT NULL, byte_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())');
    await sql.query('INSERT INTO openbao_audit_offsets (device, inode, byte_offset) VALUES ($1, $2, $3)', [BAO_AUDIT_FILE, startOffset.inode, startOffset.offset]);
    t = performance.now();
    const ingested = await ingester.pollOnce();
    const ingS = (performance.now() - t) / 1000;
    console.log(
      `ingest: ${ingested} lines in ${ingS.toFixed(2)} s = ${Math.round(ingested / ingS)} lines/s, ${ingester.appended} events appended (${Math.round(ingester.appended / ingS)} events/s); ingest/raw = ${(ingested / ingS / (lines / rawS)).toFixed(3)}`,
    );
    if (ingester.appended < READS) throw new Error(`only ${ingester.appended} of ${READS} reads became events`);
    if (INLINE) {
      const { rows: byWho } = await sql.query<{ t: string; n: string }>(`SELECT data->'principal'->>'type' AS t, count(*)::text AS n FROM es_events GROUP BY 1`);
      console.log(`inline-auth reads became events of: ${byWho.map((r) => `${r.t} ${r.n}`).join(', ')}`);
    }

    // delay at RATE reads/s
    await ingester.start();
    const before = new Set((await sql.query<{ id: string }>(`SELECT data->'via'->>'requestId' AS id FROM es_events`)).rows.map((r) => r.id));
    const total = RATE * SECONDS;
    const started = Date.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(read(i));
    }
    await Promise.all(pending);
    const achieved = total / ((Date.now() - started) / 1000);
    // wait for the last events
    const until = Date.now() + 15_000;
    let rows: { id: string; recorded_at: Date }[] = [];
    while (Date.now() < until) {
      rows = (await sql.query<{ id: string; recorded_at: Date }>(`SELECT data->'via'->>'requestId' AS id, recorded_at FROM es_events`)).rows.filter((r) => !before.has(r.id));
      if (rows.length >= total) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await ingester.stop();
    const answered = new Map<string, number>();
    for (const l of (await readFrom(BAO_AUDIT_FILE, startOffset.offset)).split('\n')) {
      if (!l.includes(prefix) || !l.startsWith('{"time"')) continue;
      const e = JSON.parse(l);
      if (e.type === 'response') answered.set(e.request.id, Date.parse(e.time));
    }
    const delays = rows.map((r) => new Date(r.recorded_at).getTime() - (answered.get(r.id) ?? NaN)).filter((d) => Number.isFinite(d));
    console.log(`delay at ${achieved.toFixed(0)} reads/s for ${SECONDS} s: ${rows.length}/${total} events; OpenBao answer → event stored p50 ${pct(delays, 50)} ms, p99 ${pct(delays, 99)} ms, max ${Math.max(...delays)} ms`);

    // unauthenticated flood: no token, a new project id each time
    if (UNAUTH > 0) {
      const fst = statSync(BAO_AUDIT_FILE, { bigint: true });
      await sql.query('UPDATE openbao_audit_offsets SET inode = $2, byte_offset = $3 WHERE device = $1', [BAO_AUDIT_FILE, `${fst.dev}:${fst.ino}`, Number(fst.size)]);
      t = Date.now();
      for (let i = 0; i < UNAUTH; i += CONCURRENCY) {
        await Promise.all(Array.from({ length: Math.min(CONCURRENCY, UNAUTH - i) }, (_, k) => fetch(`${BAO_ADDR}/v1/secret/data/${prefix}/probe-${i + k}/ALPHA`).then((r) => r.arrayBuffer())));
      }
      const floodS = (Date.now() - t) / 1000;
      const flood = new OpenBaoAuditIngester(store, sql, { file: BAO_AUDIT_FILE, scope, denialWindowSeconds: UNAUTH_WINDOW }, logger);
      const eventsBefore = Number((await sql.query<{ n: string }>('SELECT count(*)::text AS n FROM es_events')).rows[0].n);
      t = performance.now();
      const floodLines = await flood.pollOnce();
      const floodIngS = (performance.now() - t) / 1000;
      await new Promise((r) => setTimeout(r, (UNAUTH_WINDOW + 2.5) * 1000));
      await flood.pollOnce(); // the last window closes by the clock
      const eventsAfter = Number((await sql.query<{ n: string }>('SELECT count(*)::text AS n FROM es_events')).rows[0].n);
      const folded = (await sql.query<{ n: string }>(`SELECT coalesce(sum((data->>'count')::int), 0)::text AS n FROM es_events WHERE stream_name = 'access-*'`)).rows[0].n;
      console.log(
        `unauthenticated flood: ${UNAUTH} reads in ${floodS.toFixed(1)} s; ${floodLines} lines ingested in ${floodIngS.toFixed(2)} s = ${Math.round(floodLines / floodIngS)} lines/s; ${eventsAfter - eventsBefore} events (summaries of ${UNAUTH_WINDOW} s windows, folding ${folded} denials)`,
      );
    }
  } finally {
    await sql.close();
    await db.drop();
    await root.delete(`sys/policies/acl/bench-${run}`).catch(() => undefined);
    if (INLINE) {
      await root.delete(`sys/auth/${jwtMount}`).catch(() => undefined);
      await root.delete(`sys/policies/acl/ps-ci-bench-${run}`).catch(() => undefined);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
