import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { RecordedEvent } from '@app/domain';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';

// Groups (issue 20; API.md "Groups and group secrets"): a tree over projects, grants inherited
// downward, CI jobs reading down the tree nearest first, on the embedded profile and, with the
// stack, the production profile (PostgreSQL + OpenBao).

const { DATABASE_URL, BAO_ADDR, BAO_TOKEN } = process.env;
const profiles: [string, () => Record<string, string>][] = [['embedded', () => ({})]];
if (DATABASE_URL && BAO_ADDR && BAO_TOKEN) {
  const run = randomUUID().slice(0, 8);
  profiles.push(['production', () => ({ PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', BAO_ADDR, BAO_TOKEN, BAO_JWT_MOUNT: `jwt-grp-${run}`, BAO_KV_PREFIX: `ps-grp-${run}` })]);
} else {
  console.warn('groups e2e: production profile SKIPPED (DATABASE_URL, BAO_ADDR, BAO_TOKEN not set; scripts/test-all sets them)');
}

describe.each(profiles)('groups (%s profile)', (_profile, envOf) => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const run = randomUUID().slice(0, 8);
  // Top group named like a project of the same run, to show the two never meet.
  const TOP = `acme-${run}`;
  const G = `${TOP}/payments`;
  const enc = (g: string) => encodeURIComponent(g);
  const A = `pay-a-${run}`;
  const B = `pay-b-${run}`;
  const C = `other-${run}`;
  const CANARY = `grp-canary-${randomUUID()}`;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  let admin: string;
  let groupOwner: string;
  let projectOwner: string;
  let stranger: string;
  const job = (project: string, environment = 'production', n = '1') => t.ciToken({ project, ref: 'main', protected: true, environment, pipeline: `p-${n}`, job: `j-${n}` });
  const read = async (token: string, project: string, name: string) => http.post(`/v1/projects/${project}/secrets/${name}/access`).set(auth(token)).send({ purpose: 'deploy' });
  const log = (stream: string): Promise<RecordedEvent[]> => t.infra.eventStore.readStream(stream);

  beforeAll(async () => {
    t = await startEmbedded({ env: envOf() });
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    groupOwner = await t.userToken('gina');
    projectOwner = await t.userToken('olive');
    stranger = await t.userToken('mallory', { groups: ['nobody'] });
    for (const p of [A, B]) expect((await http.put(`/v1/projects/${p}/group`).set(auth(admin)).send({ groupId: G })).body).toEqual({ projectId: p, groupId: G });
    expect((await http.post(`/v1/groups/${enc(G)}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'gina' }, role: 'owner' })).status).toBe(201);
    // An owner of the group manages the grants of every project below it (inherited); the admin no longer
    // bootstraps there, since an owner acts on the project.
    expect((await http.post(`/v1/projects/${A}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(403);
    expect((await http.post(`/v1/projects/${A}/grants`).set(auth(groupOwner)).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
    const r = await http.post(`/v1/groups/${enc(G)}/secrets`).set(auth(groupOwner)).send({ name: 'REGISTRY_TOKEN', value: `${CANARY}-group`, environment: 'production' });
    expect(r.status).toBe(201);
  }, 60_000);
  afterAll(() => t?.close());

  it('a platform admin places projects; anyone else is refused, audited; the placement is readable with its ancestors', async () => {
    const r = await http.put(`/v1/projects/${C}/group`).set(auth(groupOwner)).send({ groupId: G });
    expect(r.status).toBe(403);
    expect(r.body.reason).toBe('not-platform-admin');
    const denied = (await log(`access-${C}`)).filter((e) => e.type === 'SecretAccessDenied');
    expect(denied.map((e) => [e.data.action, e.data.reason])).toEqual([['move-project', 'not-platform-admin']]);
    const ci = await job(A);
    expect((await http.put(`/v1/projects/${A}/group`).set(auth(ci)).send({ groupId: null })).status).toBe(403);
    expect((await http.get(`/v1/projects/${A}/group`).set(auth(projectOwner))).body).toEqual({ groupId: G, ancestors: [TOP] });
    // Putting it where it is records nothing more.
    const before = (await log(`projectgroup-${A}`)).length;
    expect((await http.put(`/v1/projects/${A}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
    expect((await log(`projectgroup-${A}`)).length).toBe(before);
  });

  it.each([
    ['depth 9', 'a/b/c/d/e/f/g/h/i'],
    ['..', `${TOP}/../root`],
    ['a trailing /', `${TOP}/`],
    ['upper case', 'ACME/payments'],
    ['a number', 7],
    ['an object', { id: TOP }],
  ])('PUT group refuses %s with a 400 naming groupId', async (_what, groupId) => {
    const r = await http.put(`/v1/projects/${B}/group`).set(auth(admin)).send({ groupId });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(JSON.stringify(r.body.errors ?? r.body)).toContain('groupId');
  });

  it.each([
    ['twice-encoded %2F', `${TOP}%252Fpayments`],
    ['.. as a segment', `${TOP}%2F..`],
    ['a trailing /', `${TOP}%2F`],
    ['upper case', 'ACME'],
    ['depth 9', 'a%2Fb%2Fc%2Fd%2Fe%2Ff%2Fg%2Fh%2Fi'],
    ['a place key', `group%3A${TOP}`],
  ])('a group path with %s is a 400, never a lookup', async (_what, raw) => {
    const r = await http.get(`/v1/groups/${raw}/secrets`).set(auth(groupOwner));
    expect(r.status).toBe(400);
    expect(r.body.errors[0].field).toBe('groupId');
  });

  it('a group secret has no branch scope: 400 naming branch, at create and patch', async () => {
    const r = await http.post(`/v1/groups/${enc(G)}/secrets`).set(auth(groupOwner)).send({ name: 'WITH_BRANCH', value: 'x', branch: 'main' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('branch');
    expect((await http.patch(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN`).set(auth(groupOwner)).send({ branch: 'main' })).status).toBe(400);
  });

  it('the group owner lists and reads its metadata (groupId, never a place key), and no value leaks into metadata', async () => {
    const list = await eventually(() => http.get(`/v1/groups/${enc(G)}/secrets`).set(auth(groupOwner)), (r) => r.body.items?.length === 1);
    expect(list.body.items[0]).toMatchObject({ groupId: G, name: 'REGISTRY_TOKEN', environment: 'production' });
    expect(list.body.items[0].projectId).toBeUndefined();
    const one = await http.get(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN`).set(auth(groupOwner));
    expect(one.body).toMatchObject({ groupId: G, name: 'REGISTRY_TOKEN', version: 1 });
    expect(JSON.stringify([list.body, one.body])).not.toContain(CANARY);
    expect(JSON.stringify([list.body, one.body])).not.toContain('group:');
  });

  it('a job of each project in the group reads the group secret through its own project, with its source', async () => {
    for (const [p, n] of [[A, '10'], [B, '11']] as const) {
      const r = await read(await job(p, 'production', n), p, 'REGISTRY_TOKEN');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ name: 'REGISTRY_TOKEN', version: 1, value: `${CANARY}-group`, source: { type: 'group', id: G } });
    }
    // Both reads are in the group secret's access log, each naming the job's project.
    const reads = (await log(`access-group:${G}/REGISTRY_TOKEN`)).filter((e) => e.type === 'SecretAccessed');
    expect(reads.map((e) => [e.data.projectId, e.data.jobProjectId, (e.data.principal as { pipelineId?: string }).pipelineId])).toEqual([
      [`group:${G}`, A, 'p-10'],
      [`group:${G}`, B, 'p-11'],
    ]);
    expect(JSON.stringify(reads.map((e) => e.data))).not.toContain(CANARY);
  });

  it('a job of a project outside the group learns nothing: not found in its own project', async () => {
    const r = await read(await job(C), C, 'REGISTRY_TOKEN');
    expect(r.status).toBe(404);
    expect(JSON.stringify(r.body)).not.toContain(CANARY);
    // Nor through the group's own endpoint: another project's job is refused, audited.
    const direct = await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(await job(C))).send({});
    expect(direct.status).toBe(403);
    expect(direct.body.reason).toBe('other-project');
  });

  it("a mismatched environment is a denial, audited against the group secret with the job's project", async () => {
    const r = await read(await job(A, 'staging', '12'), A, 'REGISTRY_TOKEN');
    expect(r.status).toBe(403);
    expect(r.body.reason).toBe('environment-mismatch');
    const d = (await log(`access-group:${G}/REGISTRY_TOKEN`)).filter((e) => e.type === 'SecretAccessDenied');
    expect(d.at(-1)?.data).toMatchObject({ reason: 'environment-mismatch', jobProjectId: A, principal: { pipelineId: 'p-12' } });
  });

  it('a project secret shadows the group one; both reads are audited with their source, each in its own log', async () => {
    expect((await http.post(`/v1/projects/${A}/secrets`).set(auth(projectOwner)).send({ name: 'REGISTRY_TOKEN', value: `${CANARY}-project` })).status).toBe(201);
    const a = await read(await job(A, 'production', '13'), A, 'REGISTRY_TOKEN');
    expect(a.body).toEqual({ name: 'REGISTRY_TOKEN', version: 1, value: `${CANARY}-project`, source: { type: 'project', id: A } });
    const b = await read(await job(B, 'production', '14'), B, 'REGISTRY_TOKEN');
    expect(b.body.source).toEqual({ type: 'group', id: G });
    expect((await log(`access-${A}/REGISTRY_TOKEN`)).filter((e) => e.type === 'SecretAccessed').map((e) => (e.data.principal as { pipelineId?: string }).pipelineId)).toEqual(['p-13']);
    // A project secret the job does not match shadows nothing: the group's is read.
    expect((await http.post(`/v1/projects/${B}/secrets`).set(auth(admin)).send({ name: 'X', value: 'x' })).status).toBe(403);
  });

  it('batch access resolves each name down the tree, with its source', async () => {
    expect((await http.post(`/v1/groups/${enc(TOP)}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'gina' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/groups/${enc(TOP)}/secrets`).set(auth(groupOwner)).send({ name: 'TOP_ONLY', value: `${CANARY}-top` })).status).toBe(201);
    const r = await http.post(`/v1/projects/${B}/secrets/access`).set(auth(await job(B, 'production', '15'))).send({ names: ['REGISTRY_TOKEN', 'TOP_ONLY', 'NOPE'] });
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([
      { name: 'REGISTRY_TOKEN', version: 1, value: `${CANARY}-group`, source: { type: 'group', id: G } },
      { name: 'TOP_ONLY', version: 1, value: `${CANARY}-top`, source: { type: 'group', id: TOP } },
    ]);
    expect(r.body.denied).toEqual([{ name: 'NOPE', reason: 'secret-not-found' }]);
  });

  it('a group grant acts on every project below it (inherited, named in via); a project grant never reaches a group secret', async () => {
    expect((await http.post(`/v1/groups/${enc(TOP)}/grants`).set(auth(groupOwner)).send({ principal: { type: 'group', id: 'team-pay' }, role: 'developer' })).status).toBe(201);
    const dev = await t.userToken('dana', { groups: ['team-pay'] });
    const r = await read(dev, A, 'REGISTRY_TOKEN');
    expect(r.status).toBe(200);
    expect(r.body.source).toEqual({ type: 'project', id: A });
    const ev = (await log(`access-${A}/REGISTRY_TOKEN`)).filter((e) => e.type === 'SecretAccessed').at(-1)!;
    expect(ev.data.via).toMatchObject({ role: 'developer', inheritedFrom: { type: 'group', id: TOP } });
    // The group secret, read by the same user through the group's endpoint: inherited from the top group too.
    expect((await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(dev)).send({})).status).toBe(200);
    // olive owns project A only: the group's secrets are not hers.
    const olive = await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(projectOwner)).send({});
    expect(olive.status).toBe(403);
    expect(JSON.stringify(olive.body)).not.toContain(CANARY);
    expect((await http.get(`/v1/groups/${enc(G)}/secrets`).set(auth(projectOwner))).status).toBe(403);
  });

  it('a stranger probing group existence gets 403 either way', async () => {
    const real = await http.get(`/v1/groups/${enc(G)}/secrets`).set(auth(stranger));
    const none = await http.get(`/v1/groups/${enc(`${TOP}/nope-${run}`)}/secrets`).set(auth(stranger));
    expect([real.status, none.status]).toEqual([403, 403]);
    expect({ ...real.body, instance: undefined }).toEqual({ ...none.body, instance: undefined });
    const realOne = await http.get(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN`).set(auth(stranger));
    const noneOne = await http.get(`/v1/groups/${enc(G)}/secrets/NOT_THERE`).set(auth(stranger));
    expect([realOne.status, noneOne.status]).toEqual([403, 403]);
  });

  it("a project named like a group is another place: its owner has no power over the group's secrets", async () => {
    expect((await http.post(`/v1/projects/${TOP}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'mallory' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${TOP}/secrets`).set(auth(stranger)).send({ name: 'TOP_ONLY', value: 'project-value' })).status).toBe(201);
    expect((await http.get(`/v1/groups/${enc(TOP)}/secrets/TOP_ONLY`).set(auth(stranger))).status).toBe(403);
    expect((await http.post(`/v1/groups/${enc(TOP)}/grants`).set(auth(stranger)).send({ principal: { type: 'user', id: 'mallory' }, role: 'owner' })).status).toBe(403);
    // …and the group's jobs never see the project's secret of that name.
    const r = await read(await job(B, 'production', '16'), B, 'TOP_ONLY');
    expect(r.body.value).toBe(`${CANARY}-top`);
  });

  it('a job of a project moved out of the group a moment ago reads nothing of it on its very next request', async () => {
    const token = await job(B, 'production', '17');
    expect((await read(token, B, 'REGISTRY_TOKEN')).status).toBe(200);
    expect((await http.put(`/v1/projects/${B}/group`).set(auth(admin)).send({ groupId: null })).body).toEqual({ projectId: B, groupId: null });
    const r = await read(token, B, 'REGISTRY_TOKEN');
    expect(r.status).toBe(404);
    expect(JSON.stringify(r.body)).not.toContain(CANARY);
    const moved = (await log(`projectgroup-${B}`)).map((e) => [e.data.groupId, e.data.previousGroupId, e.data.changedBy]);
    expect(moved).toEqual([
      [G, null, 'root'],
      [null, G, 'root'],
    ]);
  });

  it('access requests and break-glass work on a group as on a project: the group owner approves, the grant acts on the group', async () => {
    const rita = await t.userToken('rita');
    const asked = await http.post(`/v1/groups/${enc(G)}/access-requests`).set(auth(rita)).send({ role: 'developer', durationSeconds: 600, reason: 'incident 42' });
    expect(asked.status).toBe(201);
    expect(JSON.stringify(asked.body)).not.toContain('group:');
    expect((await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(rita)).send({})).status).toBe(403);
    const approved = await http.post(`/v1/groups/${enc(G)}/access-requests/${asked.body.requestId}/approve`).set(auth(groupOwner)).send({});
    expect(approved.status).toBe(200);
    const r = await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(rita)).send({});
    expect(r.status).toBe(200);
    expect(r.body.source).toEqual({ type: 'group', id: G });
    // Listing: the group owner sees the request; a stranger is refused (the same for a group that does not exist).
    const list = await http.get(`/v1/groups/${enc(G)}/access-requests`).set(auth(groupOwner));
    expect(list.body.items.map((i: { requestId: string }) => i.requestId)).toContain(asked.body.requestId);
    // Break-glass needs the break-glass role on the group.
    expect((await http.post(`/v1/groups/${enc(G)}/break-glass`).set(auth(rita)).send({ reason: 'pager', durationSeconds: 300 })).status).toBe(403);
    expect((await http.post(`/v1/groups/${enc(G)}/grants`).set(auth(groupOwner)).send({ principal: { type: 'user', id: 'oncall' }, role: 'break-glass' })).status).toBe(201);
    const oncall = await t.userToken('oncall');
    const broke = await http.post(`/v1/groups/${enc(G)}/break-glass`).set(auth(oncall)).send({ reason: 'pager', durationSeconds: 300 });
    expect(broke.status).toBe(201);
    expect((await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(oncall)).send({})).status).toBe(200);
    const pending = await http.get(`/v1/groups/${enc(G)}/break-glass?reviewed=false`).set(auth(groupOwner));
    expect(pending.body.items.map((b: { grantId: string }) => b.grantId)).toContain(broke.body.grantId);
    // Group paths in these routes are checked like everywhere else.
    expect((await http.post(`/v1/groups/${TOP}%252Fpayments/access-requests`).set(auth(rita)).send({ role: 'developer', durationSeconds: 600, reason: 'x' })).status).toBe(400);
  });

  it('the OpenAPI document lists the group routes with their own operation ids', async () => {
    const doc = await http.get('/docs-json');
    for (const path of ['/v1/groups/{groupId}/secrets', '/v1/groups/{groupId}/grants', '/v1/groups/{groupId}/access-requests', '/v1/groups/{groupId}/break-glass', '/v1/projects/{projectId}/group', '/v1/exposure-reports']) {
      expect(doc.body.paths).toHaveProperty([path]);
    }
    const ids = Object.values(doc.body.paths as Record<string, Record<string, { operationId: string }>>).flatMap((m) => Object.values(m).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a platform admin never bootstraps itself: no owning a new group and moving any project below it (the review of issue 20)', async () => {
    const evil = `evil-${run}`;
    const self = await http.post(`/v1/groups/${enc(evil)}/grants`).set(auth(admin)).send({ principal: { type: 'user', id: 'root' }, role: 'owner' });
    expect(self.status).toBe(403);
    expect(self.body.reason).toBe('bootstrap-self');
    // Nor through a group claim it carries.
    const adminInOps = await t.userToken('root', { admin: true, groups: ['ops'] });
    expect((await http.post(`/v1/groups/${enc(evil)}/grants`).set(auth(adminInOps)).send({ principal: { type: 'group', id: 'ops' }, role: 'owner' })).body.reason).toBe('bootstrap-self');
    const refused = (await log(`access-group:${evil}`)).filter((e) => e.type === 'SecretAccessDenied');
    // Recorded (the second, identical one is folded into the window's summary, as every repeated denial).
    expect(refused.map((e) => [e.data.action, e.data.reason])).toEqual([['bootstrap-owner', 'bootstrap-self']]);
    // Moving a project into the ownerless group gives the admin nothing to read.
    expect((await http.put(`/v1/projects/${A}/group`).set(auth(admin)).send({ groupId: evil })).status).toBe(200);
    expect((await read(admin, A, 'REGISTRY_TOKEN')).status).toBe(403);
    expect((await http.put(`/v1/projects/${A}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
  });
});
