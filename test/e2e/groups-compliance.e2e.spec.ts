import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { RecordedEvent } from '@app/domain';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';

// History and time travel for groups (issue 20, items 2, 3 and 9; API.md "Groups and group
// secrets": "Time travel holds"): readers?at= follows the tree as it was at T, inherited grants are
// named (via.inheritedFrom), a group's access history and readers answer like a project's and name
// the group as groupId, a CI job's read of a group secret shows the job's project. Both profiles.

const { DATABASE_URL, BAO_ADDR, BAO_TOKEN } = process.env;
const profiles: [string, () => Record<string, string>][] = [['embedded', () => ({})]];
if (DATABASE_URL && BAO_ADDR && BAO_TOKEN) {
  const run = randomUUID().slice(0, 8);
  profiles.push(['production', () => ({ PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', BAO_ADDR, BAO_TOKEN, BAO_JWT_MOUNT: `jwt-grc-${run}`, BAO_KV_PREFIX: `ps-grc-${run}` })]);
} else {
  console.warn('groups-compliance e2e: production profile SKIPPED (DATABASE_URL, BAO_ADDR, BAO_TOKEN not set; scripts/test-all sets them)');
}

type Reader = { principal: { type: string; id?: string; projectId?: string }; via: Record<string, unknown> & { inheritedFrom?: { type: string; id: string }; memberOf?: { type: string; id: string } } };
const named = (rs: Reader[]) => rs.map((r) => (r.principal.type === 'ci-scope' ? `ci-scope:${r.principal.projectId}` : `${r.principal.type}:${r.principal.id}`));
const ms = (iso: string, delta: number) => new Date(Date.parse(iso) + delta).toISOString();

describe.each(profiles)('group history and time travel (%s profile)', (_profile, envOf) => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const run = randomUUID().slice(0, 8);
  const TOP = `acme-${run}`;
  const G = `${TOP}/pay`;
  const SUB = `${G}/eu`;
  const enc = (g: string) => encodeURIComponent(g);
  const A = `hist-a-${run}`;
  const B = `hist-b-${run}`;
  const CANARY = `grc-canary-${randomUUID()}`;
  const auth = (x: string) => ({ Authorization: `Bearer ${x}` });
  let admin: string, gina: string, olive: string, audrey: string, dana: string, tom: string, mallory: string;
  const log = (stream: string): Promise<RecordedEvent[]> => t.infra.eventStore.readStream(stream);
  /** Every answer body, to look for the canary and the internal group key in all of them at the end. */
  const bodies: string[] = [];
  const keep = (r: request.Response) => {
    bodies.push(r.text ?? JSON.stringify(r.body));
    return r;
  };
  const times: Record<string, string> = {};
  let expiringGrant: { grantId: string; expiresAt: string; grantedAt: string };
  const within = (at: string, from: string, to?: string) => Date.parse(from) <= Date.parse(at) && (to === undefined || Date.parse(at) < Date.parse(to));
  /** eve's grant on G, in force on [grantedAt, expiresAt). */
  const eveAt = (at: string) => (within(at, expiringGrant.grantedAt, expiringGrant.expiresAt) ? ['user:eve'] : []);
  /** Who could read A's DB at T, by the rules: its own grants; those of G and TOP only while A was in G. */
  const projectReaders = (at: string) => [
    ...(within(at, times.aIn, times.aOut) ? ['group:team-pay', 'group:team-top', ...eveAt(at), 'user:gina'] : []),
    'user:olive',
    `ci-scope:${A}`,
  ];
  /** Who could read G's REGISTRY_TOKEN at T: grants of G and TOP; the jobs of A while it was in G, of B from its move into SUB. */
  const groupReaders = (at: string) => [
    'group:team-pay',
    'group:team-top',
    ...eveAt(at),
    'user:gina',
    ...(within(at, times.aIn, times.aOut) ? [`ci-scope:${A}`] : []),
    ...(within(at, times.bIn) ? [`ci-scope:${B}`] : []),
  ];

  const readers = async (path: string, at: string | undefined, token = audrey) => keep(await http.get(`${path}/readers`).query(at ? { at } : {}).set(auth(token)));
  /** Polls until the answer at T is `expected` (the projections catch up), then returns it whole. */
  const readersSettled = async (path: string, at: string | undefined, expected: string[], token = audrey) => {
    const r = await eventually(
      () => readers(path, at, token),
      (x) => x.status === 200 && JSON.stringify(named(x.body.readers)) === JSON.stringify(expected),
    );
    expect({ at, status: r.status, readers: named(r.body.readers ?? []) }).toEqual({ at, status: 200, readers: expected });
    return r.body.readers as Reader[];
  };
  const changedAt = async (project: string, n: number) => String((await log(`projectgroup-${project}`))[n].data.changedAt);
  const grantedAt = async (place: string, grantId: string) => String((await log(`project-${place}`)).find((e) => e.type === 'RoleGranted' && e.data.grantId === grantId)!.data.grantedAt);
  const grant = async (place: string, token: string, body: Record<string, unknown>) => {
    const r = await http.post(`${place.startsWith('group:') ? `/v1/groups/${enc(place.slice(6))}` : `/v1/projects/${place}`}/grants`).set(auth(token)).send(body);
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 201 });
    return r.body.grantId as string;
  };

  beforeAll(async () => {
    t = await startEmbedded({ env: envOf() });
    http = request(t.app.getHttpServer());
    admin = await t.userToken('root', { admin: true });
    gina = await t.userToken('gina');
    olive = await t.userToken('olive');
    audrey = await t.userToken('audrey');
    dana = await t.userToken('dana', { groups: ['team-pay'] });
    tom = await t.userToken('tom', { groups: ['team-top'] });
    mallory = await t.userToken('mallory', { groups: ['nobody'] });

    // Project A, in no group yet: olive owns it and keeps a secret there.
    await grant(A, admin, { principal: { type: 'user', id: 'olive' }, role: 'owner' });
    expect((await http.post(`/v1/projects/${A}/secrets`).set(auth(olive)).send({ name: 'DB', value: `${CANARY}-a`, environment: 'production' })).status).toBe(201);
    // The groups: gina owns the top group; audrey audits it; team-top reads below it; team-pay reads below G.
    await grant(`group:${TOP}`, admin, { principal: { type: 'user', id: 'gina' }, role: 'owner' });
    await grant(`group:${TOP}`, gina, { principal: { type: 'user', id: 'audrey' }, role: 'auditor' });
    await grant(`group:${TOP}`, gina, { principal: { type: 'group', id: 'team-top' }, role: 'developer' });
    const teamPay = await grant(`group:${G}`, gina, { principal: { type: 'group', id: 'team-pay' }, role: 'developer' });
    times.teamPay = await grantedAt(`group:${G}`, teamPay);
    expect((await http.post(`/v1/groups/${enc(G)}/secrets`).set(auth(gina)).send({ name: 'REGISTRY_TOKEN', value: `${CANARY}-g`, environment: 'production' })).status).toBe(201);

    // A moves into G; B into SUB (below G).
    expect((await http.put(`/v1/projects/${A}/group`).set(auth(admin)).send({ groupId: G })).status).toBe(200);
    expect((await http.put(`/v1/projects/${B}/group`).set(auth(admin)).send({ groupId: SUB })).status).toBe(200);
    times.aIn = await changedAt(A, 0);
    times.bIn = await changedAt(B, 0);

    // Reads while A is in G: a job of A reads the group secret through its project; tom (team-top) reads
    // both the group's secret and A's, each through the grant inherited from the top group.
    const job = await t.ciToken({ project: A, ref: 'main', protected: true, environment: 'production', pipeline: `pl-${run}`, job: 'j1' });
    const jr = await http.post(`/v1/projects/${A}/secrets/REGISTRY_TOKEN/access`).set(auth(job)).send({ purpose: 'deploy' });
    expect({ status: jr.status, source: jr.body.source }).toEqual({ status: 200, source: { type: 'group', id: G } });
    expect((await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(tom)).send({ purpose: 'inherited-read' })).status).toBe(200);
    expect((await http.post(`/v1/projects/${A}/secrets/DB/access`).set(auth(tom)).send({ purpose: 'inherited-read' })).status).toBe(200);
    expect((await http.post(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/access`).set(auth(dana)).send({})).status).toBe(200);
    // A job of a project in staging is refused the group secret: a denial in the group's history.
    const staging = await t.ciToken({ project: B, ref: 'main', protected: true, environment: 'staging', pipeline: `pl-${run}`, job: 'j2' });
    expect((await http.post(`/v1/projects/${B}/secrets/REGISTRY_TOKEN/access`).set(auth(staging)).send({})).status).toBe(403);

    // A grant on G that expires a moment from now.
    const expiresAt = new Date(Date.now() + 3000).toISOString();
    const eve = await grant(`group:${G}`, gina, { principal: { type: 'user', id: 'eve' }, role: 'developer', expiresAt });
    expiringGrant = { grantId: eve, expiresAt, grantedAt: await grantedAt(`group:${G}`, eve) };

    // A leaves the group.
    expect((await http.put(`/v1/projects/${A}/group`).set(auth(admin)).send({ groupId: null })).status).toBe(200);
    times.aOut = await changedAt(A, 1);
  }, 120_000);
  afterAll(() => t?.close());

  it("readers?at of a project secret follow the tree as it was at T: before A entered G, while in it (inherited grants named), after it left", async () => {
    const path = `/v1/projects/${A}/secrets/DB`;
    // audrey audits the top group: A's audit was hers only while A was below it. olive owns A.
    expect(keep(await readers(path, undefined, audrey)).status).toBe(403);
    const settled = (at: string | undefined, expected: string[]) => readersSettled(path, at, expected, olive);
    // After it left (now): its own grants only. Waiting on this answer waits for every projection.
    await settled(undefined, ['user:olive', `ci-scope:${A}`]);
    // Before it entered: the groups' grants did not act on it, though they existed.
    expect(Date.parse(times.teamPay)).toBeLessThan(Date.parse(times.aIn));
    await settled(ms(times.aIn, -1), ['user:olive', `ci-scope:${A}`]);
    // From the instant it entered until the instant it left: the grants of G and of TOP, inherited.
    const during = await settled(times.aIn, ['group:team-pay', 'group:team-top', 'user:gina', 'user:olive', `ci-scope:${A}`]);
    expect(projectReaders(times.aIn)).toEqual(named(during));
    await settled(ms(times.aOut, -1), projectReaders(ms(times.aOut, -1)));
    await settled(times.aOut, ['user:olive', `ci-scope:${A}`]);
    const via = Object.fromEntries(during.map((r) => [`${r.principal.type}:${r.principal.id ?? r.principal.projectId}`, r.via]));
    // A grant the user's group claim names, inherited from the group it was made on.
    expect(via['group:team-top']).toMatchObject({ role: 'developer', grantedBy: 'gina', inheritedFrom: { type: 'group', id: TOP } });
    expect(via['group:team-pay']).toMatchObject({ role: 'developer', inheritedFrom: { type: 'group', id: G } });
    expect(via['user:gina']).toMatchObject({ role: 'owner', inheritedFrom: { type: 'group', id: TOP } });
    // The project's own grant names no group; audrey's auditor grant reads no value, so she is no reader.
    expect(via['user:olive'].inheritedFrom).toBeUndefined();
    expect(via['user:audrey']).toBeUndefined();
  });

  it("readers?at of a group secret: the group's own grants and those above it (never a project grant), and the CI jobs of the projects in or below it at T", async () => {
    const path = `/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN`;
    // Now: A has left; B (in SUB, below G) remains.
    const now = await readersSettled(path, times.aOut, groupReaders(times.aOut));
    expect(named(now)).toContain(`ci-scope:${B}`);
    expect(named(now)).not.toContain(`ci-scope:${A}`);
    // While both were below it.
    const both = await readersSettled(path, ms(times.aOut, -1), groupReaders(ms(times.aOut, -1)));
    expect(named(both)).toEqual(expect.arrayContaining([`ci-scope:${A}`, `ci-scope:${B}`]));
    // Before either was placed: no project's job could read it.
    await readersSettled(path, ms(times.aIn, -1), ['group:team-pay', 'group:team-top', 'user:gina']);
    // olive owns project A: a project grant never reaches a group secret, not even while A was in G.
    expect(named(both)).not.toContain('user:olive');
    const ci = both.filter((r) => r.principal.type === 'ci-scope');
    expect(ci).toEqual([
      { principal: { type: 'ci-scope', projectId: A, environment: 'production', branch: null, protectedOnly: false }, via: { rule: 'ci-job-scope', memberOf: { type: 'group', id: G } } },
      { principal: { type: 'ci-scope', projectId: B, environment: 'production', branch: null, protectedOnly: false }, via: { rule: 'ci-job-scope', memberOf: { type: 'group', id: SUB } } },
    ]);
    // G's own grant names no inheritedFrom; TOP's do.
    const teamPay = now.find((r) => r.principal.id === 'team-pay')!;
    expect(teamPay.via.inheritedFrom).toBeUndefined();
    expect(now.find((r) => r.principal.id === 'team-top')!.via.inheritedFrom).toEqual({ type: 'group', id: TOP });
    // Before the secret existed: no readers; a name never created: 404.
    const before = await readers(path, '2000-01-01T00:00:00Z');
    expect(before.body).toEqual({ at: '2000-01-01T00:00:00.000Z', secretExisted: false, readers: [] });
    expect((await readers(`/v1/groups/${enc(G)}/secrets/NEVER_THERE`, undefined)).status).toBe(404);
  });

  it('a grant that expired is a reader until its expiry instant and not from it on', async () => {
    const path = `/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN`;
    // Live: eve drops out once the expiry has passed (no `at`: now).
    const live = await eventually(() => readers(path, undefined), (r) => r.status === 200 && !named(r.body.readers).includes('user:eve'), 20_000);
    expect(named(live.body.readers)).toEqual(['group:team-pay', 'group:team-top', 'user:gina', `ci-scope:${B}`]);
    const justBefore = await readersSettled(path, ms(expiringGrant.expiresAt, -1), groupReaders(ms(expiringGrant.expiresAt, -1)));
    expect(justBefore.find((r) => r.principal.id === 'eve')!.via).toMatchObject({ grantId: expiringGrant.grantId, expiresAt: expiringGrant.expiresAt });
    const atExpiry = await readersSettled(path, expiringGrant.expiresAt, groupReaders(expiringGrant.expiresAt));
    expect(named(atExpiry)).not.toContain('user:eve');
  });

  it("the group's access history: rows name groupId, a job's read names the job's project, an inherited grant its group", async () => {
    const items = (
      await eventually(
        async () => keep(await http.get(`/v1/groups/${enc(G)}/access-history`).set(auth(audrey))),
        (r) => r.status === 200 && r.body.items.length === 4,
      )
    ).body.items;
    expect(items.map((i: { decision: string; principal: { id: string } }) => [i.decision, i.principal.id])).toEqual([
      ['denied', expect.any(String)],
      ['allowed', 'dana'],
      ['allowed', 'tom'],
      ['allowed', expect.any(String)],
    ]);
    for (const i of items) {
      expect(i.groupId).toBe(G);
      expect(i.projectId).toBeUndefined();
    }
    const [denied, byDana, byTom, byJob] = items;
    expect(byJob).toMatchObject({ secret: 'REGISTRY_TOKEN', jobProjectId: A, via: { scope: 'ci-job-scope' }, principal: { type: 'ci-job', pipelineId: `pl-${run}`, jobId: 'j1' }, purpose: 'deploy' });
    expect(byTom.via).toMatchObject({ role: 'developer', inheritedFrom: { type: 'group', id: TOP } });
    expect(byDana.via.inheritedFrom).toBeUndefined();
    expect(byDana.jobProjectId).toBeUndefined();
    expect(denied).toMatchObject({ reason: 'environment-mismatch', jobProjectId: B });
    // The same filters and paging as a project's.
    const jobs = (await http.get(`/v1/groups/${enc(G)}/access-history`).query({ pipeline: `pl-${run}`, decision: 'allowed' }).set(auth(audrey))).body;
    expect(jobs.items.map((i: { eventId: string }) => i.eventId)).toEqual([byJob.eventId]);
    const p1 = keep(await http.get(`/v1/groups/${enc(G)}/access-history`).query({ limit: 3 }).set(auth(audrey))).body;
    const p2 = keep(await http.get(`/v1/groups/${enc(G)}/access-history`).query({ limit: 3, cursor: p1.nextCursor }).set(auth(audrey))).body;
    expect([...p1.items, ...p2.items].map((i: { eventId: string }) => i.eventId)).toEqual(items.map((i: { eventId: string }) => i.eventId));
    expect(p2.nextCursor).toBeNull();
  });

  it("the project's access history names the group of an inherited grant", async () => {
    const r = await eventually(
      async () => keep(await http.get(`/v1/projects/${A}/access-history`).query({ principal: 'tom' }).set(auth(olive))),
      (x) => x.status === 200 && x.body.items.length === 1,
    );
    expect(r.body.items[0]).toMatchObject({ projectId: A, secret: 'DB', via: { role: 'developer', inheritedFrom: { type: 'group', id: TOP } } });
  });

  it('exports the group history as CSV and NDJSON with the group, the job project and the inherited group', async () => {
    const csv = keep(await http.get(`/v1/groups/${enc(G)}/access-history`).query({ format: 'csv' }).set(auth(audrey)));
    expect(csv.status).toBe(200);
    expect(csv.headers['content-disposition']).toBe(`attachment; filename="access-history-group-${G.split('/').join('-')}.csv"`);
    const [header, ...rows] = csv.text.trim().split('\r\n');
    const cols = header.split(',').map((c) => c.replace(/"/g, ''));
    expect(cols.slice(-3)).toEqual(['group_id', 'job_project_id', 'via_inherited_from']);
    const cells = rows.map((row) => Object.fromEntries(row.split(',').map((c, i) => [cols[i], c.replace(/^"|"$/g, '')])));
    expect(cells).toHaveLength(4);
    expect(cells.every((c) => c.group_id === G && c.project_id === '')).toBe(true);
    expect(cells.map((c) => c.job_project_id)).toEqual([B, '', '', A]);
    expect(cells.map((c) => c.via_inherited_from)).toEqual(['', '', TOP, '']);
    const nd = keep(await http.get(`/v1/groups/${enc(G)}/access-history`).set(auth(audrey)).set('Accept', 'application/x-ndjson'));
    const lines = nd.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.groupId, l.projectId, l.jobProjectId ?? null])).toEqual([
      [G, undefined, B],
      [G, undefined, null],
      [G, undefined, null],
      [G, undefined, A],
    ]);
  });

  it("a group secret's history lists the grants of the groups above it, inherited, and never a value", async () => {
    const r = keep(await http.get(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/history`).query({ kind: 'readers' }).set(auth(audrey)));
    expect(r.status).toBe(200);
    const grants = r.body.items.filter((i: { kind: string }) => i.kind === 'grant');
    const byPrincipal = Object.fromEntries(grants.filter((i: { type: string }) => i.type === 'RoleGranted').map((i: { grant: { principal: { id: string }; inheritedFrom?: unknown } }) => [i.grant.principal.id, i.grant.inheritedFrom ?? null]));
    expect(byPrincipal).toEqual({ gina: { type: 'group', id: TOP }, 'team-top': { type: 'group', id: TOP }, 'team-pay': null, eve: null });
    // The grants of TOP made before the secret existed are on the timeline too (they explain who could read it from its creation).
    expect(r.body.items.find((i: { type: string }) => i.type === 'SecretCreated')).toMatchObject({ kind: 'metadata', actor: { id: 'gina' } });
    expect(r.body.items.at(-1)).toMatchObject({ type: 'RoleGranted', grant: { principal: { id: 'gina' }, inheritedFrom: { type: 'group', id: TOP } } });
    expect((await http.get(`/v1/groups/${enc(G)}/secrets/NEVER_THERE/history`).set(auth(audrey))).status).toBe(404);
  });

  it('refuses without read-audit on the group: a stranger gets the same 403 for a real and an invented group; a project owner and a developer are refused', async () => {
    const paths = (g: string) => [`/v1/groups/${enc(g)}/access-history`, `/v1/groups/${enc(g)}/secrets/REGISTRY_TOKEN/readers`, `/v1/groups/${enc(g)}/secrets/REGISTRY_TOKEN/history`];
    const invented = `${TOP}/nope-${run}`;
    for (const [real, none] of paths(G).map((p, i) => [p, paths(invented)[i]])) {
      const a = keep(await http.get(real).set(auth(mallory)));
      const b = keep(await http.get(none).set(auth(mallory)));
      expect([a.status, b.status]).toEqual([403, 403]);
      expect(a.headers['content-type']).toContain('application/problem+json');
      expect({ ...a.body, instance: undefined }).toEqual({ ...b.body, instance: undefined });
      expect(a.body.instance).not.toEqual(b.body.instance);
      // olive owns project A (and A was in G): no power over the group's audit.
      expect(keep(await http.get(real).set(auth(olive))).status).toBe(403);
      // dana reads the group's secrets (developer) but may not audit them.
      expect(keep(await http.get(real).set(auth(dana))).status).toBe(403);
      // A CI job of a project below the group neither.
      const job = await t.ciToken({ project: B, ref: 'main', protected: true, environment: 'production' });
      expect(keep(await http.get(real).set(auth(job))).status).toBe(403);
    }
    // Every refusal is audited against the group, under its key.
    const refusals = (await log(`access-group:${G}`)).filter((e) => e.type === 'SecretAccessDenied' && (e.data.principal as { id: string }).id === 'mallory');
    expect(refusals.map((e) => [e.data.action, e.data.reason])).toContainEqual(['read-audit', 'no-grant']);
  });

  it('bad queries are 400s naming the field, before anything is read; a bad group path names groupId', async () => {
    for (const [q, field] of [
      [{ limit: '0' }, 'limit'],
      [{ decision: 'maybe' }, 'decision'],
      [{ cursor: 'not-a-cursor!' }, 'cursor'],
      [{ sort: 'name' }, 'sort'],
    ] as const) {
      const r = keep(await http.get(`/v1/groups/${enc(G)}/access-history`).query(q).set(auth(mallory)));
      expect({ q, status: r.status, fields: r.body.errors?.map((e: { field: string }) => e.field) }).toEqual({ q, status: 400, fields: [field] });
    }
    expect(keep(await http.get(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN/readers`).query({ at: 'soon' }).set(auth(audrey))).body.errors[0].field).toBe('at');
    for (const raw of [`${TOP}%252Fpay`, `${TOP}%2F..`, `${TOP}%2F`, 'ACME', `group%3A${TOP}`]) {
      const r = keep(await http.get(`/v1/groups/${raw}/access-history`).set(auth(audrey)));
      expect({ raw, status: r.status, field: r.body.errors?.[0]?.field }).toEqual({ raw, status: 400, field: 'groupId' });
    }
  });

  it('no answer holds a canary value or the internal group key', async () => {
    expect(bodies.length).toBeGreaterThan(20);
    for (const b of bodies) {
      expect(b).not.toContain(CANARY);
      expect(b).not.toContain('group:');
    }
  });
});
