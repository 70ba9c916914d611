import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { AccessRequestExpiryRecorder } from '../../apps/command-api/src/access-requests/access-request-expiry-recorder';
import { AuditorModule } from '../../apps/auditor/src/auditor.module';
import { EmbeddedApp } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { consumeAll } from '../support/kafka';
import { appProfiles, StartedProfile, withClockAt } from '../support/profiles';

// Issue 14, items 1 and 2 through HTTP on both profiles: request → approve by another owner → the
// requester reads for the duration and is refused on the first request after it; four-eyes;
// break-glass with and without the role, its Critical record in the audit log, live and (production
// profile) on Kafka; post-hoc review by someone else.
describe.each(appProfiles('access-requests'))('access requests and break-glass, $name', (profile) => {
  let started: StartedProfile;
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  let olive: string, oscar: string, rita: string, carol: string, mallory: string;
  const P = `access-requests-${randomUUID().slice(0, 8)}`;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  /** readers?at of DB_PASSWORD, asked by an owner: the users who could read it then, with their via. */
  const readersAt = async (at: string) => {
    const r = await http.get(`/v1/projects/${P}/secrets/DB_PASSWORD/readers`).query({ at }).set(auth(olive));
    expect(r.status).toBe(200);
    return (r.body.readers as Array<{ principal: { type: string; id?: string }; via: Record<string, unknown> }>).filter((x) => x.principal.type === 'user');
  };

  beforeAll(async () => {
    started = await profile.start();
    t = started.t;
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    olive = await t.userToken('olive');
    oscar = await t.userToken('oscar');
    rita = await t.userToken('rita');
    carol = await t.userToken('carol');
    mallory = await t.userToken('mallory');
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'oscar' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'carol' }, role: 'break-glass' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'DB_PASSWORD', value: 's3cr3t-canary' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await started?.cleanup();
  });

  it('request → approve by another owner → the requester reads for the duration, and not on the first request after it', async () => {
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(rita)).send({})).status).toBe(403);
    const created = await http.post(`/v1/projects/${P}/access-requests`).set(auth(rita)).send({ role: 'developer', durationSeconds: 600, reason: 'incident 42' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ requestId: expect.any(String), status: 'pending', expiresAt: expect.any(String) });
    const requestId = created.body.requestId as string;
    // ACCESS_REQUEST_TTL_SECONDS default: a day.
    expect(Date.parse(created.body.expiresAt) - Date.now()).toBeGreaterThan(86_000_000);

    // Still nothing before approval; the requester sees their own request, an owner sees all.
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(rita)).send({})).status).toBe(403);
    const mine = await http.get(`/v1/projects/${P}/access-requests`).query({ status: 'pending' }).set(auth(rita));
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((r: { requestId: string }) => r.requestId)).toEqual([requestId]);
    expect((await http.get(`/v1/projects/${P}/access-requests`).set(auth(mallory))).body.items).toEqual([]);

    const before = Date.now();
    const approved = await http.post(`/v1/projects/${P}/access-requests/${requestId}/approve`).set(auth(oscar)).send({ comment: 'ok for the incident' });
    expect(approved.status).toBe(200);
    const expiresAt = Date.parse(approved.body.expiresAt);
    expect(expiresAt - before).toBeGreaterThanOrEqual(600_000 - 1);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(600_000);

    const read = await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(rita)).send({ purpose: 'incident 42' });
    expect(read.status).toBe(200);
    expect(read.body.value).toBe('s3cr3t-canary');

    const grants = await http.get(`/v1/projects/${P}/grants`).set(auth(olive));
    expect(grants.body.items.find((g: { grantId: string }) => g.grantId === approved.body.grantId)).toMatchObject({
      principal: { type: 'user', id: 'rita' },
      role: 'developer',
      grantedBy: 'oscar',
      expiresAt: approved.body.expiresAt,
      accessRequestId: requestId,
      status: 'active',
    });

    // The time-travel query names the request behind the grant: during it, and not before nor at its end.
    const during = await eventually(() => readersAt(new Date().toISOString()), (rs) => rs.some((x) => x.principal.id === 'rita'));
    expect(during.find((x) => x.principal.id === 'rita')!.via).toMatchObject({ grantId: approved.body.grantId, role: 'developer', grantedBy: 'oscar', accessRequestId: requestId });
    expect(during.find((x) => x.principal.id === 'olive')!.via.accessRequestId).toBeUndefined();
    expect((await readersAt(new Date(before - 1).toISOString())).map((x) => x.principal.id)).not.toContain('rita');
    expect((await readersAt(approved.body.expiresAt)).map((x) => x.principal.id)).not.toContain('rita');
    expect((await readersAt(new Date(expiresAt - 1).toISOString())).map((x) => x.principal.id)).toContain('rita');

    // access-history names the request behind the grant each read went through.
    const history = await eventually(
      () => http.get(`/v1/projects/${P}/access-history`).query({ principal: 'rita', decision: 'allowed' }).set(auth(olive)),
      (r) => r.status === 200 && r.body.items.length > 0,
    );
    expect(history.body.items[0].via).toEqual({ grantId: approved.body.grantId, role: 'developer', accessRequestId: requestId });

    // A second approval, a denial, or a cancel of a request no longer pending: 409.
    expect((await http.post(`/v1/projects/${P}/access-requests/${requestId}/approve`).set(auth(olive)).send({})).status).toBe(409);
    expect((await http.post(`/v1/projects/${P}/access-requests/${requestId}/deny`).set(auth(olive)).send({ comment: 'late' })).status).toBe(409);

    // Just before the end it still reads; at the end it is refused (the service's clock, moved).
    const lastMoment = await withClockAt(expiresAt - 1, () => http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(rita)).send({}));
    expect(lastMoment.status).toBe(200);
    const after = await withClockAt(expiresAt, () => http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(rita)).send({}));
    expect(after.status).toBe(403);
    expect(after.body.reason).toBe('grant-expired');
  });

  it('the requester never approves or denies their own request, even as an owner (403); they may cancel it (204), once', async () => {
    const created = await http.post(`/v1/projects/${P}/access-requests`).set(auth(olive)).send({ role: 'maintainer', durationSeconds: 60, reason: 'self' });
    expect(created.status).toBe(201);
    const id = created.body.requestId as string;
    const self = await http.post(`/v1/projects/${P}/access-requests/${id}/approve`).set(auth(olive)).send({});
    expect(self.status).toBe(403);
    expect(self.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(self.body.reason).toBe('four-eyes-self');
    expect((await http.post(`/v1/projects/${P}/access-requests/${id}/deny`).set(auth(olive)).send({ comment: 'no' })).status).toBe(403);
    // Audited like any denial: a SOC sees the requester trying to approve their own request (the identical
    // second refusal within the summary window is folded into a SecretAccessDenialsSuppressed, as for every denial).
    const denials = (await t.infra.eventStore.readStream(`access-${P}`)).filter((e) => e.type === 'SecretAccessDenied' && e.data.reason === 'four-eyes-self');
    expect(denials.map((e) => [e.data.action, (e.data.principal as { id: string }).id])).toEqual([['manage-grants', 'olive']]);
    // Someone without manage-grants cannot approve either; nor cancel someone else's request.
    expect((await http.post(`/v1/projects/${P}/access-requests/${id}/approve`).set(auth(mallory)).send({})).status).toBe(403);
    expect((await http.delete(`/v1/projects/${P}/access-requests/${id}`).set(auth(oscar))).status).toBe(403);
    expect((await http.delete(`/v1/projects/${P}/access-requests/${id}`).set(auth(olive))).status).toBe(204);
    expect((await http.delete(`/v1/projects/${P}/access-requests/${id}`).set(auth(olive))).status).toBe(409);
    expect((await http.post(`/v1/projects/${P}/access-requests/${id}/approve`).set(auth(oscar)).send({})).status).toBe(409);
    const listed = await http.get(`/v1/projects/${P}/access-requests`).query({ status: 'cancelled' }).set(auth(oscar));
    expect(listed.body.items.map((r: { requestId: string }) => r.requestId)).toContain(id);
  });

  it('deny by another owner: 200, then the request is denied and grants nothing', async () => {
    const id = (await http.post(`/v1/projects/${P}/access-requests`).set(auth(mallory)).send({ role: 'owner', durationSeconds: 28800, reason: 'just because' })).body.requestId;
    const denied = await http.post(`/v1/projects/${P}/access-requests/${id}/deny`).set(auth(oscar)).send({ comment: 'no reason given' });
    expect(denied.status).toBe(200);
    expect(denied.body).toEqual({ requestId: id, status: 'denied' });
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(mallory)).send({})).status).toBe(403);
  });

  it('bodies out of bounds are a 400 naming the field; an unknown request a 404', async () => {
    for (const [body, field] of [
      [{ role: 'developer', durationSeconds: 59, reason: 'x' }, 'durationSeconds'],
      [{ role: 'developer', durationSeconds: 28801, reason: 'x' }, 'durationSeconds'],
      [{ role: 'developer', durationSeconds: 600, reason: '' }, 'reason'],
      [{ role: 'developer', durationSeconds: 600, reason: 'é'.repeat(501) }, 'reason'],
      [{ role: 'root', durationSeconds: 600, reason: 'x' }, 'role'],
      [{ role: 'developer', durationSeconds: 600 }, 'reason'],
    ] as const) {
      const r = await http.post(`/v1/projects/${P}/access-requests`).set(auth(rita)).send(body);
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect((await http.post(`/v1/projects/${P}/access-requests`).set(auth(rita)).send({ role: 'developer', durationSeconds: 600, reason: 'é'.repeat(500) })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/access-requests/00000000-0000-4000-8000-000000000000/approve`).set(auth(oscar)).send({})).status).toBe(404);
    expect((await http.get(`/v1/projects/${P}/access-requests`).query({ status: 'maybe' }).set(auth(oscar))).status).toBe(400);
    // No existence oracle: a request on a project id nobody has set up is answered (and recorded) like any other.
    const ghost = `ghost-${randomUUID().slice(0, 8)}`;
    const known = await http.post(`/v1/projects/${P}/access-requests`).set(auth(rita)).send({ role: 'developer', durationSeconds: 600, reason: 'x' });
    const unknown = await http.post(`/v1/projects/${ghost}/access-requests`).set(auth(rita)).send({ role: 'developer', durationSeconds: 600, reason: 'x' });
    expect([unknown.status, Object.keys(unknown.body).sort()]).toEqual([known.status, Object.keys(known.body).sort()]);
    expect((await http.get(`/v1/projects/${ghost}/access-requests`).set(auth(rita))).body.items.map((i: { requestId: string }) => i.requestId)).toEqual([unknown.body.requestId]);
  });

  it('break-glass without the role is 403, even for an owner', async () => {
    const r = await http.post(`/v1/projects/${P}/break-glass`).set(auth(mallory)).send({ reason: 'prod down', durationSeconds: 900 });
    expect(r.status).toBe(403);
    expect(r.body.reason).toBe('break-glass-not-eligible');
    expect((await http.post(`/v1/projects/${P}/break-glass`).set(auth(olive)).send({ reason: 'prod down', durationSeconds: 900 })).status).toBe(403);
    expect((await http.post(`/v1/projects/${P}/break-glass`).set(auth(carol)).send({ reason: 'prod down', durationSeconds: 3601 })).status).toBe(400);
    expect((await http.post(`/v1/projects/${P}/break-glass`).set(auth(carol)).send({ durationSeconds: 900 })).status).toBe(400);
  });

  it('the break-glass role alone reads nothing; breaking the glass reads at once; review by the breaker 403, by another owner 200, once', async () => {
    expect((await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(carol)).send({})).status).toBe(403);
    const before = Date.now();
    const broke = await http.post(`/v1/projects/${P}/break-glass`).set(auth(carol)).send({ reason: 'prod down, pager 7', durationSeconds: 900 });
    expect(broke.status).toBe(201);
    expect(Date.parse(broke.body.expiresAt) - before).toBeGreaterThanOrEqual(900_000 - 1);
    const read = await http.post(`/v1/projects/${P}/secrets/DB_PASSWORD/access`).set(auth(carol)).send({ purpose: 'incident' });
    expect(read.status).toBe(200);
    expect(read.body.value).toBe('s3cr3t-canary');

    const grant = (await http.get(`/v1/projects/${P}/grants`).set(auth(olive))).body.items.find((g: { grantId: string }) => g.grantId === broke.body.grantId);
    expect(grant).toMatchObject({ principal: { type: 'user', id: 'carol' }, role: 'owner', breakGlass: true, grantedBy: 'carol', status: 'active' });

    const history = await eventually(
      () => http.get(`/v1/projects/${P}/access-history`).query({ principal: 'carol', decision: 'allowed' }).set(auth(olive)),
      (r) => r.status === 200 && r.body.items.length > 0,
    );
    expect(history.body.items[0].via).toEqual({ grantId: broke.body.grantId, role: 'owner', breakGlass: true });

    // readers?at names the break-glass behind carol's grant while it lasts, and not after it.
    const during = await eventually(() => readersAt(new Date().toISOString()), (rs) => rs.some((x) => x.principal.id === 'carol'));
    expect(during.find((x) => x.principal.id === 'carol')!.via).toMatchObject({ grantId: broke.body.grantId, role: 'owner', breakGlass: true });
    expect((await readersAt(new Date(before - 1).toISOString())).map((x) => x.principal.id)).not.toContain('carol');
    expect((await readersAt(broke.body.expiresAt)).map((x) => x.principal.id)).not.toContain('carol');

    const unreviewed = await http.get(`/v1/projects/${P}/break-glass`).query({ reviewed: 'false' }).set(auth(oscar));
    expect(unreviewed.status).toBe(200);
    expect(unreviewed.body.items).toEqual([expect.objectContaining({ grantId: broke.body.grantId, principal: { type: 'user', id: 'carol' }, reason: 'prod down, pager 7', review: null })]);

    // Carol holds owner through her own break-glass grant, which manages no grants (issue 18): not the one to review it.
    const byBreaker = await http.post(`/v1/projects/${P}/break-glass/${broke.body.grantId}/review`).set(auth(carol)).send({ outcome: 'justified', comment: 'trust me' });
    expect(byBreaker.status).toBe(403);
    expect(byBreaker.body.reason).toBe('role-lacks-action');
    expect((await t.infra.eventStore.readStream(`access-${P}`)).filter((e) => e.type === 'SecretAccessDenied' && e.data.reason === 'role-lacks-action' && (e.data.principal as { id: string }).id === 'carol')).toHaveLength(1);
    expect((await http.post(`/v1/projects/${P}/break-glass/${broke.body.grantId}/review`).set(auth(mallory)).send({ outcome: 'justified', comment: 'x' })).status).toBe(403);
    expect((await http.post(`/v1/projects/${P}/break-glass/${broke.body.grantId}/review`).set(auth(oscar)).send({ outcome: 'maybe', comment: 'x' })).status).toBe(400);
    const reviewed = await http.post(`/v1/projects/${P}/break-glass/${broke.body.grantId}/review`).set(auth(oscar)).send({ outcome: 'justified', comment: 'pager 7 confirmed' });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body).toEqual({ grantId: broke.body.grantId, outcome: 'justified' });
    expect((await http.post(`/v1/projects/${P}/break-glass/${broke.body.grantId}/review`).set(auth(olive)).send({ outcome: 'unjustified', comment: 'x' })).status).toBe(409);
    expect((await http.get(`/v1/projects/${P}/break-glass`).query({ reviewed: 'false' }).set(auth(oscar))).body.items).toEqual([]);

    // In the audit log (the Merkle log the live stream and Kafka are fed from): one Critical record.
    const records = await eventually(
      async () => {
        await t.app.get(AuditorModule).idle();
        const { rows } = await t.infra.sql.query<{ record: string }>(`SELECT record FROM audit_log WHERE event_type = 'BreakGlassInvoked'`);
        return rows.map((r) => JSON.parse(r.record));
      },
      (r) => r.length > 0,
      15_000,
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      class_uid: 3005,
      activity_id: 1,
      severity_id: 5,
      severity: 'Critical',
      status_detail: 'break-glass',
      user: { uid: 'carol' },
      privileges: ['owner'],
      unmapped: { break_glass: { grant_id: broke.body.grantId, reason: 'prod down, pager 7', duration_seconds: 900 } },
    });

    // And live, to a reviewer following the audit stream.
    const server = t.app.getHttpServer();
    const address = server.address() ?? (await new Promise((r) => server.listen(0, () => r(server.address()))));
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${(address as { port: number }).port}/v1/audit/stream?after=-1`, { headers: auth(oscar), signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const until = Date.now() + 10_000;
    while (!text.includes('"BreakGlassInvoked"') && Date.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    const line = text.split('\n').find((l) => l.includes('"BreakGlassInvoked"'));
    expect(line).toBeDefined();
    expect(line).toContain('"severity_id":5');

    if (started.kafka && started.topic) {
      // On Kafka too, keyed to the project, at the same severity.
      expect(await t.app.get(AuditorModule).idle()).toBe(true);
      const got = await consumeAll(started.kafka, started.topic, await t.infra.auditLog.committedSize());
      const onKafka = got.filter((m) => m.headers['event-type'] === 'BreakGlassInvoked').map((m) => JSON.parse(m.value));
      expect(onKafka).toHaveLength(1);
      expect(onKafka[0]).toMatchObject({ severity_id: 5, user: { uid: 'carol' }, unmapped: { break_glass: { grant_id: broke.body.grantId } } });
      expect(got.map((m) => m.value).join()).not.toContain('s3cr3t-canary');
    }
  }, 60_000);

  it('request → expire: recorded once by the timer, then the request refuses approval (409)', async () => {
    const id = (await http.post(`/v1/projects/${P}/access-requests`).set(auth(rita)).send({ role: 'reporter', durationSeconds: 60, reason: 'will lapse' })).body.requestId as string;
    const recorder = t.app.get(AccessRequestExpiryRecorder, { strict: false });
    // Not before its time.
    await recorder.scan(new Date(Date.now() + 60_000));
    const pending = await http.get(`/v1/projects/${P}/access-requests`).query({ status: 'pending' }).set(auth(oscar));
    expect(pending.body.items.map((r: { requestId: string }) => r.requestId)).toContain(id);
    // A day later (ACCESS_REQUEST_TTL_SECONDS default), once; a second scan records nothing more.
    const later = new Date(Date.now() + 86_401_000);
    expect(await recorder.scan(later)).toBeGreaterThanOrEqual(1);
    expect(await recorder.scan(later)).toBe(0);
    // On the request's own stream (issue 18): never on the project's policy stream.
    const events = await t.infra.eventStore.readStream(`accessrequest-${P}.${id}`);
    expect((await t.infra.eventStore.readStream(`project-${P}`)).filter((e) => (e.data as { requestId?: string }).requestId === id)).toEqual([]);
    expect(events.filter((e) => e.type === 'AccessRequestExpired' && (e.data as { requestId: string }).requestId === id)).toHaveLength(1);
    const expired = await http.get(`/v1/projects/${P}/access-requests`).query({ status: 'expired' }).set(auth(oscar));
    expect(expired.body.items.find((r: { requestId: string }) => r.requestId === id)).toMatchObject({ status: 'expired' });
    const approve = await http.post(`/v1/projects/${P}/access-requests/${id}/approve`).set(auth(oscar)).send({});
    expect(approve.status).toBe(409);
    expect(approve.body.reason).toBe('access-request-not-pending');
  });

  it('a CI job takes no part in access requests', async () => {
    const job = await t.ciToken({ project: P, ref: 'main', protected: true });
    expect((await http.post(`/v1/projects/${P}/access-requests`).set(auth(job)).send({ role: 'developer', durationSeconds: 600, reason: 'x' })).status).toBe(403);
    expect((await http.post(`/v1/projects/${P}/break-glass`).set(auth(job)).send({ reason: 'x', durationSeconds: 600 })).status).toBe(403);
  });
});
