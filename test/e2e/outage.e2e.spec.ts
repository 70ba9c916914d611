import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { TcpProxy } from '../support/tcp-proxy';
import { writeTestMasterKey } from '../support/test-master-key';

// PostgreSQL outages through a TCP proxy (the shared server is never stopped): the production
// profile, all three apps in one process, its DATABASE_URL pointed at the proxy.
const DATABASE_URL = process.env.DATABASE_URL;
/** The documented request time bound with the store unreachable (docs/architecture.md): query_timeout 12 s + margin. */
const REQUEST_BOUND_MS = 15_000;
const OUTAGE_MS = 30_000; // the issue's 30 s (the whole file takes ~60 s: 30 s of outage, ~15 s of black-hole, start-up)

if (!DATABASE_URL) {
  console.warn('SKIPPED outage e2e: DATABASE_URL not set (scripts/test-all sets it)');
  describe.skip('outage e2e — SKIPPED, DATABASE_URL not set', () => it('needs DATABASE_URL', () => undefined));
} else {
  describe('PostgreSQL outages (production profile through a TCP proxy)', () => {
    let t: EmbeddedApp;
    let proxy: TcpProxy;
    const P = `outage-${randomUUID().slice(0, 8)}`;
    const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
    let alice: string;
    jest.setTimeout(120_000);

    beforeAll(async () => {
      const u = new URL(DATABASE_URL);
      proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
      u.host = `127.0.0.1:${proxy.port}`;
      const keyDir = mkdtempSync(join(tmpdir(), 'ps-key-'));
      t = await startEmbedded({ env: { PROFILE: 'production', DATABASE_URL: u.toString(), DEV_ISSUER: '1', MASTER_KEY_FILE: writeTestMasterKey(keyDir) } });
      const admin = await t.userToken('root', { admin: true });
      alice = await t.userToken('alice');
      const http = request(t.app.getHttpServer());
      expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'alice' }, role: 'owner' })).status).toBe(201);
    });
    afterAll(async () => {
      proxy?.forward();
      await t?.close();
      await proxy?.close();
    });

    const create = (name: string) => request(t.app.getHttpServer()).post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name, value: `v-${name}` });
    const projected = async (name: string) => (await t.infra.sql.query('SELECT 1 FROM rm_secrets WHERE project_id = $1 AND name = $2', [P, name])).rows.length === 1;
    const audited = async (name: string) => (await t.infra.sql.query('SELECT 1 FROM audit_log WHERE project_id = $1 AND secret_name = $2', [P, name])).rows.length > 0;

    async function within(ms: number, cond: () => Promise<boolean>): Promise<number> {
      const start = Date.now();
      for (;;) {
        if (await cond().catch(() => false)) return Date.now() - start;
        if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it(`PostgreSQL stopped ${OUTAGE_MS / 1000} s under load: only 503 with Retry-After, then the projector and the auditor catch up by themselves`, async () => {
      proxy.refuse();
      const statuses: number[] = [];
      const noRetryAfter: number[] = [];
      const until = Date.now() + OUTAGE_MS;
      let i = 0;
      while (Date.now() < until) {
        const batch = await Promise.all([0, 1, 2, 3].map(() => create(`DOWN_${i++}`)));
        for (const r of batch) {
          statuses.push(r.status);
          if (r.status === 503 && !r.headers['retry-after']) noRetryAfter.push(r.status);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      const ready = await request(t.app.getHttpServer()).get('/readyz');
      expect(ready.status).toBe(503);
      proxy.forward();
      expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      expect(noRetryAfter).toEqual([]);

      // After recovery: a new secret is projected and audited within 5 s.
      const backAt = Date.now();
      let created = 0;
      await within(5000, async () => (created = (await create('AFTER')).status) === 201);
      await within(5000, () => projected('AFTER'));
      const auditedMs = await within(5000, () => audited('AFTER'));
      console.log(`outage: recovery to projected+audited ${Date.now() - backAt} ms (audit ${auditedMs} ms), statuses ${JSON.stringify(countBy(statuses))}`);
      expect(created).toBe(201);
      await within(5000, async () => (await request(t.app.getHttpServer()).get('/readyz')).status === 200);
    });

    it('PostgreSQL black-holed: every request ends within the documented bound with 503', async () => {
      proxy.blackhole();
      const started = Date.now();
      try {
        const rs = await Promise.all([0, 1, 2].map((k) => create(`HOLE_${k}`)));
        const ms = Date.now() - started;
        console.log(`black-hole: statuses ${rs.map((r) => r.status)} in ${ms} ms`);
        for (const r of rs) {
          expect(r.status).toBe(503);
          expect(r.headers['retry-after']).toBeDefined();
        }
        expect(ms).toBeLessThan(REQUEST_BOUND_MS);
      } finally {
        proxy.forward();
      }
      await within(15_000, async () => (await create('AFTER_HOLE')).status === 201);
    });

    // Issue 18, 15: fail fast on a dependency known to be down, recover fast. Once the first requests
    // found the store black-holed, every later request answers 503 at once (the circuit breaker of
    // libs/infra/src/resilience, probed in the background) instead of waiting out the 12 s query
    // timeout each (before: every one of them took ~12 s). Bounds are generous for a loaded 2-core
    // machine and still fail on the old behaviour; the measured figures are logged.
    it('PostgreSQL black-holed: after the first requests, each next request answers 503 in well under the query timeout; the store is used again within 5 s of its return', async () => {
      const timedCreate = async (name: string) => {
        const started = Date.now();
        const r = await create(name);
        return { status: r.status, retryAfter: r.headers['retry-after'] !== undefined, ms: Date.now() - started };
      };
      proxy.blackhole();
      const next: { status: number; retryAfter: boolean; ms: number }[] = [];
      let first: { status: number; retryAfter: boolean; ms: number }[];
      try {
        first = await Promise.all([0, 1, 2].map((k) => timedCreate(`FAST_${k}`)));
        for (let k = 0; k < 10; k++) {
          const r = await timedCreate(`FAST_NEXT_${k}`);
          next.push(r);
          expect({ k, status: r.status, retryAfter: r.retryAfter, fast: r.ms < 3_000 }).toEqual({ k, status: 503, retryAfter: true, fast: true });
        }
        const readyz = await request(t.app.getHttpServer()).get('/readyz');
        expect(readyz.status).toBe(503);
      } finally {
        proxy.forward();
      }
      const backAt = Date.now();
      console.log(`black-hole (breaker): first 3 requests ${JSON.stringify(first.map((r) => [r.status, r.ms]))}, next 10 requests ${JSON.stringify(next.map((r) => r.ms))} ms`);
      for (const r of first) expect({ status: r.status, retryAfter: r.retryAfter, inBound: r.ms < 8_000 }).toEqual({ status: 503, retryAfter: true, inBound: true });
      const createdMs = await within(5_000, async () => (await create('AFTER_FAST')).status === 201);
      const readyMs = await within(5_000, async () => (await request(t.app.getHttpServer()).get('/readyz')).status === 200);
      console.log(`black-hole (breaker): store back: create 201 after ${createdMs} ms, /readyz 200 after ${Date.now() - backAt} ms (${readyMs} ms after the create)`);
    });
  });
}

function countBy(xs: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
