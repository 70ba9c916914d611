import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { IncomingMessage, Server, ServerResponse } from 'node:http';
import request from 'supertest';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { allEvents } from '../support/events';

// GraphQL for groups (issue 20, item 8; API.md "Groups and group secrets", last bullet): the group
// fields answer as the REST group endpoints do (the same code paths on the group's place key),
// with the same authorization, limits and per-request loaders as the project fields. Embedded
// profile, and the production profile (PostgreSQL + OpenBao) when the stack's variables are set.

const { DATABASE_URL, BAO_ADDR, BAO_TOKEN } = process.env;
const profiles: [string, () => Record<string, string>][] = [['embedded', () => ({})]];
if (DATABASE_URL && BAO_ADDR && BAO_TOKEN) {
  const run = randomUUID().slice(0, 8);
  profiles.push(['production', () => ({ PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', BAO_ADDR, BAO_TOKEN, BAO_JWT_MOUNT: `jwt-gqg-${run}`, BAO_KV_PREFIX: `ps-gqg-${run}` })]);
} else {
  console.warn('graphql-groups e2e: production profile SKIPPED (DATABASE_URL, BAO_ADDR, BAO_TOKEN not set; eval "$(scripts/stack env)")');
}

const PROBLEM = 'urn:pipeline-secrets:problem:';
const ERR = 'errors { type field message }';
type UserErr = { type: string; field: string | null; message: string };
type GqlErr = { message: string; path?: string[]; extensions?: { type?: string; status?: number; code?: string; errors?: { field: string; message: string }[] } };

const SECRET_FIELDS = 'groupId name description environment protectedOnly version revision createdAt updatedAt rotation { intervalDays status }';
const GRANT_FIELDS = 'grantId principal { type id } role environment branch expiresAt grantedBy status revokedAt revokedBy';
const Q = {
  list: `query L($g: String!, $first: Int, $after: String) { groupSecrets(groupId: $g, first: $first, after: $after) { edges { cursor node { ${SECRET_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
  one: `query O($g: String!, $n: String!) { groupSecret(groupId: $g, name: $n) { ${SECRET_FIELDS} } }`,
  grants: `query G($g: String!) { groupGrants(groupId: $g) { ${GRANT_FIELDS} } }`,
  create: `mutation C($input: GroupSecretCreateInput!) { groupSecretCreate(input: $input) { name version revision ${ERR} } }`,
  update: `mutation U($input: GroupSecretUpdateInput!) { groupSecretUpdate(input: $input) { secret { ${SECRET_FIELDS} } ${ERR} } }`,
  del: `mutation D($g: String!, $n: String!, $rev: Int) { groupSecretDelete(groupId: $g, name: $n, ifRevision: $rev) { deleted ${ERR} } }`,
  grant: `mutation GC($input: GroupGrantCreateInput!) { groupGrantCreate(input: $input) { grantId ${ERR} } }`,
  revoke: `mutation GR($g: String!, $id: String!) { groupGrantRevoke(groupId: $g, grantId: $id) { revoked ${ERR} } }`,
  access: `mutation A($p: String!, $names: [String!]!) { secretAccess(projectId: $p, names: $names, purpose: "deploy") { items { name version value source { type id } } denied { name reason } ${ERR} } }`,
};

describe.each(profiles)('GraphQL groups (%s profile)', (_profile, envOf) => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const run = randomUUID().slice(0, 8);
  const TOP = `acme-${run}`;
  const G = `${TOP}/payments`;
  const NONE = `${TOP}/nope-${run}`;
  const enc = encodeURIComponent;
  const A = `pay-a-${run}`;
  const CANARY = `gqg-canary-${randomUUID()}`;
  const tok: Record<string, string> = {};
  const auth = (who: string) => ({ Authorization: `Bearer ${tok[who]}` });
  /** Every GraphQL answer's text: no value may be in any but a secretAccess answer. */
  const answers: { query: string; text: string }[] = [];
  /** The stream reads made while handling a request that carries x-count-reads. */
  const readsOf = new Map<string, string[]>();

  async function gq(who: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    const r = await http.post('/graphql').set(auth(who)).set(headers).send({ query, variables });
    answers.push({ query, text: r.text });
    return r;
  }
  async function data<T>(who: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const r = await gq(who, query, variables);
    expect([r.status, r.body.errors]).toEqual([200, undefined]);
    return r.body.data as T;
  }
  async function errorsOf(who: string, query: string, variables: Record<string, unknown> = {}): Promise<GqlErr[]> {
    const r = await gq(who, query, variables);
    expect(r.body.errors?.length).toBeGreaterThan(0);
    return r.body.errors as GqlErr[];
  }

  beforeAll(async () => {
    t = await startEmbedded({ env: envOf() });
    const server = t.app.getHttpServer() as Server;
    // Stream reads attributed to the request that made them (background loops never run in its context).
    const als = new AsyncLocalStorage<string[]>();
    const [handler] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const id = req.headers['x-count-reads'];
      if (typeof id !== 'string') return handler(req, res);
      const reads: string[] = [];
      readsOf.set(id, reads);
      als.run(reads, () => handler(req, res));
    });
    const store = t.infra.eventStore;
    const readStream = store.readStream.bind(store);
    store.readStream = (name, opts) => {
      als.getStore()?.push(name);
      return readStream(name, opts);
    };
    http = request(server);
    tok.admin = await t.userToken('root', { admin: true });
    tok.gina = await t.userToken('gina');
    tok.olive = await t.userToken('olive');
    tok.dana = await t.userToken('dana', { groups: [`team-pay-${run}`] });
    for (const s of ['mallory', 'trudy', 'eve']) tok[s] = await t.userToken(s, { groups: ['nobody'] });
    expect((await http.put(`/v1/projects/${A}/group`).set(auth('admin')).send({ groupId: G })).status).toBe(200);
    // A platform admin bootstraps the group's first owner, over GraphQL.
    for (const g of [G, TOP]) {
      const r = await data<{ groupGrantCreate: { grantId: string; errors: UserErr[] } }>('admin', Q.grant, { input: { groupId: g, principal: { type: 'user', id: 'gina' }, role: 'owner' } });
      expect(r.groupGrantCreate.errors).toEqual([]);
      expect(r.groupGrantCreate.grantId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect((await http.post(`/v1/projects/${A}/grants`).set(auth('gina')).send({ principal: { type: 'user', id: 'olive' }, role: 'owner' })).status).toBe(201);
  }, 120_000);
  afterAll(() => t?.close());

  it('create, list, get, update and delete a group secret: the same answers as REST, groupId and never the internal key', async () => {
    const c = await data<{ groupSecretCreate: { name: string; version: number; revision: number; errors: UserErr[] } }>('gina', Q.create, {
      input: { groupId: G, name: 'REGISTRY_TOKEN', value: `${CANARY}-v1`, environment: 'production', rotationIntervalDays: 30 },
    });
    expect(c.groupSecretCreate).toEqual({ name: 'REGISTRY_TOKEN', version: 1, revision: 0, errors: [] });
    for (const n of ['B_ONE', 'C_TWO']) expect((await data<{ groupSecretCreate: { errors: UserErr[] } }>('gina', Q.create, { input: { groupId: G, name: n, value: `${CANARY}-${n}` } })).groupSecretCreate.errors).toEqual([]);

    type Page = { groupSecrets: { edges: { cursor: string; node: Record<string, unknown> }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
    const all = await eventually(() => data<Page>('gina', Q.list, { g: G }), (d) => d.groupSecrets.edges.length === 3);
    expect(all.groupSecrets.edges.map((e) => e.node.name)).toEqual(['B_ONE', 'C_TWO', 'REGISTRY_TOKEN']);
    const rest = await http.get(`/v1/groups/${enc(G)}/secrets`).set(auth('gina'));
    const restByName = new Map((rest.body.items as { name: string }[]).map((i) => [i.name, i]));
    for (const { node } of all.groupSecrets.edges) expect(node).toEqual(pick(restByName.get(node.name as string), node));
    expect(all.groupSecrets.edges.every((e) => e.node.groupId === G)).toBe(true);
    // Pages of two, by name.
    const p1 = await data<Page>('gina', Q.list, { g: G, first: 2 });
    const p2 = await data<Page>('gina', Q.list, { g: G, first: 2, after: p1.groupSecrets.pageInfo.endCursor });
    expect([p1.groupSecrets.edges.map((e) => e.node.name), p1.groupSecrets.pageInfo.hasNextPage, p2.groupSecrets.edges.map((e) => e.node.name), p2.groupSecrets.pageInfo.hasNextPage]).toEqual([
      ['B_ONE', 'C_TWO'],
      true,
      ['REGISTRY_TOKEN'],
      false,
    ]);

    const one = await data<{ groupSecret: Record<string, unknown> }>('gina', Q.one, { g: G, n: 'REGISTRY_TOKEN' });
    const restOne = await http.get(`/v1/groups/${enc(G)}/secrets/REGISTRY_TOKEN`).set(auth('gina'));
    expect(one.groupSecret).toEqual(pick(restOne.body, one.groupSecret));
    expect(one.groupSecret).toMatchObject({ groupId: G, name: 'REGISTRY_TOKEN', environment: 'production', version: 1, rotation: { intervalDays: 30, status: 'ok' } });

    // Value and metadata in one mutation, with the revision REST's ETag gives.
    const rev = Number(JSON.parse(restOne.headers.etag));
    const u = await data<{ groupSecretUpdate: { secret: Record<string, unknown> | null; errors: UserErr[] } }>('gina', Q.update, {
      input: { groupId: G, name: 'REGISTRY_TOKEN', value: `${CANARY}-v2`, description: 'registry pull token', ifRevision: rev },
    });
    expect(u.groupSecretUpdate.errors).toEqual([]);
    expect(u.groupSecretUpdate.secret).toMatchObject({ groupId: G, version: 2, revision: rev + 2, description: 'registry pull token', environment: 'production' });
    // A stale revision is refused as REST's If-Match is.
    const stale = await data<{ groupSecretUpdate: { errors: UserErr[] } }>('gina', Q.update, { input: { groupId: G, name: 'REGISTRY_TOKEN', description: 'x', ifRevision: rev } });
    expect(stale.groupSecretUpdate.errors.map((e) => e.type)).toEqual([`${PROBLEM}precondition-failed`]);
    // Nothing to update: a user error naming input.
    expect((await data<{ groupSecretUpdate: { errors: UserErr[] } }>('gina', Q.update, { input: { groupId: G, name: 'REGISTRY_TOKEN' } })).groupSecretUpdate.errors.map((e) => e.field)).toEqual(['input']);

    const d = await data<{ groupSecretDelete: { deleted: boolean; errors: UserErr[] } }>('gina', Q.del, { g: G, n: 'C_TWO' });
    expect(d.groupSecretDelete).toEqual({ deleted: true, errors: [] });
    expect((await errorsOf('gina', Q.one, { g: G, n: 'C_TWO' }))[0].extensions?.type).toBe(`${PROBLEM}not-found`);
    expect((await data<{ groupSecretDelete: { deleted: boolean; errors: UserErr[] } }>('gina', Q.del, { g: G, n: 'C_TWO' })).groupSecretDelete.errors.map((e) => e.type)).toEqual([`${PROBLEM}not-found`]);
    expect((await http.get(`/v1/groups/${enc(G)}/secrets/C_TWO`).set(auth('gina'))).status).toBe(404);

    // The events name the group's place key; no answer ever does.
    for (const a of answers) expect(a.text).not.toContain('group:');
  });

  it('a group secret has no branch: the inputs have no such field (a validation error, no event), the type neither', async () => {
    const streamLength = async (name: string) => (await t.infra.eventStore.readStream(`secret-group:${G}/${name}`)).length;
    const before = [await streamLength('WITH_BRANCH'), await streamLength('REGISTRY_TOKEN')];
    for (const [query, input] of [
      [Q.create, { groupId: G, name: 'WITH_BRANCH', value: `${CANARY}-branch`, branch: 'main' }],
      [Q.update, { groupId: G, name: 'REGISTRY_TOKEN', branch: 'main' }],
    ] as const) {
      const r = await gq('gina', query, { input });
      expect([r.status, r.body.errors?.[0]?.extensions?.code]).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
      expect(r.text).not.toContain(CANARY);
    }
    expect((await gq('gina', `query($g: String!) { groupSecret(groupId: $g, name: "REGISTRY_TOKEN") { branch } }`, { g: G })).status).toBe(400);
    expect([await streamLength('WITH_BRANCH'), await streamLength('REGISTRY_TOKEN')]).toEqual(before);
  });

  it("grants: list, create and revoke on a group; a group grant acts on the groups below it; a project's owner has nothing on its group", async () => {
    const team = `team-pay-${run}`;
    const g = await data<{ groupGrantCreate: { grantId: string; errors: UserErr[] } }>('gina', Q.grant, { input: { groupId: TOP, principal: { type: 'group', id: team }, role: 'reporter' } });
    expect(g.groupGrantCreate.errors).toEqual([]);
    const list = await data<{ groupGrants: Record<string, unknown>[] }>('gina', Q.grants, { g: TOP });
    const rest = await http.get(`/v1/groups/${enc(TOP)}/grants`).set(auth('gina'));
    expect(list.groupGrants.map((x) => x.grantId).sort()).toEqual((rest.body.items as { grantId: string }[]).map((x) => x.grantId).sort());
    expect(list.groupGrants.find((x) => x.grantId === g.groupGrantCreate.grantId)).toMatchObject({ principal: { type: 'group', id: team }, role: 'reporter', grantedBy: 'gina', status: 'active' });
    // Only the group's own grants: TOP's are not listed under G.
    expect((await data<{ groupGrants: { grantId: string }[] }>('gina', Q.grants, { g: G })).groupGrants.map((x) => x.grantId)).not.toContain(g.groupGrantCreate.grantId);

    // dana's team holds reporter on TOP: she lists G's secrets (inherited), and cannot manage G's grants.
    const seen = await data<{ groupSecrets: { edges: { node: { name: string } }[] } }>('dana', Q.list, { g: G });
    expect(seen.groupSecrets.edges.map((e) => e.node.name)).toEqual(['B_ONE', 'REGISTRY_TOKEN']);
    expect((await errorsOf('dana', Q.grants, { g: G }))[0].extensions).toMatchObject({ type: `${PROBLEM}forbidden`, status: 403 });
    // olive owns project A (in G): G's secrets and grants are not hers.
    for (const q of [Q.list, Q.grants]) expect((await errorsOf('olive', q, { g: G }))[0].extensions?.status).toBe(403);

    const r = await data<{ groupGrantRevoke: { revoked: boolean; errors: UserErr[] } }>('gina', Q.revoke, { g: TOP, id: g.groupGrantCreate.grantId });
    expect(r.groupGrantRevoke).toEqual({ revoked: true, errors: [] });
    expect((await data<{ groupGrants: { grantId: string; status: string; revokedBy: string }[] }>('gina', Q.grants, { g: TOP })).groupGrants.find((x) => x.grantId === g.groupGrantCreate.grantId)).toMatchObject({ status: 'revoked', revokedBy: 'gina' });
    // The revoke applies to dana's very next request.
    expect((await errorsOf('dana', Q.list, { g: G }))[0].extensions?.status).toBe(403);
    // A grant id that is not a UUID, an unknown one: user errors as REST's.
    expect((await data<{ groupGrantRevoke: { errors: UserErr[] } }>('gina', Q.revoke, { g: TOP, id: 'nope' })).groupGrantRevoke.errors.map((e) => e.field)).toEqual(['grantId']);
    expect((await data<{ groupGrantRevoke: { errors: UserErr[] } }>('gina', Q.revoke, { g: TOP, id: randomUUID() })).groupGrantRevoke.errors.map((e) => e.type)).toEqual([`${PROBLEM}not-found`]);
  });

  it('a stranger gets the same refusal for an existing and a non-existing group, on every field', async () => {
    const cases: [string, (g: string) => Record<string, unknown>][] = [
      [Q.list, (g) => ({ g })],
      [Q.one, (g) => ({ g, n: 'REGISTRY_TOKEN' })],
      [Q.grants, (g) => ({ g })],
      [Q.create, (g) => ({ input: { groupId: g, name: 'PROBE', value: `${CANARY}-probe` } })],
      [Q.update, (g) => ({ input: { groupId: g, name: 'REGISTRY_TOKEN', value: `${CANARY}-probe` } })],
      [Q.del, (g) => ({ g, n: 'REGISTRY_TOKEN' })],
      [Q.grant, (g) => ({ input: { groupId: g, principal: { type: 'user', id: 'mallory' }, role: 'owner' } })],
      [Q.revoke, (g) => ({ g, id: '00000000-0000-4000-8000-000000000000' })],
    ];
    for (const [query, vars] of cases) {
      const real = await gq('mallory', query, vars(G));
      const none = await gq('mallory', query, vars(NONE));
      expect([query.slice(0, 20), real.status, real.text]).toEqual([query.slice(0, 20), none.status, none.text]);
      expect(real.text).toMatch(/forbidden/);
      expect(real.text).not.toContain(CANARY);
    }
    // Nothing was created by the refused commands.
    expect((await http.get(`/v1/groups/${enc(G)}/secrets/PROBE`).set(auth('gina'))).status).toBe(404);
    expect((await data<{ groupSecret: { version: number } }>('gina', Q.one, { g: G, n: 'REGISTRY_TOKEN' })).groupSecret.version).toBe(2);
  });

  it.each([
    ['..', `${TOP}/..`],
    ['a trailing /', `${TOP}/`],
    ['upper case', `${TOP.toUpperCase()}/PAYMENTS`],
    ['depth 9', 'a/b/c/d/e/f/g/h/i'],
    ['a place key', `group:${TOP}`],
    ['URL-encoding', `${TOP}%2Fpayments`],
    ['a canary in it', `${CANARY.toUpperCase()}/x`],
  ])('a groupId with %s is a user error naming groupId on every field, before anything is read', async (_what, bad) => {
    for (const [query, vars] of [
      [Q.list, { g: bad }],
      [Q.one, { g: bad, n: 'REGISTRY_TOKEN' }],
      [Q.grants, { g: bad }],
    ] as const) {
      const id = randomUUID();
      const r = await gq('gina', query, vars, { 'x-count-reads': id });
      expect(r.body.data).toBeNull();
      expect(r.body.errors.map((e: GqlErr) => [e.extensions?.type, e.extensions?.errors?.map((f) => f.field)])).toEqual([[`${PROBLEM}invalid-request`, ['groupId']]]);
      expect(r.text).not.toContain(bad);
      expect(readsOf.get(id)).toEqual([]);
    }
    for (const [query, vars, field] of [
      [Q.create, { input: { groupId: bad, name: 'X', value: `${CANARY}-bad` } }, 'groupSecretCreate'],
      [Q.update, { input: { groupId: bad, name: 'X', value: `${CANARY}-bad` } }, 'groupSecretUpdate'],
      [Q.del, { g: bad, n: 'X' }, 'groupSecretDelete'],
      [Q.grant, { input: { groupId: bad, principal: { type: 'user', id: 'x' }, role: 'owner' } }, 'groupGrantCreate'],
      [Q.revoke, { g: bad, id: randomUUID() }, 'groupGrantRevoke'],
    ] as const) {
      const r = await gq('admin', query, vars);
      expect((r.body.data[field].errors as UserErr[]).map((e) => [e.type, e.field])).toEqual([[`${PROBLEM}invalid-request`, 'groupId']]);
      expect(r.text).not.toContain(bad);
      expect(r.text).not.toContain(CANARY);
    }
  });

  it("secretAccess answers each item's source: a job of a project in the group reads the group's secret, a project secret shadows it", async () => {
    const job = (n: string) => t.ciToken({ project: A, ref: 'main', protected: true, environment: 'production', pipeline: `p-${n}`, job: `j-${n}` });
    tok.job1 = await job('1');
    const r = await data<{ secretAccess: { items: unknown[]; denied: unknown[]; errors: UserErr[] } }>('job1', Q.access, { p: A, names: ['REGISTRY_TOKEN', 'B_ONE', 'NOPE'] });
    expect(r.secretAccess).toEqual({
      items: [
        { name: 'REGISTRY_TOKEN', version: 2, value: `${CANARY}-v2`, source: { type: 'group', id: G } },
        { name: 'B_ONE', version: 1, value: `${CANARY}-B_ONE`, source: { type: 'group', id: G } },
      ],
      denied: [{ name: 'NOPE', reason: 'secret-not-found' }],
      errors: [],
    });
    expect((await http.post(`/v1/projects/${A}/secrets`).set(auth('olive')).send({ name: 'B_ONE', value: `${CANARY}-project` })).status).toBe(201);
    tok.job2 = await job('2');
    const shadowed = await data<{ secretAccess: { items: { name: string; value: string; source: unknown }[] } }>('job2', Q.access, { p: A, names: ['B_ONE'] });
    expect(shadowed.secretAccess.items).toEqual([{ name: 'B_ONE', version: 1, value: `${CANARY}-project`, source: { type: 'project', id: A } }]);
    // The same as REST's batch answer.
    tok.job3 = await job('3');
    const rest = await http.post(`/v1/projects/${A}/secrets/access`).set(auth('job3')).send({ names: ['B_ONE', 'REGISTRY_TOKEN'], purpose: 'deploy' });
    expect(rest.body.items.map((i: { source: unknown }) => i.source)).toEqual([
      { type: 'project', id: A },
      { type: 'group', id: G },
    ]);
  });

  it('a query over the secrets and grants of a tree reads each policy stream once (per-request loaders keyed by place key)', async () => {
    // Ten secret fields (the group has two secrets: each read five times, each time decided on its own).
    const names = Array.from({ length: 10 }, (_, i) => (i % 2 ? 'B_ONE' : 'REGISTRY_TOKEN'));
    const query = `query T($g: String!, $top: String!, $p: String!, ${names.map((_, i) => `$n${i}: String!`).join(', ')}) {
      a: groupSecrets(groupId: $g) { edges { node { name } } }
      b: groupSecrets(groupId: $top) { edges { node { name } } }
      ${names.map((_, i) => `s${i}: groupSecret(groupId: $g, name: $n${i}) { name version }`).join('\n')}
      c: groupGrants(groupId: $g) { grantId }
      d: groupGrants(groupId: $top) { grantId }
      e: projectSecrets(projectId: $p) { edges { node { name } } }
      f: projectGrants(projectId: $p) { grantId }
    }`;
    const variables = { g: G, top: TOP, p: A, ...Object.fromEntries(names.map((n, i) => [`n${i}`, n])) };
    const id = randomUUID();
    const r = await gq('gina', query, variables, { 'x-count-reads': id });
    expect(r.status).toBe(200);
    // Every field answered: gina owns both groups, so A's secrets and grants too (inherited).
    expect(r.body.errors).toBeUndefined();
    expect(Object.keys(r.body.data ?? {}).length).toBe(16);
    const reads = readsOf.get(id)!;
    const policyReads = reads.filter((s) => s.startsWith('project-') || s.startsWith('projectgroup-'));
    const counts = Object.fromEntries([...new Set(policyReads)].map((s) => [s, policyReads.filter((x) => x === s).length]));
    expect(counts).toEqual({ [`project-group:${G}`]: 1, [`project-group:${TOP}`]: 1, [`project-${A}`]: 1, [`projectgroup-${A}`]: 1 });
    // Ten secrets cost what one does in policy reads.
    const one = randomUUID();
    await gq('gina', 'query($g: String!, $n: String!) { groupSecret(groupId: $g, name: $n) { name } }', { g: G, n: 'B_ONE' }, { 'x-count-reads': one });
    expect(readsOf.get(one)!.filter((s) => s.startsWith('project-')).sort()).toEqual([`project-group:${G}`, `project-group:${TOP}`].sort());
  });

  it('a group query seen before runs compiled (graphql-jit) and answers byte for byte as the interpreted first run, refusals included', async () => {
    const compiled = async () => (await t.infra.metrics.graphqlOperations.get()).values.find((v) => v.labels.operation === 'query' && v.labels.executor === 'compiled')?.value ?? 0;
    const cases: [string, string, Record<string, unknown>][] = [
      ['gina', Q.list.replace('query L(', 'query JitL('), { g: G, first: 2 }],
      ['gina', Q.one.replace('query O(', 'query JitO('), { g: G, n: 'REGISTRY_TOKEN' }],
      ['gina', Q.one.replace('query O(', 'query JitMissing('), { g: G, n: 'NEVER_WAS' }],
      ['gina', Q.grants.replace('query G(', 'query JitG('), { g: TOP }],
      ['trudy', Q.list.replace('query L(', 'query JitStranger('), { g: G }],
      ['trudy', Q.grants.replace('query G(', 'query JitStrangerNone('), { g: NONE }],
      ['gina', Q.list.replace('query L(', 'query JitBad('), { g: `${TOP}/..` }],
      ['gina', `query JitMixed($g: String!, $p: String!, $n: String!) { a: groupSecrets(groupId: $g, first: 1) { edges { node { groupId name } } pageInfo { hasNextPage } } b: groupSecret(groupId: $g, name: $n) { groupId name version } c: projectSecrets(projectId: $p) { edges { node { projectId name } } } }`, { g: G, p: A, n: 'B_ONE' }],
    ];
    const before = await compiled();
    for (const [who, query, variables] of cases) {
      const runs: { status: number; body: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await gq(who, query, variables);
        runs.push({ status: res.status, body: res.text });
      }
      expect(JSON.parse(runs[0].body).data).not.toBeUndefined();
      expect([who, runs[1]]).toEqual([who, runs[0]]);
      expect([who, runs[2]]).toEqual([who, runs[0]]);
    }
    expect((await compiled()) - before).toBe(cases.length * 2);
  });

  it('CANARY: a value is in no answer but secretAccess results, in no event and no log line', async () => {
    const withValue = answers.filter((a) => a.text.includes(CANARY));
    expect(withValue.length).toBeGreaterThan(0);
    for (const a of withValue) expect(a.query.startsWith('mutation A(')).toBe(true);
    expect(answers.filter((a) => !a.query.startsWith('mutation A(')).length).toBeGreaterThan(50);
    const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
    expect((await allEvents(t.infra.eventStore)).some((e) => json(e).includes(CANARY))).toBe(false);
    expect(t.logs.some((l) => l.includes(CANARY))).toBe(false);
  });
});

/** The REST body's fields that the GraphQL selection asked for (rotation's selected subfields). */
function pick(rest: Record<string, unknown> | undefined, selected: Record<string, unknown>): Record<string, unknown> {
  if (!rest) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(selected)) {
    const r = rest[k];
    out[k] = v !== null && typeof v === 'object' && r !== null && typeof r === 'object' ? pick(r as Record<string, unknown>, v as Record<string, unknown>) : r === undefined ? null : r;
  }
  return out;
}
