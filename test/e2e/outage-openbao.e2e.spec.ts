import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { TcpProxy } from '../support/tcp-proxy';

// OpenBao black-holed through a TCP proxy (the stack's OpenBao is never stopped): the production
// profile, all three apps in one process, its BAO_ADDR pointed at the proxy (issue 10, 3).
const DATABASE_URL = process.env.DATABASE_URL;
const BAO_ADDR = process.env.BAO_ADDR;
const BAO_TOKEN = process.env.BAO_TOKEN;
/** The documented request time bound with OpenBao unreachable (docs/architecture.md): each OpenBao call's 10 s timeout + margin. */
const REQUEST_BOUND_MS = 12_000;
/** Recovery after OpenBao answers again (issue 10, 6). */
const RECOVERY_MS = 5_000;

if (!DATABASE_URL || !BAO_ADDR || !BAO_TOKEN) {
  console.warn('SKIPPED OpenBao outage e2e: DATABASE_URL, BAO_ADDR and BAO_TOKEN must be set (scripts/test-all sets them)');
  describe.skip('OpenBao outage e2e — SKIPPED, servers not set', () => it('needs the stack', () => undefined));
} else {
  describe('OpenBao black-holed (production profile through a TCP proxy)', () => {
    let t: EmbeddedApp;
    let proxy: TcpProxy;
    const run = randomUUID().slice(0, 8);
    const P = `bao-outage-${run}`;
    const JWT_MOUNT = `jwt-outage-${run}`;
    const MARK = `canary-${randomUUID()}`; // in every value, never in a name
    const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
    const scope = { environment: null, branch: null, protectedOnly: false };
    let owner: string;
    let job: string;
    jest.setTimeout(120_000);

    beforeAll(async () => {
      const u = new URL(BAO_ADDR);
      proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port || 8200) });
      u.host = `127.0.0.1:${proxy.port}`;
      t = await startEmbedded({
        env: { PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', BAO_ADDR: u.toString(), BAO_TOKEN, BAO_JWT_MOUNT: JWT_MOUNT, BAO_KV_PREFIX: `ps-test-${run}` },
      });
      const admin = await t.userToken('root', { admin: true });
      owner = await t.userToken('olive');
      const http = request(t.app.getHttpServer());
      expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
      for (const n of ['BEFORE_A', 'BEFORE_B']) expect((await create(n)).status).toBe(201);
      job = await t.ciToken({ project: P, ref: 'main', protected: false });
      // The job's JWT role is reconciled from the events: wait until a job access succeeds before the outage.
      const ok = await eventually(async () => (await accessAsJob('BEFORE_A')).status, (s) => s === 200, 20_000);
      expect({ ok, role: ciRoleName(P, scope) }).toEqual({ ok: 200, role: ciRoleName(P, scope) });
    }, 60_000);
    afterAll(async () => {
      proxy?.forward();
      await t?.close();
      await proxy?.close();
    });

    const create = (name: string) => request(t.app.getHttpServer()).post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name, value: `v-${name}-${MARK}` });
    const access = (name: string) => request(t.app.getHttpServer()).post(`/v1/projects/${P}/secrets/${name}/access`).set(auth(owner)).send({});
    const accessAsJob = (name: string) => request(t.app.getHttpServer()).post(`/v1/projects/${P}/secrets/${name}/access`).set(auth(job)).send({});
    const timed = async (what: string, call: () => Promise<request.Response>) => {
      const started = Date.now();
      const r = await call();
      return { what, status: r.status, retryAfter: r.headers['retry-after'], type: r.headers['content-type'], ms: Date.now() - started, body: r.body };
    };

    it(`every create and access ends within ${REQUEST_BOUND_MS / 1000} s with 503 + Retry-After (never 500), and all recover within ${RECOVERY_MS / 1000} s of unpausing`, async () => {
      proxy.blackhole();
      let results;
      try {
        results = await Promise.all([
          timed('create', () => create('HOLE_1')),
          timed('create', () => create('HOLE_2')),
          timed('access', () => access('BEFORE_A')),
          timed('access', () => access('BEFORE_B')),
          timed('job access', () => accessAsJob('BEFORE_A')),
        ]);
        // Readiness tells the truth while OpenBao is still silent, within the same bound.
        const readyz = await timed('readyz', () => request(t.app.getHttpServer()).get('/readyz'));
        expect({ status: readyz.status, inBound: readyz.ms < REQUEST_BOUND_MS }).toEqual({ status: 503, inBound: true });
        console.log(`OpenBao black-hole: /readyz ${readyz.status} in ${readyz.ms} ms`);
      } finally {
        proxy.forward();
      }
      console.log(`OpenBao black-hole: ${JSON.stringify(results.map(({ what, status, ms }) => ({ what, status, ms })))}`);
      for (const r of results) {
        expect({ what: r.what, status: r.status, retryAfter: r.retryAfter !== undefined, problem: /problem\+json/.test(String(r.type)) }).toEqual({ what: r.what, status: 503, retryAfter: true, problem: true });
        expect(r.ms).toBeLessThan(REQUEST_BOUND_MS);
        expect(JSON.stringify(r.body)).not.toContain(MARK); // no value in an error body
      }

      // Unpaused: the same requests succeed again within the recovery bound.
      const backAt = Date.now();
      const ready = async <T>(call: () => Promise<T>, ok: (x: T) => boolean) => {
        for (;;) {
          const x = await call();
          if (ok(x) || Date.now() - backAt > RECOVERY_MS) return x;
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      expect((await ready(() => create('AFTER_HOLE'), (r) => r.status === 201)).status).toBe(201);
      const a = await ready(() => access('AFTER_HOLE'), (r) => r.status === 200);
      expect({ status: a.status, value: a.body.value }).toEqual({ status: 200, value: `v-AFTER_HOLE-${MARK}` });
      expect((await ready(() => accessAsJob('BEFORE_B'), (r) => r.status === 200)).body.value).toBe(`v-BEFORE_B-${MARK}`);
      const recoveredMs = Date.now() - backAt;
      const readyz = await ready(() => request(t.app.getHttpServer()).get('/readyz'), (r) => r.status === 200);
      console.log(`OpenBao black-hole: recovery (create 201, access 200, job access 200) ${recoveredMs} ms, /readyz ${readyz.status} at ${Date.now() - backAt} ms`);
      expect(recoveredMs).toBeLessThan(RECOVERY_MS);
      expect(readyz.status).toBe(200);
      // The access that got 503 is recorded as not delivered (issue 10, 4).
      const trail = await t.infra.eventStore.readStream(`access-${P}/BEFORE_B`);
      expect(trail.map((e) => e.type)).toContain('SecretValueNotDelivered');
    });

    // Issue 18, 15: once the first requests found OpenBao black-holed, every later create and access
    // answers 503 at once (the circuit breaker, probed in the background) instead of waiting out the
    // 10 s call timeout each (before: ~10 s every one). Generous bounds; the figures are logged.
    it('after the first requests found OpenBao silent, each next create and access answers 503 in well under the call timeout, and all work within 5 s of its return', async () => {
      proxy.blackhole();
      const next: { what: string; status: number; ms: number }[] = [];
      let first: Awaited<ReturnType<typeof timed>>[];
      try {
        first = await Promise.all([timed('create', () => create('FAST_1')), timed('access', () => access('BEFORE_A')), timed('job access', () => accessAsJob('BEFORE_B'))]);
        for (let k = 0; k < 4; k++) {
          for (const r of [await timed('create', () => create(`FAST_NEXT_${k}`)), await timed('access', () => access('BEFORE_A')), await timed('job access', () => accessAsJob('BEFORE_B'))]) {
            next.push({ what: r.what, status: r.status, ms: r.ms });
            expect({ k, what: r.what, status: r.status, retryAfter: r.retryAfter !== undefined, fast: r.ms < 3_000 }).toEqual({ k, what: r.what, status: 503, retryAfter: true, fast: true });
            expect(JSON.stringify(r.body)).not.toContain(MARK);
          }
        }
      } finally {
        proxy.forward();
      }
      const backAt = Date.now();
      console.log(`OpenBao black-hole (breaker): first ${JSON.stringify(first.map(({ what, status, ms }) => ({ what, status, ms })))}, next ${next.length} requests ${JSON.stringify(next.map((r) => r.ms))} ms`);
      for (const r of first) expect({ what: r.what, status: r.status, retryAfter: r.retryAfter !== undefined, inBound: r.ms < 8_000 }).toEqual({ what: r.what, status: 503, retryAfter: true, inBound: true });
      const recovered = await eventually(
        async () => [(await create(`AFTER_FAST_${Date.now()}`)).status, (await accessAsJob('BEFORE_B')).status, (await request(t.app.getHttpServer()).get('/readyz')).status],
        (st) => st.every((x) => x === 201 || x === 200),
        5_000,
        100,
      );
      const recoveredMs = Date.now() - backAt;
      console.log(`OpenBao black-hole (breaker): create 201, job access 200 and /readyz 200 ${recoveredMs} ms after OpenBao answered again`);
      expect(recovered).toEqual([201, 200, 200]);
    });
  });
}
