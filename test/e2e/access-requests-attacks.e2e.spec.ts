import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { EventStore, RecordedEvent, WrongExpectedRevisionError } from '@app/domain';
import { AccessRequestExpiryRecorder } from '../../apps/command-api/src/access-requests/access-request-expiry-recorder';
import { EmbeddedApp } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { appProfiles, StartedProfile } from '../support/profiles';

// Issue 18 items 1, 2, 5 and 7, as an attacker would try them, on both profiles: strangers' request
// loops against an owner's grant changes; unbounded requests and lists; a break-glass making itself
// permanent; refusals that left no record.
describe.each(appProfiles('access-requests-attacks'))('access request attacks, $name', (profile) => {
  let started: StartedProfile;
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const tokens = new Map<string, string>();
  const P = `ar-attacks-${randomUUID().slice(0, 8)}`;
  const tok = async (id: string) => {
    if (!tokens.has(id)) tokens.set(id, await t.userToken(id));
    return tokens.get(id)!;
  };
  const as = async (id: string) => ({ Authorization: `Bearer ${await tok(id)}` });
  const ask = async (who: string, project = P) => http.post(`/v1/projects/${project}/access-requests`).set(await as(who)).send({ role: 'developer', durationSeconds: 600, reason: 'attack' });
  const denials = async (project: string, match: (d: Record<string, unknown>) => boolean) =>
    (await t.infra.eventStore.readStream(`access-${project}`)).filter((e: RecordedEvent) => e.type === 'SecretAccessDenied' && match(e.data));
  /** Counts optimistic-concurrency conflicts on one stream (each is a retry or a 409 of the writer). */
  const countConflicts = (stream: string) => {
    const store = t.infra.eventStore as EventStore;
    const original = store.appendToStream.bind(store);
    const counter = { conflicts: 0, restore: () => void (store.appendToStream = original) };
    store.appendToStream = async (name, expected, events) => {
      try {
        return await original(name, expected, events);
      } catch (e) {
        if (name === stream && e instanceof WrongExpectedRevisionError) counter.conflicts++;
        throw e;
      }
    };
    return counter;
  };

  beforeAll(async () => {
    started = await profile.start();
    t = started.t;
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    expect((await http.post(`/v1/projects/${P}/grants`).set({ Authorization: `Bearer ${admin}` }).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(await as('olive')).send({ principal: { type: 'user', id: 'oscar' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(await as('olive')).send({ principal: { type: 'user', id: 'carol' }, role: 'break-glass' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await started?.cleanup();
  });

  it('item 1: eight strangers creating and cancelling requests in loops never make an owner\'s grant or revoke fail, wait or retry', async () => {
    const counter = countConflicts(`project-${P}`);
    const before = (await t.infra.eventStore.readStream(`project-${P}`)).length;
    let stop = false;
    let made = 0;
    const loop = async (who: string) => {
      while (!stop) {
        const r = await ask(who);
        if (r.status !== 201) continue;
        made++;
        await http.delete(`/v1/projects/${P}/access-requests/${r.body.requestId}`).set(await as(who));
      }
    };
    for (let i = 0; i < 8; i++) await tok(`stranger-${i}`);
    const loops = Array.from({ length: 8 }, (_, i) => loop(`stranger-${i}`));
    try {
      expect(await eventually(async () => made, (m) => m >= 16, 30_000)).toBeGreaterThanOrEqual(16);
      const outcomes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const g = await http.post(`/v1/projects/${P}/grants`).set(await as('olive')).send({ principal: { type: 'user', id: `temp-${i}` }, role: 'developer' });
        outcomes.push(g.status);
        outcomes.push((await http.delete(`/v1/projects/${P}/grants/${g.body.grantId}`).set(await as('olive'))).status);
      }
      expect(outcomes).toEqual(Array.from({ length: 5 }, () => [201, 204]).flat());
    } finally {
      stop = true;
      await Promise.all(loops);
      counter.restore();
    }
    // No retry at all: nothing but the owner's own changes reached the policy stream.
    expect(counter.conflicts).toBe(0);
    const after = (await t.infra.eventStore.readStream(`project-${P}`)).slice(before);
    expect(after.map((e) => e.type)).toEqual(Array.from({ length: 5 }, () => ['RoleGranted', 'RoleRevoked']).flat());
    expect(made).toBeGreaterThanOrEqual(16);
  }, 120_000);

  it('item 2: at most 20 pending requests per requester across all projects, invented ones included: 429 problem+json, the same on a project nobody set up', async () => {
    const who = `hoarder-${randomUUID().slice(0, 6)}`;
    // 25 at once, half on invented projects: exactly 20 are taken, whatever the interleaving.
    const all = await Promise.all(Array.from({ length: 25 }, (_, i) => ask(who, i % 2 === 0 ? P : `ghost-${randomUUID().slice(0, 8)}`)));
    expect(all.filter((r) => r.status === 201)).toHaveLength(20);
    const refused = all.filter((r) => r.status !== 201);
    expect(refused.map((r) => r.status)).toEqual([429, 429, 429, 429, 429]);
    expect(refused[0].headers['content-type']).toMatch(/application\/problem\+json/);
    expect(refused[0].body).toMatchObject({ status: 429, reason: 'access-request-limit' });
    expect(Number(refused[0].headers['retry-after'])).toBeGreaterThan(0);
    const onKnown = await ask(who, P);
    const onGhost = await ask(who, `ghost-${randomUUID().slice(0, 8)}`);
    const sameAnswer = (r: { status: number; body: Record<string, unknown>; headers: Record<string, string> }) => [r.status, { ...r.body, instance: undefined }, r.headers['retry-after']];
    expect(sameAnswer(onGhost)).toEqual(sameAnswer(onKnown));
    // Cancelling one frees one place.
    const mine = all.find((r) => r.status === 201)!;
    const project = (await t.infra.eventStore.readAll({ streamPrefixes: ['accessrequest-'] })).find((e) => e.data.requestId === mine.body.requestId)!.data.projectId as string;
    expect((await http.delete(`/v1/projects/${project}/access-requests/${mine.body.requestId}`).set(await as(who))).status).toBe(204);
    expect((await ask(who, P)).status).toBe(201);
    expect((await ask(who, P)).status).toBe(429);
  }, 60_000);

  it('item 2: at most 200 pending requests per project, under concurrency; every list is paged (REST cursor and limit, GraphQL first/after priced by first)', async () => {
    const Q = `ar-bound-${randomUUID().slice(0, 8)}`;
    const admin = await t.userToken('root', { admin: true });
    expect((await http.post(`/v1/projects/${Q}/grants`).set({ Authorization: `Bearer ${admin}` }).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    const users = Array.from({ length: 11 }, (_, i) => `crowd-${i}-${randomUUID().slice(0, 4)}`);
    for (const u of users) await tok(u);
    const results = await Promise.all(users.flatMap((u) => Array.from({ length: 19 }, () => ask(u, Q))));
    expect(results.filter((r) => r.status === 201)).toHaveLength(200);
    expect(results.filter((r) => r.status === 429)).toHaveLength(9);
    expect(results.filter((r) => r.status === 429)[0].body.reason).toBe('access-request-limit');

    // REST: pages of `limit`, a cursor to the next; every request exactly once.
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await http.get(`/v1/projects/${Q}/access-requests`).query(cursor ? { limit: 64, cursor } : { limit: 64 }).set(await as('olive'));
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(64);
      seen.push(...r.body.items.map((i: { requestId: string }) => i.requestId));
      cursor = r.body.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(4);
    expect(new Set(seen).size).toBe(200);
    const unpaged = await http.get(`/v1/projects/${Q}/access-requests`).set(await as('olive'));
    expect(unpaged.body.items).toHaveLength(50);
    expect(unpaged.body.nextCursor).toEqual(expect.any(String));
    for (const [query, field] of [[{ limit: 0 }, 'limit'], [{ limit: 101 }, 'limit'], [{ cursor: 'nope' }, 'cursor'], [{ limit: 'x' }, 'limit']] as const) {
      const r = await http.get(`/v1/projects/${Q}/access-requests`).query(query).set(await as('olive'));
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    // A requester sees their own, paged too.
    expect((await http.get(`/v1/projects/${Q}/access-requests`).set(await as(users[0]))).body.items).toHaveLength(19);

    // GraphQL: a connection; 20 aliases of 100 rows are priced at their size and refused.
    const gq = async (who: string, query: string, variables: Record<string, unknown>) => http.post('/graphql').set(await as(who)).send({ query, variables });
    const page = await gq('olive', 'query($p: String!) { accessRequests(projectId: $p, first: 100) { edges { cursor node { requestId } } pageInfo { hasNextPage endCursor } } }', { p: Q });
    expect(page.body.errors).toBeUndefined();
    expect(page.body.data.accessRequests.edges).toHaveLength(100);
    expect(page.body.data.accessRequests.pageInfo.hasNextPage).toBe(true);
    const next = await gq('olive', 'query($p: String!, $a: String) { accessRequests(projectId: $p, first: 100, after: $a) { edges { node { requestId } } pageInfo { hasNextPage } } }', { p: Q, a: page.body.data.accessRequests.pageInfo.endCursor });
    expect(next.body.data.accessRequests.edges).toHaveLength(100);
    expect(next.body.data.accessRequests.pageInfo.hasNextPage).toBe(false);
    const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: accessRequests(projectId: $p, first: 100) { edges { node { requestId reason requester { id } } } }`).join(' ');
    const heavy = await gq(users[0], `query($p: String!) { ${aliases} }`, { p: Q });
    expect(heavy.status).toBe(400);
    expect(JSON.stringify(heavy.body)).toMatch(/cost/);
  }, 120_000);

  it('item 5: a break-glass grant creates, changes and revokes no grant and decides no request; the owners still review it', async () => {
    const broke = await http.post(`/v1/projects/${P}/break-glass`).set(await as('carol')).send({ reason: 'prod down', durationSeconds: 900 });
    expect(broke.status).toBe(201);
    const grants = (await http.get(`/v1/projects/${P}/grants`).set(await as('olive'))).body.items as Array<{ grantId: string; principal: { id: string }; role: string; status: string }>;
    const oliveGrant = grants.find((g) => g.principal.id === 'olive' && g.role === 'owner' && g.status === 'active')!;
    const selfOwner = await http.post(`/v1/projects/${P}/grants`).set(await as('carol')).send({ principal: { type: 'user', id: 'carol' }, role: 'owner' });
    expect(selfOwner.status).toBe(403);
    expect((await http.delete(`/v1/projects/${P}/grants/${oliveGrant.grantId}`).set(await as('carol'))).status).toBe(403);
    expect((await http.delete(`/v1/projects/${P}/grants/${broke.body.grantId}`).set(await as('carol'))).status).toBe(403);
    const pending = await ask('dave');
    expect((await http.post(`/v1/projects/${P}/access-requests/${pending.body.requestId}/approve`).set(await as('carol')).send({})).status).toBe(403);
    expect((await http.post(`/v1/projects/${P}/access-requests/${pending.body.requestId}/deny`).set(await as('carol')).send({ comment: 'no' })).status).toBe(403);
    const gql = await http.post('/graphql').set(await as('carol')).send({ query: 'mutation($i: ProjectGrantCreateInput!) { projectGrantCreate(input: $i) { grantId errors { type } } }', variables: { i: { projectId: P, principal: { type: 'user', id: 'carol' }, role: 'owner' } } });
    expect(gql.body).toMatchObject({ data: { projectGrantCreate: { grantId: null } } });
    // Carol still reads (that is what breaking the glass is for), and the owners still review it.
    expect((await http.get(`/v1/projects/${P}/grants`).set(await as('olive'))).body.items.find((g: { grantId: string }) => g.grantId === oliveGrant.grantId).status).toBe('active');
    const reviewed = await http.post(`/v1/projects/${P}/break-glass/${broke.body.grantId}/review`).set(await as('oscar')).send({ outcome: 'unjustified', comment: 'tried to keep it' });
    expect(reviewed.status).toBe(200);
  });

  it('item 7: every refusal of the request and break-glass endpoints is a recorded, rate-limited denial (REST and GraphQL)', async () => {
    const R = `ar-refusals-${randomUUID().slice(0, 8)}`;
    const admin = await t.userToken('root', { admin: true });
    expect((await http.post(`/v1/projects/${R}/grants`).set({ Authorization: `Bearer ${admin}` }).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    // Break-glass without the role.
    expect((await http.post(`/v1/projects/${R}/break-glass`).set(await as('mallory')).send({ reason: 'x', durationSeconds: 900 })).status).toBe(403);
    expect(await denials(R, (d) => d.reason === 'break-glass-not-eligible' && (d.principal as { id: string }).id === 'mallory')).toHaveLength(1);
    // Cancelling someone else's request (REST, then GraphQL by another user).
    const rita = await ask('rita', R);
    expect((await http.delete(`/v1/projects/${R}/access-requests/${rita.body.requestId}`).set(await as('oscar'))).status).toBe(403);
    expect(await denials(R, (d) => d.reason === 'not-requester' && (d.principal as { id: string }).id === 'oscar')).toHaveLength(1);
    const gql = await http.post('/graphql').set(await as('dave')).send({ query: 'mutation($p: String!, $r: String!) { accessRequestCancel(projectId: $p, requestId: $r) { cancelled errors { type } } }', variables: { p: R, r: rita.body.requestId } });
    expect(gql.body.data.accessRequestCancel.cancelled).toBe(false);
    expect(await denials(R, (d) => d.reason === 'not-requester' && (d.principal as { id: string }).id === 'dave')).toHaveLength(1);
    // A CI job on the request and break-glass endpoints.
    const job = await t.ciToken({ project: R, ref: 'main', protected: true });
    for (const call of [
      () => http.post(`/v1/projects/${R}/access-requests`).set({ Authorization: `Bearer ${job}` }).send({ role: 'developer', durationSeconds: 600, reason: 'x' }),
      () => http.post(`/v1/projects/${R}/break-glass`).set({ Authorization: `Bearer ${job}` }).send({ reason: 'x', durationSeconds: 600 }),
      () => http.get(`/v1/projects/${R}/access-requests`).set({ Authorization: `Bearer ${job}` }),
      () => http.delete(`/v1/projects/${R}/access-requests/${rita.body.requestId}`).set({ Authorization: `Bearer ${job}` }),
    ]) {
      expect((await call()).status).toBe(403);
    }
    const jobDenials = await denials(R, (d) => (d.principal as { type: string }).type === 'ci-job');
    expect(jobDenials.length).toBeGreaterThanOrEqual(1);
    expect(jobDenials.every((e) => e.data.reason === 'ci-job-action')).toBe(true);
    // Rate-limited like every denial: past DENIAL_RATE_PER_MINUTE (60) the refusal is a 429.
    let last = 0;
    for (let i = 0; i < 70 && last !== 429; i++) last = (await http.delete(`/v1/projects/${R}/access-requests/${rita.body.requestId}`).set(await as('eve'))).status;
    expect(last).toBe(429);
  }, 60_000);
  it('item 1: cancel or deny racing an approval has exactly one winner, and the grant exists exactly when the approval won (10 races each)', async () => {
    for (let i = 0; i < 10; i++) {
      const { requestId } = (await ask('rita')).body as { requestId: string };
      const other =
        i % 2 === 0
          ? http.delete(`/v1/projects/${P}/access-requests/${requestId}`).set(await as('rita'))
          : http.post(`/v1/projects/${P}/access-requests/${requestId}/deny`).set(await as('olive')).send({ comment: 'race' });
      const [approve, loser] = await Promise.all([http.post(`/v1/projects/${P}/access-requests/${requestId}/approve`).set(await as('oscar')).send({}), other]);
      const won = [approve.status < 300, loser.status < 300];
      expect([i, won.filter(Boolean).length, [approve.status, loser.status].filter((st) => st >= 300)]).toEqual([i, 1, [409]]);
      const grants = ((await http.get(`/v1/projects/${P}/grants`).set(await as('olive'))).body.items as Array<{ accessRequestId?: string }>).filter((g) => g.accessRequestId === requestId);
      expect([i, grants.length]).toEqual([i, approve.status === 200 ? 1 : 0]);
      const listed = ((await http.get(`/v1/projects/${P}/access-requests`).query({ limit: 100 }).set(await as('rita'))).body.items as Array<{ requestId: string; status: string }>).find((r) => r.requestId === requestId);
      expect([i, listed?.status]).toEqual([i, approve.status === 200 ? 'approved' : i % 2 === 0 ? 'cancelled' : 'denied']);
      if (approve.status === 200) expect((await http.delete(`/v1/projects/${P}/grants/${approve.body.grantId}`).set(await as('olive'))).status).toBe(204);
    }
  }, 120_000);

  it('item 1: an approval whose process died between its claim and the policy append is voided on the policy stream and released by the timer; then approved once', async () => {
    const { requestId } = (await ask('rita')).body as { requestId: string };
    const stream = `accessrequest-${P}.${requestId}`;
    const now = new Date().toISOString();
    // What a crashed approver leaves: the claim, and nothing on the policy stream.
    await t.infra.eventStore.appendToStream(stream, 0, [
      {
        eventId: randomUUID(),
        type: 'AccessRequestApprovalClaimed',
        schemaVersion: 1,
        data: { projectId: P, requestId, claimId: 'crashed-claim', claimedBy: 'oscar', claimedAt: now },
        metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: { type: 'user', id: 'oscar' }, occurredAt: now },
      },
    ]);
    const cancel = await http.delete(`/v1/projects/${P}/access-requests/${requestId}`).set(await as('rita'));
    expect([cancel.status, cancel.body.reason]).toEqual([409, 'access-request-being-approved']);
    const recorder = t.app.get(AccessRequestExpiryRecorder, { strict: false });
    await recorder.scan(new Date(Date.now() + 30_000)); // within the grace: the approver may still be at it
    expect((await t.infra.eventStore.readStream(stream)).map((e) => e.type)).toEqual(['AccessRequested', 'AccessRequestApprovalClaimed']);
    await recorder.scan(new Date(Date.now() + 61_000));
    expect((await t.infra.eventStore.readStream(stream)).map((e) => e.type)).toEqual(['AccessRequested', 'AccessRequestApprovalClaimed', 'AccessRequestApprovalReleased']);
    const voided = (await t.infra.eventStore.readStream(`project-${P}`)).filter((e) => e.type === 'AccessRequestApprovalVoided' && e.data.requestId === requestId);
    expect(voided.map((e) => e.data.claimId)).toEqual(['crashed-claim']);
    await recorder.scan(new Date(Date.now() + 61_000));
    expect((await t.infra.eventStore.readStream(`project-${P}`)).filter((e) => e.type === 'AccessRequestApprovalVoided' && e.data.requestId === requestId)).toHaveLength(1);
    const approved = await http.post(`/v1/projects/${P}/access-requests/${requestId}/approve`).set(await as('oscar')).send({});
    expect(approved.status).toBe(200);
    expect((await http.post(`/v1/projects/${P}/access-requests/${requestId}/approve`).set(await as('olive')).send({})).status).toBe(409);
    expect((await t.infra.eventStore.readStream(`project-${P}`)).filter((e) => e.type === 'AccessRequestApproved' && e.data.requestId === requestId)).toHaveLength(1);
    expect((await http.delete(`/v1/projects/${P}/grants/${approved.body.grantId}`).set(await as('olive'))).status).toBe(204);
  }, 60_000);

  it('item 1: requests recorded in the policy stream by the version before (legacy) still list, approve once, cancel and expire there', async () => {
    const L = `ar-legacy-${randomUUID().slice(0, 8)}`;
    const admin = await t.userToken('root', { admin: true });
    expect((await http.post(`/v1/projects/${L}/grants`).set({ Authorization: `Bearer ${admin}` }).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${L}/grants`).set(await as('olive')).send({ principal: { type: 'user', id: 'oscar' }, role: 'owner' })).status).toBe(201);
    const now = new Date().toISOString();
    const ids = [randomUUID(), randomUUID(), randomUUID()].sort(); // one instant: listed by id
    const legacy = ids.map((requestId) => ({
      eventId: randomUUID(),
      type: 'AccessRequested',
      schemaVersion: 1,
      data: {
        projectId: L, requestId, requester: { type: 'user', id: 'rita' }, requesterGroups: [], role: 'developer', environment: null, branch: null,
        durationSeconds: 600, reason: 'legacy', requestedAt: now, expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      },
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: { type: 'user' as const, id: 'rita' }, occurredAt: now },
    }));
    const rev = (await t.infra.eventStore.readStream(`project-${L}`)).length - 1;
    await t.infra.eventStore.appendToStream(`project-${L}`, rev, legacy);
    const listed = await http.get(`/v1/projects/${L}/access-requests`).set(await as('olive'));
    expect(listed.body.items.map((r: { requestId: string; status: string }) => [r.requestId, r.status])).toEqual(ids.map((id) => [id, 'pending']));
    const approved = await http.post(`/v1/projects/${L}/access-requests/${ids[0]}/approve`).set(await as('oscar')).send({});
    expect(approved.status).toBe(200);
    expect((await http.post(`/v1/projects/${L}/access-requests/${ids[0]}/approve`).set(await as('olive')).send({})).status).toBe(409);
    expect((await http.delete(`/v1/projects/${L}/access-requests/${ids[1]}`).set(await as('oscar'))).status).toBe(403);
    expect((await http.delete(`/v1/projects/${L}/access-requests/${ids[1]}`).set(await as('rita'))).status).toBe(204);
    const recorder = t.app.get(AccessRequestExpiryRecorder, { strict: false });
    expect(await recorder.scan(new Date(Date.now() + 86_401_000))).toBeGreaterThanOrEqual(1);
    const after = await http.get(`/v1/projects/${L}/access-requests`).set(await as('olive'));
    expect(after.body.items.map((r: { status: string }) => r.status)).toEqual(['approved', 'cancelled', 'expired']);
    const types = (await t.infra.eventStore.readStream(`project-${L}`)).map((e) => e.type);
    expect(types.filter((x) => x.startsWith('AccessRequest'))).toEqual(['AccessRequested', 'AccessRequested', 'AccessRequested', 'AccessRequestApproved', 'AccessRequestCancelled', 'AccessRequestExpired']);
    expect(await denials(L, (d) => d.reason === 'not-requester')).toHaveLength(1);
  }, 60_000);
});
