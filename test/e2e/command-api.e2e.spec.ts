import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { EventStore, RecordedEvent, StreamName } from '@app/domain';
import { EmbeddedApp, filesUnder, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { allEvents } from '../support/events';

const CANARY = `canary-${randomUUID()}-do-not-leak`;


describe('command API, embedded profile, end to end', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let admin: string, alice: string, bob: string, carol: string, auditor: string;
  const errorBodies: string[] = [];
  const P = 'payments-api';

  beforeAll(async () => {
    t = await startEmbedded();
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    alice = await t.userToken('alice');
    bob = await t.userToken('bob', { groups: ['readers'] });
    carol = await t.userToken('carol');
    auditor = await t.userToken('audrey');
  });
  afterAll(async () => {
    await t?.close();
  });

  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  function keep(res: request.Response) {
    if (res.status >= 400) errorBodies.push(res.text);
    return res;
  }

  it('walks through: bootstrap owner → create → CI job reads → reporter denied', async () => {
    const g = keep(await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'alice' }, role: 'owner' }));
    expect(g.status).toBe(201);
    expect(g.body.grantId).toMatch(/^[0-9a-f-]{36}$/);

    const c = keep(await http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'DEPLOY_TOKEN', value: CANARY, description: 'deploys', branch: 'main', protectedOnly: true }));
    expect(c.status).toBe(201);
    expect(c.body).toEqual({ name: 'DEPLOY_TOKEN', version: 1, revision: 0 });

    const job = await t.ciToken({ project: P, ref: 'main', protected: true, pipeline: '7', job: '42' });
    const a = keep(await http.post(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/access`).set(auth(job)).send({ purpose: 'deploy' }));
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ name: 'DEPLOY_TOKEN', version: 1, value: CANARY, source: { type: 'project', id: P } });
    expect(a.headers['cache-control']).toBe('no-store');

    expect(keep(await http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'group', id: 'readers' }, role: 'reporter' })).status).toBe(201);
    const denied = keep(await http.post(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/access`).set(auth(bob)).send({}));
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(denied.body).toMatchObject({ status: 403, reason: 'role-lacks-action' });
    expect(denied.text).not.toContain(CANARY);
  });

  it('records every decision as an event, denials included, with metadata', async () => {
    const events = await allEvents(t.infra.eventStore);
    const access = events.filter((e) => e.streamName.startsWith(`access-${P}`));
    expect(access.map((e) => e.type)).toEqual(['SecretAccessed', 'SecretAccessDenied']);
    expect(access[0].data).toMatchObject({ name: 'DEPLOY_TOKEN', version: 1, via: { scope: 'ci-job-scope' }, principal: { type: 'ci-job', pipelineId: '7', jobId: '42' } });
    expect(access[1].data).toMatchObject({ reason: 'role-lacks-action', principal: { type: 'user', id: 'bob' } });
    for (const e of events) {
      expect(e.schemaVersion).toBe(1);
      expect(e.metadata).toEqual(expect.objectContaining({ correlationId: expect.any(String), causationId: expect.any(String), occurredAt: expect.any(String), actor: expect.any(Object) }));
    }
  });

  it('lists metadata (never values) for those who may list, and serves one secret with its ETag', async () => {
    const list = await eventually(
      () => http.get(`/v1/projects/${P}/secrets`).set(auth(bob)),
      (r) => r.status === 200 && r.body.items.length === 1,
    );
    expect(list.status).toBe(200);
    expect(list.body.items[0]).toMatchObject({ name: 'DEPLOY_TOKEN', version: 1, branch: 'main', protectedOnly: true });
    expect(JSON.stringify(list.body)).not.toContain(CANARY);

    const one = await http.get(`/v1/projects/${P}/secrets/DEPLOY_TOKEN`).set(auth(bob));
    expect(one.status).toBe(200);
    expect(one.headers.etag).toBe('"0"');
    expect(one.body).not.toHaveProperty('value');

    expect(keep(await http.get(`/v1/projects/${P}/secrets`).set(auth(carol))).status).toBe(403);
    expect(keep(await http.get(`/v1/projects/${P}/secrets/NOPE`).set(auth(bob))).status).toBe(404);
    expect(keep(await http.get(`/v1/projects/${P}/secrets/NOPE`).set(auth(carol))).status).toBe(403);
  });

  it('updates values with optimistic concurrency: stale If-Match is 412', async () => {
    const ok = keep(await http.put(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/value`).set(auth(alice)).set('If-Match', '"0"').send({ value: `${CANARY}-v2` }));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ version: 2 });
    const stale = keep(await http.put(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/value`).set(auth(alice)).set('If-Match', '"0"').send({ value: `${CANARY}-v3` }));
    expect(stale.status).toBe(412);
    const bad = keep(await http.put(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/value`).set(auth(alice)).set('If-Match', 'yesterday').send({ value: 'x' }));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('If-Match');
  });

  it('concurrent creates of one name: exactly one 201, the rest 409', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'RACE', value: `${CANARY}-${i}` })),
    );
    results.forEach(keep);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(5);
    // Losers' values were destroyed: exactly one stored value for RACE.
    const { rows } = await t.infra.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM secret_values WHERE name = 'RACE'");
    expect(rows[0].n).toBe(1);
  });

  it('concurrent value updates with the same If-Match: one 200, the rest 412', async () => {
    const etag = (await http.get(`/v1/projects/${P}/secrets/RACE`).set(auth(alice))).headers.etag;
    const results = await Promise.all(Array.from({ length: 5 }, () => http.put(`/v1/projects/${P}/secrets/RACE/value`).set(auth(alice)).set('If-Match', etag).send({ value: CANARY })));
    results.forEach(keep);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 412)).toHaveLength(4);
  });

  it('patches scope; a CI job outside the new scope is denied', async () => {
    const r = keep(await http.patch(`/v1/projects/${P}/secrets/RACE`).set(auth(alice)).send({ environment: 'production', description: null }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'RACE', environment: 'production', description: null });
    const staging = await t.ciToken({ project: P, ref: 'main', environment: 'staging' });
    const d = keep(await http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(staging)).send({}));
    expect(d.status).toBe(403);
    expect(d.body.reason).toBe('environment-mismatch');
    const other = await t.ciToken({ project: 'other-project', ref: 'main', environment: 'production' });
    const o = keep(await http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(other)).send({}));
    expect(o.status).toBe(403);
    expect(o.body.reason).toBe('other-project');
  });

  it('a revocation takes effect on the very next request', async () => {
    const g = await http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'carol' }, role: 'developer' });
    expect(g.status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/access`).set(auth(carol)).send({})).status).toBe(200);
    expect((await http.delete(`/v1/projects/${P}/grants/${g.body.grantId}`).set(auth(alice))).status).toBe(204);
    const after = keep(await http.post(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/access`).set(auth(carol)).send({}));
    expect(after.status).toBe(403);
    expect(after.body.reason).toBe('grant-revoked');
  });

  it('grants: list for owners, last owner protected, admins only bootstrap', async () => {
    const list = await http.get(`/v1/projects/${P}/grants`).set(auth(alice));
    expect(list.status).toBe(200);
    const owner = list.body.items.find((g: { role: string }) => g.role === 'owner');
    expect(list.body.items.map((g: { status: string }) => g.status).sort()).toEqual(['active', 'active', 'revoked']);
    const last = keep(await http.delete(`/v1/projects/${P}/grants/${owner.grantId}`).set(auth(alice)));
    expect(last.status).toBe(409);
    expect(last.body.reason).toBe('last-owner');
    // The project has an owner now: the admin can no longer grant here, nor read grants.
    expect(keep(await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'root' }, role: 'owner' })).status).toBe(403);
    expect(keep(await http.get(`/v1/projects/${P}/grants`).set(auth(bob))).status).toBe(403);
    expect(keep(await http.delete(`/v1/projects/${P}/grants/${randomUUID()}`).set(auth(alice))).status).toBe(404);
    expect(keep(await http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'audrey' }, role: 'auditor', expiresAt: '2020-01-01T00:00:00Z' })).status).toBe(400);
  });

  it('deletes a secret and destroys its values', async () => {
    expect((await http.delete(`/v1/projects/${P}/secrets/DEPLOY_TOKEN`).set(auth(alice))).status).toBe(204);
    expect(keep(await http.post(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/access`).set(auth(alice)).send({})).status).toBe(404);
    expect(keep(await http.delete(`/v1/projects/${P}/secrets/DEPLOY_TOKEN`).set(auth(alice))).status).toBe(404);
    const { rows } = await t.infra.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM secret_values WHERE name = 'DEPLOY_TOKEN'");
    expect(rows[0].n).toBe(0);
  });

  describe('bad input: 4xx problem+json naming the field, never a 500', () => {
    const cases: Array<[string, () => request.Test, number | RegExp, string | RegExp]> = [
      ['malformed JSON', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').send('{"name": "A",'), 400, 'body'],
      ['unknown field', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', colour: 'red' }), 400, 'colour'],
      ['bad secret name', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'lower-case', value: 'v' }), 400, 'name'],
      ['missing value', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME' }), 400, 'value'],
      ['value not a string', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 42 }), 400, 'value'],
      ['value over 64 KiB of UTF-8', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'é'.repeat(32 * 1024 + 1) }), 400, 'value'],
      ['body over the limit', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'x'.repeat(600 * 1024) }), 413, /too large/],
      ['bad glob', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', environment: 'prod{a,b}' }), 400, 'environment'],
      ['glob too long', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', branch: 'a'.repeat(256) }), 400, 'branch'],
      ['protectedOnly not boolean', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', protectedOnly: 'yes' }), 400, 'protectedOnly'],
      ['bad project id', () => http.post(`/v1/projects/Bad_Project/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v' }), 400, 'projectId'],
      ['bad name in path', () => http.get(`/v1/projects/${P}/secrets/bad-name`).set(auth(alice)), 400, 'name'],
      ['bad grant role', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'x' }, role: 'god' }), 400, 'role'],
      ['bad grant principal type', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'robot', id: 'x' }, role: 'developer' }), 400, 'principal.type'],
      ['missing grant principal', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ role: 'developer' }), 400, 'principal'],
      ['bad expiresAt', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'x' }, role: 'developer', expiresAt: 'tomorrow' }), 400, 'expiresAt'],
      ['bad grant id', () => http.delete(`/v1/projects/${P}/grants/not-a-uuid`).set(auth(alice)), 400, 'grantId'],
      ['JSON array body', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send([1, 2]), 400, /./],
      ['purpose too long', () => http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(alice)).send({ purpose: 'p'.repeat(513) }), 400, 'purpose'],
      ['unknown route', () => http.get('/v1/nothing-here').set(auth(alice)), 404, /./],
      ['prototype key', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').send('{"__proto__":{"admin":true},"name":"OK_NAME","value":"v"}'), 400, 'body'],
      ['constructor key', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').send('{"constructor":{"prototype":{}},"name":"OK_NAME","value":"v"}'), 400, 'body'],
      ['NUL in description', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', description: 'a\u0000b' }), 400, 'description'],
      ['control character in purpose', () => http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(alice)).send({ purpose: 'x\u001b[31m' }), 400, 'purpose'],
      ['bad percent-encoding in path', () => http.get('/v1/projects/%ZZ/secrets').set(auth(alice)), 400, 'request'],
      ['If-Match beyond any revision', () => http.put(`/v1/projects/${P}/secrets/RACE/value`).set(auth(alice)).set('If-Match', '"99999999999999999999"').send({ value: 'x' }), 400, 'If-Match'],
      ['not JSON content type', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'text/plain').send('name=A'), 400, 'name'],
      // issue 9: null where a field is not nullable, ill-formed Unicode, out-of-range instants, bodies that are not what they claim
      ['PATCH protectedOnly: null', () => http.patch(`/v1/projects/${P}/secrets/RACE`).set(auth(alice)).send({ protectedOnly: null }), 400, 'protectedOnly'],
      ['create protectedOnly: null', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', protectedOnly: null }), 400, 'protectedOnly'],
      ['create environment: null', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', environment: null }), 400, 'environment'],
      ['grant branch: null', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'x' }, role: 'developer', branch: null }), 400, 'branch'],
      ['grant expiresAt: null', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'x' }, role: 'developer', expiresAt: null }), 400, 'expiresAt'],
      ['access purpose: null', () => http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(alice)).send({ purpose: null }), 400, 'purpose'],
      ['lone surrogate in description', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', description: 'a\ud800b' }), 400, 'description'],
      ['lone surrogate in PATCH description', () => http.patch(`/v1/projects/${P}/secrets/RACE`).set(auth(alice)).send({ description: '\udc00' }), 400, 'description'],
      ['lone surrogate in value', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'x\ud800' }), 400, 'value'],
      ['lone surrogate in a new value', () => http.put(`/v1/projects/${P}/secrets/RACE/value`).set(auth(alice)).send({ value: '\udfff' }), 400, 'value'],
      ['lone surrogate in purpose', () => http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(alice)).send({ purpose: 'deploy \ud83d' }), 400, 'purpose'],
      ['lone surrogate in a glob', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: 'v', branch: 'main\ud800' }), 400, 'branch'],
      ['expiresAt with a +25:00 offset', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'x' }, role: 'developer', expiresAt: '2030-01-01T00:00:00+25:00' }), 400, 'expiresAt'],
      ['expiresAt on 30 February', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: { type: 'user', id: 'x' }, role: 'developer', expiresAt: '2030-02-30T00:00:00Z' }), 400, 'expiresAt'],
      ['readers?at in year 0000', () => http.get(`/v1/projects/${P}/secrets/RACE/readers?at=0000-01-01T00:00:00Z`).set(auth(alice)), 400, 'at'],
      ['readers?at with a +25:00 offset', () => http.get(`/v1/projects/${P}/secrets/RACE/readers?at=${encodeURIComponent('2026-01-01T00:00:00+25:00')}`).set(auth(alice)), 400, 'at'],
      ['readers?at pushed below year 0001 by its offset', () => http.get(`/v1/projects/${P}/secrets/RACE/readers?at=${encodeURIComponent('0001-01-01T00:00:00+01:00')}`).set(auth(alice)), 400, 'at'],
      ['access-history?from on 31 April', () => http.get(`/v1/projects/${P}/access-history?from=2026-04-31T00:00:00Z`).set(auth(alice)), 400, 'from'],
      ['Content-Encoding gzip on a body that is not gzip', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{"name":"OK_NAME","value":"v"}'), 400, 'Content-Encoding'],
      ['Content-Encoding deflate on a truncated stream', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').set('Content-Encoding', 'deflate').send(Buffer.from([0x78, 0x9c, 1, 2])), 400, 'Content-Encoding'],
      ['an unknown Content-Encoding', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').set('Content-Encoding', 'compress').send('{}'), 415, 'Content-Encoding'],
      ['an object of 65 keys', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 1]))), 413, 'body'],
      ['nesting 9 levels deep', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: JSON.parse('{"a":'.repeat(8) + '1' + '}'.repeat(8)), role: 'developer' }), 413, 'body'],
      ['an array of 3,000 items', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'OK_NAME', value: Array.from({ length: 3000 }, () => 0) }), 413, 'body'],
      ['arrays nested 100,000 deep', () => http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').send('['.repeat(100_000) + ']'.repeat(100_000)), /^4\d\d$/, /./],
      ['lone surrogate in an evidence subject name', () => http.post(`/v1/projects/${P}/pipelines/7/evidence`).set(auth(alice)).send({ subjects: [{ name: 'app\ud800.tar', digest: { sha256: 'a'.repeat(64) } }] }), 400, 'subjects[0].name'],
      ['grant principal as an empty array', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: [], role: 'developer' }), 400, 'principal'],
      ['grant principal as an array of one principal', () => http.post(`/v1/projects/${P}/grants`).set(auth(alice)).send({ principal: [{ type: 'user', id: 'x' }], role: 'developer' }), 400, 'principal'],
      ['a malformed X-Request-Id', () => http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(alice)).set('X-Request-Id', 'has space').send({}), 400, 'X-Request-Id'],
    ];
    it.each(cases)('%s', async (_name, send, status, field) => {
      const res = keep(await send());
      if (typeof status === 'number') expect(res.status).toBe(status);
      else expect(String(res.status)).toMatch(status);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.status).toBe(res.status);
      if (typeof field === 'string') expect((res.body.errors ?? []).map((e: { field: string }) => e.field)).toContain(field);
      else expect(JSON.stringify(res.body)).toMatch(field);
    });
  });

  it('a JSON key that reaches object prototypes is refused as such: invalid-request naming the key rule, not "not valid JSON"', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const res = keep(await http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').send(`{"${key}":{},"name":"OK_NAME","value":"v"}`));
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('urn:pipeline-secrets:problem:invalid-request');
      expect(res.body.errors).toEqual([{ field: 'body', message: 'keys named __proto__, constructor or prototype are not accepted' }]);
    }
  });

  describe('issue 9: what a bad input leaves behind', () => {
    it('a probe with a bad purpose is a 400 and still an audited denial; an allowed read with one records nothing and returns no value', async () => {
      const dave = await t.userToken('dave');
      const before = (await allEvents(t.infra.eventStore)).length;
      const probe = keep(await http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(dave)).send({ purpose: 'lone \ud800 surrogate' }));
      expect(probe.status).toBe(400);
      expect(probe.body.errors.map((e: { field: string }) => e.field)).toEqual(['purpose']);
      const allowed = keep(await http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(alice)).send({ purpose: 'p'.repeat(513) }));
      expect(allowed.status).toBe(400);
      expect(allowed.text).not.toContain(CANARY);
      const after = (await allEvents(t.infra.eventStore)).slice(before);
      expect(after.map((e) => [e.type, e.data.principal])).toEqual([['SecretAccessDenied', { type: 'user', id: 'dave' }]]);
      expect(after[0].data).toMatchObject({ name: 'RACE', reason: 'no-grant', purpose: null });
    });

    it('PATCH protectedOnly: null records no event, and the secrets projection keeps up', async () => {
      const before = (await allEvents(t.infra.eventStore)).length;
      expect(keep(await http.patch(`/v1/projects/${P}/secrets/RACE`).set(auth(alice)).send({ protectedOnly: null })).status).toBe(400);
      expect((await allEvents(t.infra.eventStore)).length).toBe(before);
      const ok = await http.patch(`/v1/projects/${P}/secrets/RACE`).set(auth(alice)).send({ protectedOnly: true });
      expect(ok.status).toBe(200);
      const list = await eventually(() => http.get(`/v1/projects/${P}/secrets`).set(auth(alice)), (r) => r.body.items?.some((i: { name: string; protectedOnly: boolean }) => i.name === 'RACE' && i.protectedOnly));
      expect(list.status).toBe(200);
      expect((await http.patch(`/v1/projects/${P}/secrets/RACE`).set(auth(alice)).send({ protectedOnly: false })).status).toBe(200);
    });

    it('an event already written with protectedOnly: null is repaired on read: the projection applies it, the command side folds it', async () => {
      expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send({ name: 'LEGACY', value: CANARY, protectedOnly: true })).status).toBe(201);
      // As the service wrote it before the fix (immutable history: straight into the store).
      await t.infra.eventStore.appendToStream(StreamName.secret(P, 'LEGACY'), 'any', [
        {
          eventId: randomUUID(),
          type: 'SecretMetadataChanged',
          schemaVersion: 1,
          data: { projectId: P, name: 'LEGACY', description: 'legacy', scope: { environment: 'legacy', branch: null, protectedOnly: null }, changedBy: 'alice' },
          metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: { type: 'user', id: 'alice' }, occurredAt: new Date().toISOString() },
        },
      ]);
      const one = await eventually(() => http.get(`/v1/projects/${P}/secrets/LEGACY`).set(auth(alice)), (r) => r.status === 200 && r.body.environment === 'legacy');
      expect(one.body).toMatchObject({ environment: 'legacy', description: 'legacy', protectedOnly: false });
      const patched = keep(await http.patch(`/v1/projects/${P}/secrets/LEGACY`).set(auth(alice)).send({ description: 'mended' }));
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ protectedOnly: false, description: 'mended' });
      const last = (await t.infra.eventStore.readStream(StreamName.secret(P, 'LEGACY'))).at(-1)!;
      expect(last.data).toMatchObject({ scope: { protectedOnly: false } });
      // The read model (the list) took both events: the repaired one did not halt the secrets projection.
      type Item = { name: string; description: string | null; protectedOnly: boolean };
      const listed = await eventually(() => http.get(`/v1/projects/${P}/secrets`).set(auth(alice)), (r) => r.body.items?.some((i: Item) => i.name === 'LEGACY' && i.description === 'mended'));
      expect(listed.body.items.find((i: Item) => i.name === 'LEGACY')).toMatchObject({ environment: 'legacy', protectedOnly: false, description: 'mended' });
      expect((await http.delete(`/v1/projects/${P}/secrets/LEGACY`).set(auth(alice))).status).toBe(204);
    });

    it('a 419 KB body of unknown keys is refused fast and small, before validation', async () => {
      const parts: string[] = [];
      for (let i = 0, size = 2; size < 419 * 1024; i++) {
        parts.push(`"unknown_key_${i}":${i}`);
        size += parts[i].length + 1;
      }
      const body = `{${parts.join(',')}}`;
      const started = performance.now();
      const res = keep(await http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).set('Content-Type', 'application/json').send(body));
      const ms = performance.now() - started;
      process.stderr.write(`${(body.length / 1024).toFixed(0)} KB of unknown keys (${parts.length} keys): ${res.status} in ${ms.toFixed(1)} ms, ${res.text.length} bytes\n`);
      expect(res.status).toBe(413);
      expect(res.body.errors).toEqual([{ field: 'body', message: expect.stringMatching(/64 keys/) }]);
      expect(res.text.length).toBeLessThan(1024);
      expect(ms).toBeLessThan(1000);
    });

    it('a body within the key bounds but full of errors answers a short list', async () => {
      const body = { name: 'lower', value: 42, description: 7, environment: 8, branch: 9, protectedOnly: 'x', ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`unknown_${'k'.repeat(200)}_${i}`, i])) };
      const res = keep(await http.post(`/v1/projects/${P}/secrets`).set(auth(alice)).send(body));
      expect(res.status).toBe(400);
      expect(res.body.errors.length).toBeLessThanOrEqual(10);
      for (const e of res.body.errors) expect(e.field.length).toBeLessThanOrEqual(64);
      expect(res.text.length).toBeLessThan(4096);
    });

    it("a caller-supplied X-Request-Id is scoped to the caller: two principals sending the same one never share a correlation id", async () => {
      const eve = await t.userToken('eve');
      const rid = `shared-${randomUUID()}`;
      expect((await http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(alice)).set('X-Request-Id', rid).send({})).status).toBe(200);
      expect((await http.post(`/v1/projects/${P}/secrets/RACE/access`).set(auth(eve)).set('X-Request-Id', rid).send({})).status).toBe(403);
      const mine = (await allEvents(t.infra.eventStore)).filter((e) => String(e.metadata.correlationId).startsWith(rid));
      expect(mine.map((e) => e.type)).toEqual(['SecretAccessed', 'SecretAccessDenied']);
      const [a, b] = mine.map((e) => String(e.metadata.correlationId));
      expect(a).not.toBe(b);
      for (const id of [a, b]) {
        expect(id.startsWith(`${rid}.`)).toBe(true);
        expect(id.slice(rid.length + 1)).toMatch(/^[A-Za-z0-9_-]{16}$/);
      }
    });
  });

  describe('bad tokens: 401 problem+json with the reason', () => {
    it.each([
      ['no token', () => http.get(`/v1/projects/${P}/secrets`), /missing bearer token/],
      ['not a bearer header', () => http.get(`/v1/projects/${P}/secrets`).set('Authorization', 'Basic abc'), /malformed Authorization/],
      ['garbage', () => http.get(`/v1/projects/${P}/secrets`).set(auth('not.a.jwt')), /malformed token/],
    ] as const)('%s', async (_n, send, reason) => {
      const res = keep(await send());
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.detail).toMatch(reason);
    });

    it('expired, forged, wrong issuer, wrong audience, alg none', async () => {
      const { SignJWT, generateKeyPair, UnsecuredJWT } = await import('jose');
      const expired = await t.userToken('alice', { ttlSeconds: -120 });
      const other = await generateKeyPair('EdDSA');
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('urn:pipeline-secrets:dev-issuer:users').setAudience('pipeline-secrets').setSubject('alice').setExpirationTime('5m').sign(other.privateKey);
      const wrongIss = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('https://evil.example').setAudience('pipeline-secrets').setSubject('alice').setExpirationTime('5m').sign(other.privateKey);
      const wrongAud = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('urn:pipeline-secrets:dev-issuer:users').setAudience('someone-else').setSubject('alice').setExpirationTime('5m').sign(t.infra.devIssuer!.privateKey);
      const none = new UnsecuredJWT({}).setIssuer('urn:pipeline-secrets:dev-issuer:users').setAudience('pipeline-secrets').setSubject('alice').setExpirationTime('5m').encode();
      for (const [token, reason] of [
        [expired, /expired/],
        [forged, /signature invalid/],
        [wrongIss, /untrusted issuer/],
        [wrongAud, /claim aud invalid/],
        [none, /not verifiable|algorithm not allowed|malformed/],
      ] as const) {
        const res = keep(await http.get(`/v1/projects/${P}/secrets`).set(auth(token)));
        expect(res.status).toBe(401);
        expect(res.body.detail).toMatch(reason);
      }
    });
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    const health = await http.get('/healthz');
    expect(health.status).toBe(200);
    expect(health.headers['x-powered-by']).toBeUndefined();
    expect(health.headers['x-content-type-options']).toBe('nosniff');
    const ready = await http.get('/readyz');
    expect(ready.status).toBe(200);
    // Readiness names every dependency and every background loop of the embedded process.
    expect(ready.body.checks).toEqual({
      'event-store': 'up',
      'value-store': 'up',
      'projection:access-history': 'up',
      'projection:audit-log': 'up',
      'projection:grants': 'up',
      'projection:openbao-memberships': 'up',
      'projection:project-groups': 'up',
      'projection:secret-history': 'up',
      'projection:secrets': 'up',
      'relay:file-records': 'up',
    });
    const metrics = await http.get('/metrics');
    expect(metrics.text).toMatch(/http_requests_total\{method="POST",route="\/v1\/projects\/:projectId\/secrets",status="201"\}/);
    expect(metrics.text).toMatch(/secret_access_decisions_total\{decision="denied"/);
    expect(metrics.text).toMatch(/secret_access_decisions_total\{decision="allowed",reason="grant"\} [1-9]/);
    expect(metrics.text).toMatch(/secret_access_decisions_total\{decision="allowed",reason="ci-job-scope"\} [1-9]/);
    const doc = await http.get('/docs-json');
    expect(doc.status).toBe(200);
    for (const path of ['/v1/projects/{projectId}/secrets', '/v1/projects/{projectId}/secrets/{name}', '/v1/projects/{projectId}/secrets/{name}/value', '/v1/projects/{projectId}/secrets/{name}/access', '/v1/projects/{projectId}/grants', '/v1/projects/{projectId}/grants/{grantId}']) {
      expect(doc.body.paths).toHaveProperty([path]);
    }
    expect(doc.body.components.schemas).toHaveProperty('ProblemView');
    expect(doc.body.paths['/v1/projects/{projectId}/secrets/{name}/access'].post.responses).toHaveProperty('403');
    expect(doc.body.paths['/v1/projects/{projectId}/secrets/{name}/value'].put.responses).toHaveProperty('412');
  });

  it('CANARY: the value appears in no event, no log line, no error body, and nowhere in DATA_DIR in plaintext', async () => {
    const events = await allEvents(t.infra.eventStore);
    expect(events.length).toBeGreaterThan(10);
    expect(JSON.stringify(events, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(CANARY);
    expect(t.logs.length).toBeGreaterThan(0);
    expect(t.logs.join('\n')).not.toContain(CANARY);
    expect(errorBodies.length).toBeGreaterThan(20);
    expect(errorBodies.join('\n')).not.toContain(CANARY);
    const needle = Buffer.from(CANARY.slice(0, 24), 'utf8');
    let scanned = 0;
    for (const f of filesUnder(t.dataDir)) {
      scanned++;
      expect({ file: f.path, containsCanary: f.bytes.includes(needle) }).toEqual({ file: f.path, containsCanary: false });
    }
    expect(scanned).toBeGreaterThan(5);
  });
});

describe('audit before value: a failed SecretAccessed append means 503 and no value', () => {
  let t: EmbeddedApp;
  let failAccessAppends = false;
  beforeAll(async () => {
    t = await startEmbedded({
      wrap: (infra) => {
        const real = infra.eventStore;
        const store: EventStore = Object.create(real);
        store.appendToStream = (stream, expected, events) =>
          failAccessAppends && stream.startsWith('access-') ? Promise.reject(new (require('@app/domain').StoreUnavailableError)('injected')) : real.appendToStream(stream, expected, events);
        return { ...infra, eventStore: store };
      },
    });
  });
  afterAll(() => t?.close());

  it('returns 503 without the value', async () => {
    const http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    expect((await http.post('/v1/projects/p1/grants').set('Authorization', `Bearer ${admin}`).send({ principal: { type: 'user', id: 'alice' }, role: 'owner' })).status).toBe(201);
    const alice = await t.userToken('alice');
    expect((await http.post('/v1/projects/p1/secrets').set('Authorization', `Bearer ${alice}`).send({ name: 'K', value: CANARY })).status).toBe(201);
    failAccessAppends = true;
    const res = await http.post('/v1/projects/p1/secrets/K/access').set('Authorization', `Bearer ${alice}`).send({});
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.text).not.toContain(CANARY);
    failAccessAppends = false;
    const ok = await http.post('/v1/projects/p1/secrets/K/access').set('Authorization', `Bearer ${alice}`).send({});
    expect(ok.body.value).toBe(CANARY);
  });
});
