import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { RecordedEvent } from '@app/domain';
import { OpenBaoValueStore } from '@app/infra/value-store/openbao-value-store';
import { INLINE_AUTH_MAX_READS } from '../../apps/command-api/src/secrets/secret-access';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { withClockAt } from '../support/profiles';

// POST /v1/projects/{projectId}/secrets/access: many secrets in one call (API.md "Many secrets in
// one call"), in the embedded profile and, with the stack, the production profile (PostgreSQL +
// OpenBao, the CI job reading as itself with one login per scope role).

const DATABASE_URL = process.env.DATABASE_URL;
const BAO_ADDR = process.env.BAO_ADDR;
const BAO_TOKEN = process.env.BAO_TOKEN;

const profiles: [string, () => Record<string, string>][] = [['embedded', () => ({})]];
if (DATABASE_URL && BAO_ADDR && BAO_TOKEN) {
  const run = randomUUID().slice(0, 8);
  profiles.push(['production', () => ({ PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', BAO_ADDR, BAO_TOKEN, BAO_JWT_MOUNT: `jwt-batch-${run}`, BAO_KV_PREFIX: `ps-batch-${run}` })]);
} else {
  console.warn('batch-access e2e: production profile SKIPPED (DATABASE_URL, BAO_ADDR, BAO_TOKEN not set; scripts/test-all sets them)');
}

describe.each(profiles)('batch access (%s profile)', (profile, envOf) => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const P = `batch-${randomUUID().slice(0, 8)}`;
  const CANARY = `batch-canary-${randomUUID()}`;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  const prod = { environment: 'production', branch: 'main', protectedOnly: true };
  const unscoped = { environment: null, branch: null, protectedOnly: false };
  let owner: string;
  const batch = (token: string, body: unknown) => http.post(`/v1/projects/${P}/secrets/access`).set(auth(token)).send(body as object);
  const accessLog = async (): Promise<RecordedEvent[]> => t.infra.eventStore.readStream(`access-${P}`);
  const secretLog = async (name: string): Promise<RecordedEvent[]> => t.infra.eventStore.readStream(`access-${P}/${name}`);

  beforeAll(async () => {
    t = await startEmbedded({ env: envOf() });
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    owner = await t.userToken('olive');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    const create = (body: object) => http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send(body);
    for (const n of ['PROD_A', 'PROD_B', 'PROD_C']) expect((await create({ name: n, value: `${CANARY}-${n}`, ...prod })).status).toBe(201);
    for (const n of ['SHARED_A', 'SHARED_B']) expect((await create({ name: n, value: `${CANARY}-${n}` })).status).toBe(201);
    expect((await create({ name: 'STAGING_ONLY', value: `${CANARY}-STAGING_ONLY`, environment: 'staging' })).status).toBe(201);
  }, 60_000);
  afterAll(() => t?.close());

  it('a CI job gets its allowed values and a list of the denied names; every decision is its own event and no denied value leaks', async () => {
    const job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production', pipeline: '7', job: '70' });
    const before = (await accessLog()).length;
    const r = await batch(job, { names: ['PROD_A', 'SHARED_A', 'STAGING_ONLY', 'NOPE', 'PROD_B'], purpose: 'deploy' });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.body.items).toEqual([
      { name: 'PROD_A', version: 1, value: `${CANARY}-PROD_A`, source: { type: 'project', id: P } },
      { name: 'SHARED_A', version: 1, value: `${CANARY}-SHARED_A`, source: { type: 'project', id: P } },
      { name: 'PROD_B', version: 1, value: `${CANARY}-PROD_B`, source: { type: 'project', id: P } },
    ]);
    expect(r.body.denied).toEqual([
      { name: 'STAGING_ONLY', reason: 'environment-mismatch' },
      { name: 'NOPE', reason: 'secret-not-found' },
    ]);
    expect(JSON.stringify(r.body)).not.toContain(`${CANARY}-STAGING_ONLY`);
    // The allowed decisions: one append (one commit) to the project's access log, each naming its secret, the job and the purpose.
    const allowed = (await accessLog()).slice(before).filter((e) => e.type === 'SecretAccessed');
    expect(allowed.map((e) => e.data.name)).toEqual(['PROD_A', 'SHARED_A', 'PROD_B']);
    expect(new Set(allowed.map((e) => String(e.position.commit))).size).toBe(1);
    for (const e of allowed) expect(e.data).toMatchObject({ projectId: P, purpose: 'deploy', principal: { type: 'ci-job', jobId: '70', pipelineId: '7' } });
    // Each denial its own SecretAccessDenied, as for the single-secret call.
    expect((await secretLog('STAGING_ONLY')).map((e) => [e.type, e.data.reason])).toEqual([['SecretAccessDenied', 'environment-mismatch']]);
    expect((await secretLog('NOPE')).map((e) => [e.type, e.data.reason])).toEqual([['SecretAccessDenied', 'secret-not-found']]);
    const everything = JSON.stringify([...(await accessLog()), ...(await secretLog('STAGING_ONLY'))].map((e) => [e.data, e.metadata]));
    expect(everything).not.toContain(CANARY);
    // A reviewer sees each decision of the call in access-history, like single accesses.
    const history = await eventually(
      async () => (await http.get(`/v1/projects/${P}/access-history`).query({ pipeline: '7' }).set(auth(owner))).body.items as { secret: string; decision: string; channel: string }[],
      (items) => items?.length === 5,
      15_000,
    );
    expect(history.map((i) => [i.secret, i.decision, i.channel]).sort()).toEqual([
      ['NOPE', 'denied', 'api'],
      ['PROD_A', 'allowed', 'api'],
      ['PROD_B', 'allowed', 'api'],
      ['SHARED_A', 'allowed', 'api'],
      ['STAGING_ONLY', 'denied', 'api'],
    ]);
  });

  it('a user reads through grants: the grant is named per decision; a revocation applies to the very next batch', async () => {
    const admin = await t.userToken('olive');
    const g = await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'rita' }, role: 'developer', environment: 'production' });
    expect(g.status).toBe(201);
    const rita = await t.userToken('rita');
    const ok = await batch(rita, { names: ['PROD_C', 'STAGING_ONLY'] });
    expect(ok.status).toBe(200);
    expect(ok.body.items.map((i: { name: string }) => i.name)).toEqual(['PROD_C']);
    expect(ok.body.denied.map((d: { name: string }) => d.name)).toEqual(['STAGING_ONLY']);
    const last = (await accessLog()).filter((e) => e.type === 'SecretAccessed').pop()!;
    expect(last.data.via).toMatchObject({ grantId: g.body.grantId });
    expect((await http.delete(`/v1/projects/${P}/grants/${g.body.grantId}`).set(auth(admin))).status).toBe(204);
    const after = await batch(rita, { names: ['PROD_C'] });
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ items: [], denied: [{ name: 'PROD_C', reason: 'grant-revoked' }] });
  });

  it('a narrowed scope takes effect on the very next batch of a CI job', async () => {
    const job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
    expect((await batch(job, { names: ['PROD_C'] })).body.items).toHaveLength(1);
    expect((await http.patch(`/v1/projects/${P}/secrets/PROD_C`).set(auth(owner)).send({ environment: 'production-eu' })).status).toBe(200);
    const r = await batch(job, { names: ['PROD_C', 'PROD_A'] });
    expect(r.body.items.map((i: { name: string }) => i.name)).toEqual(['PROD_A']);
    expect(r.body.denied).toEqual([{ name: 'PROD_C', reason: 'environment-mismatch' }]);
  });

  it('a job of another project gets nothing, each name recorded as denied', async () => {
    const other = await t.ciToken({ project: `${P}-x`, ref: 'main', protected: true, environment: 'production' });
    const r = await batch(other, { names: ['PROD_A', 'SHARED_A'] });
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([]);
    expect(r.body.denied.map((d: { reason: string }) => d.reason)).toEqual(['other-project', 'other-project']);
    expect(JSON.stringify(r.body)).not.toContain(CANARY);
  });

  it('every denied name of one call is its own SecretAccessDenied, not folded into a nameless summary', async () => {
    const job = await t.ciToken({ project: P, ref: `fold-${randomUUID().slice(0, 8)}`, protected: true, environment: 'production', pipeline: '8', job: '80' });
    const names = ['FOLD_1', 'FOLD_2', 'FOLD_3', 'FOLD_4'];
    const r = await batch(job, { names, purpose: 'fold' });
    expect(r.status).toBe(200);
    expect(r.body.denied.map((x: { reason: string }) => x.reason)).toEqual(names.map(() => 'secret-not-found'));
    const recorded = [];
    for (const n of names) recorded.push(...(await secretLog(n)).filter((e) => e.type === 'SecretAccessDenied'));
    expect(recorded.map((e) => e.data.name).sort()).toEqual(names);
  });

  it("one job's batch of denied names spends its own denial budget, never another job's on the same ref", async () => {
    const ref = `budget-${randomUUID().slice(0, 8)}`;
    const noisy = await t.ciToken({ project: P, ref, pipeline: '9', job: '90' });
    const many = await batch(noisy, { names: Array.from({ length: 61 }, (_, i) => `NOPE_${i}`) });
    expect(many.status).toBe(200); // 61 denials of one call: 60 recorded, the 61st folded; its own denials never make it a 429
    expect(many.body.denied).toHaveLength(61);
    // Another job on the same ref (same `sub`) still has its own budget, and its allowed name is served.
    const other = await t.ciToken({ project: P, ref, pipeline: '9', job: '91' });
    const r = await batch(other, { names: ['SHARED_A', 'OPTIONAL_MISSING'] });
    expect({ status: r.status, items: r.body.items?.map((i: { name: string }) => i.name) }).toEqual({ status: 200, items: ['SHARED_A'] });
  });

  it('bad bodies are 400 naming the field, and nothing is read', async () => {
    const job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
    const before = (await accessLog()).length;
    const names101 = Array.from({ length: 101 }, (_, i) => `N_${i}`);
    for (const body of [
      { names: names101 },
      { names: [] },
      { names: ['PROD_A', 'PROD_A'] },
      { names: ['prod_a'] },
      { names: ['PROD_A', null] },
      { names: null },
      { names: 'PROD_A' },
      {},
      { names: ['PROD_A'], purpose: null },
      { names: ['PROD_A\ud800'] },
    ]) {
      const r = await batch(job, body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.headers['content-type']).toMatch(/problem\+json/);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(Object.keys(body).includes('purpose') ? 'purpose' : 'names');
    }
    expect((await accessLog()).length).toBe(before);
    // A purpose the decision refuses: 400, no value, but the denials of the call are still recorded.
    const bad = await batch(job, { names: ['PROD_A', 'STAGING_ONLY'], purpose: 'x\u0007' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).not.toContain(CANARY);
    expect((await accessLog()).length).toBe(before);
    expect((await secretLog('STAGING_ONLY')).filter((e) => e.type === 'SecretAccessDenied').length).toBeGreaterThan(1);
  });

  if (profile === 'production') {
    it('the job reads as itself through OpenBao: with inline auth (its JWT and the role of each secret\'s scope on every read, issue 23) up to INLINE_AUTH_MAX_READS per role, no login, nothing to revoke', async () => {
      const store = t.infra.valueStore as OpenBaoValueStore;
      const roles = [ciRoleName(P, prod), ciRoleName(P, unscoped)];
      const root = (await import('node-vault')).default({ endpoint: BAO_ADDR, token: BAO_TOKEN });
      await eventually(() => root.list(`auth/${envOf().BAO_JWT_MOUNT}/role`).then((r: { data: { keys: string[] } }) => r.data.keys, () => []), (k: string[]) => roles.every((n) => k.includes(n)), 20_000);
      // Wait until the projector has rendered both roles' policies with every secret (a warm-up batch reads without a fallback).
      const warm = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
      const fallbacks = async () => (await t.infra.metrics.brokeredReads.get()).values.find((v) => v.labels.as === 'service-fallback')?.value ?? 0;
      await eventually(async () => {
        const f = await fallbacks();
        await batch(warm, { names: ['PROD_A', 'PROD_B', 'SHARED_A', 'SHARED_B'] });
        return (await fallbacks()) - f;
      }, (d) => d === 0, 20_000);
      const logins: string[] = [];
      const inline: string[] = [];
      const asJob = store.asJob.bind(store);
      const readInline = store.readInline.bind(store);
      store.asJob = (jwt, role, fn) => {
        logins.push(role);
        return asJob(jwt, role, fn);
      };
      store.readInline = (ref, jwt, role, id) => {
        inline.push(role);
        return readInline(ref, jwt, role, id);
      };
      const metric = async (as: string) => (await t.infra.metrics.brokeredReads.get()).values.find((v) => v.labels.as === as)?.value ?? 0;
      const [jobBefore, fallbackBefore] = [await metric('job'), await metric('service-fallback')];
      const job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
      let r;
      try {
        r = await batch(job, { names: ['PROD_A', 'PROD_B', 'SHARED_A', 'SHARED_B'] });
      } finally {
        store.asJob = asJob;
        store.readInline = readInline;
      }
      expect(r.status).toBe(200);
      expect(r.body.items.map((i: { value: string }) => i.value)).toEqual(['PROD_A', 'PROD_B', 'SHARED_A', 'SHARED_B'].map((n) => `${CANARY}-${n}`));
      expect(INLINE_AUTH_MAX_READS).toBeGreaterThanOrEqual(2);
      expect({ logins, inline: inline.sort() }).toEqual({ logins: [], inline: [roles[0], roles[0], roles[1], roles[1]].sort() });
      expect([(await metric('job')) - jobBefore, (await metric('service-fallback')) - fallbackBefore]).toEqual([4, 0]);
    });

    it('more than INLINE_AUTH_MAX_READS reads of one role: one login as the job for all of them, no inline read (issue 23)', async () => {
      const store = t.infra.valueStore as OpenBaoValueStore;
      const names = Array.from({ length: INLINE_AUTH_MAX_READS + 1 }, (_, i) => `PROD_BULK_${i}`);
      for (const n of names) expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: n, value: `${CANARY}-${n}`, ...prod })).status).toBe(201);
      const fallbacks = async () => (await t.infra.metrics.brokeredReads.get()).values.find((v) => v.labels.as === 'service-fallback')?.value ?? 0;
      const warm = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
      // until the projector has put the new secrets in the role's policy (no read falls back to the service token)
      await eventually(async () => {
        const f = await fallbacks();
        await batch(warm, { names });
        return (await fallbacks()) - f;
      }, (d) => d === 0, 20_000);
      const logins: string[] = [];
      const inline: string[] = [];
      const asJob = store.asJob.bind(store);
      const readInline = store.readInline.bind(store);
      store.asJob = (jwt, role, fn) => {
        logins.push(role);
        return asJob(jwt, role, fn);
      };
      store.readInline = (ref, jwt, role, id) => {
        inline.push(role);
        return readInline(ref, jwt, role, id);
      };
      let r;
      try {
        r = await batch(await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' }), { names });
      } finally {
        store.asJob = asJob;
        store.readInline = readInline;
      }
      expect(r.status).toBe(200);
      expect(r.body.items.map((i: { value: string }) => i.value)).toEqual(names.map((n) => `${CANARY}-${n}`));
      expect({ logins, inline }).toEqual({ logins: [ciRoleName(P, prod)], inline: [] });
    });

    it("OpenBao's refusal holds once the role is long projected: a tightened role is not overridden by the service token", async () => {
      const root = (await import('node-vault')).default({ endpoint: BAO_ADDR, token: BAO_TOKEN });
      const mount = envOf().BAO_JWT_MOUNT;
      const role = ciRoleName(P, prod);
      const original = (await root.read(`auth/${mount}/role/${role}`)).data;
      // An operator (or an attacker with the root token) tightens the role in OpenBao: no job matches it any more.
      await root.write(`auth/${mount}/role/${role}`, { ...original, bound_claims: { ...original.bound_claims, project_id: 'nobody-at-all' } });
      const metric = async (as: string) => (await t.infra.metrics.brokeredReads.get()).values.find((v) => v.labels.as === as)?.value ?? 0;
      const job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
      try {
        // Two minutes on (past the projection grace): OpenBao's refusal stands, nothing leaves, the trail says so.
        const [refusedBefore, fallbackBefore] = [await metric('refused-by-openbao'), await metric('service-fallback')];
        const later = Date.now() + 120_000;
        const one = await withClockAt(later, () => http.post(`/v1/projects/${P}/secrets/PROD_B/access`).set(auth(job)).send({}));
        expect([one.status, one.body.reason]).toEqual([403, 'openbao-denied']);
        expect(JSON.stringify(one.body)).not.toContain(CANARY);
        const r = await withClockAt(later, () => batch(job, { names: ['PROD_A', 'SHARED_B'] }));
        expect(r.status).toBe(200);
        expect(r.body.items.map((i: { name: string }) => i.name)).toEqual(['SHARED_B']);
        expect(r.body.denied).toEqual([{ name: 'PROD_A', reason: 'openbao-denied' }]);
        expect(JSON.stringify(r.body)).not.toContain(`${CANARY}-PROD_A`);
        expect([(await metric('refused-by-openbao')) - refusedBefore, (await metric('service-fallback')) - fallbackBefore]).toEqual([2, 0]);
        const trail = (await secretLog('PROD_B')).slice(-2);
        expect(trail.map((e) => [e.type, e.data.reason])).toEqual([['SecretAccessed', undefined], ['SecretValueNotDelivered', 'openbao-denied']]);
        expect(trail[1].data.accessEventId).toBe(trail[0].eventId);
        const batchTrail = (await accessLog()).filter((e) => e.type === 'SecretValueNotDelivered').pop()!;
        expect(batchTrail.data).toMatchObject({ name: 'PROD_A', reason: 'openbao-denied' });
      } finally {
        await root.write(`auth/${mount}/role/${role}`, original);
      }
    });
  }
});

// Issue 18 item 3: a batch of 100 denied names spent one unit of the denial rate but recorded 100
// SecretAccessDenied, so a stranger wrote 100x the rate in permanent audit records. Each denied
// name spends a unit; past the rate the names of a call fold into one rate-limited summary, and
// only a call made when the budget is already spent is a 429 (a96b374: a batch's own denials never
// turn its allowed names into a 429).
describe.each(profiles)('batch access: the denial records one principal causes stay within the denial rate (%s profile)', (_profile, envOf) => {
  const RATE = 20;
  const WINDOW_SECONDS = 2;
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const P = `batch-rate-${randomUUID().slice(0, 8)}`;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  const batch = (token: string, body: unknown) => http.post(`/v1/projects/${P}/secrets/access`).set(auth(token)).send(body as object);
  /** Every denial record (SecretAccessDenied in the names' logs, SecretAccessDenialsSuppressed in the project's) of one principal id. */
  const recordsOf = async (principalId: string, names: string[]) => {
    const logs = await Promise.all([`access-${P}`, ...names.map((n) => `access-${P}/${n}`)].map((s) => t.infra.eventStore.readStream(s)));
    const mine = logs.flat().filter((e) => (e.data as { principal?: { id?: string } }).principal?.id === principalId);
    return {
      denied: mine.filter((e) => e.type === 'SecretAccessDenied'),
      summaries: mine.filter((e) => e.type === 'SecretAccessDenialsSuppressed').map((e) => e.data as { count: number; rateLimited: number; reason: string }),
    };
  };

  beforeAll(async () => {
    t = await startEmbedded({ env: { ...envOf(), DENIAL_RATE_PER_MINUTE: String(RATE), DENIAL_SUMMARY_WINDOW_SECONDS: String(WINDOW_SECONDS) } });
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    const owner = await t.userToken('olive');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: 'SHARED_A', value: 'shared-a' })).status).toBe(201);
  }, 60_000);
  afterAll(() => t?.close());

  it('a stranger sending batches of 100 denied names records at most the rate of SecretAccessDenied, the rest folded into rate-limited summaries', async () => {
    const who = `eve-${randomUUID().slice(0, 8)}`;
    const stranger = await t.userToken(who);
    const names = (b: number) => Array.from({ length: 100 }, (_, i) => `RATE_${b}_${i}`);
    const started = Date.now();
    const statuses: number[] = [];
    for (let b = 0; b < 3; b++) statuses.push((await batch(stranger, { names: names(b) })).status);
    const all = [0, 1, 2].flatMap(names);
    const now = await recordsOf(who, all);
    // Before the fix: [200, 200, 200] and 300 SecretAccessDenied (100 per call, one unit of the rate per call).
    expect({ statuses, denied: now.denied.length }).toEqual({ statuses: [200, 429, 429], denied: RATE });
    // Nothing is lost: the 80 names past the rate of the first call are counted in the rate-limited summary (the 429 calls too).
    const later = await eventually(() => recordsOf(who, all), (r) => r.summaries.reduce((n, s) => n + s.count, 0) >= 80 + 200, 15_000);
    expect(later.denied).toHaveLength(RATE);
    expect(later.summaries.reduce((n, s) => n + s.count, 0)).toBe(80 + 200);
    expect(later.summaries.every((s) => s.reason === 'rate-limited' && s.count === s.rateLimited)).toBe(true);
    // The records: the rate, plus one summary per closed summary window.
    expect(later.summaries.length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1000 / WINDOW_SECONDS) + 1);
  }, 30_000);

  it("a batch's own denials never turn its allowed names into a 429; the next call with a denial, once the rate is spent, is one", async () => {
    const job = await t.ciToken({ project: P, ref: `rate-${randomUUID().slice(0, 8)}`, pipeline: '31', job: '310' });
    const missing = Array.from({ length: 40 }, (_, i) => `GONE_${i}`);
    const first = await batch(job, { names: ['SHARED_A', ...missing] });
    expect({ status: first.status, items: first.body.items?.map((i: { name: string }) => i.name), denied: first.body.denied?.length }).toEqual({ status: 200, items: ['SHARED_A'], denied: 40 });
    const second = await batch(job, { names: ['SHARED_A', 'GONE_X'] });
    expect(second.status).toBe(429);
    expect(Number(second.headers['retry-after'])).toBeGreaterThan(0);
    expect(second.text).not.toContain('shared-a');
    // A call with no denial is still served.
    expect((await batch(job, { names: ['SHARED_A'] })).status).toBe(200);
    // Its 40 denials: RATE recorded one by one, the rest counted in a summary.
    const logs = await Promise.all(missing.map((n) => t.infra.eventStore.readStream(`access-${P}/${n}`)));
    expect(logs.flat().filter((e) => e.type === 'SecretAccessDenied' && (e.data as { principal: { jobId?: string } }).principal.jobId === '310')).toHaveLength(RATE);
  });
});
