import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { allEvents } from '../support/events';

const CANARY = `canary-${randomUUID()}-do-not-leak`;

/**
 * The HTTP layer of a CI job's single access (issue 23): what its answer carries and what it
 * refuses, for the project and the group route, with the body checked without class-validator.
 */
describe('single access over HTTP: headers and body checks', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let job: string;
  const P = 'http-layer';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await startEmbedded();
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    const owner = await t.userToken('olive');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name: 'API_KEY', value: CANARY, branch: 'main', protectedOnly: true })).status).toBe(201);
    job = await t.ciToken({ project: P, ref: 'main', protected: true, pipeline: '1', job: '2' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the value leaves with Cache-Control no-store and nosniff, and with no ETag (a digest of the value) nor X-Powered-By', async () => {
    const a = await http.post(`/v1/projects/${P}/secrets/API_KEY/access`).set(auth(job)).send({ purpose: 'deploy' });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ name: 'API_KEY', version: 1, value: CANARY, source: { type: 'project', id: P } });
    expect(a.headers['cache-control']).toBe('no-store');
    expect(a.headers['x-content-type-options']).toBe('nosniff');
    expect(a.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(a.headers.etag).toBeUndefined();
    expect(a.headers['x-powered-by']).toBeUndefined();
    // A conditional request changes nothing: the value is never a 304.
    const again = await http.post(`/v1/projects/${P}/secrets/API_KEY/access`).set(auth(job)).set('If-None-Match', '*').send({});
    expect([again.status, again.body.value, again.headers.etag]).toEqual([200, CANARY, undefined]);
  });

  it('no body, an empty body and a purpose are accepted; the purpose is recorded', async () => {
    expect((await http.post(`/v1/projects/${P}/secrets/API_KEY/access`).set(auth(job))).status).toBe(200);
    expect((await http.post(`/v1/projects/${P}/secrets/API_KEY/access`).set(auth(job)).set('Content-Type', 'application/json').send('{}')).status).toBe(200);
    expect((await http.post(`/v1/projects/${P}/secrets/API_KEY/access`).set(auth(job)).send({ purpose: 'release 1.2' })).status).toBe(200);
    const accessed = (await allEvents(t.infra.eventStore)).filter((e) => e.type === 'SecretAccessed' && e.streamName.startsWith(`access-${P}`));
    expect(accessed.map((e) => (e.data as { purpose?: string | null }).purpose ?? null)).toContain('release 1.2');
  });

  it.each([
    ['a purpose that is not a string', { purpose: 42 }, [{ field: 'purpose', message: 'purpose must be a string' }]],
    ['a null purpose', { purpose: null }, [{ field: 'purpose', message: 'purpose must be a string' }]],
    ['an unknown field', { reason: 'x' }, [{ field: 'reason', message: 'reason should not exist' }]],
    ['an unknown field and a bad purpose', { reason: 'x', purpose: [] }, [{ field: 'reason', message: 'reason should not exist' }, { field: 'purpose', message: 'purpose must be a string' }]],
    ['an array', [], [{ field: 'body', message: 'Validation failed (object is expected)' }]],
  ])('%s: 400 problem+json naming the field, no value', async (_n, body, errors) => {
    for (const path of [`/v1/projects/${P}/secrets/API_KEY/access`, `/v1/groups/some-group/secrets/API_KEY/access`]) {
      const r = await http.post(path).set(auth(job)).send(body as object);
      expect(r.status).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ status: 400, type: 'urn:pipeline-secrets:problem:invalid-request', errors });
      expect(r.text).not.toContain(CANARY);
    }
  });

  it('authentication still comes first: a bad body without a token is a 401, not a 400', async () => {
    const r = await http.post(`/v1/projects/${P}/secrets/API_KEY/access`).send({ purpose: 42 });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/Bearer/);
  });

  it('a purpose the access decision refuses (too long) is still its 400 naming purpose, with no value and no SecretAccessed', async () => {
    const before = (await allEvents(t.infra.eventStore)).filter((e) => e.type === 'SecretAccessed').length;
    const r = await http.post(`/v1/projects/${P}/secrets/API_KEY/access`).set(auth(job)).send({ purpose: 'x'.repeat(600) });
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.field).toBe('purpose');
    expect(r.text).not.toContain(CANARY);
    expect((await allEvents(t.infra.eventStore)).filter((e) => e.type === 'SecretAccessed').length).toBe(before);
  });

  it('the ETag the API gives on purpose (a secret\'s revision) is still there', async () => {
    const owner = await t.userToken('olive');
    const m = await http.get(`/v1/projects/${P}/secrets/API_KEY`).set(auth(owner));
    expect([m.status, m.headers.etag]).toEqual([200, '"0"']);
  });

  it('the OpenAPI document still describes the access body', async () => {
    const doc = (await http.get('/docs-json')).body;
    for (const path of ['/v1/projects/{projectId}/secrets/{name}/access', '/v1/groups/{groupId}/secrets/{name}/access']) {
      expect(doc.paths[path].post.requestBody).toEqual({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/AccessSecretDto' } } } });
    }
    expect(doc.components.schemas.AccessSecretDto.properties).toHaveProperty('purpose');
  });
});
