import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientError, gql, GraphQLClient } from 'graphql-request';
import request from 'supertest';
import { RecordedEvent } from '@app/domain';
import { AccessControl } from '../../apps/command-api/src/application/access-control';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { allEvents, countRoundTrips } from '../support/events';
import { writeTestMasterKey } from '../support/test-master-key';

// Every GraphQL operation beyond the first slice, against the same REST answers, in the embedded
// profile and (when DATABASE_URL is set, as scripts/stack env gives it) the production profile on PostgreSQL.

const DATABASE_URL = process.env.DATABASE_URL;
const PROFILES: { name: string; env: () => Record<string, string> }[] = [
  { name: 'embedded', env: () => ({}) },
  ...(DATABASE_URL
    ? [{ name: 'production (PostgreSQL)', env: () => ({ PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', MASTER_KEY_FILE: writeTestMasterKey(mkdtempSync(join(tmpdir(), 'ps-gql-key-'))) }) }]
    : []),
];
if (!DATABASE_URL) console.warn('graphql-ops e2e: production profile SKIPPED, DATABASE_URL not set (eval "$(scripts/stack env)")');

const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));

type Errs = { type: string; field: string | null; message: string }[];
type GqlErr = { message: string; extensions?: { type?: string; status?: number; code?: string; errors?: { field: string }[] } };

const ERR = 'errors { type field message }';
const HISTORY_FIELDS = 'edges { cursor node { eventId secret decision channel action reason principal { type id } via { grantId role accessRequestId breakGlass scope } } } pageInfo { hasNextPage endCursor }';
const Q = {
  history: gql`query H($projectId: String!, $filter: AccessHistoryFilter, $first: Int, $after: String) { accessHistory(projectId: $projectId, filter: $filter, first: $first, after: $after) { ${HISTORY_FIELDS} } }`,
  readers: gql`query R($projectId: String!, $name: String!, $at: String) { secretReaders(projectId: $projectId, name: $name, at: $at) { at secretExisted readers { principal { type id projectId environment branch protectedOnly } via { grantId role grantedBy grantedAt expiresAt environment branch accessRequestId breakGlass rule } } } }`,
  checkpoint: gql`query { auditCheckpoint { treeSize rootHash note createdAt } }`,
  requests: gql`query AR($projectId: String!, $status: String) { accessRequests(projectId: $projectId, status: $status) { edges { node { requestId requester { type id } role status durationSeconds reason decidedBy grantId comment } } } }`,
  breakGlasses: gql`query BG($projectId: String!, $reviewed: Boolean) { breakGlasses(projectId: $projectId, reviewed: $reviewed) { grantId principal { id } reason review { outcome comment reviewedBy } } }`,
  create: gql`mutation C($input: ProjectSecretCreateInput!) { projectSecretCreate(input: $input) { name version revision ${ERR} } }`,
  update: gql`mutation U($input: ProjectSecretUpdateInput!) { projectSecretUpdate(input: $input) { secret { name version revision description environment branch protectedOnly } ${ERR} } }`,
  access: gql`mutation A($projectId: String!, $names: [String!]!, $purpose: String) { secretAccess(projectId: $projectId, names: $names, purpose: $purpose) { items { name version value } denied { name reason } ${ERR} } }`,
  requestCreate: gql`mutation RC($input: AccessRequestCreateInput!) { accessRequestCreate(input: $input) { requestId status expiresAt ${ERR} } }`,
  approve: gql`mutation AP($projectId: String!, $requestId: String!, $comment: String) { accessRequestApprove(projectId: $projectId, requestId: $requestId, comment: $comment) { grantId expiresAt ${ERR} } }`,
  deny: gql`mutation DN($projectId: String!, $requestId: String!, $comment: String!) { accessRequestDeny(projectId: $projectId, requestId: $requestId, comment: $comment) { requestId status ${ERR} } }`,
  cancel: gql`mutation CA($projectId: String!, $requestId: String!) { accessRequestCancel(projectId: $projectId, requestId: $requestId) { cancelled ${ERR} } }`,
  breakGlass: gql`mutation BK($input: BreakGlassInput!) { breakGlass(input: $input) { grantId expiresAt ${ERR} } }`,
  review: gql`mutation RV($projectId: String!, $grantId: String!, $outcome: String!, $comment: String!) { breakGlassReview(projectId: $projectId, grantId: $grantId, outcome: $outcome, comment: $comment) { grantId outcome ${ERR} } }`,
};
const NESTED = (first: number) => `query N($projectId: String!) {
  projectSecrets(projectId: $projectId, first: ${first}) {
    edges { node { name
      readers { secretExisted readers { principal { type id } via { grantId role grant { grantedBy status } } } }
      history(first: 3) { edges { cursor node { eventId decision principal { id } via { grantId grant { role } } } } pageInfo { hasNextPage endCursor } }
    } }
  }
}`;

describe.each(PROFILES)('GraphQL operations, $name profile', ({ env }) => {
  let t: EmbeddedApp;
  let url: string;
  const P = `gql-ops-${randomUUID().slice(0, 8)}`;
  const CANARY = `gql-canary-${randomUUID()}`;
  const NAMES = ['DEPLOY_TOKEN', 'S_1', 'S_2', 'S_3', 'S_4', 'S_5'];
  const tok: Record<string, string> = {};
  const responses: string[] = [];
  let counters: Map<string, { queries: number }>;
  let http: ReturnType<typeof request>;
  const auth = (who: string) => ({ Authorization: `Bearer ${tok[who]}` });

  const client = (who?: string, headers: Record<string, string> = {}) =>
    new GraphQLClient(url, {
      headers: { ...(who ? auth(who) : {}), ...headers },
      responseMiddleware: (r) => {
        if (!(r instanceof Error)) responses.push(json(r.data ?? null));
        else if (r instanceof ClientError) responses.push(json(r.response));
      },
    });
  async function gqlErrors(p: Promise<unknown>): Promise<GqlErr[]> {
    try {
      await p;
    } catch (e) {
      if (e instanceof ClientError) return (e.response.errors ?? []) as never;
      throw e;
    }
    throw new Error('expected a GraphQL error');
  }
  /** The same answer as REST: data when REST said 2xx, else the REST problem type. */
  async function sameAsRest(who: string, rest: request.Response, g: Promise<unknown>, pick: (d: never) => unknown = (d) => d) {
    if (rest.status < 300) {
      const d = await g.catch((e: unknown) => (e instanceof ClientError ? { graphqlErrors: e.response.errors } : e));
      return expect([who, rest.status, (d as { graphqlErrors?: unknown }).graphqlErrors ?? 'ok']).toEqual([who, rest.status, 'ok']) ?? pick(d as never);
    }
    const errs = await gqlErrors(g);
    expect([who, errs[0]?.extensions?.type]).toEqual([who, rest.body.type]);
  }
  function payloadLike(who: string, rest: request.Response, errors: Errs) {
    expect([who, rest.status < 300 ? [] : [rest.body.type]]).toEqual([who, errors.map((e) => e.type)]);
  }

  beforeAll(async () => {
    t = await startEmbedded({ env: env() });
    await t.app.listen(0, '127.0.0.1');
    const server = t.app.getHttpServer() as Server;
    // Round trips counted per request: every SQL query issued while handling a request that carries
    // x-count-queries runs in that request's async context (background loops never do).
    counters = countRoundTrips(server, t.infra.sql);
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    http = request(server);
    tok.admin = await t.userToken('root', { admin: true });
    for (const u of ['olga', 'oscar', 'dave', 'rita', 'audrey', 'carol', 'stan']) tok[u] = await t.userToken(u);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth('admin')).send({ principal: { type: 'user', id: 'olga' }, role: 'owner' })).status).toBe(201);
    for (const [id, role] of [['oscar', 'owner'], ['dave', 'developer'], ['rita', 'reporter'], ['audrey', 'auditor'], ['carol', 'break-glass']]) {
      expect((await http.post(`/v1/projects/${P}/grants`).set(auth('olga')).send({ principal: { type: 'user', id }, role })).status).toBe(201);
    }
    for (const name of NAMES) {
      const r = await client('olga').request<{ projectSecretCreate: { errors: Errs } }>(Q.create, { input: { projectId: P, name, value: `${CANARY}-${name}` } });
      expect(r.projectSecretCreate.errors).toEqual([]);
    }
    // Reads to have history: dave reads every secret, rita is denied DEPLOY_TOKEN.
    const a = await client('dave').request<{ secretAccess: { items: unknown[] } }>(Q.access, { projectId: P, names: NAMES, purpose: 'deploy' });
    expect(a.secretAccess.items).toHaveLength(NAMES.length);
    await client('rita').request(Q.access, { projectId: P, names: ['DEPLOY_TOKEN'] });
    // The read models are projections: wait for every secret and the 7 decisions.
    await eventually(() => http.get(`/v1/projects/${P}/access-history`).set(auth('olga')), (r) => r.body?.items?.length === NAMES.length + 1, 20_000);
    await eventually(() => http.get(`/v1/projects/${P}/secrets`).set(auth('olga')), (r) => r.body?.items?.length === NAMES.length, 20_000);
    for (const name of NAMES) {
      await eventually(() => http.get(`/v1/projects/${P}/secrets/${name}/readers`).set(auth('olga')), (r) => r.body?.secretExisted === true && r.body.readers.length >= 4, 20_000);
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('accessHistory: the REST filters (incl. channel) and the same keyset cursors as REST, page by page', async () => {
    const restPage1 = await http.get(`/v1/projects/${P}/access-history`).query({ limit: 2 }).set(auth('audrey'));
    const g1 = await client('audrey').request<{ accessHistory: { edges: { cursor: string; node: { eventId: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }>(Q.history, { projectId: P, first: 2 });
    expect(g1.accessHistory.edges.map((e) => e.node.eventId)).toEqual(restPage1.body.items.map((i: { eventId: string }) => i.eventId));
    expect(g1.accessHistory.pageInfo).toEqual({ hasNextPage: true, endCursor: restPage1.body.nextCursor });
    const restPage2 = await http.get(`/v1/projects/${P}/access-history`).query({ limit: 2, cursor: restPage1.body.nextCursor }).set(auth('audrey'));
    const g2 = await client('audrey').request<typeof g1>(Q.history, { projectId: P, first: 2, after: g1.accessHistory.pageInfo.endCursor });
    expect(g2.accessHistory.edges.map((e) => e.node.eventId)).toEqual(restPage2.body.items.map((i: { eventId: string }) => i.eventId));
    // Continuing from any edge's cursor is the page after that edge.
    const fromFirst = await client('audrey').request<typeof g1>(Q.history, { projectId: P, first: 1, after: g1.accessHistory.edges[0].cursor });
    expect(fromFirst.accessHistory.edges[0].node.eventId).toBe(g1.accessHistory.edges[1].node.eventId);

    const filters = [{ secret: 'DEPLOY_TOKEN' }, { decision: 'denied' }, { channel: 'api' }, { channel: 'openbao' }, { principal: 'dave', decision: 'allowed' }, { from: '2000-01-01T00:00:00Z', to: '2999-01-01T00:00:00Z', secret: 'S_3' }];
    for (const filter of filters) {
      const rest = await http.get(`/v1/projects/${P}/access-history`).query(filter).set(auth('audrey'));
      const g = await client('audrey').request<{ accessHistory: { edges: { node: unknown }[] } }>(Q.history, { projectId: P, filter, first: 100 });
      const pick = (i: Record<string, unknown>) => ({ eventId: i.eventId, secret: i.secret, decision: i.decision, channel: i.channel, reason: i.reason });
      expect([filter, g.accessHistory.edges.map((e) => pick(e.node as never))]).toEqual([filter, rest.body.items.map(pick)]);
    }
    const denied = await client('audrey').request<{ accessHistory: { edges: { node: { principal: { id: string }; secret: string } }[] } }>(Q.history, { projectId: P, filter: { decision: 'denied' } });
    expect(denied.accessHistory.edges.map((e) => [e.node.principal.id, e.node.secret])).toEqual([['rita', 'DEPLOY_TOKEN']]);

    // Invalid filters: the REST messages, named after this API's arguments.
    for (const [vars, field] of [
      [{ filter: { channel: 'ftp' } }, 'filter.channel'],
      [{ filter: { decision: 'maybe' } }, 'filter.decision'],
      [{ filter: { from: 'yesterday' } }, 'filter.from'],
      [{ filter: { secret: 'bad name' } }, 'filter.secret'],
      [{ after: 'not-a-cursor!' }, 'after'],
      [{ first: 0 }, 'first'],
      [{ first: 101 }, 'first'],
    ] as const) {
      const errs = await gqlErrors(client('audrey').request(Q.history, { projectId: P, ...vars } as Record<string, unknown>));
      expect([field, errs[0].extensions?.type, errs[0].extensions?.errors?.map((e) => e.field)]).toEqual([field, 'urn:pipeline-secrets:problem:invalid-request', [field]]);
    }
  });

  it('reviewer query: who read DEPLOY_TOKEN in the last week, and through which grant', async () => {
    const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const r = await client('olga').request<{ accessHistory: { edges: { node: { principal: { id: string }; via: { grantId: string; role: string; grant: { grantedBy: string } } } }[] } }>(
      gql`query Who($projectId: String!, $from: String!) {
        accessHistory(projectId: $projectId, filter: { secret: "DEPLOY_TOKEN", decision: "allowed", from: $from }, first: 100) {
          edges { node { occurredAt principal { type id } via { grantId role grant { grantedBy grantedAt } } } }
        }
      }`,
      { projectId: P, from: weekAgo },
    );
    expect(r.accessHistory.edges.map((e) => [e.node.principal.id, e.node.via.role, e.node.via.grant.grantedBy])).toEqual([['dave', 'developer', 'olga']]);
  });

  it('secretReaders and projectSecret.readers: the REST readers answer', async () => {
    for (const at of [undefined, new Date().toISOString(), '2001-01-01T00:00:00Z']) {
      const rest = await http.get(`/v1/projects/${P}/secrets/DEPLOY_TOKEN/readers`).query(at ? { at } : {}).set(auth('audrey'));
      const g = await client('audrey').request<{ secretReaders: { at: string; secretExisted: boolean; readers: unknown[] } }>(Q.readers, { projectId: P, name: 'DEPLOY_TOKEN', at });
      const strip = (o: unknown): unknown => (Array.isArray(o) ? o.map(strip) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null).map(([k, v]) => [k, strip(v)])) : o);
      expect(strip(g.secretReaders.readers)).toEqual(strip(rest.body.readers));
      expect(g.secretReaders.secretExisted).toBe(rest.body.secretExisted);
      if (at) expect(g.secretReaders.at).toBe(rest.body.at);
    }
    const nested = await client('audrey').request<{ projectSecret: { readers: { readers: { principal: { id: string | null } }[] } } }>(
      gql`query($p: String!) { projectSecret(projectId: $p, name: "S_1") { name readers { readers { principal { type id } } } } }`,
      { p: P },
    );
    expect(nested.projectSecret.readers.readers.map((r) => r.principal.id)).toEqual(expect.arrayContaining(['dave', 'olga', 'oscar']));
    expect((await gqlErrors(client('audrey').request(Q.readers, { projectId: P, name: 'NEVER_WAS' })))[0].extensions?.type).toBe('urn:pipeline-secrets:problem:not-found');
    expect((await gqlErrors(client('audrey').request(Q.readers, { projectId: P, name: 'S_1', at: 'now' })))[0].extensions?.errors?.[0].field).toBe('at');
  });

  it('a nested query over secrets → readers → grants and history costs the same number of database round trips for 1 and for 6 secrets', async () => {
    const counts: Record<number, number> = {};
    for (const n of [1, 6, 1, 6]) {
      const id = randomUUID();
      const res = await http.post('/graphql').set(auth('olga')).set('x-count-queries', id).send({ query: NESTED(n), variables: { projectId: P } });
      expect(res.body.errors).toBeUndefined();
      const edges = res.body.data.projectSecrets.edges as { node: { name: string; history: { edges: { node: { via: { grant: unknown } | null } }[] }; readers: { readers: { via: { grant: unknown } }[] } } }[];
      expect(edges).toHaveLength(n);
      // Each secret has its one read by dave (DEPLOY_TOKEN also rita's denial), each through a grant; every reader and grant resolved.
      expect(edges.every((e) => e.node.history.edges.length >= 1 && e.node.readers.readers.length >= 4)).toBe(true);
      expect(edges.every((e) => e.node.readers.readers.some((r) => r.via.grant !== null))).toBe(true);
      counts[n] = counters.get(id)!.queries;
    }
    // Not one more per secret: 6 secrets cost what 1 does (and it is a handful, not dozens).
    expect(counts[6]).toBe(counts[1]);
    expect(counts[1]).toBeGreaterThan(0);
    expect(counts[1]).toBeLessThanOrEqual(10);
  });

  it('a denial in a nested query is one audited SecretAccessDenied (as one REST call), however many secrets', async () => {
    const who = `nina-${randomUUID().slice(0, 6)}`;
    tok[who] = await t.userToken(who);
    expect((await http.post(`/v1/projects/${P}/grants`).set(auth('olga')).send({ principal: { type: 'user', id: who }, role: 'reporter' })).status).toBe(201);
    const access = t.app.get(AccessControl);
    const recorded: string[] = [];
    const record = access.recordDenial.bind(access);
    access.recordDenial = (event, ctx) => {
      recorded.push(`${event.data.principal.id}:${event.data.action}:${event.data.reason}`);
      return record(event, ctx);
    };
    try {
      const rest = await http.get(`/v1/projects/${P}/access-history`).query({ secret: 'S_1' }).set(auth(who));
      expect(rest.status).toBe(403);
      expect(recorded).toEqual([`${who}:read-audit:${rest.body.reason}`]);
      // Only this project's denials (the production profile shares its database with other runs).
      const mine = (e: RecordedEvent) => e.type === 'SecretAccessDenied' && (e.data as { projectId?: string }).projectId === P;
      const before = (await allEvents(t.infra.eventStore)).filter(mine).length;
      recorded.length = 0;
      // A reporter may list the six secrets, not read their history: six field errors, one decision, one denial.
      const res = await http.post('/graphql').set(auth(who)).send({ query: NESTED(6), variables: { projectId: P } });
      const errors = res.body.errors as GqlErr[];
      expect(errors.filter((e) => e.extensions?.type === rest.body.type).length).toBe(12); // readers and history of each
      expect(res.body.data.projectSecrets.edges.map((e: { node: { history: unknown } }) => e.node.history)).toEqual(Array(6).fill(null));
      expect(recorded).toEqual([`${who}:read-audit:${rest.body.reason}`]);
      const after = (await allEvents(t.infra.eventStore)).filter(mine);
      expect(after.length).toBeLessThanOrEqual(before + 1); // the limiter may fold it into the REST call's window
      expect(after.slice(before).every((e) => (e.data as { principal: { id: string } }).principal.id === who)).toBe(true);
    } finally {
      access.recordDenial = record;
    }
  });

  it('authorization matrix: every read op answers as REST does for each role', async () => {
    const roles = ['olga', 'dave', 'rita', 'audrey', 'carol', 'stan'];
    for (const who of roles) {
      await sameAsRest(who, await http.get(`/v1/projects/${P}/access-history`).set(auth(who)), client(who).request(Q.history, { projectId: P }));
      await sameAsRest(who, await http.get(`/v1/projects/${P}/secrets/S_2/readers`).set(auth(who)), client(who).request(Q.readers, { projectId: P, name: 'S_2' }));
      await sameAsRest(who, await http.get(`/v1/projects/${P}/access-requests`).set(auth(who)), client(who).request(Q.requests, { projectId: P }));
      await sameAsRest(who, await http.get(`/v1/projects/${P}/break-glass`).set(auth(who)), client(who).request(Q.breakGlasses, { projectId: P }));
      const restCp = await http.get('/v1/audit/checkpoints/latest').set(auth(who));
      if (restCp.status === 200) expect((await client(who).request<{ auditCheckpoint: { note: string } }>(Q.checkpoint)).auditCheckpoint.note.split('\n')[0]).toBe(restCp.text.split('\n')[0]);
      else expect([who, (await gqlErrors(client(who).request(Q.checkpoint)))[0].extensions?.type]).toEqual([who, restCp.body.type]);
    }
  });

  it('projectSecretUpdate: value and/or metadata, ifRevision, field-named errors; the same answers as REST per role', async () => {
    type U = { projectSecretUpdate: { secret: { version: number; revision: number; description: string | null; environment: string | null } | null; errors: Errs } };
    const value = await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'S_5', value: `${CANARY}-v2` } });
    expect(value.projectSecretUpdate.errors).toEqual([]);
    expect(value.projectSecretUpdate.secret?.version).toBe(2);
    const rev = value.projectSecretUpdate.secret!.revision;
    const both = await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'S_5', value: `${CANARY}-v3`, description: 'rotated', environment: 'production', ifRevision: rev } });
    expect(both.projectSecretUpdate).toEqual({ secret: expect.objectContaining({ version: 3, revision: rev + 2, description: 'rotated', environment: 'production' }), errors: [] });
    const cleared = await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'S_5', environment: null } });
    expect(cleared.projectSecretUpdate.secret).toEqual(expect.objectContaining({ environment: null, description: 'rotated', version: 3 }));
    const stale = await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'S_5', description: 'x', ifRevision: rev } });
    expect(stale.projectSecretUpdate.errors.map((e) => e.type)).toEqual(['urn:pipeline-secrets:problem:precondition-failed']);
    for (const [input, field] of [
      [{ value: '' }, 'value'],
      [{ environment: 'bad glob ***' }, 'environment'],
      [{ description: 'a\u0000b' }, 'description'],
      [{ protectedOnly: null }, 'protectedOnly'],
      [{}, 'input'],
    ] as const) {
      const r = await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'S_5', ...input } });
      expect([field, r.projectSecretUpdate.secret, r.projectSecretUpdate.errors.map((e) => [e.type, e.field])]).toEqual([field, null, [['urn:pipeline-secrets:problem:invalid-request', field]]]);
    }
    const missing = await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'NOPE', description: 'x' } });
    expect(missing.projectSecretUpdate.errors[0].type).toBe('urn:pipeline-secrets:problem:not-found');
    for (const who of ['dave', 'rita', 'audrey', 'stan', 'oscar']) {
      const rest = await http.patch(`/v1/projects/${P}/secrets/S_4`).set(auth(who)).send({ description: `by ${who}` });
      const g = await client(who).request<U>(Q.update, { input: { projectId: P, name: 'S_4', description: `by ${who}` } });
      payloadLike(who, rest, g.projectSecretUpdate.errors);
      const restV = await http.put(`/v1/projects/${P}/secrets/S_4/value`).set(auth(who)).send({ value: `${CANARY}-${who}` });
      const gv = await client(who).request<U>(Q.update, { input: { projectId: P, name: 'S_4', value: `${CANARY}-${who}` } });
      payloadLike(who, restV, gv.projectSecretUpdate.errors);
    }
  });

  it('rotation: rotationIntervalDays on create and update (null clears), the rotation field and the projectSecrets(rotation:) filter, as REST', async () => {
    type Rot = { intervalDays: number; lastRotatedAt: string; dueAt: string; status: string } | null;
    const c = await client('olga').request<{ projectSecretCreate: { errors: Errs } }>(Q.create, { input: { projectId: P, name: 'ROTATED', value: 'r1', rotationIntervalDays: 90 } });
    expect(c.projectSecretCreate.errors).toEqual([]);
    const ROT = gql`query($p: String!, $n: String!) { projectSecret(projectId: $p, name: $n) { rotation { intervalDays lastRotatedAt dueAt status } } }`;
    const g = await client('rita').request<{ projectSecret: { rotation: Rot } }>(ROT, { p: P, n: 'ROTATED' });
    const rest = await http.get(`/v1/projects/${P}/secrets/ROTATED`).set(auth('rita'));
    expect(g.projectSecret.rotation).toEqual(rest.body.rotation);
    expect(g.projectSecret.rotation).toEqual(expect.objectContaining({ intervalDays: 90, status: 'ok' }));
    const LIST = gql`query($p: String!, $r: String) { projectSecrets(projectId: $p, rotation: $r, first: 100) { edges { node { name rotation { status } } } } }`;
    const listed = await eventually(() => client('olga').request<{ projectSecrets: { edges: { node: { name: string; rotation: Rot } }[] } }>(LIST, { p: P }), (r) => r.projectSecrets?.edges.some((e) => e.node.name === 'ROTATED'));
    expect(listed.projectSecrets.edges.find((e) => e.node.name === 'ROTATED')?.node.rotation?.status).toBe('ok');
    expect(listed.projectSecrets.edges.find((e) => e.node.name === 'S_1')?.node.rotation).toBeNull();
    for (const r of ['approaching', 'overdue']) {
      const restList = await http.get(`/v1/projects/${P}/secrets`).query({ rotation: r }).set(auth('olga'));
      const gl = await client('olga').request<{ projectSecrets: { edges: { node: { name: string } }[] } }>(LIST, { p: P, r });
      expect(gl.projectSecrets.edges.map((e) => e.node.name)).toEqual(restList.body.items.map((i: { name: string }) => i.name).sort());
    }
    const bad = await gqlErrors(client('olga').request(LIST, { p: P, r: 'soon' }));
    expect([bad[0].extensions?.type, bad[0].extensions?.errors?.[0].field]).toEqual(['urn:pipeline-secrets:problem:invalid-request', 'rotation']);
    type U = { projectSecretUpdate: { errors: Errs } };
    for (const v of [0, 3651]) {
      const r = await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'ROTATED', rotationIntervalDays: v } });
      expect(r.projectSecretUpdate.errors.map((e) => e.field)).toEqual(['rotationIntervalDays']);
    }
    const badCreate = await client('olga').request<{ projectSecretCreate: { errors: Errs } }>(Q.create, { input: { projectId: P, name: 'ROT_BAD', value: 'x', rotationIntervalDays: 0 } });
    expect(badCreate.projectSecretCreate.errors.map((e) => e.field)).toEqual(['rotationIntervalDays']);
    expect((await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'ROTATED', rotationIntervalDays: 7 } })).projectSecretUpdate.errors).toEqual([]);
    expect((await client('olga').request<{ projectSecret: { rotation: Rot } }>(ROT, { p: P, n: 'ROTATED' })).projectSecret.rotation).toEqual(expect.objectContaining({ intervalDays: 7, status: 'approaching' }));
    expect((await client('olga').request<U>(Q.update, { input: { projectId: P, name: 'ROTATED', rotationIntervalDays: null } })).projectSecretUpdate.errors).toEqual([]);
    expect((await client('olga').request<{ projectSecret: { rotation: Rot } }>(ROT, { p: P, n: 'ROTATED' })).projectSecret.rotation).toBeNull();
  });

  it('access requests: create, list by status, approve (four-eyes), deny, cancel; the same refusals as REST', async () => {
    type C = { accessRequestCreate: { requestId: string; status: string; errors: Errs } };
    const mk = async (who: string, reason: string) => (await client(who).request<C>(Q.requestCreate, { input: { projectId: P, role: 'developer', durationSeconds: 600, reason } })).accessRequestCreate;
    const r1 = await mk('rita', 'hotfix 1');
    expect(r1).toEqual({ requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'pending', expiresAt: expect.any(String), errors: [] });
    const r2 = await mk('rita', 'hotfix 2');
    const r3 = await mk('rita', 'hotfix 3');
    const bad = await client('rita').request<C>(Q.requestCreate, { input: { projectId: P, role: 'god', durationSeconds: 5, reason: '' } });
    expect(bad.accessRequestCreate.errors.map((e) => e.field).sort()).toEqual(['durationSeconds', 'reason', 'role']);

    type L = { accessRequests: { edges: { node: { requestId: string; status: string; decidedBy: string | null } }[] } };
    const nodes = (l: L) => l.accessRequests.edges.map((e) => e.node);
    const mine = nodes(await client('rita').request<L>(Q.requests, { projectId: P, status: 'pending' }));
    const restMine = await http.get(`/v1/projects/${P}/access-requests`).query({ status: 'pending' }).set(auth('rita'));
    expect(mine.map((r) => r.requestId).sort()).toEqual(restMine.body.items.map((r: { requestId: string }) => r.requestId).sort());
    expect(mine.map((r) => r.requestId).sort()).toEqual([r1.requestId, r2.requestId, r3.requestId].sort());
    expect(nodes(await client('dave').request<L>(Q.requests, { projectId: P }))).toEqual([]);
    expect((await gqlErrors(client('olga').request(Q.requests, { projectId: P, status: 'open' })))[0].extensions?.errors?.[0].field).toBe('status');

    type A = { accessRequestApprove: { grantId: string | null; errors: Errs } };
    const self = await client('rita').request<A>(Q.approve, { projectId: P, requestId: r1.requestId });
    const byDev = await client('dave').request<A>(Q.approve, { projectId: P, requestId: r1.requestId });
    expect(self.accessRequestApprove.errors[0].type).toBe('urn:pipeline-secrets:problem:forbidden');
    expect(byDev.accessRequestApprove.errors[0].type).toBe('urn:pipeline-secrets:problem:forbidden');
    const ok = await client('olga').request<A>(Q.approve, { projectId: P, requestId: r1.requestId, comment: 'ok for today' });
    expect(ok.accessRequestApprove).toEqual({ grantId: expect.stringMatching(/^[0-9a-f-]{36}$/), expiresAt: expect.any(String), errors: [] });
    const again = await client('oscar').request<A>(Q.approve, { projectId: P, requestId: r1.requestId });
    const restAgain = await http.post(`/v1/projects/${P}/access-requests/${r1.requestId}/approve`).set(auth('oscar')).send({});
    payloadLike('oscar', restAgain, again.accessRequestApprove.errors);
    expect(restAgain.status).toBe(409);
    const badId = await client('olga').request<A>(Q.approve, { projectId: P, requestId: 'not-a-uuid' });
    expect(badId.accessRequestApprove.errors.map((e) => e.field)).toEqual(['requestId']);

    type D = { accessRequestDeny: { status: string | null; errors: Errs } };
    expect((await client('olga').request<D>(Q.deny, { projectId: P, requestId: r2.requestId, comment: '' })).accessRequestDeny.errors.map((e) => e.field)).toEqual(['comment']);
    expect((await client('dave').request<D>(Q.deny, { projectId: P, requestId: r2.requestId, comment: 'no' })).accessRequestDeny.errors[0].type).toBe('urn:pipeline-secrets:problem:forbidden');
    expect((await client('olga').request<D>(Q.deny, { projectId: P, requestId: r2.requestId, comment: 'not needed' })).accessRequestDeny).toEqual({ requestId: r2.requestId, status: 'denied', errors: [] });

    type X = { accessRequestCancel: { cancelled: boolean; errors: Errs } };
    const restOther = await http.delete(`/v1/projects/${P}/access-requests/${r3.requestId}`).set(auth('olga'));
    const other = await client('olga').request<X>(Q.cancel, { projectId: P, requestId: r3.requestId });
    payloadLike('olga', restOther, other.accessRequestCancel.errors);
    expect(other.accessRequestCancel.cancelled).toBe(false);
    expect((await client('rita').request<X>(Q.cancel, { projectId: P, requestId: r3.requestId })).accessRequestCancel).toEqual({ cancelled: true, errors: [] });

    const all = nodes(await client('olga').request<L>(Q.requests, { projectId: P }));
    const status = Object.fromEntries(all.map((r) => [r.requestId, r.status]));
    expect([status[r1.requestId], status[r2.requestId], status[r3.requestId]]).toEqual(['approved', 'denied', 'cancelled']);
    expect(nodes(await client('olga').request<L>(Q.requests, { projectId: P, status: 'approved' }))).toHaveLength(1);
  });

  it('breakGlass and breakGlassReview: eligibility, four-eyes review, once; the same refusals as REST', async () => {
    type B = { breakGlass: { grantId: string | null; errors: Errs } };
    const input = { projectId: P, reason: 'prod down, pager 9', durationSeconds: 900 };
    const restNot = await http.post(`/v1/projects/${P}/break-glass`).set(auth('olga')).send({ reason: 'x', durationSeconds: 900 });
    const notEligible = await client('olga').request<B>(Q.breakGlass, { input });
    payloadLike('olga', restNot, notEligible.breakGlass.errors);
    expect((await client('carol').request<B>(Q.breakGlass, { input: { ...input, durationSeconds: 3601 } })).breakGlass.errors.map((e) => e.field)).toEqual(['durationSeconds']);
    const broke = await client('carol').request<B>(Q.breakGlass, { input });
    expect(broke.breakGlass.errors).toEqual([]);
    const grantId = broke.breakGlass.grantId!;
    const pending = await client('audrey').request<{ breakGlasses: { grantId: string; principal: { id: string } }[] }>(Q.breakGlasses, { projectId: P, reviewed: false });
    expect(pending.breakGlasses.map((b) => [b.grantId, b.principal.id])).toEqual([[grantId, 'carol']]);

    type R = { breakGlassReview: { outcome: string | null; errors: Errs } };
    const review = (who: string, outcome = 'justified') => client(who).request<R>(Q.review, { projectId: P, grantId, outcome, comment: 'pager 9 confirmed' });
    expect((await review('carol')).breakGlassReview.errors[0].type).toBe('urn:pipeline-secrets:problem:forbidden');
    expect((await review('dave')).breakGlassReview.errors[0].type).toBe('urn:pipeline-secrets:problem:forbidden');
    expect((await review('oscar', 'maybe')).breakGlassReview.errors.map((e) => e.field)).toEqual(['outcome']);
    expect((await review('oscar')).breakGlassReview).toEqual({ grantId, outcome: 'justified', errors: [] });
    const restTwice = await http.post(`/v1/projects/${P}/break-glass/${grantId}/review`).set(auth('olga')).send({ outcome: 'unjustified', comment: 'x' });
    payloadLike('olga', restTwice, (await review('olga', 'unjustified')).breakGlassReview.errors);
    expect((await client('audrey').request<{ breakGlasses: unknown[] }>(Q.breakGlasses, { projectId: P, reviewed: false })).breakGlasses).toEqual([]);
    // The break-glass grant shows on the readers, with its provenance.
    const readers = await eventually(
      () => client('audrey').request<{ secretReaders: { readers: { principal: { id: string | null }; via: { breakGlass: boolean | null } }[] } }>(Q.readers, { projectId: P, name: 'S_1' }),
      (r) => r.secretReaders?.readers?.some((x) => x.principal.id === 'carol' && x.via.breakGlass === true),
    );
    expect(readers.secretReaders.readers.some((x) => x.principal.id === 'carol' && x.via.breakGlass === true)).toBe(true);
  });

  it('depth: a query nested past the bound is refused before it runs', async () => {
    const deep = `query($p: String!) { projectSecrets(projectId: $p, first: 1) { edges { node { history(first: 1) { edges { node { via { grant { principal { id } } } } } } } } } }`;
    const errs = await gqlErrors(client('olga').request(deep, { p: P }));
    expect(errs[0].message).toMatch(/exceeds maximum operation depth/);
    expect(errs[0].extensions?.type).toBe('urn:pipeline-secrets:problem:invalid-request');
  });

  it('secretAccess is REST batch access: a CI job reads through it, names validated as REST does', async () => {
    const job = await t.ciToken({ project: P, ref: 'main', environment: 'staging' });
    const body = { names: ['S_1', 'S_2', 'NOPE'], purpose: 'ci' };
    const rest = await http.post(`/v1/projects/${P}/secrets/access`).set({ Authorization: `Bearer ${job}` }).send(body);
    const g = await new GraphQLClient(url, { headers: { Authorization: `Bearer ${job}` } }).request<{ secretAccess: { items: { name: string; value: string }[]; denied: unknown[]; errors: Errs } }>(Q.access, { projectId: P, ...body });
    expect(rest.status).toBe(200);
    expect(g.secretAccess.items.map((i) => i.name)).toEqual(rest.body.items.map((i: { name: string }) => i.name));
    expect(g.secretAccess.items.map((i) => i.name)).toEqual(['S_1', 'S_2']);
    expect(g.secretAccess.denied).toEqual(rest.body.denied);
    for (const names of [[], ['S_1', 'S_1'], ['bad name'], Array.from({ length: 101 }, (_, i) => `N_${i}`)]) {
      const restBad = await http.post(`/v1/projects/${P}/secrets/access`).set(auth('dave')).send({ names });
      const bad = await client('dave').request<{ secretAccess: { items: unknown[]; errors: Errs } }>(Q.access, { projectId: P, names });
      expect([names.length, bad.secretAccess.items, bad.secretAccess.errors.map((e) => [e.type, e.field])]).toEqual([names.length, [], restBad.body.errors.map((e: { field: string }) => [restBad.body.type, e.field])]);
    }
  });

  it('no answer is cacheable: Cache-Control no-store on queries and on secretAccess', async () => {
    const q = await http.post('/graphql').set(auth('olga')).send({ query: `{ projectSecret(projectId: "${P}", name: "S_1") { name } }` });
    const m = await http.post('/graphql').set(auth('dave')).send({ query: `mutation { secretAccess(projectId: "${P}", names: ["S_1"]) { items { name } } }` });
    expect([q.status, q.headers['cache-control'], m.status, m.headers['cache-control']]).toEqual([200, 'no-store', 200, 'no-store']);
  });

  it('a query seen before runs compiled (graphql-jit) and answers byte for byte as the interpreted first run: data, errors, status, denials', async () => {
    const compiled = async () => (await t.infra.metrics.graphqlOperations.get()).values.find((v) => v.labels.operation === 'query' && v.labels.executor === 'compiled')?.value ?? 0;
    const access = t.app.get(AccessControl);
    const record = access.recordDenial.bind(access);
    let denials = 0;
    access.recordDenial = (event, ctx) => {
      denials++;
      return record(event, ctx);
    };
    const cases: [string, string, Record<string, unknown>][] = [
      ['audrey', `${Q.history.toString()}`.replace('query H(', 'query JitH('), { projectId: P, filter: { decision: 'allowed' }, first: 100 }],
      ['olga', NESTED(6).replace('query N(', 'query JitN('), { projectId: P }],
      // A reporter: the list answers, each readers/history field is null with the REST problem (one audited denial per request).
      ['rita', NESTED(6).replace('query N(', 'query JitDenied('), { projectId: P }],
      ['olga', Q.readers.toString().replace('query R(', 'query JitR('), { projectId: P, name: 'DEPLOY_TOKEN', at: new Date().toISOString() }],
      // A stranger: the top-level field refused, data null.
      ['stan', Q.history.toString().replace('query H(', 'query JitStranger('), { projectId: P }],
      [
        'olga',
        `query JitShapes($p: String!, $withRev: Boolean!, $one: String!, $missing: String!) {
          __typename
          a: projectSecrets(projectId: $p, first: 2) { ...S }
          b: projectSecrets(projectId: $p, first: 1, after: null) { ...S pageInfo { hasNextPage } }
          one: projectSecret(projectId: $p, name: $one) { name revision @include(if: $withRev) description @skip(if: true) __typename }
          missing: projectSecret(projectId: $p, name: $missing) { name }
        }
        fragment S on ProjectSecretConnection { edges { cursor node { name version environment __typename } } }`,
        { p: P, withRev: true, one: 'S_2', missing: 'NO_SUCH' },
      ],
    ];
    const before = await compiled();
    // Access history is a projection: the accesses of the tests before may still be arriving, and a
    // page that grows between the three runs would differ for that reason alone. Wait until every
    // decision of this project in the store is in the read model.
    const projected = async () => {
      const mine = (await allEvents(t.infra.eventStore)).filter(
        (e) => (e.type === 'SecretAccessed' || e.type === 'SecretAccessDenied') && (e.streamName === `access-${P}` || e.streamName.startsWith(`access-${P}/`)),
      ).length;
      const { rows } = await t.infra.sql.query<{ n: string }>('SELECT count(*)::text AS n FROM rm_access_history WHERE project_id = $1', [P]);
      return Number(rows[0].n) === mine;
    };
    try {
      for (const [who, query, variables] of cases) {
        expect(await eventually(projected, (ok) => ok, 20_000)).toBe(true);
        const runs: { status: number; body: string; denials: number }[] = [];
        for (let i = 0; i < 3; i++) {
          const before = denials;
          const res = await http.post('/graphql').set(auth(who)).send({ query, variables });
          runs.push({ status: res.status, body: res.text, denials: denials - before });
        }
        expect(JSON.parse(runs[0].body).data).not.toBeUndefined();
        expect([who, runs[1]]).toEqual([who, runs[0]]);
        expect([who, runs[2]]).toEqual([who, runs[0]]);
      }
    } finally {
      access.recordDenial = record;
    }
    // The second and third run of each were compiled (the first is interpreted: a document is compiled once seen).
    expect((await compiled()) - before).toBe(cases.length * 2);
    // Never compiled (jit.ts, compilable): a string literal (graphql-jit writes literals into generated code),
    // a name with `_` (introspection; `$__proto__`), @include/@skip on a fragment.
    const beforeInterpreted = await compiled();
    for (const [query, variables, data] of [
      [`query JitLiteral { projectSecret(projectId: "${P}", name: "S_2") { name } }`, {}, { projectSecret: { name: 'S_2' } }],
      ['query JitIntro { __schema { queryType { name } } }', {}, { __schema: { queryType: { name: 'Query' } } }],
      ['query JitUnderscore($p: String!, $s_name: String!) { projectSecret(projectId: $p, name: $s_name) { name } }', { p: P, s_name: 'S_2' }, { projectSecret: { name: 'S_2' } }],
      ['query JitFragDirective($p: String!, $n: String!) { projectSecret(projectId: $p, name: $n) { ...N @include(if: true) } } fragment N on ProjectSecret { name }', { p: P, n: 'S_2' }, { projectSecret: { name: 'S_2' } }],
    ] as const) {
      for (let i = 0; i < 3; i++) expect((await http.post('/graphql').set(auth('olga')).send({ query, variables })).body).toEqual({ data });
    }
    expect(await compiled()).toBe(beforeInterpreted);
  });

  it('CANARY: a secret value appears in no response but secretAccess results, in no event and no log line', async () => {
    const withValue = responses.filter((r) => r.includes(CANARY));
    expect(withValue.length).toBeGreaterThan(0);
    for (const r of withValue) expect(r.startsWith('{"secretAccess":')).toBe(true);
    expect((await allEvents(t.infra.eventStore)).some((e) => json(e).includes(CANARY))).toBe(false);
    expect(t.logs.some((l) => l.includes(CANARY))).toBe(false);
  });
});
