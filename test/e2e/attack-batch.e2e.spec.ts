import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { globMatches, RecordedEvent, SecretScope } from '@app/domain';
import { mintCiToken } from '@app/infra/auth/dev-issuer';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';

// Attacks on batch access, the per-version KV layout and its policies, metadata reads by CI jobs and
// the scopes that get an OpenBao role, against the real stack (production profile: PostgreSQL +
// OpenBao, a private JWT mount and KV prefix). Every test here states the behaviour that must hold.

const DATABASE_URL = process.env.DATABASE_URL;
const BAO_ADDR = process.env.BAO_ADDR;
const BAO_TOKEN = process.env.BAO_TOKEN;
const haveStack = Boolean(DATABASE_URL && BAO_ADDR && BAO_TOKEN);
if (!haveStack) console.warn('attack-batch e2e: SKIPPED (DATABASE_URL, BAO_ADDR, BAO_TOKEN not set; scripts/test-all sets them)');
const d = haveStack ? describe : describe.skip;

const run = randomUUID().slice(0, 8);
const MOUNT = `jwt-atk-${run}`;
const PREFIX = `ps-atk-${run}`;

d('attacks on batch access and the per-version layout (production profile)', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const P = `atk-${randomUUID().slice(0, 8)}`;
  const Q = `${P}-x`; // another project
  const CANARY = `atk-canary-${randomUUID()}`;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  const prod: SecretScope = { environment: 'production', branch: 'main', protectedOnly: true };
  const staging: SecretScope = { environment: 'staging', branch: null, protectedOnly: false };
  const unscoped: SecretScope = { environment: null, branch: null, protectedOnly: false };
  let owner: string;
  const batch = (token: string, body: unknown, project = P) => http.post(`/v1/projects/${project}/secrets/access`).set(auth(token)).send(body as object);
  const stream = async (name: string): Promise<RecordedEvent[]> => t.infra.eventStore.readStream(name);
  const ci = (o: { project?: string; ref: string; refType?: 'branch' | 'tag'; protected?: boolean; environment?: string; job?: string }) =>
    mintCiToken(t.infra.devIssuer!, 'pipeline-secrets', { project: P, ...o, ttlSeconds: 600 } as Parameters<typeof mintCiToken>[2]);
  const bao = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await fetch(`${BAO_ADDR}/v1/${path}`, { method, headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
    const text = await r.text();
    return { status: r.status, text };
  };
  const login = async (jwt: string, role: string) => {
    const r = await bao('POST', `auth/${MOUNT}/login`, '', { role, jwt });
    return r.status === 200 ? { status: 200, token: JSON.parse(r.text).auth.client_token as string } : { status: r.status, token: '' };
  };
  const openbaoOf = async (name: string) => (await http.get(`/v1/projects/${P}/secrets/${name}`).set(auth(owner))).body.openbao as { path: string; version: number; role: string };

  beforeAll(async () => {
    t = await startEmbedded({ env: { PROFILE: 'production', DATABASE_URL: DATABASE_URL!, DEV_ISSUER: '1', BAO_ADDR: BAO_ADDR!, BAO_TOKEN: BAO_TOKEN!, BAO_JWT_MOUNT: MOUNT, BAO_KV_PREFIX: PREFIX, DENIAL_RATE_PER_MINUTE: process.env.ATK_DENIAL_RATE ?? '100000' } });
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    owner = await t.userToken('olive');
    for (const project of [P, Q]) expect((await http.post(`/v1/projects/${project}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    const create = (body: object, project = P) => http.post(`/v1/projects/${project}/secrets`).set(auth(owner)).send(body);
    for (const n of ['PROD_A', 'PROD_B', 'PROD_RACE', 'PROD_DEL']) expect((await create({ name: n, value: `${CANARY}-${n}`, ...prod })).status).toBe(201);
    expect((await create({ name: 'SHARED_A', value: `${CANARY}-SHARED_A` })).status).toBe(201);
    expect((await create({ name: 'STAGING_A', value: `${CANARY}-STAGING_A`, environment: 'staging' })).status).toBe(201);
    expect((await create({ name: 'REL_STAR', value: `${CANARY}-REL_STAR`, branch: 'release/*' })).status).toBe(201);
    expect((await create({ name: 'REL_GLOBSTAR', value: `${CANARY}-REL_GLOBSTAR`, branch: 'release/**' })).status).toBe(201);
    expect((await create({ name: 'MID_GLOBSTAR', value: `${CANARY}-MID_GLOBSTAR`, branch: 'a**b' })).status).toBe(201);
    expect((await create({ name: 'DOTS', value: `${CANARY}-DOTS`, branch: 'v1.2.**', environment: 'prod-eu' })).status).toBe(201);
    expect((await create({ name: 'OTHER_SECRET', value: `${CANARY}-OTHER` }, Q)).status).toBe(201);
    // Wait until the projector has rendered the roles of every directly readable scope of P.
    const roles = [prod, unscoped, staging, { environment: null, branch: 'release/**', protectedOnly: false }, { environment: null, branch: 'a**b', protectedOnly: false }].map((s) => ciRoleName(P, s));
    await eventually(
      async () => {
        const r = await bao('LIST', `auth/${MOUNT}/role`, BAO_TOKEN!);
        return r.status === 200 ? (JSON.parse(r.text).data.keys as string[]) : [];
      },
      (k) => roles.every((n) => k.includes(n)),
      30_000,
    );
  }, 90_000);
  afterAll(async () => {
    await t?.close();
    // Clean the private mount and prefix off the shared OpenBao.
    await bao('DELETE', `sys/auth/${MOUNT}`, BAO_TOKEN!).catch(() => undefined);
    const policies = await bao('LIST', 'sys/policies/acl', BAO_TOKEN!).catch(() => undefined);
    const names = policies?.status === 200 ? (JSON.parse(policies.text).data.keys as string[]) : [];
    for (const n of names.filter((k) => k.startsWith(`ps-ci-${P}-`))) await bao('DELETE', `sys/policies/acl/${n}`, BAO_TOKEN!).catch(() => undefined);
  });

  it('batch: other project, unprotected ref, tag named like the branch, wrong environment: no value, each decision recorded, no OpenBao detail in the body', async () => {
    const cases: [string, string, string][] = [];
    const tokens = {
      otherProject: await ci({ project: Q, ref: 'main', protected: true, environment: 'production' }),
      unprotected: await ci({ ref: 'main', protected: false, environment: 'production' }),
      tag: await ci({ ref: 'main', refType: 'tag', protected: true, environment: 'production' }),
      wrongEnv: await ci({ ref: 'main', protected: true, environment: 'production-eu' }),
    };
    const expected: Record<string, string> = { otherProject: 'other-project', unprotected: 'unprotected-ref', tag: 'ref-type-mismatch', wrongEnv: 'environment-mismatch' };
    for (const [k, tok] of Object.entries(tokens)) {
      const r = await batch(tok, { names: ['PROD_A'], purpose: 'attack' });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ items: [], denied: [{ name: 'PROD_A', reason: expected[k] }] });
      const text = JSON.stringify(r.body);
      for (const s of [CANARY, PREFIX, 'bao:', '/data/', 'ps-ci-']) expect(text).not.toContain(s);
      cases.push([k, r.body.denied[0].reason, expected[k]]);
    }
    // One SecretAccessDenied per decision (distinct principals/reasons, so no folding applies).
    const denials = (await stream(`access-${P}/PROD_A`)).filter((e) => e.type === 'SecretAccessDenied' && e.data.purpose === 'attack');
    expect(denials.map((e) => e.data.reason).sort()).toEqual(Object.values(expected).sort());
    // A job of another project cannot read Q's own secrets through P's URL, nor P's through Q's.
    const qJob = await ci({ project: Q, ref: 'main', protected: true, environment: 'production' });
    expect((await batch(qJob, { names: ['OTHER_SECRET', 'SHARED_A'] }, P)).body.items).toEqual([]);
    const pJob = await ci({ ref: 'main', protected: true, environment: 'production' });
    expect((await batch(pJob, { names: ['OTHER_SECRET', 'SHARED_A'] }, Q)).body.items).toEqual([]);
  });

  it('batch: names that validation might normalise, odd types and a bad purpose are 400s with no value and no SecretAccessed', async () => {
    const job = await ci({ ref: 'main', protected: true, environment: 'production' });
    const before = (await stream(`access-${P}`)).filter((e) => e.type === 'SecretAccessed').length;
    for (const names of [['PROD_A '], [' PROD_A'], ['PROD_A\n'], ['PROD_\uff21'], ['PROD\u200bA'], ['prod_a'], ['PROD_A/../SHARED_A'], ['PROD_A%00'], [['PROD_A']], [{ toString: 'PROD_A' }], ['PROD_A', 'PROD_A\u0000']]) {
      const r = await batch(job, { names });
      expect({ names, status: r.status }).toEqual({ names, status: 400 });
      expect(JSON.stringify(r.body)).not.toContain(CANARY);
    }
    for (const purpose of ['x'.repeat(100_000), 'a\u0000b', 42, ['deploy'], { a: 1 }]) {
      const r = await batch(job, { names: ['PROD_A', 'SHARED_A'], purpose });
      expect({ purpose: JSON.stringify(purpose).slice(0, 20), status: r.status }).toEqual({ purpose: JSON.stringify(purpose).slice(0, 20), status: 400 });
      expect(JSON.stringify(r.body)).not.toContain(CANARY);
    }
    // A body that is not an object, or huge.
    for (const body of ['[]', '"x"', 'null', '{"names":', JSON.stringify({ names: Array.from({ length: 100_000 }, (_, i) => `N_${i}`) })]) {
      const r = await http.post(`/v1/projects/${P}/secrets/access`).set(auth(job)).set('Content-Type', 'application/json').send(body);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    expect((await stream(`access-${P}`)).filter((e) => e.type === 'SecretAccessed').length).toBe(before);
  });

  it('batch: the same name in another case of the project id, and project ids that differ only by normalisation, are refused', async () => {
    const job = await ci({ ref: 'main', protected: true, environment: 'production' });
    for (const project of [P.toUpperCase(), `${P}%20`, `${P}.`, encodeURIComponent(`${P}/`), `${P}%2e`]) {
      const r = await http.post(`/v1/projects/${project}/secrets/access`).set(auth(job)).send({ names: ['PROD_A'] });
      expect(r.status).toBeLessThan(500);
      expect(JSON.stringify(r.body)).not.toContain(CANARY);
    }
  });

  it('batch of 100 names mixing allowed and denied: only the allowed values, each allowed one a SecretAccessed in one append', async () => {
    const job = await ci({ ref: 'main', protected: true, environment: 'production', job: `hundred-${run}` });
    const allowed = ['PROD_A', 'PROD_B', 'SHARED_A'];
    const names = [...allowed, 'STAGING_A', 'REL_STAR', ...Array.from({ length: 95 }, (_, i) => `MISSING_${i}`)];
    const before = (await stream(`access-${P}`)).length;
    const r = await batch(job, { names, purpose: 'hundred' });
    // A batch's own denials never make it a 429 (only a budget spent before the call does: then no value at all).
    expect([200, 429]).toContain(r.status);
    const text = JSON.stringify(r.body);
    for (const n of ['STAGING_A', 'REL_STAR']) expect(text).not.toContain(`${CANARY}-${n}`);
    if (r.status === 200) {
      expect(r.body.items.map((i: { name: string }) => i.name)).toEqual(allowed);
      const accessed = (await stream(`access-${P}`)).slice(before).filter((e) => e.type === 'SecretAccessed');
      expect(accessed.map((e) => e.data.name)).toEqual(allowed);
    } else {
      expect(text).not.toContain(CANARY);
      expect((await stream(`access-${P}`)).slice(before).filter((e) => e.type === 'SecretAccessed')).toEqual([]);
    }
  });

  it('batch racing a DELETE and a scope change: never a 5xx, never a value of another secret, never an OpenBao path', async () => {
    const job = await ci({ ref: 'main', protected: true, environment: 'production' });
    const shots = Array.from({ length: 12 }, () => batch(job, { names: ['PROD_DEL', 'PROD_RACE', 'PROD_A'] }));
    const del = http.delete(`/v1/projects/${P}/secrets/PROD_DEL`).set(auth(owner));
    const patch = http.patch(`/v1/projects/${P}/secrets/PROD_RACE`).set(auth(owner)).send({ environment: 'production-eu' });
    const [rs, dr, pr] = await Promise.all([Promise.all(shots), del, patch]);
    expect([dr.status, pr.status]).toEqual([204, 200]);
    for (const r of rs) {
      expect(r.status).toBeLessThan(500);
      const text = JSON.stringify(r.body);
      for (const s of [PREFIX, 'bao:', '/data/']) expect(text).not.toContain(s);
      for (const i of r.body.items ?? []) expect(i.value).toBe(`${CANARY}-${i.name}`);
    }
    // After both commands: the very next batch sees them.
    const after = await batch(job, { names: ['PROD_DEL', 'PROD_RACE'] });
    expect(after.body).toEqual({ items: [], denied: [{ name: 'PROD_DEL', reason: 'secret-not-found' }, { name: 'PROD_RACE', reason: 'environment-mismatch' }] });
    // Every SecretAccessed of PROD_DEL that delivered nothing is corrected by a SecretValueNotDelivered.
    const log = await stream(`access-${P}`);
    const notDelivered = new Set(log.filter((e) => e.type === 'SecretValueNotDelivered').map((e) => e.data.accessEventId));
    const delivered = rs.flatMap((r) => (r.body.items ?? []).filter((i: { name: string }) => i.name === 'PROD_DEL')).length;
    const accessedDel = log.filter((e) => e.type === 'SecretAccessed' && e.data.name === 'PROD_DEL');
    expect(accessedDel.filter((e) => !notDelivered.has(e.eventId)).length).toBe(delivered);
  });

  it('OpenBao directly: a job reads only its scope\'s values; not another scope\'s, secret\'s or project\'s, not metadata, not by ?version= or path tricks', async () => {
    const job = await ci({ ref: 'main', protected: true, environment: 'production' });
    const prodA = await openbaoOf('PROD_A');
    const shared = await openbaoOf('SHARED_A');
    const stagingA = await openbaoOf('STAGING_A');
    expect(prodA.role).toBe(ciRoleName(P, prod));
    const l = await login(job, prodA.role);
    expect(l.status).toBe(200);
    const read = (path: string) => bao('GET', path, l.token);
    // Allowed: its own value, exactly (version 0 is KV's "latest": the same single version of this path).
    expect((await read(`${prodA.path}?version=1`)).text).toContain(`${CANARY}-PROD_A`);
    for (const v of ['0', '-1', '01', '1.0']) {
      const r = await read(`${prodA.path}?version=${v}`);
      if (r.status === 200) expect(JSON.parse(r.text).data.data).toEqual({ value: `${CANARY}-PROD_A` });
    }
    // Another scope's value (unscoped, staging), another project's, any metadata or LIST, other versions, traversal.
    const qPath = (await http.get(`/v1/projects/${Q}/secrets/OTHER_SECRET`).set(auth(owner))).body.openbao.path as string;
    const mount = prodA.path.split('/')[0];
    const rel = prodA.path.slice(`${mount}/data/`.length);
    const attempts = [
      shared.path,
      `${shared.path}?version=1`,
      stagingA.path,
      qPath,
      `${prodA.path}?version=2`,
      `${mount}/metadata/${rel}`,
      `${mount}/subkeys/${rel}`,
      `${mount}/metadata/${PREFIX}/${P}/PROD_A`,
      `${mount}/data/${PREFIX}/${P}/PROD_A`,
      `${prodA.path}/../../SHARED_A`,
      `${prodA.path}/..%2F..%2F..%2FSHARED_A`,
      `${prodA.path.replace(/\/[^/]+$/, '')}/${shared.path.split('/').pop()}`,
      `${mount}/data/${PREFIX}/${P}/PROD_A/%2e%2e/SHARED_A/${shared.path.split('/').pop()}`,
      `${mount}/data/${PREFIX}/${P}/SHARED_A/${prodA.path.split('/').pop()}`,
      `${mount}/data/${PREFIX}/_pipeline-secrets-sentinel`,
      `sys/policy/${prodA.role}`,
      `auth/token/lookup-self`,
    ];
    for (const p of attempts) {
      const r = await read(p);
      expect({ p, leaked: r.text.includes(CANARY), ok: r.status === 200 }).toEqual({ p, leaked: false, ok: false });
    }
    for (const p of [`${mount}/metadata/${PREFIX}/${P}/PROD_A`, `${mount}/metadata/${PREFIX}/${P}`, `${mount}/metadata/${PREFIX}`]) {
      expect((await bao('LIST', p, l.token)).status).toBe(403);
    }
    // No write anywhere under the glob (a job cannot plant a value its scope would read).
    expect((await bao('POST', `${prodA.path.replace(/-[0-9a-f]{16}$/, '-ffffffffffffffff')}`, l.token, { data: { value: 'planted' } })).status).toBe(403);
    expect((await bao('DELETE', prodA.path, l.token)).status).toBe(403);
    // Logins refused: unprotected ref, tag named main, wrong environment, another project's job, for the prod role.
    for (const bad of [
      await ci({ ref: 'main', protected: false, environment: 'production' }),
      await ci({ ref: 'main', refType: 'tag', protected: true, environment: 'production' }),
      await ci({ ref: 'main', protected: true, environment: 'production-eu' }),
      await ci({ ref: 'main', protected: true }),
      await ci({ project: Q, ref: 'main', protected: true, environment: 'production' }),
    ]) {
      expect((await login(bad, prodA.role)).status).toBe(400);
    }
    // The unscoped role of P refuses Q's job; Q's unscoped role refuses P's job.
    expect((await login(await ci({ project: Q, ref: 'main' }), ciRoleName(P, unscoped))).status).toBe(400);
    expect((await login(await ci({ ref: 'main' }), ciRoleName(Q, unscoped))).status).toBe(400);
  });

  it('scopes with a single * or ? get no role; ** and literal dots/dashes render to an OpenBao glob that means what the API means', async () => {
    // release/* has no role: no job can log in for it, and metadata names no OpenBao path.
    expect((await login(await ci({ ref: 'release/1/2' }), ciRoleName(P, { environment: null, branch: 'release/*', protectedOnly: false }))).status).toBe(400);
    expect((await http.get(`/v1/projects/${P}/secrets/REL_STAR`).set(auth(owner))).body.openbao).toBeUndefined();
    // Differential: for each ref, the API's decision equals whether OpenBao lets the job log in to the scope's role.
    const scopes: [string, SecretScope, { ref: string; environment?: string }[]][] = [
      ['REL_GLOBSTAR', { environment: null, branch: 'release/**', protectedOnly: false }, [{ ref: 'release/1' }, { ref: 'release/1/2' }, { ref: 'release/' }, { ref: 'release' }, { ref: 'xrelease/1' }, { ref: 'Release/1' }, { ref: 'release\\1' }, { ref: 'release/\u00fc' }, { ref: 're\u0301lease/1' }, { ref: 'release/*' }, { ref: '**' }]],
      ['MID_GLOBSTAR', { environment: null, branch: 'a**b', protectedOnly: false }, [{ ref: 'ab' }, { ref: 'a/b' }, { ref: 'axb' }, { ref: 'ba' }, { ref: 'abx' }, { ref: 'xab' }, { ref: 'a' }, { ref: 'b' }, { ref: 'aba' }, { ref: 'abab' }]],
      ['DOTS', { environment: 'prod-eu', branch: 'v1.2.**', protectedOnly: false }, [{ ref: 'v1.2.3', environment: 'prod-eu' }, { ref: 'v1x2.3', environment: 'prod-eu' }, { ref: 'v1.2.', environment: 'prod-eu' }, { ref: 'v1.2', environment: 'prod-eu' }, { ref: 'v1.2.3', environment: 'prod-eux' }, { ref: 'v1.2.3', environment: 'prod_eu' }]],
    ];
    await eventually(
      async () => {
        const r = await bao('LIST', `auth/${MOUNT}/role`, BAO_TOKEN!);
        return r.status === 200 ? (JSON.parse(r.text).data.keys as string[]) : [];
      },
      (k) => scopes.every(([, s]) => k.includes(ciRoleName(P, s))),
      30_000,
    );
    const mismatches: unknown[] = [];
    for (const [name, scope, claims] of scopes) {
      for (const c of claims) {
        const jwt = await ci({ ...c });
        const r = await batch(jwt, { names: [name] });
        const direct = (await login(jwt, ciRoleName(P, scope))).status === 200;
        // A token the API refuses outright (401: a claim outside its character set) is compared by the scope's meaning instead.
        const api = r.status === 401 ? globMatches(scope.branch ?? '**', c.ref) && (scope.environment === null || globMatches(scope.environment, c.environment ?? '')) : r.body.items.length === 1;
        if (api !== direct) mismatches.push({ name, ...c, status: r.status, api, direct });
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('metadata: a job gets it only for secrets it may read; 403 is audited; another project learns nothing about existence', async () => {
    const get = (token: string, name: string, project = P) => http.get(`/v1/projects/${project}/secrets/${name}`).set(auth(token));
    const prodJob = await ci({ ref: 'main', protected: true, environment: 'production' });
    const ok = await get(prodJob, 'PROD_A');
    expect(ok.status).toBe(200);
    expect(ok.body.openbao.role).toBe(ciRoleName(P, prod));
    const unprot = await ci({ ref: 'main', protected: false, environment: 'production', job: `md-${run}` });
    const before = (await stream(`access-${P}/STAGING_A`)).length;
    // A ref of its own: denials of one (sub, project, reason) within a window are folded into one summary.
    const freshRef = await ci({ ref: `md-${run}`, protected: true, environment: 'production' });
    for (const [tok, name] of [[unprot, 'PROD_A'], [freshRef, 'STAGING_A'], [await ci({ ref: 'main', refType: 'tag', protected: true, environment: 'production' }), 'PROD_B']] as const) {
      const r = await get(tok, name);
      expect(r.status).toBe(403);
      expect(JSON.stringify(r.body)).not.toMatch(new RegExp(`${PREFIX}|ps-ci-|bao:`));
    }
    expect((await stream(`access-${P}/STAGING_A`)).length).toBe(before + 1);
    // Another project's job: the same 403 for a secret that exists and one that does not.
    const qJob = await ci({ project: Q, ref: 'main', protected: true, environment: 'production' });
    const exists = await get(qJob, 'PROD_A');
    const missing = await get(qJob, 'NO_SUCH_SECRET');
    expect([exists.status, missing.status]).toEqual([403, 403]);
    expect(exists.body.reason ?? exists.body.detail).toEqual(missing.body.reason ?? missing.body.detail);
    // The list does not name secrets a job may not read either, and a job of Q sees nothing of P.
    const list = await http.get(`/v1/projects/${P}/secrets`).set(auth(qJob));
    expect(list.status).toBe(403);
  });
});
