import request from 'supertest';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';

// Issue 9, items 2, 3 and the tag rule of 6, through HTTP: the list filter, readers?at and CI
// access use glob containment and the ref_type rule; globs with too many wildcards are a 400.
describe('scope globs through the API, embedded profile', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let owner: string, dev: string, audrey: string;
  const P = 'glob-scopes';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await startEmbedded();
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    owner = await t.userToken('olive');
    dev = await t.userToken('dave');
    audrey = await t.userToken('audrey');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'audrey' }, role: 'auditor' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'dave' }, role: 'developer', environment: 'prod?' })).status).toBe(201);
    for (const [name, environment] of [['WIDE', 'prod*'], ['NARROW', 'prod1']]) {
      expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name, value: 'v', environment })).status).toBe(201);
    }
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: 'MAIN_ONLY', value: 'v', branch: 'main' })).status).toBe(201);
    // The list is a projection (rm_secrets): wait until it holds the three secrets before a test reads it.
    await eventually(() => http.get(`/v1/projects/${P}/secrets`).set(auth(owner)), (r) => r.body?.items?.length === 3, 20_000);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('a developer narrowed to prod? neither lists nor reads the prod* secret, and does the prod1 one', async () => {
    const list = await http.get(`/v1/projects/${P}/secrets`).set(auth(dev));
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { name: string }) => i.name).sort()).toEqual(['NARROW']);
    expect((await http.post(`/v1/projects/${P}/secrets/WIDE/access`).set(auth(dev)).send({})).status).toBe(403);
    expect((await http.post(`/v1/projects/${P}/secrets/NARROW/access`).set(auth(dev)).send({})).status).toBe(200);
  });

  it('readers?at does not name the prod? grant as a reader of the prod* secret', async () => {
    const readers = async (name: string) => {
      const r = await http.get(`/v1/projects/${P}/secrets/${name}/readers`).query({ at: new Date().toISOString() }).set(auth(audrey));
      expect(r.status).toBe(200);
      return r.body.readers.map((x: { principal: { type: string; id?: string } }) => `${x.principal.type}:${x.principal.id ?? ''}`);
    };
    await eventually(() => readers('NARROW'), (r) => r.includes('user:dave'));
    expect(await readers('WIDE')).not.toContain('user:dave');
  });

  it('a tag named main does not read a secret scoped to branch main; the branch main does', async () => {
    const mint = t.ciToken as (o: object) => Promise<string>;
    const tag = await mint({ project: P, ref: 'main', refType: 'tag' });
    const r = await http.post(`/v1/projects/${P}/secrets/MAIN_ONLY/access`).set(auth(tag)).send({});
    expect(r.status).toBe(403);
    const branch = await mint({ project: P, ref: 'main', refType: 'branch' });
    expect((await http.post(`/v1/projects/${P}/secrets/MAIN_ONLY/access`).set(auth(branch)).send({})).status).toBe(200);
  });

  it('a glob with more than 8 wildcards is a 400 naming the field', async () => {
    const r = await http.post(`/v1/projects/${P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: 'eve' }, role: 'developer', branch: '*a*a*a*a*a*a*a*a*b' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('branch');
    const s = await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: 'REDOS', value: 'v', environment: '?????????' });
    expect(s.status).toBe(400);
    expect(JSON.stringify(s.body)).toContain('environment');
  });
});
