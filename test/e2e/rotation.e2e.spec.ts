import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { AuditorModule } from '../../apps/auditor/src/auditor.module';
import { RotationOverdueRecorder } from '../../apps/command-api/src/secrets/rotation-overdue-recorder';
import { SecretStates } from '../../apps/command-api/src/secrets/secret-states';
import { renderOptions } from '../../apps/projector/src/projections';
import { rebuild } from '../../apps/projector/src/rebuild';
import { dumpReadModels } from '@app/infra/read-models/dump';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { consumeAll } from '../support/kafka';
import { AppProfile, appProfiles, withClockAt } from '../support/profiles';

// Issue 14, item 4 through HTTP: rotationIntervalDays on create and PATCH, the rotation object of
// metadata, the ?rotation= filter, SecretRotationOverdue recorded once per version by the timer
// (moved in time, not waited for), a new value version restarting the interval, the OCSF record in
// the audit log (and on Kafka on the production profile), and a rebuild giving the same read models.

const DAY = 86_400_000;
const CANARY = `rotation-canary-${randomUUID()}`;

const profiles = appProfiles('rotation');
type Profile = AppProfile;

describe.each(profiles)('secret rotation, $name', (profile) => {
  let t: EmbeddedApp;
  let started: Awaited<ReturnType<Profile['start']>>;
  let http: ReturnType<typeof request>;
  let olive: string;
  /** Valid for 800 days: the clock is moved up to about 430 days on. */
  let longLived: string;
  const P = 'rotation';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const overdueEvents = async (name: string) =>
    (await t.infra.eventStore.readStream(`secret-${P}/${name}`)).filter((e) => e.type === 'SecretRotationOverdue').map((e) => e.data as { version: number; dueAt: string; lastRotatedAt: string });
  /** The list as a fresh token sees it at `ms` (default: now). */
  const listAt = (query: Record<string, string>, ms = Date.now()) =>
    withClockAt(ms, async () => http.get(`/v1/projects/${P}/secrets`).query(query).set(auth(longLived)));
  const metadataAt = (name: string, ms: number) => withClockAt(ms, async () => http.get(`/v1/projects/${P}/secrets/${name}`).set(auth(longLived)));
  const names = (r: request.Response) => {
    if (!Array.isArray(r.body.items)) throw new Error(`no list: ${r.status} ${JSON.stringify(r.body)}`);
    return (r.body.items as Array<{ name: string }>).map((i) => i.name);
  };

  beforeAll(async () => {
    started = await profile.start();
    t = started.t;
    http = request(t.app.getHttpServer());
    const admin = await t.userToken('root', { admin: true });
    olive = await t.userToken('olive');
    longLived = await t.userToken('olive', { ttlSeconds: 800 * 86_400 });
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await started?.cleanup();
  });

  it('refuses intervals out of bounds or of the wrong type, naming the field; and an unknown rotation filter', async () => {
    for (const bad of [0, 3651, 1.5, -30, '30', true, null, { days: 30 }]) {
      const r = await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'BAD', value: CANARY, rotationIntervalDays: bad });
      expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain('rotationIntervalDays');
      expect(JSON.stringify(r.body)).not.toContain(CANARY);
    }
    expect((await http.get(`/v1/projects/${P}/secrets/BAD`).set(auth(olive))).status).toBe(404);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'PATCHED', value: CANARY })).status).toBe(201);
    for (const bad of [0, 3651, 2.5, '7', false]) {
      const r = await http.patch(`/v1/projects/${P}/secrets/PATCHED`).set(auth(olive)).send({ rotationIntervalDays: bad });
      expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain('rotationIntervalDays');
    }
    for (const query of [{ rotation: 'ok' }, { rotation: 'OVERDUE' }, { rotation: '' }, { rotation: ['overdue', 'approaching'] }]) {
      const r = await http.get(`/v1/projects/${P}/secrets`).query(query).set(auth(olive));
      expect({ query, status: r.status }).toEqual({ query, status: 400 });
      expect(r.body.errors).toEqual([expect.objectContaining({ field: 'rotation' })]);
    }
    const unknown = await http.get(`/v1/projects/${P}/secrets`).query({ rotaton: 'overdue' }).set(auth(olive));
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ field: 'rotaton' })]);
    // The bounds themselves are accepted; null clears.
    expect((await http.patch(`/v1/projects/${P}/secrets/PATCHED`).set(auth(olive)).send({ rotationIntervalDays: 3650 })).body.rotation).toMatchObject({ intervalDays: 3650, status: 'ok' });
    expect((await http.patch(`/v1/projects/${P}/secrets/PATCHED`).set(auth(olive)).send({ rotationIntervalDays: 1 })).body.rotation).toMatchObject({ intervalDays: 1 });
    const cleared = await http.patch(`/v1/projects/${P}/secrets/PATCHED`).set(auth(olive)).send({ rotationIntervalDays: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.rotation).toBeNull();
  });

  it('rotation due → approaching → overdue: the event once per version, a new value version restarts the interval', async () => {
    const created = await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'DB_PASSWORD', value: CANARY, rotationIntervalDays: 30 });
    expect(created.status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(olive)).send({ name: 'NO_ROTATION', value: CANARY })).status).toBe(201);

    const meta = await http.get(`/v1/projects/${P}/secrets/DB_PASSWORD`).set(auth(olive));
    expect(meta.status).toBe(200);
    const v1At = Date.parse(meta.body.rotation.lastRotatedAt);
    const due1 = v1At + 30 * DAY;
    expect(meta.body.rotation).toEqual({ intervalDays: 30, lastRotatedAt: meta.body.createdAt, dueAt: new Date(due1).toISOString(), status: 'ok' });
    expect((await http.get(`/v1/projects/${P}/secrets/NO_ROTATION`).set(auth(olive))).body.rotation).toBeNull();

    // The list (the projected read model) says the same once it caught up; the filter follows the clock.
    const listed = await eventually(
      () => http.get(`/v1/projects/${P}/secrets`).set(auth(olive)),
      (r) => r.status === 200 && names(r).includes('DB_PASSWORD') && names(r).includes('NO_ROTATION'),
    );
    expect(listed.body.items.find((i: { name: string }) => i.name === 'DB_PASSWORD').rotation).toEqual(meta.body.rotation);
    expect(listed.body.items.find((i: { name: string }) => i.name === 'NO_ROTATION').rotation).toBeNull();
    expect(names(await listAt({ rotation: 'approaching' }))).toEqual([]);
    expect(names(await listAt({ rotation: 'overdue' }))).toEqual([]);
    expect(names(await listAt({ rotation: 'approaching' }, due1 - 7 * DAY - 1))).toEqual([]);
    expect(names(await listAt({ rotation: 'approaching' }, due1 - 7 * DAY))).toEqual(['DB_PASSWORD']);
    expect(names(await listAt({ rotation: 'overdue' }, due1 - 1))).toEqual([]);
    expect(names(await listAt({ rotation: 'overdue' }, due1))).toEqual(['DB_PASSWORD']);
    expect(names(await listAt({ rotation: 'approaching' }, due1))).toEqual([]);
    expect((await metadataAt('DB_PASSWORD', due1)).body.rotation.status).toBe('overdue');

    // The timer: not a millisecond before the due instant; at it, once; never again for that version.
    const recorder = t.app.get(RotationOverdueRecorder, { strict: false });
    expect(await recorder.scan(new Date(due1 - 1))).toBe(0);
    expect(await overdueEvents('DB_PASSWORD')).toEqual([]);
    expect(await recorder.scan(new Date(due1))).toBe(1);
    expect(await recorder.scan(new Date(due1 + DAY))).toBe(0);
    expect(await overdueEvents('DB_PASSWORD')).toEqual([
      expect.objectContaining({ version: 1, dueAt: new Date(due1).toISOString(), lastRotatedAt: new Date(v1At).toISOString() }),
    ]);
    // A second recorder (another replica, or this one restarted) does not record it again either.
    const replica = new RotationOverdueRecorder(t.infra.eventStore, t.infra.config, new Metrics(), new JsonLogger('error'), new SecretStates(t.infra.eventStore));
    expect(await replica.scan(new Date(due1 + 2 * DAY))).toBe(0);

    // In the audit log (the Merkle log the live stream and Kafka are fed from): one OCSF record, no value.
    const records = await eventually(
      async () => {
        await t.app.get(AuditorModule).idle();
        const { rows } = await t.infra.sql.query<{ record: string }>(`SELECT record FROM audit_log WHERE event_type = 'SecretRotationOverdue'`);
        return rows.map((r) => r.record);
      },
      (r) => r.length > 0,
      15_000,
    );
    expect(records).toHaveLength(1);
    expect(records[0]).not.toContain(CANARY);
    expect(JSON.parse(records[0])).toMatchObject({
      class_uid: 6003,
      activity_id: 99,
      severity_id: 3,
      status_detail: 'rotation-overdue',
      api: { operation: 'RecordSecretRotationOverdue' },
      actor: { user: { uid: 'rotation-overdue', type: 'System' } },
      resources: [{ type: 'secret', uid: `${P}/DB_PASSWORD`, version: '1' }],
      unmapped: { rotation: { interval_days: 30, due_at: new Date(due1).toISOString() } },
    });

    // A new value version, written five days after the old one was due, restarts the interval from
    // its own write time (lastRotatedAt); it is overdue in its own time, once.
    const v2At = due1 + 5 * DAY;
    const put = await withClockAt(v2At, () => http.put(`/v1/projects/${P}/secrets/DB_PASSWORD/value`).set(auth(longLived)).send({ value: `${CANARY}-2` }));
    expect(put.body).toEqual({ version: 2 });
    const due2 = v2At + 30 * DAY;
    expect((await metadataAt('DB_PASSWORD', v2At)).body.rotation).toEqual({ intervalDays: 30, lastRotatedAt: new Date(v2At).toISOString(), dueAt: new Date(due2).toISOString(), status: 'ok' });
    await eventually(
      () => http.get(`/v1/projects/${P}/secrets`).set(auth(olive)),
      (r) => r.body.items.find((i: { name: string }) => i.name === 'DB_PASSWORD')?.version === 2,
    );
    expect(names(await listAt({ rotation: 'overdue' }, v2At))).toEqual([]);
    expect(names(await listAt({ rotation: 'approaching' }, due2 - DAY))).toEqual(['DB_PASSWORD']);
    expect(await recorder.scan(new Date(v2At))).toBe(0);
    expect(await recorder.scan(new Date(due2 - 1))).toBe(0);
    expect(await recorder.scan(new Date(due2))).toBe(1);
    expect(await recorder.scan(new Date(due2 + DAY))).toBe(0);
    expect((await overdueEvents('DB_PASSWORD')).map((e) => e.version)).toEqual([1, 2]);
    expect(names(await listAt({ rotation: 'overdue' }, due2))).toEqual(['DB_PASSWORD']);

    // Clearing the interval: no rotation object, nothing more recorded, not listed.
    const cleared = await http.patch(`/v1/projects/${P}/secrets/DB_PASSWORD`).set(auth(olive)).send({ rotationIntervalDays: null });
    expect(cleared.body.rotation).toBeNull();
    await withClockAt(due2 + DAY, () => http.put(`/v1/projects/${P}/secrets/DB_PASSWORD/value`).set(auth(longLived)).send({ value: `${CANARY}-3` }));
    expect(await recorder.scan(new Date(due2 + 400 * DAY))).toBe(0);
    await eventually(
      () => http.get(`/v1/projects/${P}/secrets`).set(auth(olive)),
      (r) => r.body.items.find((i: { name: string }) => i.name === 'DB_PASSWORD')?.rotation === null,
    );
    expect(names(await listAt({ rotation: 'overdue' }, due2 + 400 * DAY))).toEqual([]);
    expect((await overdueEvents('NO_ROTATION')).length).toBe(0);

    if (started.kafka && started.topic) {
      // On Kafka, keyed to the secret, like every other record.
      expect(await t.app.get(AuditorModule).idle()).toBe(true);
      const size = await t.infra.auditLog.committedSize();
      const got = await consumeAll(started.kafka, started.topic, size);
      const overdue = got.filter((m) => m.headers['event-type'] === 'SecretRotationOverdue');
      expect(overdue.map((m) => m.key)).toEqual([`${P}/DB_PASSWORD`, `${P}/DB_PASSWORD`]);
      expect(overdue.map((m) => JSON.parse(m.value).resources[0].version)).toEqual(['1', '2']);
      expect(got.map((m) => m.value).join()).not.toContain(CANARY);
    }
  }, 120_000);

  it('rebuild: dropping the read models and replaying gives the same bytes (rotation columns included)', async () => {
    await eventually(
      () => http.get(`/v1/projects/${P}/secrets`).set(auth(olive)),
      (r) => r.body.items.find((i: { name: string }) => i.name === 'DB_PASSWORD')?.version === 3,
    );
    await t.app.get(AuditorModule).idle();
    const before = await dumpReadModels(t.infra.sql);
    expect(before).toContain('"rotation_overdue_version":2');
    await t.app.close(); // stop the live projector before a rebuild, as the CLI says
    await rebuild({ store: t.infra.eventStore, sql: t.infra.sql, target: t.infra.policyTarget, render: renderOptions(t.infra.config), logger: new JsonLogger('error') });
    expect(await dumpReadModels(t.infra.sql)).toBe(before);
    expect(before).not.toContain(CANARY);
  }, 120_000);
});
