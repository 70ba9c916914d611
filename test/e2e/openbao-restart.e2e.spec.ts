import { randomUUID } from 'node:crypto';
import vault from 'node-vault';
import request from 'supertest';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { ProjectorModule } from '../../apps/projector/src/projector.module';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { PrivateOpenBao, startPrivateOpenBao } from '../support/private-openbao';
import { scratchDatabase } from '../support/scratch-database';

// The whole production profile (command-api, projector, auditor in one process) on PostgreSQL and
// a PRIVATE OpenBao dev server, which is then restarted empty — what dev mode does, and what an
// OpenBao restored from an old backup looks like. Readiness must say so, the JWT mount and the
// roles must come back by themselves within seconds, no read-model row may be lost, values that
// are gone answer 503 and are recorded as not delivered, and new secrets work again.
const DATABASE_URL = process.env.DATABASE_URL;
const CANARY = `restart-canary-${randomUUID()}`;

if (!DATABASE_URL || !process.env.BAO_ADDR) {
  console.warn('SKIPPED OpenBao restart e2e: DATABASE_URL and the stack (BAO_ADDR, BAO_BIN) must be set (scripts/test-all sets them)');
  describe.skip('OpenBao restarted empty — SKIPPED, servers not set', () => it('needs the stack', () => undefined));
} else {
  describe('production profile: OpenBao restarted empty under a running service', () => {
    let bao: PrivateOpenBao;
    let db: { url: string; drop(): Promise<void> };
    let t: EmbeddedApp;
    let http: ReturnType<typeof request>;
    const P = `restart-${randomUUID().slice(0, 8)}`;
    const MOUNT = 'jwt-ci-restart';
    const scope = { environment: 'production', branch: 'main', protectedOnly: true };
    const role = ciRoleName(P, scope);
    const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
    let owner: string;
    let job: string;

    beforeAll(async () => {
      bao = await startPrivateOpenBao(`restart-root-${randomUUID()}`);
      db = await scratchDatabase(DATABASE_URL, 'bao_restart');
      t = await startEmbedded({ env: { PROFILE: 'production', DATABASE_URL: db.url, DEV_ISSUER: '1', BAO_ADDR: bao.addr, BAO_TOKEN: bao.token, BAO_JWT_MOUNT: MOUNT, BAO_KV_PREFIX: 'ps-restart', BAO_AUDIT_FILE: '' } });
      http = request(t.app.getHttpServer());
      const admin = await t.userToken('root', { admin: true });
      owner = await t.userToken('olive');
      job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production', pipeline: '7', job: '70' });
      expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      await bao?.stop();
      await db?.drop();
    });

    const root = () => vault({ endpoint: bao.addr, token: bao.token });
    /** A CI job's own login to its role, then a read of what the service's metadata names (or a 403/404). */
    const directRead = async (name: string): Promise<string> => {
      const meta = await http.get(`/v1/projects/${P}/secrets/${name}`).set(auth(job));
      const path = (meta.body.openbao as { path: string; version: number }).path;
      const login = await root().write(`auth/${MOUNT}/login`, { role, jwt: job });
      const asJob = vault({ endpoint: bao.addr, token: login.auth.client_token });
      try {
        return (await asJob.read(path)).data.data.value as string; // the metadata names the full API path
      } finally {
        await asJob.tokenRevokeSelf().catch(() => undefined);
      }
    };
    const create = (name: string, value: string) => http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name, value, ...scope });
    const rows = async () =>
      (
        await t.infra.sql.query<{ t: string; n: string }>(
          `SELECT 'secrets' AS t, count(*)::text AS n FROM rm_secrets WHERE project_id = $1
           UNION ALL SELECT 'versions', count(*)::text FROM rm_secret_versions WHERE project_id = $1`,
          [P],
        )
      ).rows;
    const stateLost = async () => (await t.infra.metrics.openBaoStateLost.get()).values.map((v) => `${v.labels.what}:${v.value}`).sort();

    it('readiness fails, the mount and roles come back within seconds, no read-model row is lost, lost values are 503 and recorded, new secrets work', async () => {
      expect((await create('OLD_TOKEN', `${CANARY}-old`)).status).toBe(201);
      expect((await http.put(`/v1/projects/${P}/secrets/OLD_TOKEN/value`).set(auth(owner)).send({ value: `${CANARY}-old-2` })).status).toBe(200);
      // The projector rendered the role: the job reads directly.
      expect(await eventually(() => directRead('OLD_TOKEN').catch(() => ''), (v) => v === `${CANARY}-old-2`, 20_000)).toBe(`${CANARY}-old-2`);
      expect((await eventually(() => http.get('/readyz'), (r) => r.status === 200, 20_000)).status).toBe(200);
      // The read model is a projection of its own (the role above is the reconciler's): wait for it.
      const before = await eventually(rows, (r) => JSON.stringify(r) === JSON.stringify([{ t: 'secrets', n: '1' }, { t: 'versions', n: '2' }]), 20_000);
      expect(before).toEqual([{ t: 'secrets', n: '1' }, { t: 'versions', n: '2' }]);

      await bao.restartEmpty();
      const restartedAt = Date.now();
      expect(await root().list(`auth/${MOUNT}/role`).catch((e: { response?: { statusCode?: number } }) => e.response?.statusCode)).not.toHaveProperty('data');

      // Readiness says so (once: the sentinel is written again, so new values work).
      const unready = await eventually(() => http.get('/readyz'), (r) => r.status === 503, 10_000, 100);
      expect(unready.status).toBe(503);
      expect(unready.body.checks['value-store']).toBe('down');
      // The first 503 may come from OpenBao being unreachable while it restarts (token lookup or the
      // breaker), before any sentinel check ran: readiness checks run on /readyz, so keep asking it
      // until the sentinel check has found the data gone and said so.
      const lostLogged = () => t.logs.some((l) => l.includes('OpenBao lost the service data') && l.includes('"level":"error"'));
      expect(await eventually(async () => (await http.get('/readyz'), lostLogged()), (ok) => ok, 10_000, 100)).toBe(true);

      // The mount, its config and the role come back by themselves (the projector's prepared-check), within 5 s.
      expect(await eventually(() => root().read(`auth/${MOUNT}/role/${role}`).then(() => true, () => false), (ok) => ok, 10_000, 100)).toBe(true);
      const recoveredInMs = Date.now() - restartedAt;
      console.log(`OpenBao restarted empty: role ${role} back after ${recoveredInMs} ms`);
      expect(recoveredInMs).toBeLessThan(5_000);
      expect(await stateLost()).toEqual(['jwt-mount:1', 'kv-sentinel:1']);
      expect((await eventually(() => http.get('/readyz'), (r) => r.status === 200, 10_000, 100)).status).toBe(200);

      // The old value is gone from OpenBao: 503, recorded as not delivered — never a 500, never a value.
      const lost = await http.post(`/v1/projects/${P}/secrets/OLD_TOKEN/access`).set(auth(job)).send({});
      expect([lost.status, lost.body.value]).toEqual([503, undefined]);
      const trail = await t.infra.eventStore.readStream(`access-${P}/OLD_TOKEN`);
      expect(trail.slice(-2).map((e) => [e.type, e.data.reason])).toEqual([
        ['SecretAccessed', undefined],
        ['SecretValueNotDelivered', 'value-missing'],
      ]);
      // No read-model row lost (a restarted KV numbers versions from 1 again; rows are keyed by event).
      expect(await rows()).toEqual(before);

      // New values work again, through the service and directly.
      expect((await create('NEW_TOKEN', `${CANARY}-new`)).status).toBe(201);
      const got = await http.post(`/v1/projects/${P}/secrets/NEW_TOKEN/access`).set(auth(job)).send({});
      expect([got.status, got.body.value]).toEqual([200, `${CANARY}-new`]);
      expect(await eventually(() => directRead('NEW_TOKEN').catch(() => ''), (v) => v === `${CANARY}-new`, 20_000)).toBe(`${CANARY}-new`);
      // And a new version of the old secret makes it readable again.
      expect((await http.put(`/v1/projects/${P}/secrets/OLD_TOKEN/value`).set(auth(owner)).send({ value: `${CANARY}-old-3` })).status).toBe(200);
      expect((await http.post(`/v1/projects/${P}/secrets/OLD_TOKEN/access`).set(auth(job)).send({})).body.value).toBe(`${CANARY}-old-3`);
      expect(t.logs.some((l) => l.includes(CANARY))).toBe(false);
    }, 120_000);

    // Issue 18, 14: in the moment before the projector enables the JWT mount again (held here, so the
    // moment lasts), OpenBao answers "no handler for route" (404) and then, mount enabled but not yet
    // configured, "could not load configuration" (400). Neither is a refusal or a missing value: both
    // are 503 with Retry-After, never a 500 (was: 500, "OpenBao 404: no handler for route …").
    it('a CI job access while the JWT mount is missing or not configured yet answers 503 + Retry-After, and works once the projector set it up', async () => {
      expect((await create('MOUNT_GONE', `${CANARY}-mg`)).status).toBe(201);
      expect(await eventually(() => directRead('MOUNT_GONE').catch(() => ''), (v) => v === `${CANARY}-mg`, 20_000)).toBe(`${CANARY}-mg`);
      const reconciler = t.app.get(ProjectorModule).reconciler;
      const schedule = reconciler.schedule.bind(reconciler);
      reconciler.stop();
      reconciler.schedule = () => undefined; // the projector is "slow": it does not set the mount up until released below
      await reconciler.idle();
      const jobAccess = () => http.post(`/v1/projects/${P}/secrets/MOUNT_GONE/access`).set(auth(job)).send({});
      const seen: unknown[] = [];
      try {
        await root().disableAuth({ mount_point: MOUNT });
        const gone = await jobAccess();
        await root().enableAuth({ mount_point: MOUNT, type: 'jwt' });
        const unconfigured = await jobAccess();
        for (const [what, r] of [['mount missing', gone], ['mount not configured', unconfigured]] as const) {
          const valueInBody = JSON.stringify(r.body).includes(CANARY);
          seen.push({ what, status: r.status, retryAfter: r.headers['retry-after'] !== undefined, problem: /problem\+json/.test(String(r.headers['content-type'])), valueInBody, detail: r.body.detail });
        }
      } finally {
        reconciler.schedule = schedule;
        reconciler.watchPrepared(2_000);
        schedule(0);
      }
      expect(seen).toEqual([
        { what: 'mount missing', status: 503, retryAfter: true, problem: true, valueInBody: false, detail: expect.any(String) },
        { what: 'mount not configured', status: 503, retryAfter: true, problem: true, valueInBody: false, detail: expect.any(String) },
      ]);
      // Each is recorded as not delivered, and the projector's set-up makes the job's access work again.
      const trail = await t.infra.eventStore.readStream(`access-${P}/MOUNT_GONE`);
      expect(trail.filter((e) => e.type === 'SecretValueNotDelivered').map((e) => e.data.reason)).toEqual(['value-store-unavailable', 'value-store-unavailable']);
      const back = await eventually(jobAccess, (r) => r.status === 200, 20_000, 100);
      expect([back.status, back.body.value]).toEqual([200, `${CANARY}-mg`]);
      expect(t.logs.filter((l) => l.includes('"level":"error"') && l.includes('unhandled error'))).toEqual([]);
    }, 60_000);
  });
}
