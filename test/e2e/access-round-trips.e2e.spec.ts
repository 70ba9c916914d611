import { randomUUID } from 'node:crypto';
import { Server } from 'node:http';
import request from 'supertest';
import { countRoundTrips } from '../support/events';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';

/**
 * Issue 23: database round trips of one CI job's access, counted in that request's async context
 * (background loops never run in it). The job's group, the place's group and own policy, and the
 * secret at the endpoint's place go out together; a grouped project's group policies and group
 * secrets follow once its group is known; then the one append; then (embedded profile) the value
 * from the local value store. Before: the job's group, then (group again + secret), then policy,
 * append, value = 5.
 */
describe('CI access database round trips (embedded)', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let counters: Map<string, { queries: number; texts: string[] }>;
  const P = `rt-${randomUUID().slice(0, 8)}`;
  const G = `rtg-${randomUUID().slice(0, 8)}`;
  const Q = `rtq-${randomUUID().slice(0, 8)}`;
  const auth = (tok: string) => ({ Authorization: `Bearer ${tok}` });
  const prod = { environment: 'production', branch: 'main', protectedOnly: true };

  beforeAll(async () => {
    t = await startEmbedded();
    await t.app.listen(0, '127.0.0.1');
    const server = t.app.getHttpServer() as Server;
    counters = countRoundTrips(server, t.infra.sql);
    http = request(server);
    const admin = await t.userToken('root', { admin: true });
    const owner = await t.userToken('olive');
    for (const p of [P, Q]) expect((await http.post(`/v1/projects/${p}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: 'DEPLOY', value: 'v-deploy', ...prod })).status).toBe(201);
    // Q is in a group holding a secret Q does not have: a grouped job's chain reads one place more.
    expect((await http.post(`/v1/groups/${G}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.put(`/v1/projects/${Q}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
    expect((await http.post(`/v1/groups/${G}/secrets`).set(auth(owner)).send({ name: 'REGISTRY', value: 'v-registry', environment: 'production', protectedOnly: true })).status).toBe(201);
  }, 60_000);
  afterAll(() => t?.close());

  const kind = (text: string) => (/es_append/.test(text) ? 'append' : /secret_values/.test(text) ? 'value' : /json_build_array\(/.test(text) ? 'reads' : text);
  const access = async (project: string, name: string, token: string) => {
    const id = randomUUID();
    const r = await http.post(`/v1/projects/${project}/secrets/${name}/access`).set(auth(token)).set('x-count-queries', id).send({});
    return { status: r.status, body: r.body, queries: counters.get(id)!.queries, texts: counters.get(id)!.texts };
  };

  it('an ungrouped project: 3 round trips (every read together, append, value); the answer unchanged', async () => {
    const job = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
    await access(P, 'DEPLOY', job); // warm: the first request may load more than its own streams
    const r = await access(P, 'DEPLOY', job);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'DEPLOY', version: 1, value: 'v-deploy' });
    expect(r.texts.map(kind)).toEqual(['reads', 'append', 'value']);
  });

  it("a grouped project's job reading its group's secret: two more (the group's policies and secret once its group is known; the group secret's own effective policy); and one that must not read is still refused", async () => {
    const job = await t.ciToken({ project: Q, ref: 'main', protected: true, environment: 'production' });
    await access(Q, 'REGISTRY', job);
    const r = await access(Q, 'REGISTRY', job);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'REGISTRY', value: 'v-registry', source: { type: 'group', id: G } });
    expect(r.texts.map(kind)).toEqual(['reads', 'reads', 'reads', 'append', 'value']);
    const unprotected = await t.ciToken({ project: Q, ref: 'feature', protected: false, environment: 'production' });
    const denied = await access(Q, 'REGISTRY', unprotected);
    expect(denied.status).toBe(403);
    const stranger = await t.ciToken({ project: P, ref: 'main', protected: true, environment: 'production' });
    expect((await access(Q, 'REGISTRY', stranger)).status).toBe(403);
  });
});
