import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { EmbeddedApp, filesUnder, startEmbedded } from '../support/embedded-app';
import { eventually, sleep } from '../support/eventually';

const CANARY = `canary-${randomUUID()}-do-not-leak`;

describe('compliance queries (access history, readers at T), embedded profile', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let admin: string, owner: string, dev: string, audrey: string, outsider: string;
  const P = 'compliance-demo';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const times: Record<string, string> = {};

  beforeAll(async () => {
    t = await startEmbedded();
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    owner = await t.userToken('olive');
    dev = await t.userToken('dave', { groups: ['backend'] });
    audrey = await t.userToken('audrey');
    outsider = await t.userToken('mallory');

    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'audrey' }, role: 'auditor' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: 'DB_PASSWORD', value: CANARY, environment: 'production' })).status).toBe(201);
    await sleep(5);
    times.beforeGrant = new Date().toISOString();
    await sleep(5);
    const g = await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'dave' }, role: 'developer', environment: 'prod*' });
    expect(g.status).toBe(201);
    const grp = await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'group', id: 'backend' }, role: 'developer', expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect(grp.status).toBe(201);
    times.during = new Date().toISOString();
    // Reads and denials for the history.
    for (let i = 0; i < 3; i++) expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(dev)).send({ purpose: `=cmd|' /C calc'!A${i}` })).status).toBe(200);
    const job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production', pipeline: '77', job: '1' });
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(job)).send({})).status).toBe(200);
    const wrongEnv = await t.ciToken({ project: P, ref: 'main', environment: 'staging', pipeline: '77', job: '2' });
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(wrongEnv)).send({})).status).toBe(403);
    await sleep(1600); // the group grant expires
    times.afterExpiry = new Date().toISOString();
    expect((await http.delete(`/v1/projects/${P}/grants/${g.body.grantId}`).set(auth(owner))).status).toBe(204);
    await sleep(5);
    times.afterRevoke = new Date().toISOString();
  }, 30_000);
  afterAll(async () => {
    await t?.close();
  });

  it('readers?at=T before the grant, during it, after expiry and after revocation', async () => {
    const readers = async (at: string) => {
      const r = await http.get(`/v1/projects/${P}/secrets/DB_PASSWORD/readers`).query({ at }).set(auth(audrey));
      expect(r.status).toBe(200);
      return r.body.readers.map((x: { principal: { type: string; id?: string } }) => `${x.principal.type}:${x.principal.id ?? ''}`);
    };
    // The owner's grant covers every secret; dave's prod* grant covers environment production.
    await eventually(() => readers(times.afterRevoke), (r) => r.length === 2);
    expect(await readers(times.beforeGrant)).toEqual(['user:olive', 'ci-scope:']);
    expect(await readers(times.during)).toEqual(['group:backend', 'user:dave', 'user:olive', 'ci-scope:']);
    expect(await readers(times.afterExpiry)).toEqual(['user:dave', 'user:olive', 'ci-scope:']);
    expect(await readers(times.afterRevoke)).toEqual(['user:olive', 'ci-scope:']);
    const r = await http.get(`/v1/projects/${P}/secrets/DB_PASSWORD/readers`).query({ at: times.during }).set(auth(audrey));
    const daveVia = r.body.readers.find((x: { principal: { id: string } }) => x.principal.id === 'dave').via;
    expect(daveVia).toMatchObject({ role: 'developer', grantedBy: 'olive', environment: 'prod*' });
    expect(r.body.readers.at(-1)).toEqual({ principal: { type: 'ci-scope', projectId: P, environment: 'production', branch: null, protectedOnly: false }, via: { rule: 'ci-job-scope' } });
  });

  it('access history: filters, cursor pages stable under new inserts, only owner/auditor', async () => {
    const all = await eventually(
      async () => (await http.get(`/v1/projects/${P}/access-history`).set(auth(audrey))).body,
      (b) => b.items?.length === 5,
    );
    expect(all.items.map((i: { decision: string }) => i.decision)).toEqual(['denied', 'allowed', 'allowed', 'allowed', 'allowed']);
    const denied = all.items[0];
    expect(denied).toMatchObject({ secret: 'DB_PASSWORD', action: 'read', reason: 'environment-mismatch', principal: { type: 'ci-job', pipelineId: '77', jobId: '2', environment: 'staging' } });
    const ci = (await http.get(`/v1/projects/${P}/access-history`).query({ pipeline: '77', decision: 'allowed' }).set(auth(owner))).body;
    expect(ci.items).toHaveLength(1);
    expect(ci.items[0].via).toEqual({ scope: 'ci-job-scope' });
    const byDave = (await http.get(`/v1/projects/${P}/access-history`).query({ principal: 'dave' }).set(auth(audrey))).body;
    expect(byDave.items).toHaveLength(3);
    expect(byDave.items[0].via.role).toBe('developer');
    expect((await http.get(`/v1/projects/${P}/access-history`).query({ from: times.afterRevoke }).set(auth(audrey))).body.items).toEqual([]);

    const p1 = (await http.get(`/v1/projects/${P}/access-history`).query({ limit: 2 }).set(auth(audrey))).body;
    expect(p1.items).toHaveLength(2);
    // New decisions recorded between pages do not shift the next page.
    const job = await t.ciToken({ project: P, ref: 'dev', environment: 'production', pipeline: '78', job: '9' });
    await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(job)).send({});
    await eventually(async () => (await http.get(`/v1/projects/${P}/access-history`).set(auth(audrey))).body.items.length, (n) => n === 6);
    const p2 = (await http.get(`/v1/projects/${P}/access-history`).query({ limit: 2, cursor: p1.nextCursor }).set(auth(audrey))).body;
    const p3 = (await http.get(`/v1/projects/${P}/access-history`).query({ limit: 2, cursor: p2.nextCursor }).set(auth(audrey))).body;
    expect([...p1.items, ...p2.items, ...p3.items].map((i: { eventId: string }) => i.eventId)).toEqual(all.items.map((i: { eventId: string }) => i.eventId));
    expect(p3.nextCursor).toBeNull();

    for (const who of [dev, outsider]) {
      const r = await http.get(`/v1/projects/${P}/access-history`).set(auth(who));
      expect(r.status).toBe(403);
      expect(r.headers['content-type']).toMatch(/problem\+json/);
      expect((await http.get(`/v1/projects/${P}/secrets/DB_PASSWORD/readers`).set(auth(who))).status).toBe(403);
    }
    const job2 = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
    expect((await http.get(`/v1/projects/${P}/access-history`).set(auth(job2))).status).toBe(403);
  });

  it('exports CSV (formula-safe) and NDJSON, streamed', async () => {
    const csv = await http.get(`/v1/projects/${P}/access-history`).query({ principal: 'dave', decision: 'allowed' }).set(auth(audrey)).set('Accept', 'text/csv');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toMatch(/^"occurred_at","event_id"/);
    expect(lines).toHaveLength(4);
    expect(csv.text).toContain(`"'=cmd|' /C calc'!A2"`);
    expect(csv.text).not.toMatch(/,"=cmd/);
    const nd = await http.get(`/v1/projects/${P}/access-history`).set(auth(audrey)).set('Accept', 'application/x-ndjson');
    expect(nd.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const rows = nd.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(rows.every((r) => r.projectId === P)).toBe(true);
  });

  it('bad queries are 400s naming the field; an unknown secret is 404', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ limit: '0' }, 'limit'],
      [{ limit: 'abc' }, 'limit'],
      [{ decision: 'maybe' }, 'decision'],
      [{ from: 'yesterday' }, 'from'],
      [{ cursor: 'not-a-cursor!' }, 'cursor'],
      [{ cursor: Buffer.from('1.x').toString('base64url') }, 'cursor'],
      [{ secret: 'lower' }, 'secret'],
      [{ sort: 'name' }, 'sort'],
      [{ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to'],
    ];
    for (const [q, field] of cases) {
      const r = await http.get(`/v1/projects/${P}/access-history`).query(q).set(auth(audrey));
      expect({ q, status: r.status }).toEqual({ q, status: 400 });
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const dup = await http.get(`/v1/projects/${P}/access-history?limit=1&limit=2`).set(auth(audrey));
    expect(dup.status).toBe(400);
    expect((await http.get(`/v1/projects/${P}/secrets/DB_PASSWORD/readers`).query({ at: 'soon' }).set(auth(audrey))).body.errors[0].field).toBe('at');
    expect((await http.get(`/v1/projects/${P}/secrets/NOPE/readers`).set(auth(audrey))).status).toBe(404);
  });

  it('renders the CI policies and JWT roles to DATA_DIR/policies in the embedded profile', async () => {
    const name = ciRoleName(P, { environment: 'production', branch: null, protectedOnly: false });
    const file = join(t.dataDir, 'policies', `${name}.hcl`);
    const hcl = await eventually(async () => (existsSync(file) ? readFileSync(file, 'utf8') : ''), (x) => x.length > 0);
    // values written under the scope (one KV path each); an embedded-profile value is in no KV path
    expect(hcl).toContain(`path "secret/data/pipeline-secrets/${P}/DB_PASSWORD/${name.slice(-16)}-*" {\n  capabilities = ["read"]\n}`);
    const role = JSON.parse(readFileSync(join(t.dataDir, 'policies', 'roles', `${name}.json`), 'utf8'));
    expect(role.bound_claims).toEqual({ project_id: P, environment: 'production' });
    expect(role.token_policies).toEqual([name]);
  });

  it('no read model and no file under DATA_DIR holds the value', async () => {
    for (const table of ['rm_secrets', 'rm_grants', 'rm_secret_scopes', 'rm_secret_versions', 'rm_access_history']) {
      const { rows } = await t.infra.sql.query(`SELECT * FROM ${table}`);
      expect(JSON.stringify(rows)).not.toContain(CANARY);
    }
    await t.infra.sql.query('CHECKPOINT');
    for (const f of filesUnder(t.dataDir)) expect({ path: f.path, leaked: f.bytes.includes(CANARY) }).toEqual({ path: f.path, leaked: false });
  });
});
