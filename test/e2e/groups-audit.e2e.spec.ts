import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { Kafka, logLevel } from 'kafkajs';
import request from 'supertest';
import { AuditorModule } from '../../apps/auditor/src/auditor.module';
import { publicKeyFrom, verifyEvidence } from '../../apps/cli/src/verify';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { consumeAll } from '../support/kafka';
import { scratchDatabase } from '../support/scratch-database';

// Groups in the audit trail and in GET /v1/me (issue 20, items 6 and 7): OCSF records name the
// group (never a project of the same name), a job's read of a group secret names the group and the
// job's project, a project's move is recorded, Kafka keys are group:{groupId}/{name}, a pipeline's
// evidence lists the group secrets its jobs read with their source; /v1/me lists groups and the
// projects below them where inherited grants act, and nothing else. Embedded profile and, with the
// stack, production (a scratch PostgreSQL database, OpenBao, and Kafka when KAFKA_BROKERS is set).

const { DATABASE_URL, BAO_ADDR, BAO_TOKEN, KAFKA_BROKERS } = process.env;
type Profile = { env: Record<string, string>; kafkaTopic?: string; drop?: () => Promise<void> };
const profiles: [string, () => Promise<Profile>][] = [['embedded', async () => ({ env: {} })]];
if (DATABASE_URL && BAO_ADDR && BAO_TOKEN) {
  profiles.push([
    'production',
    async () => {
      const run = randomUUID().slice(0, 8);
      const db = await scratchDatabase(DATABASE_URL, 'groups_audit');
      const env: Record<string, string> = { PROFILE: 'production', DATABASE_URL: db.url, DEV_ISSUER: '1', BAO_ADDR, BAO_TOKEN, BAO_JWT_MOUNT: `jwt-ga-${run}`, BAO_KV_PREFIX: `ps-ga-${run}` };
      const kafkaTopic = KAFKA_BROKERS ? `audit-groups-${run}` : undefined;
      if (KAFKA_BROKERS && kafkaTopic) Object.assign(env, { KAFKA_BROKERS, AUDIT_TOPIC: kafkaTopic, AUDIT_CHECKPOINT_TOPIC: `${kafkaTopic}-cp`, AUDIT_TOPIC_PARTITIONS: '3' });
      return { env, kafkaTopic, drop: () => db.drop() };
    },
  ]);
} else {
  console.warn('groups-audit e2e: production profile SKIPPED (DATABASE_URL, BAO_ADDR, BAO_TOKEN not set; scripts/test-all sets them)');
}

const schemaDir = join(__dirname, '../../libs/domain/src/siem/schema');
const ajv = new Ajv2020({ allErrors: true, strict: false });
require('ajv-formats')(ajv);
const validators = {
  6003: ajv.compile(JSON.parse(readFileSync(join(schemaDir, 'ocsf-1.3.0-api-activity.schema.json'), 'utf8'))),
  3005: ajv.compile(JSON.parse(readFileSync(join(schemaDir, 'ocsf-1.3.0-user-access-management.schema.json'), 'utf8'))),
  3006: ajv.compile(JSON.parse(readFileSync(join(schemaDir, 'ocsf-1.3.0-group-management.schema.json'), 'utf8'))),
} as const;

interface Resource {
  type: string;
  uid: string;
  name: string;
  labels?: string[];
  data?: Record<string, unknown>;
}
interface LoggedRecord {
  index: number;
  eventType: string;
  projectId: string;
  kafkaKey: string;
  record: { class_uid: 6003 | 3005 | 3006; activity_id: number; message: string; resources?: Resource[]; resource?: Resource; status_detail?: string; api?: { operation: string } };
  raw: string;
}

describe.each(profiles)('groups in the audit trail and /v1/me (%s profile)', (_profile, profileOf) => {
  let profile: Profile;
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const run = randomUUID().slice(0, 8);
  // The top group is named like a project of this run (TOP): no record of the group may name that project.
  const TOP = `acme-${run}`;
  const G = `${TOP}/payments`;
  const enc = (g: string) => encodeURIComponent(g);
  const A = `pay-a-${run}`;
  const B = `pay-b-${run}`;
  const C = `lone-${run}`;
  const CANARY = `ga-canary-${randomUUID()}`;
  const PIPE = `pl-${run}`;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  let admin: string;
  let gina: string; // owner of G
  let olive: string; // owner of A only (granted on the project)
  let tess: string; // owner of TOP
  let rita: string; // auditor on TOP through the group claim team-pay
  let bram: string; // break-glass eligible on G: no action
  let mallory: string; // owner of the project TOP, nothing in the groups
  let nobody: string;
  const job = (project: string, environment: string, jobId: string, pipeline = PIPE) => t.ciToken({ project, ref: 'main', protected: true, environment, pipeline, job: jobId });
  const read = async (token: string, project: string, name: string) => http.post(`/v1/projects/${project}/secrets/${name}/access`).set(auth(token)).send({ purpose: 'deploy' });
  /**
   * Waits until the audit log holds the last event of `stream` (the auditor's idle() can answer
   * before a PostgreSQL subscription has even seen a just-committed event), then until it is idle.
   */
  const loggedThrough = async (stream: string) => {
    const last = (await t.infra.eventStore.readStream(stream)).at(-1)!;
    await eventually(() => t.infra.auditLog.recordsAfter(-1, 100_000), (rs) => rs.some((r) => r.eventId === last.eventId), 20_000);
    expect(await t.app.get(AuditorModule).idle()).toBe(true);
  };
  const logged = async (): Promise<LoggedRecord[]> =>
    (await t.infra.auditLog.recordsAfter(-1, 100_000)).map((r) => ({ index: r.index, eventType: r.eventType, projectId: r.projectId, kafkaKey: r.kafkaKey, record: JSON.parse(r.record), raw: r.record }));
  const resourcesOf = (r: LoggedRecord['record']): Resource[] => r.resources ?? (r.resource ? [r.resource] : []);
  const me = async (token: string) => {
    const r = await http.get('/v1/me').set(auth(token));
    expect(r.status).toBe(200);
    return r.body as { projects: { projectId: string; actions: string[] }[]; groups: { groupId: string; actions: string[] }[]; truncated?: true };
  };
  const mine = (body: Awaited<ReturnType<typeof me>>) => ({
    projects: body.projects.filter((p) => p.projectId.endsWith(run)),
    groups: body.groups.filter((g) => g.groupId.includes(run)),
  });

  beforeAll(async () => {
    profile = await profileOf();
    t = await startEmbedded({ env: { AUDIT_CHECKPOINT_SECONDS: '1', ...profile.env } });
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    gina = await t.userToken('gina');
    olive = await t.userToken('olive');
    tess = await t.userToken('tess');
    rita = await t.userToken('rita', { groups: ['team-pay'] });
    bram = await t.userToken('bram');
    mallory = await t.userToken('mallory');
    nobody = await t.userToken('nobody', { groups: ['nowhere'] });
    for (const p of [A, B]) expect((await http.put(`/v1/projects/${p}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
    expect((await http.post(`/v1/groups/${enc(G)}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'gina' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${A}/grants`).set(auth(gina)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    // The top group's first owner (bootstrapped by the admin once G has its own), who lets the team-pay claim audit it.
    expect((await http.post(`/v1/groups/${enc(TOP)}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'tess' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/groups/${enc(TOP)}/grants`).set(auth(tess)).send({ principal: { type: 'group', id: 'team-pay' }, role: 'auditor' })).status).toBe(201);
    // A grant with no action of its own (break-glass eligibility): not a place where bram acts.
    expect((await http.post(`/v1/groups/${enc(G)}/grants`).set(auth(gina)).send({ principal: { type: 'user', id: 'bram' }, role: 'break-glass' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${TOP}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'mallory' }, role: 'owner' })).status).toBe(201);
    // A project and a group secret of the same name, and a project secret of the top project.
    expect((await http.post(`/v1/groups/${enc(G)}/secrets`).set(auth(gina)).send({ name: 'REGISTRY_TOKEN', value: `${CANARY}-group`, environment: 'production' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${A}/secrets`).set(auth(olive)).send({ name: 'DB_PASSWORD', value: `${CANARY}-a` })).status).toBe(201);
    expect((await http.post(`/v1/projects/${TOP}/secrets`).set(auth(mallory)).send({ name: 'REGISTRY_TOKEN', value: `${CANARY}-top-project` })).status).toBe(201);
    // One pipeline of A: two reads (its own secret and the group's) and a refused read (staging).
    expect((await read(await job(A, 'production', 'a1'), A, 'DB_PASSWORD')).status).toBe(200);
    expect((await read(await job(A, 'production', 'a1'), A, 'REGISTRY_TOKEN')).body.source).toEqual({ type: 'group', id: G });
    expect((await read(await job(A, 'staging', 'a2'), A, 'REGISTRY_TOKEN')).status).toBe(403);
    // A job of B with the SAME pipeline id reads the group secret: never part of A's evidence.
    expect((await read(await job(B, 'production', 'b1'), B, 'REGISTRY_TOKEN')).status).toBe(200);
    await loggedThrough(`access-group:${G}/REGISTRY_TOKEN`);
  }, 90_000);
  afterAll(async () => {
    await t?.close();
    await profile?.drop?.();
  });

  it('every record of the run is valid OCSF 1.3.0 and carries no secret value', async () => {
    const records = (await logged()).filter((r) => r.raw.includes(run));
    expect(records.length).toBeGreaterThanOrEqual(12);
    for (const r of records) {
      const validate = validators[r.record.class_uid];
      expect({ event: r.eventType, ok: validate(r.record), errors: validate.errors }).toEqual({ event: r.eventType, ok: true, errors: null });
      expect(r.raw).not.toContain(CANARY);
    }
    if (profile.env.PROFILE !== 'production') {
      const file = join(t.dataDir, 'audit', 'audit.jsonl');
      await eventually(async () => existsSync(file) && readFileSync(file, 'utf8').includes(G), (ok) => ok);
      expect(readFileSync(file, 'utf8')).not.toContain(CANARY);
    }
  });

  it("records about the group's secret and grants name the group, never the project named like it", async () => {
    const records = await logged();
    const ofGroup = records.filter((r) => r.projectId === `group:${G}` || r.projectId === `group:${TOP}`);
    expect(ofGroup.map((r) => r.eventType).sort()).toEqual(['RoleGranted', 'RoleGranted', 'RoleGranted', 'RoleGranted', 'SecretAccessDenied', 'SecretAccessed', 'SecretAccessed', 'SecretCreated'].sort());
    for (const r of ofGroup) {
      const resources = resourcesOf(r.record);
      expect(resources.some((x) => x.type === 'group' && (x.uid === `group:${G}` || x.uid === `group:${TOP}`))).toBe(true);
      for (const x of resources) {
        expect([x.type, x.uid]).not.toEqual(['project', TOP]);
        expect(x.data?.project_id).toBeUndefined();
      }
      expect(r.record.message).not.toContain(`project ${TOP}`);
    }
    // The project TOP's own records are the project's: its secret, uid TOP/REGISTRY_TOKEN, data.project_id.
    const created = records.find((r) => r.eventType === 'SecretCreated' && r.projectId === TOP)!;
    expect(resourcesOf(created.record)).toEqual([expect.objectContaining({ type: 'secret', uid: `${TOP}/REGISTRY_TOKEN`, data: { project_id: TOP, scope: expect.anything() } })]);
    const groupCreated = ofGroup.find((r) => r.eventType === 'SecretCreated')!;
    expect(resourcesOf(groupCreated.record).map((x) => [x.type, x.uid, x.name])).toEqual([
      ['secret', `group:${G}/REGISTRY_TOKEN`, 'REGISTRY_TOKEN'],
      ['group', `group:${G}`, G],
    ]);
    // The team-pay grant on the top group: Group Management, the claim as `group`, the top group as the resource.
    const claim = ofGroup.find((r) => r.eventType === 'RoleGranted' && r.record.class_uid === 3006)!;
    expect(claim.record.resource).toMatchObject({ type: 'group', uid: `group:${TOP}`, name: TOP });
  });

  it("a job's read of a group secret names the group AND the job's project; its Kafka key is group:{groupId}/{name}", async () => {
    const reads = (await logged()).filter((r) => r.projectId === `group:${G}` && r.eventType.startsWith('SecretAccess'));
    expect(reads.map((r) => [r.eventType, resourcesOf(r.record).map((x) => `${x.type}:${x.uid}`)])).toEqual([
      ['SecretAccessed', ['secret:group:' + G + '/REGISTRY_TOKEN', `group:group:${G}`, `project:${A}`]],
      ['SecretAccessDenied', ['secret:group:' + G + '/REGISTRY_TOKEN', `group:group:${G}`, `project:${A}`]],
      ['SecretAccessed', ['secret:group:' + G + '/REGISTRY_TOKEN', `group:group:${G}`, `project:${B}`]],
    ]);
    expect(reads[1].record.status_detail).toBe('environment-mismatch');
    for (const r of reads) expect(r.kafkaKey).toBe(`group:${G}/REGISTRY_TOKEN`);
    const projectKey = (await logged()).find((r) => r.eventType === 'SecretCreated' && r.projectId === TOP)!.kafkaKey;
    expect(projectKey).toBe(`${TOP}/REGISTRY_TOKEN`);
  });

  it('a project moving between groups is recorded: API Activity Update on the project, the groups as resources', async () => {
    expect((await http.put(`/v1/projects/${C}/group`).set(auth(admin)).send({ groupId: TOP })).status).toBe(200);
    expect((await http.put(`/v1/projects/${C}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
    await loggedThrough(`projectgroup-${C}`);
    const moves = (await logged()).filter((r) => r.eventType === 'ProjectGroupChanged' && r.projectId === C);
    expect(moves.map((r) => [r.record.class_uid, r.record.activity_id, r.record.api?.operation, r.kafkaKey])).toEqual([
      [6003, 3, 'ChangeProjectGroup', `${C}/*`],
      [6003, 3, 'ChangeProjectGroup', `${C}/*`],
    ]);
    expect(resourcesOf(moves[1].record).map((x) => [x.type, x.uid, x.labels ?? null])).toEqual([
      ['project', C, null],
      ['group', `group:${G}`, ['project-group:new']],
      ['group', `group:${TOP}`, ['project-group:previous']],
    ]);
    expect(moves[1].record.message).toBe(`user root moved project ${C} into group ${G} (from group ${TOP})`);
    for (const m of moves) expect(validators[6003](m.record)).toBe(true);
    expect((await http.put(`/v1/projects/${C}/group`).set(auth(admin)).send({ groupId: null })).status).toBe(200);
  });

  it("the pipeline's evidence lists the group secret its jobs read, with its source, and verifies; another project's job of the same pipeline id is not in it", async () => {
    const key = publicKeyFrom((await http.get('/v1/audit/public-key')).body.publicKeyPem);
    const digest = createHash('sha256').update(`artifact-${run}`).digest('hex');
    const r = await http.post(`/v1/projects/${A}/pipelines/${PIPE}/evidence`).set(auth(await job(A, 'production', 'a3'))).send({ subjects: [{ name: 'app.tar.gz', digest: { sha256: digest } }] });
    expect(r.status).toBe(200);
    const { statement } = verifyEvidence(r.body, key, { subjectSha256: digest, projectId: A, pipelineId: PIPE });
    const accesses = (statement.predicate as { accesses: { secret: string; decision: string; job: string; source?: unknown; reason: string | null }[] }).accesses;
    expect(accesses.map((a) => [a.secret, a.decision, a.job, a.source, a.reason])).toEqual([
      ['DB_PASSWORD', 'allowed', 'a1', { type: 'project', id: A }, null],
      ['REGISTRY_TOKEN', 'allowed', 'a1', { type: 'group', id: G }, null],
      ['REGISTRY_TOKEN', 'denied', 'a2', { type: 'group', id: G }, 'environment-mismatch'],
    ]);
    expect(JSON.stringify(r.body)).not.toContain(CANARY);
    const b = await http.post(`/v1/projects/${B}/pipelines/${PIPE}/evidence`).set(auth(await job(B, 'production', 'b2'))).send({ subjects: [{ name: 'b.tar.gz', digest: { sha256: digest } }] });
    expect(b.status).toBe(200);
    const bAccesses = (verifyEvidence(b.body, key, { projectId: B, pipelineId: PIPE }).statement.predicate as { accesses: { job: string; source: unknown }[] }).accesses;
    expect(bAccesses.map((a) => [a.job, a.source])).toEqual([['b1', { type: 'group', id: G }]]);
    // The project named like the group has no pipeline reads of the group's secret.
    const top = await http.post(`/v1/projects/${TOP}/pipelines/${PIPE}/evidence`).set(auth(mallory)).send({ subjects: [{ name: 'x', digest: { sha256: digest } }] });
    expect(top.status).toBe(200);
    expect(JSON.parse(Buffer.from(top.body.payload, 'base64').toString()).predicate.accesses).toEqual([]);
  });

  it('forged events (a place key group:../x, a move of a group key) are logged as unknown places; the auditor keeps going', async () => {
    const forged = (type: string, data: Record<string, unknown>) => ({
      eventId: randomUUID(),
      type,
      schemaVersion: 1,
      data,
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: { type: 'user' as const, id: `forger-${run}` }, occurredAt: new Date().toISOString() },
    });
    await t.infra.eventStore.appendToStream(`access-forged-${run}`, 'any', [
      forged('SecretAccessed', { projectId: 'group:../x', name: 'REG', version: 1, principal: { type: 'user', id: `forger-${run}` }, via: { grantId: 'g', role: 'owner' }, purpose: null, jobProjectId: 'group:acme' }),
    ]);
    await t.infra.eventStore.appendToStream(`projectgroup-forged-${run}`, 'any', [forged('ProjectGroupChanged', { projectId: `group:${TOP}`, groupId: '../x', previousGroupId: null, changedBy: 'x', changedAt: new Date().toISOString() })]);
    // A real event after them still reaches the log.
    expect((await http.put(`/v1/projects/${C}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
    await loggedThrough(`projectgroup-${C}`);
    const records = await logged();
    const bad = records.filter((r) => r.raw.includes(`forger-${run}`));
    expect(bad.map((r) => r.eventType)).toEqual(['SecretAccessed', 'ProjectGroupChanged']);
    for (const r of bad) {
      expect(validators[6003](r.record)).toBe(true);
      expect(r.raw).not.toContain('../x');
    }
    // The read: a secret of no place (uid ?/REG, no project_id or group_id), the forged job project (a group key) dropped.
    expect(resourcesOf(bad[0].record)).toEqual([{ type: 'secret', uid: '?/REG', name: 'REG', version: '1', data: {} }]);
    // The move of a group key: an unknown place, the malformed target group dropped.
    expect(resourcesOf(bad[1].record)).toEqual([{ type: 'unknown', uid: '?', name: 'unknown place', data: { group_id: null, previous_group_id: null } }]);
    expect(bad[0].kafkaKey).toBe('/REG');
    expect(records.some((r) => r.eventType === 'ProjectGroupChanged' && r.projectId === C && r.index > bad[1].index)).toBe(true);
    // /v1/me is not fooled by the forged move: the project TOP is still not in any group.
    expect((await http.get(`/v1/projects/${TOP}/group`).set(auth(mallory))).body).toEqual({ groupId: null, ancestors: [] });
    expect((await http.put(`/v1/projects/${C}/group`).set(auth(admin)).send({ groupId: null })).status).toBe(200);
  });

  it('Kafka: the group secret records arrive keyed group:{groupId}/{name}, with no value', async () => {
    if (!profile.kafkaTopic) return; // the embedded profile relays to audit.jsonl (key checked through the log above)
    const kafka = new Kafka({ clientId: `ga-${run}`, brokers: KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    const size = await t.infra.auditLog.committedSize();
    const got = await consumeAll(kafka, profile.kafkaTopic, size);
    const group = got.filter((m) => m.key === `group:${G}/REGISTRY_TOKEN`);
    expect(group.map((m) => m.headers['event-type'])).toEqual(['SecretCreated', 'SecretAccessed', 'SecretAccessDenied', 'SecretAccessed']);
    for (const m of got) expect([m.key, m.value].join()).not.toContain(CANARY);
    expect(got.filter((m) => m.key === `${TOP}/REGISTRY_TOKEN`).map((m) => m.headers['event-type'])).toEqual(['SecretCreated']);
  });

  describe('GET /v1/me', () => {
    it('a group owner: the group, and the projects below it with their inherited actions', async () => {
      const body = await eventually(() => me(gina), (b) => mine(b).groups.length > 0);
      expect(body).not.toHaveProperty('truncated');
      expect(mine(body).groups).toEqual([{ groupId: G, actions: ['read', 'create', 'update', 'delete', 'list', 'manage-grants', 'read-audit'] }]);
      expect(mine(body).projects).toEqual([
        { projectId: A, actions: ['read', 'create', 'update', 'delete', 'list', 'manage-grants', 'read-audit'] },
        { projectId: B, actions: ['read', 'create', 'update', 'delete', 'list', 'manage-grants', 'read-audit'] },
      ]);
    });

    it('a grant through a group claim on the top group reaches every project below it; the project named like the group is not one of them', async () => {
      const body = await eventually(() => me(rita), (b) => mine(b).groups.length > 0);
      expect(mine(body).groups).toEqual([{ groupId: TOP, actions: ['list', 'read-audit'] }]);
      expect(mine(body).projects.map((p) => p.projectId)).toEqual([A, B]);
      expect(mine(body).projects.every((p) => p.actions.join() === 'list,read-audit')).toBe(true);
    });

    it('a project-only owner sees her project and no group; the owner of the project named like a group sees no group', async () => {
      const o = await eventually(() => me(olive), (b) => mine(b).projects.length > 0);
      expect(mine(o)).toEqual({ projects: [{ projectId: A, actions: ['read', 'create', 'update', 'delete', 'list', 'manage-grants', 'read-audit'] }], groups: [] });
      const m = await eventually(() => me(mallory), (b) => mine(b).projects.length > 0);
      expect(mine(m)).toEqual({ projects: [{ projectId: TOP, actions: ['read', 'create', 'update', 'delete', 'list', 'manage-grants', 'read-audit'] }], groups: [] });
    });

    it('a stranger, or a holder of a grant with no action, sees nothing; a CI job sees its own project only', async () => {
      expect(mine(await me(nobody))).toEqual({ projects: [], groups: [] });
      await eventually(() => me(tess), (b) => mine(b).groups.length > 0); // the grants of the run are projected by now
      expect(mine(await me(bram))).toEqual({ projects: [], groups: [] });
      const j = await me(await job(A, 'production', 'me'));
      expect(j).toEqual({ principal: expect.objectContaining({ type: 'ci-job', projectId: A }), projects: [{ projectId: A, actions: ['read'] }], groups: [] });
    });

    it('a project moved out of the group drops out on the very next request; a revoked group grant drops the group and its projects', async () => {
      expect((await http.put(`/v1/projects/${B}/group`).set(auth(admin)).send({ groupId: null })).status).toBe(200);
      expect(mine(await me(gina)).projects.map((p) => p.projectId)).toEqual([A]);
      expect(mine(await me(rita)).projects.map((p) => p.projectId)).toEqual([A]);
      expect((await http.put(`/v1/projects/${B}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
      await eventually(() => me(rita), (b) => mine(b).projects.length === 2);
      const grants = await http.get(`/v1/groups/${enc(TOP)}/grants`).set(auth(tess));
      const claimGrant = grants.body.items.find((g: { principal: { id: string } }) => g.principal.id === 'team-pay');
      expect((await http.delete(`/v1/groups/${enc(TOP)}/grants/${claimGrant.grantId}`).set(auth(tess))).status).toBeLessThan(300);
      // The projection of grants may lag; the answer never does: confirmed on the event-sourced policy.
      expect(mine(await me(rita))).toEqual({ projects: [], groups: [] });
    });
  });
});
