import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { RecordedEvent } from '@app/domain';
import { verifyDsse } from '@app/domain/audit-log';
import { EXPOSURE_REPORT_PAYLOAD_TYPE } from '@app/domain/exposure/exposure-request';
import { publicKeyFrom, verifyReport, VerificationError } from '../../apps/cli/src/verify';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { appProfiles, StartedProfile } from '../support/profiles';
import { eventually, sleep } from '../support/eventually';

// Exposure reports (issue 22; API.md "Exposure reports"): a scenario whose exposure is known from
// the events it made (each interval's ends are the occurredAt of the grant and revoke events),
// on the embedded profile and, with the stack, on PostgreSQL.

// The reviewers here ask many reports a minute (the polls that wait for projections): the per-user
// bound is tested on its own below, at its default.
describe.each(appProfiles('exposure', { EXPOSURE_REPORTS_PER_MINUTE: '10000' }).map((p) => [p.name, p] as const))('exposure reports (%s)', (_name, profile) => {
  let t: EmbeddedApp;
  let started: StartedProfile;
  let http: ReturnType<typeof request>;
  const run = randomUUID().slice(0, 8);
  const P = `exp-${run}`;
  const Q = `exp-other-${run}`;
  const CANARY = `exposure-canary-${randomUUID()}`;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  let admin: string;
  let olive: string;
  let audrey: string;
  let alice: string;
  let aliceGrant: string;
  const at: Record<string, string> = {};
  let windowFrom: string;
  let windowTo: string;
  const report = (token: string, body: object, accept?: string) => {
    const r = http.post('/v1/exposure-reports').set(auth(token));
    return (accept ? r.set('Accept', accept) : r).send(body);
  };
  const occurredAt = (events: RecordedEvent[], type: string, pred: (e: RecordedEvent) => boolean = () => true) => String(events.find((e) => e.type === type && pred(e))?.metadata.occurredAt);

  beforeAll(async () => {
    started = await profile.start();
    t = started.t;
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    olive = await t.userToken('olive');
    audrey = await t.userToken('audrey');
    alice = await t.userToken('alice');
    windowFrom = new Date(Date.now() - 60_000).toISOString();
    for (const p of [P, Q]) expect((await http.post(`/v1/projects/${p}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'audrey' }, role: 'auditor' })).status).toBe(201);
    for (const n of ['DB', 'API_KEY']) expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: n, value: `${CANARY}-${n}` })).status).toBe(201);
    expect((await http.post(`/v1/projects/${Q}/secrets`).set(auth(olive)).send({ name: 'HIDDEN', value: `${CANARY}-hidden` })).status).toBe(201);
    aliceGrant = (await http.post(`/v1/projects/${P}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'alice' }, role: 'developer' })).body.grantId;
    expect((await http.post(`/v1/projects/${Q}/grants`).set(auth(olive)).send({ principal: { type: 'user', id: 'alice' }, role: 'developer' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets/DB/access`).set(auth(alice)).send({ purpose: 'debug' })).status).toBe(200);
    const job = await t.ciToken({ project: P, ref: 'main', protected: true, pipeline: '7', job: '70' });
    expect((await http.post(`/v1/projects/${P}/secrets/DB/access`).set(auth(job)).send({})).status).toBe(200);
    expect((await http.delete(`/v1/projects/${P}/grants/${aliceGrant}`).set(auth(olive))).status).toBe(204);
    // DB rotated after alice lost her grant: version 2 was never hers.
    expect((await http.put(`/v1/projects/${P}/secrets/DB/value`).set(auth(olive)).send({ value: `${CANARY}-DB-2` })).status).toBe(200);
    const policy = await t.infra.eventStore.readStream(`project-${P}`);
    at.granted = occurredAt(policy, 'RoleGranted', (e) => e.data.grantId === aliceGrant);
    at.revoked = occurredAt(policy, 'RoleRevoked', (e) => e.data.grantId === aliceGrant);
    await sleep(5);
    windowTo = new Date().toISOString();
    await sleep(5);
  }, 60_000);
  afterAll(() => started?.cleanup());

  const aliceReport = (token = audrey) => report(token, { subject: { type: 'user', id: 'alice' }, from: windowFrom, to: windowTo });

  it('says what alice could read (her grant, exactly while it acted), what she read, and what to rotate; other places only counted', async () => {
    // Each read model is projected on its own: wait for the access history (did), the grants
    // (could) AND the secrets (DB's version 2, so rotate has API_KEY only) — with the access history
    // committed in one statement it can be there before the secrets projection has DB's rotation.
    const r = await eventually(() => aliceReport(), (x) => x.body?.did?.length === 1 && x.body.could?.length === 2 && x.body.rotate?.length === 1);
    expect(r.status).toBe(200);
    const iso = (s: string) => new Date(s).toISOString();
    const via = { grantId: aliceGrant, role: 'developer', principal: { type: 'user', id: 'alice' }, grantedBy: 'olive' };
    expect(r.body.could).toEqual([
      { place: { type: 'project', id: P }, name: 'API_KEY', version: 1, intervals: [{ from: iso(at.granted), to: iso(at.revoked) }], via: [{ via, intervals: [{ from: iso(at.granted), to: iso(at.revoked) }] }] },
      { place: { type: 'project', id: P }, name: 'DB', version: 1, intervals: [{ from: iso(at.granted), to: iso(at.revoked) }], via: [{ via, intervals: [{ from: iso(at.granted), to: iso(at.revoked) }] }] },
    ]);
    expect(r.body.did).toEqual([expect.objectContaining({ place: { type: 'project', id: P }, name: 'DB', version: 1, channel: 'api', principal: { type: 'user', id: 'alice' } })]);
    expect(r.body.didTotal).toBe(1);
    // DB's current version (2) was neither readable by nor read by alice; API_KEY's is still what she could read.
    expect(r.body.rotate).toEqual([{ place: { type: 'project', id: P }, name: 'API_KEY', version: 1, read: false }]);
    // Q: audrey has no read-audit there, so it is a count, never a name.
    expect(r.body.notCovered).toBe(1);
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(Q);
    expect(text).not.toContain('HIDDEN');
    expect(text).not.toContain(CANARY);
    expect(r.headers['exposure-report-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is deterministic over a closed window, and each report is recorded (who asked about whom) before it is answered', async () => {
    const a = await aliceReport();
    const b = await aliceReport();
    expect(JSON.stringify(b.body)).toBe(JSON.stringify(a.body));
    const id = b.headers['exposure-report-id'];
    const [e] = await t.infra.eventStore.readStream(`exposurereport-${id}`);
    expect(e.type).toBe('ExposureReportGenerated');
    expect(e.data).toMatchObject({ reportId: id, requestedBy: { type: 'user', id: 'audrey' }, subject: { type: 'user', id: 'alice' }, notCovered: 1 });
    expect(e.data.reportSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(e.data)).not.toContain(CANARY);
    // …and audited: an OCSF record in the Merkle log (and so on Kafka), belonging to no one project.
    const logged = await eventually(
      () => t.infra.sql.query<{ project_id: string; kafka_key: string; record: string }>('SELECT project_id, kafka_key, record FROM audit_log WHERE event_id = $1', [e.eventId]),
      (q) => q.rows.length === 1,
    );
    expect(logged.rows[0]).toMatchObject({ project_id: '*', kafka_key: '*/*' });
    const record = JSON.parse(logged.rows[0].record);
    expect(record).toMatchObject({ class_uid: 6003, activity_id: 2, api: { operation: 'ExposureReport' }, actor: { user: { uid: 'audrey' } }, resources: [{ type: 'user', uid: 'alice' }] });
    expect(logged.rows[0].record).not.toContain(CANARY);
  });

  it('signs on request: a DSSE envelope with the audit key that cli verify report checks offline, and a forged one fails', async () => {
    const r = await http.post('/v1/exposure-reports').set(auth(audrey)).set('Accept', 'application/vnd.dsse+json').send({ subject: { type: 'user', id: 'alice' }, from: windowFrom, to: windowTo });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('application/vnd.dsse+json');
    const env = JSON.parse(r.text);
    const key = publicKeyFrom((await http.get('/v1/audit/public-key')).body.publicKeyPem);
    const { payloadType, payload } = verifyDsse(env, key, { payloadType: EXPOSURE_REPORT_PAYLOAD_TYPE });
    expect(payloadType).toBe(EXPOSURE_REPORT_PAYLOAD_TYPE);
    expect(JSON.parse(payload.toString('utf8')).rotate).toHaveLength(1);
    expect(verifyReport(env, key).ok).toBe(true);
    const forged = JSON.parse(payload.toString('utf8'));
    forged.rotate = [];
    expect(() => verifyReport({ ...env, payload: Buffer.from(JSON.stringify(forged)).toString('base64') }, key)).toThrow(VerificationError);
  });

  it('for a secret: who read that version, through which channel, who could read it while current, the pipelines whose evidence lists it', async () => {
    const r = await eventually(() => report(audrey, { subject: { type: 'secret', projectId: P, name: 'DB', version: 1 }, from: windowFrom, to: windowTo }), (x) => x.body?.did?.length === 2);
    expect(r.status).toBe(200);
    expect(r.body.subject).toEqual({ type: 'secret', projectId: P, name: 'DB', version: 1 });
    expect(r.body.did.map((d: { principal: { type: string } }) => d.principal.type).sort()).toEqual(['ci-job', 'user']);
    expect(r.body.pipelines).toEqual([{ projectId: P, pipelineId: '7' }]);
    const who = r.body.could[0].via.map((v: { via: { principal?: { id: string }; rule?: string; projectId?: string } }) => v.via.principal?.id ?? `${v.via.rule}:${v.via.projectId}`);
    expect(who).toEqual(expect.arrayContaining(['alice', 'olive', `ci-job-scope:${P}`]));
    // audrey's auditor grant has no read: it is not a reader.
    expect(who.filter((w: string) => w === 'audrey')).toHaveLength(0);
  });

  it.each([
    ['a window of 367 days', { subject: { type: 'user', id: 'alice' }, from: '2025-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' }, 'to'],
    ['to before from', { subject: { type: 'user', id: 'alice' }, from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to'],
    ['to equal to from', { subject: { type: 'user', id: 'alice' }, from: '2026-02-01T00:00:00Z', to: '2026-02-01T00:00:00Z' }, 'to'],
    ['an unknown subject type', { subject: { type: 'everyone' }, from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, 'subject.type'],
    ['a secret with both projectId and groupId', { subject: { type: 'secret', projectId: 'p', groupId: 'g', name: 'X' }, from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, 'subject.projectId'],
    ['a group path with ..', { subject: { type: 'secret', groupId: 'acme/..', name: 'X' }, from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, 'subject.groupId'],
    ['a date without a zone', { subject: { type: 'user', id: 'alice' }, from: '2026-01-01T00:00:00', to: '2026-01-02T00:00:00Z' }, 'from'],
    ['an unknown field', { subject: { type: 'user', id: 'alice', extra: 1 }, from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, 'subject.extra'],
  ])('refuses %s: 400 naming the field, nothing recorded', async (_what, body, field) => {
    const r = await report(audrey, body);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(JSON.stringify(r.body)).toContain(field);
  });

  it('a subject id with glob characters names nobody (ids are compared, never matched)', async () => {
    for (const id of ['al*', '*', 'a?ice']) {
      const r = await report(audrey, { subject: { type: 'user', id }, from: windowFrom, to: windowTo });
      if (r.status === 400) continue; // not a principal id at all
      expect(r.body).toMatchObject({ could: [], did: [], rotate: [], notCovered: 0 });
    }
  });

  it("a stranger learns nothing: a secret report is 403 for an existing and a missing secret alike, and a principal report names nothing of others' places", async () => {
    const mallory = await t.userToken('mallory');
    const real = await report(mallory, { subject: { type: 'secret', projectId: P, name: 'DB' }, from: windowFrom, to: windowTo });
    const none = await report(mallory, { subject: { type: 'secret', projectId: `nope-${run}`, name: 'DB' }, from: windowFrom, to: windowTo });
    expect([real.status, none.status]).toEqual([403, 403]);
    expect({ ...real.body, instance: undefined }).toEqual({ ...none.body, instance: undefined });
    // Without read-audit anywhere, no report at all: even notCovered would be an oracle (found by the
    // review of issue 22: narrowing the window told a stranger when bob's grant started).
    const r = await aliceReport(mallory);
    expect(r.status).toBe(403);
    expect(r.body.reason).toBe('no-grant');
    expect(JSON.stringify(r.body)).not.toContain(P);
    const refusals = (await t.infra.eventStore.readStream('access-*')).filter((e) => e.type === 'SecretAccessDenied' && (e.data.principal as { id: string }).id === 'mallory');
    expect(refusals.map((e) => [e.data.action, e.data.reason])).toEqual([['read-audit', 'no-grant']]);
    // A CI job is refused, audited.
    const job = await t.ciToken({ project: P, ref: 'main', pipeline: '8', job: '80' });
    expect((await aliceReport(job)).status).toBe(403);
  });

  it('GraphQL exposureReport answers the same report, recorded the same way; one per operation; same refusals', async () => {
    const query = `query($s: ExposureSubjectInput!, $from: String!, $to: String!) { exposureReport(subject: $s, from: $from, to: $to) {
      reportId from to didTotal didTruncated notCovered
      could { place { type id } name version intervals { from to } via { via { grantId role principal { type id } grantedBy inheritedFrom { type id } rule projectId } intervals { from to } } }
      did { place { type id } name version at channel principal { type id } projectId pipelineId jobId ref eventId }
      rotate { place { type id } name version read } } }`;
    const gql = (token: string, variables: object, q = query) => http.post('/graphql').set(auth(token)).send({ query: q, variables });
    const variables = { s: { type: 'user', id: 'alice' }, from: windowFrom, to: windowTo };
    const g = await gql(audrey, variables);
    expect(g.body.errors).toBeUndefined();
    const rest = (await aliceReport()).body;
    const { reportId, ...report } = g.body.data.exposureReport;
    expect(reportId).toMatch(/^[0-9a-f-]{36}$/);
    const strip = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (v === null ? undefined : v)));
    expect(strip({ ...report, subject: rest.subject })).toEqual(strip(rest));
    expect((await t.infra.eventStore.readStream(`exposurereport-${reportId}`))[0].type).toBe('ExposureReportGenerated');
    // Two reports in one operation (aliases): refused before any is computed.
    const two = await gql(audrey, variables, `query($s: ExposureSubjectInput!, $from: String!, $to: String!) { a: exposureReport(subject: $s, from: $from, to: $to) { notCovered } b: exposureReport(subject: $s, from: $from, to: $to) { notCovered } }`);
    expect(two.status).toBe(400);
    expect(JSON.stringify(two.body)).toContain('at most 1');
    // The domain's checks, as REST's.
    const bad = await gql(audrey, { ...variables, to: '2028-01-01T00:00:00Z' });
    expect(JSON.stringify(bad.body.errors)).toContain('366 days');
    const job = await t.ciToken({ project: P, ref: 'main', pipeline: '9', job: '90' });
    expect(JSON.stringify((await gql(job, variables)).body.errors)).toContain('ci-job-action');
  });
});

describe('exposure reports: at most EXPOSURE_REPORTS_PER_MINUTE per user (default 10)', () => {
  let t: EmbeddedApp;
  beforeAll(async () => {
    t = await startEmbedded();
  });
  afterAll(() => t?.close());

  it('the 11th report of a minute is a 429 with Retry-After, nothing read or recorded; another user is not affected', async () => {
    const http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    const audrey = await t.userToken('audrey');
    expect((await http.post('/v1/projects/rate-p/grants').set({ Authorization: `Bearer ${admin}` }).send({ principal: { type: 'user', id: 'audrey' }, role: 'owner' })).status).toBe(201);
    const body = { subject: { type: 'user', id: 'alice' }, from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' };
    const statuses: number[] = [];
    // Within one minute of the clock (a boundary between two calls would reset the window: retried once).
    for (let attempt = 0; attempt < 2; attempt++) {
      statuses.length = 0;
      const minute = Math.floor(Date.now() / 60_000);
      for (let i = 0; i < 11; i++) statuses.push((await http.post('/v1/exposure-reports').set({ Authorization: `Bearer ${audrey}` }).send(body)).status);
      if (Math.floor(Date.now() / 60_000) === minute) break;
    }
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    const last = await http.post('/v1/exposure-reports').set({ Authorization: `Bearer ${audrey}` }).send(body);
    expect(last.status).toBe(429);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    expect(last.body.reason).toBe('exposure-report-rate');
  });
});
