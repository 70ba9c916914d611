import request from 'supertest';
import { allEvents } from '../support/events';
import { ConsoleSessions } from '../../apps/command-api/src/console/console-sessions';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';

// Issue 21, the console's server side on the embedded profile: the session cookie (flags, idle and
// absolute lifetime, server-side sign-out), the API accepting it beside bearer tokens, cross-site
// writes with it refused, the strict CSP, re-sign-in for approvals, GET /v1/me, the impact of a
// request and format= exports.
describe('console: sessions, CSRF, CSP, /v1/me, impact, exports', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let origin: string;
  let admin: string, olive: string;
  const P = `console-${Date.now().toString(36)}`;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  /** Signs in through the development form as the console does (same origin, JSON): the cookie pair. */
  const signIn = async (sub: string, groups: string[] = []) => {
    const r = await http.post('/console/api/session/dev').set('Origin', origin).set('Sec-Fetch-Site', 'same-origin').send({ sub, groups });
    expect(r.status).toBe(201);
    const set = r.headers['set-cookie'] as unknown as string[];
    return set[0].split(';')[0];
  };
  const same = (cookie: string) => ({ Cookie: cookie, Origin: origin, 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/json' });

  beforeAll(async () => {
    t = await startEmbedded();
    await t.app.listen(0, '127.0.0.1');
    const port = (t.app.getHttpServer().address() as { port: number }).port;
    http = request(t.app.getHttpServer());
    // supertest sends Host: 127.0.0.1:<port>; the console's origin is that host (no CONSOLE_PUBLIC_URL).
    origin = `http://127.0.0.1:${port}`;
    admin = await t.userToken('root', { admin: true });
    olive = await t.userToken('olive');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'oscar' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'DB_PASSWORD', value: 'console-canary-value' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'PROD_TOKEN', value: 'console-canary-2', environment: 'production' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('every console response carries the strict CSP and refuses framing', async () => {
    for (const path of ['/console', '/console/', '/console/history?secret=X', '/console/assets/missing.js', '/console/api/session', '/console/api/nothing', '/console/auth/login']) {
      const r = await http.get(path);
      const csp = r.headers['content-security-policy'];
      expect({ path, csp }).toEqual({ path, csp: expect.stringContaining("script-src 'self'") });
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).toContain("style-src 'self'");
      expect(r.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('the development sign-in sets a __Host- cookie: HttpOnly, Secure, SameSite=Strict, path /', async () => {
    const r = await http.post('/console/api/session/dev').set('Origin', origin).send({ sub: 'olive', groups: ['team-a'] });
    expect(r.status).toBe(201);
    const [cookie] = r.headers['set-cookie'] as unknown as string[];
    expect(cookie).toMatch(/^__Host-ps-console=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
    // The body names the user only; no token of any kind reaches the page.
    expect(JSON.stringify(r.body)).not.toMatch(/eyJ|token/i);
  });

  it('the development sign-in itself refuses cross-site posts (login CSRF), non-JSON bodies and bad names', async () => {
    expect((await http.post('/console/api/session/dev').set('Origin', 'https://evil.example').send({ sub: 'olive' })).status).toBe(403);
    expect((await http.post('/console/api/session/dev').send({ sub: 'olive' })).status).toBe(403); // no Origin
    expect((await http.post('/console/api/session/dev').set('Origin', origin).set('Content-Type', 'text/plain').send('{"sub":"olive"}')).status).toBe(403);
    const bad = await http.post('/console/api/session/dev').set('Origin', origin).send({ sub: '../x y', groups: 'g' });
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['groups', 'sub']);
  });

  it('the API accepts the session cookie beside bearer tokens; same-origin JSON writes work', async () => {
    const cookie = await signIn('olive');
    const me = await http.get('/v1/me').set('Cookie', cookie);
    expect(me.status).toBe(200);
    expect(me.body.principal).toMatchObject({ type: 'user', id: 'olive' });
    const w = await http.post(`/v1/projects/${P}/grants`).set(same(cookie)).send({ principal: { type: 'user', id: 'rita' }, role: 'reporter' });
    expect(w.status).toBe(201);
  });

  it('cross-site POST/PUT/DELETE with the cookie are refused: text/plain, form, no Origin, another Origin, Sec-Fetch-Site cross-site', async () => {
    const cookie = await signIn('olive');
    const grantBody = JSON.stringify({ principal: { type: 'user', id: 'mallory' }, role: 'owner' });
    const attempts: { name: string; req: () => request.Test }[] = [
      { name: 'POST text/plain, same Origin', req: () => http.post(`/v1/projects/${P}/grants`).set({ ...same(cookie), 'Content-Type': 'text/plain' }).send(grantBody) },
      { name: 'POST form', req: () => http.post(`/v1/projects/${P}/grants`).set({ Cookie: cookie, Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'application/x-www-form-urlencoded' }).send('principal=mallory') },
      { name: 'POST JSON, no Origin', req: () => http.post(`/v1/projects/${P}/grants`).set({ Cookie: cookie, 'Content-Type': 'application/json' }).send(grantBody) },
      { name: 'POST JSON, other Origin', req: () => http.post(`/v1/projects/${P}/grants`).set({ Cookie: cookie, Origin: 'https://evil.example', 'Content-Type': 'application/json' }).send(grantBody) },
      { name: 'POST JSON, Sec-Fetch-Site cross-site', req: () => http.post(`/v1/projects/${P}/grants`).set({ Cookie: cookie, Origin: origin, 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'application/json' }).send(grantBody) },
      { name: 'POST JSON, Sec-Fetch-Site same-site', req: () => http.post(`/v1/projects/${P}/grants`).set({ Cookie: cookie, Origin: origin, 'Sec-Fetch-Site': 'same-site', 'Content-Type': 'application/json' }).send(grantBody) },
      { name: 'PUT text/plain', req: () => http.put(`/v1/projects/${P}/secrets/DB_PASSWORD/value`).set({ Cookie: cookie, 'Content-Type': 'text/plain' }).send('{"value":"pwned"}') },
      { name: 'PUT JSON, no Origin', req: () => http.put(`/v1/projects/${P}/secrets/DB_PASSWORD/value`).set({ Cookie: cookie, 'Content-Type': 'application/json' }).send('{"value":"pwned"}') },
      { name: 'DELETE, no Origin', req: () => http.delete(`/v1/projects/${P}/secrets/DB_PASSWORD`).set({ Cookie: cookie }) },
      { name: 'DELETE, other Origin', req: () => http.delete(`/v1/projects/${P}/secrets/PROD_TOKEN`).set({ Cookie: cookie, Origin: 'https://evil.example' }) },
      { name: 'GraphQL mutation text/plain', req: () => http.post('/graphql').set({ ...same(cookie), 'Content-Type': 'text/plain' }).send('{"query":"mutation { projectSecretDelete(projectId: \\"x\\", name: \\"Y\\") }"}') },
    ];
    for (const a of attempts) {
      const r = await a.req();
      // GraphQL's server refuses a non-JSON POST itself (400, CSRF prevention) before the guard sees it.
      expect({ name: a.name, status: r.status }).toEqual({ name: a.name, status: a.name.startsWith('GraphQL') ? 400 : 403 });
      if (!a.name.startsWith('GraphQL')) expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    // A JSON GraphQL mutation without Origin reaches the resolver's guard, which refuses it.
    const gql = await http.post('/graphql').set({ Cookie: cookie, 'Content-Type': 'application/json' }).send({ query: `mutation { projectGrantCreate(input: { projectId: "${P}", principal: { type: "user", id: "mallory" }, role: "owner" }) { grantId } }` });
    expect(JSON.stringify(gql.body)).toContain('cross-site-request');
    // Nothing happened: the value is unchanged, both secrets exist, mallory got no grant.
    const grants = await http.get(`/v1/projects/${P}/grants`).set(auth(olive));
    expect(grants.body.items.map((g: { principal: { id: string } }) => g.principal.id)).not.toContain('mallory');
    const read = await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(olive)).send({});
    expect(read.body).toMatchObject({ version: 1, value: 'console-canary-value' });
    expect((await http.get(`/v1/projects/${P}/secrets/PROD_TOKEN`).set(auth(olive))).status).toBe(200);
  });

  it('sign-out ends the session on the server: the same cookie replayed is 401', async () => {
    const cookie = await signIn('olive');
    expect((await http.get('/v1/me').set('Cookie', cookie)).status).toBe(200);
    const out = await http.delete('/console/api/session').set(same(cookie));
    expect(out.status).toBe(204);
    const replay = await http.get('/v1/me').set('Cookie', cookie);
    expect(replay.status).toBe(401);
    expect(replay.headers['content-type']).toMatch(/application\/problem\+json/);
    expect((await http.get(`/v1/projects/${P}/secrets`).set('Cookie', cookie)).status).toBe(401);
    expect((await http.get('/console/api/session').set('Cookie', cookie)).body.signedIn).toBe(false);
    // Sign-out is a write: a cross-site page cannot sign a user out either.
    const other = await signIn('olive');
    expect((await http.delete('/console/api/session').set({ Cookie: other, Origin: 'https://evil.example' })).status).toBe(403);
    expect((await http.get('/v1/me').set('Cookie', other)).status).toBe(200);
  });

  it('idle and absolute lifetimes end a session (30 min unused, 8 h after sign-in)', async () => {
    const sessions = t.app.get(ConsoleSessions);
    const p = { kind: 'user' as const, id: 'olive', groups: [], admin: false };
    const now = Date.now();
    const idle = await sessions.create(p, 'dev', now);
    expect(await sessions.touch(idle, now + 29 * 60_000)).not.toBeNull();
    expect(await sessions.touch(idle, now + 29 * 60_000 + 30 * 60_000)).toBeNull(); // unused for 30 min
    expect(await sessions.touch(idle, now + 29 * 60_000 + 1000)).toBeNull(); // and it stays ended
    const used = await sessions.create(p, 'dev', now);
    let at = now;
    for (; at < now + 8 * 3600_000 - 20 * 60_000; at += 20 * 60_000) expect(await sessions.touch(used, at)).not.toBeNull();
    expect(await sessions.touch(used, now + 8 * 3600_000)).toBeNull(); // used every 20 min, still over at 8 h
  });

  it('approve and deny need a sign-in younger than 10 minutes (REST and GraphQL), with a problem type the console recognises', async () => {
    const rita = await t.userToken('rita');
    const created = await http.post(`/v1/projects/${P}/access-requests`).set(auth(rita)).send({ role: 'developer', durationSeconds: 600, reason: 'console test' });
    expect(created.status).toBe(201);
    const requestId = created.body.requestId as string;
    const sessions = t.app.get(ConsoleSessions);
    const old = `__Host-ps-console=${await sessions.create({ kind: 'user', id: 'olive', groups: [], admin: false }, 'dev', Date.now() - 11 * 60_000)}`;
    // Old enough for approving, not for the session itself: reading still works.
    await sessions.touch(old.split('=')[1]);
    expect((await http.get(`/v1/projects/${P}/access-requests`).set('Cookie', old)).status).toBe(200);
    for (const path of [`/v1/projects/${P}/access-requests/${requestId}/approve`, `/v1/projects/${P}/access-requests/${requestId}/deny`]) {
      const r = await http.post(path).set(same(old)).send({ comment: 'ok' });
      expect({ path, status: r.status, type: r.body.type }).toEqual({ path, status: 403, type: 'urn:pipeline-secrets:problem:recent-sign-in-required' });
    }
    const gql = await http.post('/graphql').set(same(old)).send({ query: `mutation { accessRequestApprove(projectId: "${P}", requestId: "${requestId}") { grantId } }` });
    expect(JSON.stringify(gql.body)).toContain('recent-sign-in-required');
    // Signed in again: the approval goes through.
    const fresh = await signIn('olive');
    const ok = await http.post(`/v1/projects/${P}/access-requests/${requestId}/approve`).set(same(fresh)).send({ comment: 'ok' });
    expect(ok.status).toBe(200);
    expect(ok.body.grantId).toEqual(expect.any(String));
  });

  it('GET /v1/me lists the projects where the caller holds a grant and its actions there; a stranger sees none', async () => {
    const me = await eventually(
      () => http.get('/v1/me').set(auth(olive)),
      (r) => r.status === 200 && r.body.projects.some((p: { projectId: string }) => p.projectId === P),
    );
    expect(me.body.groups).toEqual([]);
    expect(me.body.projects.find((p: { projectId: string }) => p.projectId === P).actions.sort()).toEqual(['create', 'delete', 'list', 'manage-grants', 'read', 'read-audit', 'update']);
    const stranger = await http.get('/v1/me').set(auth(await t.userToken('stranger')));
    expect(stranger.status).toBe(200);
    expect(stranger.body).toEqual({ principal: { type: 'user', id: 'stranger', groups: [], admin: false }, projects: [], groups: [] });
    expect((await http.get('/v1/me')).status).toBe(401);
  });

  it('impact: what approving would let the requester read now; manage-grants or the requester only', async () => {
    const bob = await t.userToken('bob');
    const created = await http.post(`/v1/projects/${P}/access-requests`).set(auth(bob)).send({ role: 'developer', environment: 'prod*', durationSeconds: 600, reason: 'deploy' });
    expect(created.status).toBe(201);
    const path = `/v1/projects/${P}/access-requests/${created.body.requestId}/impact`;
    const asOwner = await http.get(path).set(auth(olive));
    expect(asOwner.status).toBe(200);
    expect(asOwner.body).toEqual({ wouldRead: [{ name: 'PROD_TOKEN', source: { type: 'project', id: P } }], wouldManage: false });
    expect((await http.get(path).set(auth(bob))).status).toBe(200);
    const stranger = await http.get(path).set(auth(await t.userToken('eve')));
    expect(stranger.status).toBe(403);
    // An unknown request: a stranger learns nothing (403), an owner gets 404.
    const unknown = `/v1/projects/${P}/access-requests/00000000-0000-4000-8000-000000000000/impact`;
    expect((await http.get(unknown).set(auth(await t.userToken('eve')))).status).toBe(403);
    expect((await http.get(unknown).set(auth(olive))).status).toBe(404);
    const owner = await http.post(`/v1/projects/${P}/access-requests`).set(auth(bob)).send({ role: 'owner', durationSeconds: 600, reason: 'x' });
    const ownerImpact = await http.get(`/v1/projects/${P}/access-requests/${owner.body.requestId}/impact`).set(auth(olive));
    expect(ownerImpact.body).toEqual({ wouldRead: [{ name: 'DB_PASSWORD', source: { type: 'project', id: P } }, { name: 'PROD_TOKEN', source: { type: 'project', id: P } }], wouldManage: true });
  });

  it('impact: a CI job asking is refused and the refusal is a recorded denial (ci-job-action), as on every access-request endpoint', async () => {
    const bob = await t.userToken('bob');
    const created = await http.post(`/v1/projects/${P}/access-requests`).set(auth(bob)).send({ role: 'reporter', durationSeconds: 600, reason: 'look' });
    expect(created.status).toBe(201);
    const job = await t.ciToken({ project: P, ref: 'main', pipeline: '4242', job: '1' });
    const r = await http.get(`/v1/projects/${P}/access-requests/${created.body.requestId}/impact`).set(auth(job));
    expect(r.status).toBe(403);
    const denials = (await allEvents(t.infra.eventStore)).filter((e) => e.type === 'SecretAccessDenied' && (e.data as { reason?: string }).reason === 'ci-job-action' && (e.data as { projectId?: string }).projectId === P);
    expect(denials.length).toBe(1);
  });

  it('scope tester: would a CI job on this ref/environment/protection read it — the API\'s own rule; list to ask', async () => {
    const path = `/v1/projects/${P}/secrets/PROD_TOKEN/scope-test`;
    expect((await http.get(path).query({ ref: 'main', environment: 'production' }).set(auth(olive))).body).toEqual({ wouldRead: true, reason: null });
    expect((await http.get(path).query({ ref: 'main', environment: 'staging' }).set(auth(olive))).body).toEqual({ wouldRead: false, reason: 'environment-mismatch' });
    expect((await http.get(path).query({ ref: 'main' }).set(auth(olive))).body).toEqual({ wouldRead: false, reason: 'environment-mismatch' });
    const bad = await http.get(path).query({ refType: 'commit', protected: 'yes' }).set(auth(olive));
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['protected', 'ref', 'refType']);
    expect((await http.get(path).query({ ref: 'main' }).set(auth(await t.userToken('eve')))).status).toBe(403);
    expect((await http.get(`/v1/projects/${P}/secrets/NOPE/scope-test`).query({ ref: 'main' }).set(auth(olive))).status).toBe(404);
  });

  it('format=csv|ndjson on access-history does what Accept does; a bad format names the field', async () => {
    const csv = await http.get(`/v1/projects/${P}/access-history`).query({ format: 'csv', secret: 'DB_PASSWORD' }).set(auth(olive));
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const nd = await http.get(`/v1/projects/${P}/access-history`).query({ format: 'ndjson' }).set(auth(olive));
    expect(nd.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const bad = await http.get(`/v1/projects/${P}/access-history`).query({ format: 'xml' }).set(auth(olive));
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: 'format', message: expect.stringContaining('csv') }]);
    expect(csv.text).not.toContain('console-canary');
  });
});
