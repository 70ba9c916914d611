import request from 'supertest';
import { allEvents } from '../support/events';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';

// Issue 21: GET /v1/projects/{projectId}/secrets/{name}/history, what the console's Secrets
// (metadata history) and Who-could-read-it (timeline of grants and scope changes) screens show.
describe('secret history: metadata and the grants that could read it', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let admin: string, olive: string, rita: string;
  const P = `hist-${Date.now().toString(36)}`;
  const VALUE = 'history-canary-value-hunter2';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const url = (name = 'DB', q = '') => `/v1/projects/${P}/secrets/${name}/history${q}`;
  const denials = async (principalId: string) =>
    (await allEvents(t.infra.eventStore)).filter(
      (e) => e.type === 'SecretAccessDenied' && (e.data as { projectId?: string }).projectId === P && (e.data as { action?: string }).action === 'read-audit' && (e.data as { principal: { id: string } }).principal.id === principalId,
    );
  let revokedGrant: string;

  beforeAll(async () => {
    t = await startEmbedded();
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    olive = await t.userToken('olive');
    rita = await t.userToken('rita');
    const ok = async (r: request.Test, status: number) => {
      const res = await r;
      expect({ status: res.status, body: res.body }).toMatchObject({ status });
      return res;
    };
    await ok(http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' }), 201);
    await ok(http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'rita' }, role: 'auditor' }), 201);
    await ok(http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'DB', value: VALUE, environment: 'staging', description: 'database' }), 201);
    await ok(http.put(`/v1/projects/${P}/secrets/DB/value`).set(auth(olive)).send({ value: `${VALUE}-2` }), 200);
    await ok(http.patch(`/v1/projects/${P}/secrets/DB`).set(auth(olive)).send({ environment: 'production', rotationIntervalDays: 30 }), 200);
    const bob = await ok(http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'bob' }, role: 'developer', environment: 'production' }), 201);
    revokedGrant = bob.body.grantId;
    await ok(http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'group', id: 'devs' }, role: 'developer', environment: 'dev' }), 201);
    await ok(http.delete(`/v1/projects/${P}/grants/${revokedGrant}`).set(auth(olive)), 204);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('a reviewer (auditor) gets the metadata history with who and when, newest first', async () => {
    const r = await http.get(url('DB', '?kind=metadata')).set(auth(rita));
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { type: string; actor: { id: string }; version?: number }) => [i.type, i.actor.id, i.version])).toEqual([
      ['SecretMetadataChanged', 'olive', undefined],
      ['SecretValueUpdated', 'olive', 2],
      ['SecretCreated', 'olive', 1],
    ]);
    expect(r.body.items[0].changes).toEqual({ environment: { from: 'staging', to: 'production' }, rotationIntervalDays: { from: null, to: 30 } });
    expect(r.body.items[2].changes).toMatchObject({ description: { from: null, to: 'database' }, environment: { from: null, to: 'staging' } });
    expect(r.body.nextCursor).toBeNull();
  });

  it('readers timeline: the grants that could read it (made, revoked; not one for another environment, not the auditor) and its scope changes', async () => {
    const r = await http.get(url('DB', '?kind=readers')).set(auth(rita));
    expect(r.status).toBe(200);
    const rows = r.body.items.map((i: { type: string; grant?: { principal: { id: string } } }) => [i.type, i.grant?.principal.id ?? null]);
    // olive's owner grant was made before the secret existed and covers it: it is on the timeline.
    expect(rows).toEqual([
      ['RoleRevoked', 'bob'],
      ['RoleGranted', 'bob'],
      ['SecretMetadataChanged', null],
      ['SecretCreated', null],
      ['RoleGranted', 'olive'],
    ]);
    expect(r.body.items[0]).toMatchObject({ actor: { type: 'user', id: 'olive' }, grant: { grantId: revokedGrant, role: 'developer', environment: 'production' } });
  });

  it('pages with limit and cursor, never repeating or skipping an entry', async () => {
    const all = (await http.get(url()).set(auth(rita))).body.items;
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const r: request.Response = await http.get(url('DB', `?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).set(auth(rita));
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
    expect(all.length).toBe(6); // 3 metadata entries, 3 grant entries (olive granted, bob granted and revoked)
  });

  it('never answers with a value or a value reference (canary)', async () => {
    const refs = (await allEvents(t.infra.eventStore))
      .filter((e) => (e.data as { projectId?: string }).projectId === P && typeof (e.data as { valueRef?: unknown }).valueRef === 'string')
      .map((e) => (e.data as { valueRef: string }).valueRef);
    expect(refs.length).toBe(2);
    for (const q of ['', '?kind=metadata', '?kind=readers']) {
      const text = (await http.get(url('DB', q)).set(auth(rita))).text;
      expect(text).not.toContain(VALUE);
      expect(text).not.toMatch(/valueRef/i);
      for (const ref of refs) expect(text).not.toContain(ref);
    }
  });

  it('a stranger is refused (403) and the refusal is recorded; so is a CI job of the project', async () => {
    const stranger = await t.userToken('mallory');
    const r = await http.get(url()).set(auth(stranger));
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(r.text).not.toContain('database');
    expect((await denials('mallory')).length).toBe(1);
    // A developer may read values but not the audit: refused too.
    const job = await t.ciToken({ project: P, ref: 'main', pipeline: '777', job: '1' });
    const j = await http.get(url()).set(auth(job));
    expect(j.status).toBe(403);
    const jobDenials = (await allEvents(t.infra.eventStore)).filter(
      (e) => e.type === 'SecretAccessDenied' && (e.data as { projectId?: string }).projectId === P && (e.data as { action?: string }).action === 'read-audit' && (e.data as { principal: { type: string } }).principal.type === 'ci-job',
    );
    expect(jobDenials.length).toBe(1);
  });

  it('attacks: a value reader without read-audit, an owner of another project and a crafted name learn nothing', async () => {
    // dana may read values in the project (developer) but not its audit: refused and recorded.
    await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'dana' }, role: 'developer' });
    const dana = await t.userToken('dana');
    const r = await http.get(url()).set(auth(dana));
    expect(r.status).toBe(403);
    expect((await denials('dana')).length).toBe(1);
    // An owner elsewhere asks about this project's secret: 403, not the history, not even whether it exists.
    const Q = `${P}-other`;
    await http.post(`/v1/projects/${Q}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'otto' }, role: 'owner' });
    const otto = await t.userToken('otto');
    const known = await http.get(url()).set(auth(otto));
    const unknown = await http.get(url('NOPE')).set(auth(otto));
    expect([known.status, unknown.status]).toEqual([403, 403]);
    expect(known.text).not.toContain('olive');
    // Names outside the secret-name pattern never reach the event store.
    for (const bad of ['..%2F..%2Fproject-x', 'DB%00', 'a'.repeat(300)]) {
      const b = await http.get(`/v1/projects/${P}/secrets/${bad}/history`).set(auth(rita));
      expect({ bad, status: b.status }).toEqual({ bad, status: 400 });
      expect(b.headers['content-type']).toMatch(/application\/problem\+json/);
    }
  });

  it('unknown secret 404 (to a reviewer); bad query names the field (400 problem+json)', async () => {
    expect((await http.get(url('NOPE')).set(auth(rita))).status).toBe(404);
    const bad = await http.get(url('DB', '?kind=values&limit=0&cursor=!!&extra=1')).set(auth(rita));
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['cursor', 'extra', 'kind', 'limit']);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await http.get('/docs-json')).body;
    expect(doc.paths['/v1/projects/{projectId}/secrets/{name}/history']?.get).toBeDefined();
  });
});
