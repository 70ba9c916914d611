import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { Client } from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import vault from 'node-vault';
import request from 'supertest';
import { ciRoleName } from '@app/domain/openbao/policy-renderer';
import { EventStore, RecordedEvent } from '@app/domain';
import { baoClient, inlineAuthHeaders } from '@app/infra/openbao/bao-client';
import { parseBaoRef } from '@app/infra/value-store/openbao-value-store';
import { AuditorModule } from '../../apps/auditor/src/auditor.module';
import { publicKeyFrom, verifyEvidence } from '../../apps/cli/src/verify';
import { EmbeddedApp, filesUnder, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { consumeAll } from '../support/kafka';
import { scratchDatabase } from '../support/scratch-database';

// OpenBao's own audit device as an input (issue 11, item 4), against the real OpenBao (with the
// audit devices scripts/stack declares), PostgreSQL and Kafka: a CI job that reads KV directly with
// its JWT role is in access-history (channel "openbao"), on the topic, in the Merkle log and in
// the pipeline's evidence, once per OpenBao request, however often the file is re-read.
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const { BAO_ADDR, BAO_TOKEN, BAO_AUDIT_FILE, KAFKA_BROKERS } = process.env;
const CANARY = `bao-audit-canary-${randomUUID()}`;
const status = (e: unknown) => (e as { response?: { statusCode?: number } }).response?.statusCode;

if (!BAO_AUDIT_FILE || !DATABASE_URL || !BAO_ADDR || !BAO_TOKEN || !KAFKA_BROKERS) {
  const missing = Object.entries({ BAO_AUDIT_FILE, DATABASE_URL, BAO_ADDR, BAO_TOKEN, KAFKA_BROKERS }).filter(([, v]) => !v).map(([k]) => k);
  console.warn(`SKIPPED OpenBao audit ingestion e2e: ${missing.join(', ')} not set (scripts/stack env exports BAO_AUDIT_FILE when its OpenBao runs with the audit devices)`);
  describe.skip(`OpenBao audit ingestion — SKIPPED, ${missing.join(', ')} not set`, () => it('needs the stack with audit devices', () => undefined));
} else {
  describe('OpenBao audit device → events: direct reads by CI jobs (production profile)', () => {
    let t: EmbeddedApp;
    let db: { url: string; drop(): Promise<void> };
    let http: ReturnType<typeof request>;
    const run = randomUUID().slice(0, 8);
    const P = `oba-${run}`;
    const JWT_MOUNT = `jwt-ci-oba-${run}`;
    const PREFIX = `ps-oba-${run}`;
    const topic = `audit-oba-${run}`;
    const root = vault({ endpoint: BAO_ADDR, token: BAO_TOKEN });
    const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
    const unscoped = { environment: null, branch: null, protectedOnly: false };
    const kafka = new Kafka({ clientId: 'oba-test', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    let owner: string;
    let job: string;

    const dataPath = async (name: string) => {
      const events = await (t.infra.eventStore as EventStore).readStream(`secret-${P}/${name}`);
      const ref = parseBaoRef(String(events[events.length - 1].data.valueRef))!;
      return { path: `${ref.mount}/data/${ref.path}`, version: ref.version };
    };
    const openbaoEvents = async (): Promise<RecordedEvent[]> => {
      const out: RecordedEvent[] = [];
      for (const name of ['ALPHA', 'BRAVO', 'PROD_ONLY']) out.push(...(await (t.infra.eventStore as EventStore).readStream(`access-${P}/${name}`)));
      return out.filter((e) => (e.metadata as { source?: string }).source === 'openbao-audit');
    };

    // The stack's audit file also holds every earlier suite's OpenBao traffic, whose ps-ci-* writes
    // carry other apps' marker keys (drift to this app). This app's ingester starts where the file
    // ends now, as a service installed on a running OpenBao would be set up; the re-read from
    // byte 0 is proven by apps/auditor/src/openbao-audit-ingester.int.spec.ts.
    let startOffset: { inode: string; offset: number };
    /** The audit file from `offset` on (the shared file outgrows what readFileSync and one string can hold). */
    const auditFileFrom = (offset: number): string => {
      const fd = openSync(BAO_AUDIT_FILE, 'r');
      try {
        const buf = Buffer.alloc(fstatSync(fd).size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        return buf.toString('utf8');
      } finally {
        closeSync(fd);
      }
    };
    const setOffset = async (o: { inode: string; offset: number }) => {
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query('CREATE TABLE IF NOT EXISTS openbao_audit_offsets (device text PRIMARY KEY, inode text NOT NULL, byte_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())');
        await c.query(
          'INSERT INTO openbao_audit_offsets (device, inode, byte_offset) VALUES ($1, $2, $3) ON CONFLICT (device) DO UPDATE SET inode = EXCLUDED.inode, byte_offset = EXCLUDED.byte_offset',
          [BAO_AUDIT_FILE, o.inode, o.offset],
        );
      } finally {
        await c.end();
      }
    };

    beforeAll(async () => {
      db = await scratchDatabase(DATABASE_URL, 'openbao_audit');
      const st = statSync(BAO_AUDIT_FILE, { bigint: true });
      startOffset = { inode: `${st.dev}:${st.ino}`, offset: Number(st.size) };
      await setOffset(startOffset);
      t = await startEmbedded({
        env: {
          PROFILE: 'production', DATABASE_URL: db.url, DEV_ISSUER: '1', BAO_ADDR, BAO_TOKEN, BAO_JWT_MOUNT: JWT_MOUNT, BAO_KV_PREFIX: PREFIX,
          BAO_AUDIT_FILE, KAFKA_BROKERS, AUDIT_TOPIC: topic, DENIAL_SUMMARY_WINDOW_SECONDS: '2', AUDIT_CHECKPOINT_TOPIC: `${topic}-cp`, AUDIT_TOPIC_PARTITIONS: '1', AUDIT_CHECKPOINT_SECONDS: '1',
        },
      });
      http = request(t.app.getHttpServer());
      const admin = await t.userToken('root', { admin: true });
      owner = await t.userToken('olive');
      expect((await http.post(`/v1/projects/${P}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
      for (const [name, extra] of [['ALPHA', {}], ['BRAVO', {}], ['PROD_ONLY', { environment: 'production', branch: 'main', protectedOnly: true }]] as const) {
        expect((await http.post(`/v1/projects/${P}/secrets`).set(auth(owner)).send({ name, value: `${CANARY}-${name}`, ...extra })).status).toBe(201);
      }
      job = await t.ciToken({ project: P, ref: 'feature/x', protected: false, pipeline: '77', job: '5' });
      const role = ciRoleName(P, unscoped);
      await eventually(
        () => root.list(`auth/${JWT_MOUNT}/role`).then((r: { data: { keys: string[] } }) => r.data.keys, () => [] as string[]),
        (keys) => keys.includes(role),
        20_000,
      );
      // and its policy names both secrets (the reconciler writes them one after another)
      await eventually(
        () => root.read(`sys/policies/acl/${role}`).then((r: { data: { policy: string } }) => r.data.policy, () => ''),
        (text) => text.includes('/ALPHA') && text.includes('/BRAVO'),
        20_000,
      );
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('two direct reads and a refused one become events everywhere the API decisions go, and a brokered read counts once', async () => {
      const login = await root.write(`auth/${JWT_MOUNT}/login`, { role: ciRoleName(P, unscoped), jwt: job });
      const asJob = vault({ endpoint: BAO_ADDR, token: login.auth.client_token });
      for (const name of ['ALPHA', 'BRAVO']) {
        const { path, version } = await dataPath(name);
        const got = await asJob.read(`${path}?version=${version}`);
        expect(got.data.data.value).toBe(`${CANARY}-${name}`);
      }
      const prod = await dataPath('PROD_ONLY');
      const denied = await asJob.read(`${prod.path}?version=${prod.version}`).then(() => 200, status);
      expect(denied).toBe(403);
      // and one read through the API (brokered with the job's own OpenBao token): one event, channel api
      expect((await http.post(`/v1/projects/${P}/secrets/ALPHA/access`).set(auth(job)).send({})).status).toBe(200);

      const started = Date.now();
      const history = await eventually(
        async () => (await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'openbao' }).set(auth(owner))).body.items as { secret: string; decision: string; channel: string; reason: string | null; principal: { jobId: string | null; pipelineId: string | null }; via: { channel?: string; requestId?: string; policy?: string | null } }[],
        (items) => items?.length === 3,
        10_000,
      );
      const delayMs = Date.now() - started;
      expect(delayMs).toBeLessThan(5_000);
      expect(history.map((i) => [i.secret, i.decision, i.channel, i.reason]).sort()).toEqual([
        ['ALPHA', 'allowed', 'openbao', null],
        ['BRAVO', 'allowed', 'openbao', null],
        ['PROD_ONLY', 'denied', 'openbao', 'openbao-denied'],
      ]);
      for (const i of history) {
        expect(i.principal).toMatchObject({ jobId: '5', pipelineId: '77' });
        expect(i.via).toMatchObject({ channel: 'openbao', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      }
      expect(history.filter((i) => i.decision === 'allowed').map((i) => i.via.policy)).toEqual([ciRoleName(P, unscoped), ciRoleName(P, unscoped)]);
      const api = (await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'api', secret: 'ALPHA' }).set(auth(owner))).body.items;
      expect(api.map((i: { decision: string; channel: string }) => [i.decision, i.channel])).toEqual([['allowed', 'api']]);
      expect((await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'kv' }).set(auth(owner))).status).toBe(400);

      // the Merkle log, Kafka, the pipeline's evidence
      const ids = (await openbaoEvents()).map((e) => e.eventId);
      expect(ids).toHaveLength(3);
      expect(await t.app.get(AuditorModule).idle()).toBe(true);
      const logged = await t.infra.auditLog.recordsAfter(-1, 10_000);
      const inLog = logged.filter((r) => ids.includes(r.eventId));
      expect(inLog).toHaveLength(3);
      for (const r of inLog) expect(JSON.parse(r.record).unmapped.openbao.request_id).toMatch(/^[0-9a-f-]{36}$/);
      const onTopic = await consumeAll(kafka, topic, logged.length);
      expect(onTopic.filter((m) => ids.includes(m.headers['event-id']))).toHaveLength(3);
      const key = publicKeyFrom((await http.get('/v1/audit/public-key')).body.publicKeyPem);
      const ev = await http.post(`/v1/projects/${P}/pipelines/77/evidence`).set(auth(job)).send({ subjects: [{ name: 'a', digest: { sha256: 'a'.repeat(64) } }] });
      expect(ev.status).toBe(200);
      const { statement } = verifyEvidence(ev.body, key, { projectId: P, pipelineId: '77' });
      const accesses = (statement.predicate as { accesses: { secret: string; decision: string; eventId: string }[] }).accesses;
      expect(accesses.filter((a) => ids.includes(a.eventId)).map((a) => [a.secret, a.decision]).sort()).toEqual([['ALPHA', 'allowed'], ['BRAVO', 'allowed'], ['PROD_ONLY', 'denied']]);
      expect(accesses).toHaveLength(4); // + the brokered read, once

      // no value, no client token anywhere the service wrote
      const written = [
        JSON.stringify((await openbaoEvents()).map((e) => [e.data, e.metadata])),
        JSON.stringify(logged),
        onTopic.map((m) => m.value).join('\n'),
        t.logs.join('\n'),
      ].join('\n');
      expect(written).not.toContain(CANARY);
      expect(written).not.toContain(String(login.auth.client_token));
      expect(written).not.toContain(String(login.auth.accessor));
      for (const f of filesUnder(t.dataDir)) expect(f.bytes.includes(CANARY)).toBe(false);
    }, 60_000);

    it('the broker header proves nothing unless its MAC is valid and first used: a job sending the old marker, a forged one, or one copied from the audit file is recorded (channel openbao)', async () => {
      const login = await root.write(`auth/${JWT_MOUNT}/login`, { role: ciRoleName(P, unscoped), jwt: job });
      const { path, version } = await dataPath('ALPHA');
      // the marker of the brokered read of the first test, as OpenBao's audit device holds it in clear
      // (from this suite's start offset: the shared file outgrows the longest string V8 can make, 512 MiB)
      const brokered = auditFileFrom(startOffset.offset)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((e) => e.type === 'response' && e.request.path === path && e.request.headers?.['x-pipeline-secrets-broker'])!;
      const copied = brokered.request.headers['x-pipeline-secrets-broker'][0] as string;
      expect(copied).toMatch(/^v1\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
      const before = (await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'openbao', secret: 'ALPHA' }).set(auth(owner))).body.items.length as number;
      const readWith = async (marker: string) => {
        const c = vault({ endpoint: BAO_ADDR, token: login.auth.client_token, requestOptions: { headers: { 'X-Pipeline-Secrets-Broker': marker } } });
        expect((await c.read(`${path}?version=${version}`)).data.data.value).toBe(`${CANARY}-ALPHA`);
      };
      await readWith('pipeline-secrets'); // the old plain marker
      await readWith(`v1.${randomUUID()}.${'A'.repeat(43)}`); // a forged MAC
      await readWith(copied); // a replay of the service's own marker by another request
      const items = await eventually(
        async () => (await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'openbao', secret: 'ALPHA' }).set(auth(owner))).body.items as { decision: string; channel: string; principal: { jobId: string | null } }[],
        (xs) => xs?.length === before + 3,
        10_000,
      );
      expect(items.filter((i) => i.channel === 'openbao' && i.decision === 'allowed' && i.principal.jobId === '5')).toHaveLength(before + 3);
      // the API's own read is still once, channel api
      expect((await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'api', secret: 'ALPHA' }).set(auth(owner))).body.items).toHaveLength(1);
    }, 60_000);

    it('a policy edited by hand with the root token is back within seconds, with OpenBaoDriftDetected and OpenBaoDriftRepaired', async () => {
      const role = ciRoleName(P, unscoped);
      const desired = (await root.read(`sys/policies/acl/${role}`)).data.policy as string;
      const tampered = `${desired}\npath "secret/data/*" { capabilities = ["read"] }\n`;
      await root.write(`sys/policies/acl/${role}`, { policy: tampered });
      const started = Date.now();
      const back = await eventually(() => root.read(`sys/policies/acl/${role}`).then((r: { data: { policy: string } }) => r.data.policy), (text) => text === desired, 10_000);
      expect(back).toBe(desired);
      const repairMs = Date.now() - started;
      expect(repairMs).toBeLessThan(5_000);
      const drift = await eventually(
        () => (t.infra.eventStore as EventStore).readStream('openbao-drift'),
        (es) => es.some((e) => e.type === 'OpenBaoDriftRepaired' && e.data.path === `sys/policies/acl/${role}`),
        10_000,
      );
      const mine = drift.filter((e) => e.data.path === `sys/policies/acl/${role}`);
      expect(mine.map((e) => e.type)).toEqual(['OpenBaoDriftDetected', 'OpenBaoDriftRepaired']);
      expect(mine[0].data).toMatchObject({ who: { displayName: 'token', policies: ['root'] }, operation: 'update', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(mine[1].data).toMatchObject({ requestId: mine[0].data.requestId, written: [`policy/${role}`] });
      // both are OCSF records in the Merkle log
      expect(await t.app.get(AuditorModule).idle()).toBe(true);
      const logged = (await t.infra.auditLog.recordsAfter(-1, 10_000)).filter((r) => mine.some((e) => e.eventId === r.eventId));
      expect(logged.map((r) => JSON.parse(r.record)).map((r) => [r.class_uid, r.activity_id, r.api.operation, r.severity_id])).toEqual([
        [6003, 3, 'OpenBaoWrite', 4],
        [6003, 3, 'RepairOpenBaoDrift', 1],
      ]);
      // the projector's own writes (the repair included) are not drift
      expect(drift.filter((e) => e.type === 'OpenBaoDriftDetected' && !(e.data.who as { policies: string[] }).policies.includes('root'))).toEqual([]);
    }, 60_000);

    it('a write with a forged broker marker is drift on the stream; the periodic full diff records drift the stream could not show (a write with a valid marker) and repairs it', async () => {
      const role = ciRoleName(P, unscoped);
      const desired = (await root.read(`sys/policies/acl/${role}`)).data.policy as string;
      const stream = () => (t.infra.eventStore as EventStore).readStream('openbao-drift');
      const forged = vault({ endpoint: BAO_ADDR, token: BAO_TOKEN, requestOptions: { headers: { 'X-Pipeline-Secrets-Broker': `v1.${randomUUID()}.${'A'.repeat(43)}` } } });
      await forged.write(`sys/policies/acl/${role}`, { policy: `${desired}\n# forged\n` });
      await eventually(stream, (es) => es.filter((e) => e.data.path === `sys/policies/acl/${role}`).length === 4, 10_000);
      expect(await eventually(() => root.read(`sys/policies/acl/${role}`).then((r: { data: { policy: string } }) => r.data.policy), (text) => text === desired, 10_000)).toBe(desired);
      // a write signed with the service's key (only the service holds it): the stream cannot tell it from the service's own
      const disguised = baoClient(BAO_ADDR, BAO_TOKEN, t.infra.brokerMarkerKey);
      await disguised.write(`sys/policies/acl/${role}`, { policy: `${desired}\n# hidden\n` });
      await new Promise((r) => setTimeout(r, 1_000));
      const seen = (await stream()).length;
      expect((await stream()).filter((e) => e.data.path === `sys/policies/acl/${role}`)).toHaveLength(4);
      const found = await t.app.get(AuditorModule).driftCheck!.checkOnce();
      expect(found).toEqual([`policy/${role}`]);
      expect((await root.read(`sys/policies/acl/${role}`)).data.policy).toBe(desired);
      const added = (await stream()).slice(seen);
      expect(added.map((e) => [e.type, e.data.path, e.data.requestId])).toEqual([
        ['OpenBaoDriftDetected', `sys/policies/acl/${role}`, null],
        ['OpenBaoDriftRepaired', null, null],
      ]);
      expect(await t.app.get(AuditorModule).driftCheck!.checkOnce()).toEqual([]);
    }, 60_000);

    it('re-reading everything this ingester has read, from its first offset, adds nothing: one event per OpenBao request id', async () => {
      const before = await openbaoEvents();
      const driftBefore = await (t.infra.eventStore as EventStore).readStream('openbao-drift');
      const ingester = t.app.get(AuditorModule).openbaoIngester!;
      await ingester.stop();
      await setOffset(startOffset);
      const present = auditFileFrom(startOffset.offset).split('\n').filter(Boolean).length;
      const lines = await ingester.pollOnce(); // all of this test's part of the file, again
      expect(lines).toBeGreaterThanOrEqual(present);
      await ingester.start();
      const after = await openbaoEvents();
      expect(after.map((e) => e.eventId).sort()).toEqual(before.map((e) => e.eventId).sort());
      const requestIds = after.map((e) => (e.data.via as { requestId: string }).requestId);
      expect(new Set(requestIds).size).toBe(requestIds.length);
      expect((await (t.infra.eventStore as EventStore).readStream('openbao-drift')).map((e) => e.eventId)).toEqual(driftBefore.map((e) => e.eventId));
    }, 120_000);

    it('a batch access counts once per name (its reads are brokered, its decisions in the project log), and a direct read of a later value records that value version', async () => {
      expect((await http.put(`/v1/projects/${P}/secrets/BRAVO/value`).set(auth(owner)).send({ value: `${CANARY}-BRAVO-2` })).status).toBe(200);
      const before = new Set((await openbaoEvents()).map((e) => e.eventId));
      const fresh = async () => (await openbaoEvents()).filter((e) => !before.has(e.eventId));
      const batch = await http.post(`/v1/projects/${P}/secrets/access`).set(auth(job)).send({ names: ['ALPHA', 'BRAVO'] });
      expect(batch.status).toBe(200);
      expect(batch.body.items.map((i: { name: string; version: number }) => [i.name, i.version])).toEqual([['ALPHA', 1], ['BRAVO', 2]]);
      // A direct read of BRAVO's current value: the per-version path is KV version 1, the event says value version 2.
      const login = await root.write(`auth/${JWT_MOUNT}/login`, { role: ciRoleName(P, unscoped), jwt: job });
      const asJob = vault({ endpoint: BAO_ADDR, token: login.auth.client_token });
      const bravo = await dataPath('BRAVO');
      expect(bravo.version).toBe(1);
      expect((await asJob.read(`${bravo.path}?version=1`)).data.data.value).toBe(`${CANARY}-BRAVO-2`);
      const direct = await eventually(fresh, (e) => e.length >= 1, 10_000);
      await new Promise((r) => setTimeout(r, 1500)); // the batch's brokered reads, were they miscounted, would be in by now
      const after = await fresh();
      expect(after.map((e) => [e.type, e.data.name, e.data.version])).toEqual([['SecretAccessed', 'BRAVO', 2]]);
      expect(direct[0].eventId).toBe(after[0].eventId);
      const projectLog = (await (t.infra.eventStore as EventStore).readStream(`access-${P}`)).filter((e) => e.type === 'SecretAccessed');
      expect(projectLog.slice(-2).map((e) => [e.data.name, e.data.version])).toEqual([['ALPHA', 1], ['BRAVO', 2]]);
    }, 60_000);

    // Issue 18, items 4, 6, 11 and 12, against the real OpenBao 2.7.2.
    it('item 4: reads with no token or a forged one, on this project, on ids the API rejects and on projects it never saw, are one summary per address and window, not one denial each', async () => {
      const { path } = await dataPath('ALPHA');
      const sent: Array<[string, number]> = [];
      const raw = async (p: string, token?: string) => {
        const r = await fetch(`${BAO_ADDR}/v1/${p}`, { headers: token === undefined ? {} : { 'X-Vault-Token': token } });
        sent.push([p, r.status]);
      };
      const valid: string[] = [];
      for (let i = 0; i < 20; i++) {
        valid.push(path, `secret/data/${PREFIX}/probe-${run}-${i}/ALPHA`);
        await raw(path);
        await raw(`secret/data/${PREFIX}/probe-${run}-${i}/ALPHA`, `forged-${randomUUID()}`);
      }
      // an unknown token of OpenBao's own form (hvs.<...>) is refused too, but OpenBao 2.7.2 does not audit it at all: nothing can record it
      await raw(`secret/data/${PREFIX}/probe-${run}-hvs/ALPHA`, `hvs.${randomUUID()}`);
      for (const bad of ['NOT_A_PROJECT/ALPHA', `${P}/lower`, `${'p'.repeat(70)}/ALPHA`]) await raw(`secret/data/${PREFIX}/${bad}`);
      expect(new Set(sent.map(([, st]) => st))).toEqual(new Set([403]));
      const summaries = await eventually(
        async () => (await (t.infra.eventStore as EventStore).readStream('access-*')).filter((e) => (e.metadata as { source?: string }).source === 'openbao-audit'),
        (es) => es.reduce((n, e) => n + Number(e.data.count), 0) >= valid.length,
        15_000,
      );
      // no stranger can reach this stream but through OpenBao on this suite's prefix: every summary here is this test's
      expect(summaries.reduce((n, e) => n + Number(e.data.count), 0)).toBe(valid.length);
      expect(summaries.length).toBeLessThanOrEqual(2); // 2 s windows: the burst may straddle one boundary
      for (const e of summaries) expect(e.data).toMatchObject({ projectId: '*', principal: { type: 'user', id: 'openbao-unauthenticated:127.0.0.1' }, reason: 'openbao-denied', windowSeconds: 2 });
      // nothing one by one: not in this project's history, nor in a stream of a project it probed
      const history = (await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'openbao', secret: 'ALPHA', decision: 'denied' }).set(auth(owner))).body.items as unknown[];
      expect(history).toEqual([]);
      expect(await (t.infra.eventStore as EventStore).readStream(`access-probe-${run}-0/ALPHA`)).toEqual([]);
      const notRecorded = async (reason: string) => (await t.infra.metrics.openBaoAuditNotRecorded.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
      expect(await notRecorded('unauthenticated-folded')).toBe(valid.length);
      expect(await notRecorded('invalid-path')).toBe(3);
      // the summary is an OCSF record in the Merkle log, of no project
      expect(await t.app.get(AuditorModule).idle()).toBe(true);
      const logged = (await t.infra.auditLog.recordsAfter(-1, 100_000)).filter((r) => summaries.some((e) => e.eventId === r.eventId));
      expect(logged.map((r) => JSON.parse(r.record)).map((r) => [r.class_uid, r.api.operation, r.actor.user.uid])).toEqual(summaries.map(() => [6003, 'SuppressedDenials', 'openbao-unauthenticated:127.0.0.1']));
    }, 60_000);

    it('item 6: a role written under the same name in capitals (OpenBao lowercases it, so it replaces the service\'s) is drift, repaired within seconds, and the other project\'s job cannot log in any more', async () => {
      const role = ciRoleName(P, unscoped);
      const other = `oba-other-${run}`;
      const desired = (await root.read(`auth/${JWT_MOUNT}/role/${role}`)).data;
      await root.write(`auth/${JWT_MOUNT}/role/${role.toUpperCase()}`, { ...desired, bound_claims: { project_id: other }, token_policies: role });
      expect((await root.read(`auth/${JWT_MOUNT}/role/${role}`)).data.bound_claims).toEqual({ project_id: other }); // OpenBao: one role, replaced
      // back on the audit entry (eventually fails after 10 s), not at the 60 s periodic run; measured 0.4-1 s under load 18
      const back = await eventually(() => root.read(`auth/${JWT_MOUNT}/role/${role}`).then((r: { data: { bound_claims: unknown } }) => r.data.bound_claims), (c) => JSON.stringify(c) === JSON.stringify(desired.bound_claims), 10_000);
      expect(back).toEqual(desired.bound_claims);
      const drift = await eventually(
        () => (t.infra.eventStore as EventStore).readStream('openbao-drift'),
        (es) => es.some((e) => e.type === 'OpenBaoDriftRepaired' && e.data.path === `auth/${JWT_MOUNT}/role/${role}`),
        10_000,
      );
      const mine = drift.filter((e) => e.data.path === `auth/${JWT_MOUNT}/role/${role}`);
      expect(mine.map((e) => e.type)).toEqual(['OpenBaoDriftDetected', 'OpenBaoDriftRepaired']);
      // seen on the audit entry (a request id), not by the periodic diff (null); the repair is the auditor's or, if it ran first, the projector's own reconcile
      expect(mine[0].data).toMatchObject({ operation: 'update', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect([[], [`role/${role}`]]).toContainEqual(mine[1].data.written);
      const otherJob = await t.ciToken({ project: other, ref: 'main', protected: true, pipeline: '88', job: '9' });
      expect(await root.write(`auth/${JWT_MOUNT}/login`, { role, jwt: otherJob }).then(() => 200, status)).toBe(400);
      // a policy written in capitals is lowercased by OpenBao, and is the service's policy too
      const policy = (await root.read(`sys/policies/acl/${role}`)).data.policy as string;
      await root.write(`sys/policies/acl/${role.toUpperCase()}`, { policy: `${policy}\npath "secret/data/*" { capabilities = ["read"] }\n` });
      expect(await eventually(() => root.read(`sys/policies/acl/${role}`).then((r: { data: { policy: string } }) => r.data.policy), (p) => p === policy, 10_000)).toBe(policy);
      // and OpenBao 2.7.2 also takes PATCH on a policy (operation "patch" in the audit entry): drift too, put back within seconds
      const patched = await fetch(`${BAO_ADDR}/v1/sys/policies/acl/${role.toUpperCase()}`, {
        method: 'PATCH',
        headers: { 'X-Vault-Token': BAO_TOKEN, 'Content-Type': 'application/merge-patch+json' },
        body: JSON.stringify({ policy: 'path "secret/data/*" { capabilities = ["read"] }' }),
      });
      expect(patched.status).toBe(200);
      expect(await eventually(() => root.read(`sys/policies/acl/${role}`).then((r: { data: { policy: string } }) => r.data.policy), (p) => p === policy, 10_000)).toBe(policy);
      const patchDrift = (await (t.infra.eventStore as EventStore).readStream('openbao-drift')).filter((e) => e.type === 'OpenBaoDriftDetected' && e.data.operation === 'patch');
      expect(patchDrift.map((e) => e.data.path)).toEqual([`sys/policies/acl/${role}`]);
    }, 60_000);

    it('round-3 review item 3: a role of another name on the service\'s JWT mount (backdoor, with the victim\'s ps-ci- policy) is drift: deleted within seconds, and the other project\'s job cannot log in with it', async () => {
      const role = ciRoleName(P, unscoped);
      const other = `oba-bd-${run}`;
      const desired = (await root.read(`auth/${JWT_MOUNT}/role/${role}`)).data;
      await root.write(`auth/${JWT_MOUNT}/role/backdoor`, { ...desired, bound_claims: { project_id: other }, token_policies: role });
      // gone on the audit entry (eventually fails after 10 s), not at the 60 s periodic run
      const keys = await eventually(() => root.list(`auth/${JWT_MOUNT}/role`).then((r: { data: { keys: string[] } }) => r.data.keys), (k) => !k.includes('backdoor'), 10_000);
      expect(keys).toContain(role);
      const drift = await eventually(
        () => (t.infra.eventStore as EventStore).readStream('openbao-drift'),
        (es) => es.some((e) => e.type === 'OpenBaoDriftDetected' && e.data.path === `auth/${JWT_MOUNT}/role/backdoor`),
        10_000,
      );
      expect(drift.filter((e) => e.data.path === `auth/${JWT_MOUNT}/role/backdoor`)[0].data).toMatchObject({ operation: 'create', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      const otherJob = await t.ciToken({ project: other, ref: 'main', protected: true, pipeline: '88', job: '9' });
      expect(await root.write(`auth/${JWT_MOUNT}/login`, { role: 'backdoor', jwt: otherJob }).then(() => 200, status)).toBe(400);
    }, 60_000);

    it('item 11: a token made by hand with a job\'s metadata (project, pipeline 77, job, role) reads: recorded unattributed, never in pipeline 77\'s history or evidence', async () => {
      const role = ciRoleName(P, unscoped);
      const made = await root.write('auth/token/create', { policies: [role], no_default_policy: true, display_name: `${JWT_MOUNT}-project_path:${P}`, meta: { project_id: P, pipeline_id: '77', job_id: '666', ref: 'main', role } });
      const forged = vault({ endpoint: BAO_ADDR, token: made.auth.client_token });
      const { path, version } = await dataPath('ALPHA');
      expect((await forged.read(`${path}?version=${version}`)).data.data.value).toBe(`${CANARY}-ALPHA`);
      const items = await eventually(
        async () => (await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'openbao', secret: 'ALPHA' }).set(auth(owner))).body.items as { principal: { id: string; type: string; jobId: string | null; pipelineId: string | null }; via: { requestId: string } }[],
        (xs) => xs?.some((i) => i.principal.id.startsWith('openbao-unattributed:')),
        10_000,
      );
      const mine = items.filter((i) => i.principal.id.startsWith('openbao-unattributed:'));
      expect(mine).toHaveLength(1);
      expect(mine[0].principal).toMatchObject({ type: 'user', id: expect.stringMatching(/^openbao-unattributed:token-/), jobId: null, pipelineId: null }); // auth/token/create names every token `token-...`
      expect(items.filter((i) => i.principal.jobId === '666')).toEqual([]);
      const ev = await http.post(`/v1/projects/${P}/pipelines/77/evidence`).set(auth(job)).send({ subjects: [{ name: 'a', digest: { sha256: 'a'.repeat(64) } }] });
      expect(ev.status).toBe(200);
      const key = publicKeyFrom((await http.get('/v1/audit/public-key')).body.publicKeyPem);
      const { statement } = verifyEvidence(ev.body, key, { projectId: P, pipelineId: '77' });
      const accessed = (statement.predicate as { accesses: { eventId: string }[] }).accesses.map((a) => a.eventId);
      const unattributed = (await openbaoEvents()).filter((e) => String((e.data.principal as { id: string }).id).startsWith('openbao-unattributed:'));
      expect(unattributed).toHaveLength(1);
      expect(accessed).not.toContain(unattributed[0].eventId);
    }, 60_000);

    it('issue 23: inline-auth reads by the job itself (the login as headers, no token stored) are the job\'s, one event each; a refused one is its denial; the service\'s own inline reads count once', async () => {
      const before = new Set((await openbaoEvents()).map((e) => e.eventId));
      const fresh = async () => (await openbaoEvents()).filter((e) => !before.has(e.eventId));
      const inline = (role: string) => inlineAuthHeaders({ mount: JWT_MOUNT, role, jwt: job });
      const alpha = await dataPath('ALPHA');
      const prod = await dataPath('PROD_ONLY');
      // The job reads ALPHA directly with inline auth (OpenBao writes a login pair and a read pair for it) ...
      const ok = await fetch(`${BAO_ADDR}/v1/${alpha.path}?version=${alpha.version}`, { headers: inline(ciRoleName(P, unscoped)) });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { data: { data: { value: string } } }).data.data.value).toBe(`${CANARY}-ALPHA`);
      // ... and tries PROD_ONLY with its own role (refused by the role's policy) ...
      expect((await fetch(`${BAO_ADDR}/v1/${prod.path}?version=${prod.version}`, { headers: inline(ciRoleName(P, unscoped)) })).status).toBe(403);
      // ... and the service reads ALPHA for it twice (single and batch: inline auth, brokered, marked)
      expect((await http.post(`/v1/projects/${P}/secrets/ALPHA/access`).set(auth(job)).send({})).status).toBe(200);
      expect((await http.post(`/v1/projects/${P}/secrets/access`).set(auth(job)).send({ names: ['ALPHA'] })).status).toBe(200);
      const got = await eventually(fresh, (e) => e.length >= 2, 10_000);
      await new Promise((r) => setTimeout(r, 1500)); // the two brokered reads, were they miscounted, would be in by now
      const after = await fresh();
      expect(after.map((e) => e.eventId)).toEqual(got.map((e) => e.eventId));
      expect(after.map((e) => [e.type, e.data.name]).sort()).toEqual([
        ['SecretAccessDenied', 'PROD_ONLY'],
        ['SecretAccessed', 'ALPHA'],
      ]);
      for (const e of after) expect(e.data.principal).toMatchObject({ type: 'ci-job', pipelineId: '77', jobId: '5' });
      expect(after.map((e) => (e.data.via as { policy: string | null }).policy)).toEqual(after.map((e) => (e.type === 'SecretAccessed' ? ciRoleName(P, unscoped) : expect.anything())));
    }, 60_000);

    it('item 12: a direct read of a path that holds no value (404) is a denial secret-not-found, not an allowed read', async () => {
      const login = await root.write(`auth/${JWT_MOUNT}/login`, { role: ciRoleName(P, unscoped), jwt: job });
      const asJob = vault({ endpoint: BAO_ADDR, token: login.auth.client_token });
      const { path } = await dataPath('ALPHA');
      const missing = `${path.slice(0, path.lastIndexOf('-'))}-${'0'.repeat(16)}`; // the policy's glob grants it; nothing is there
      expect(await asJob.read(missing).then(() => 200, status)).toBe(404);
      const items = await eventually(
        async () => (await http.get(`/v1/projects/${P}/access-history`).query({ channel: 'openbao', secret: 'ALPHA', decision: 'denied' }).set(auth(owner))).body.items as { decision: string; reason: string; version: number | null; principal: { jobId: string | null } }[],
        (xs) => xs?.length === 1,
        10_000,
      );
      expect(items.map((i) => [i.decision, i.reason, i.version, i.principal.jobId])).toEqual([['denied', 'secret-not-found', null, '5']]);
      const allowedVersion0 = (await openbaoEvents()).filter((e) => e.type === 'SecretAccessed' && e.data.version === 0);
      expect(allowedVersion0).toEqual([]);
    }, 60_000);
  });
}
