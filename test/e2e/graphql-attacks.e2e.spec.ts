import { randomUUID } from 'node:crypto';
import { Server } from 'node:http';
import request from 'supertest';
import { AccessControl } from '../../apps/command-api/src/application/access-control';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { eventually } from '../support/eventually';
import { allEvents, countRoundTrips } from '../support/events';

// Attacks on POST/GET /graphql as principals with little power (a narrowed developer, a reporter,
// an auditor, a CI job, a user of another project, an anonymous caller), embedded profile. Each test
// asserts the secure behaviour: a failing test is a problem of the service, a passing one pins an
// attack that does not work today.
//
// Found by this file and fixed in 5728ff6 (each test failed before): the rate-limited answer carried no
// Retry-After; 10 aliases of secretAccess decided 1000 names in one request (200 aliases read 200
// values); 1000 aliased root fields were 1000 database round trips under the cost bound; a variable that
// failed coercion was echoed with the secret value in the error message; several operations without
// operationName (or an unknown one) were a 500; an unknown APQ hash was INTERNAL_SERVER_ERROR; a chain of
// ~1400 fragments was a 500 (stack overflow in the depth and cost rules).

const PROBLEM = 'urn:pipeline-secrets:problem:';
type GqlError = { message: string; path?: (string | number)[]; extensions?: { type?: string; status?: number; code?: string; errors?: { field: string }[]; retryAfter?: unknown } };


/** The body without secretAccess's `items[].value` (the one place a value may appear), errors and extensions untouched. */
function withoutAccessValues(body: unknown): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, k === 'items' && Array.isArray(x) ? x.map((i) => (i && typeof i === 'object' ? { ...(i as object), value: undefined } : i)) : strip(x)]),
    );
  };
  const b = body as { data?: unknown };
  return b && typeof b === 'object' && 'data' in b ? { ...b, data: strip(b.data) } : body;
}

describe('GraphQL attacks, embedded profile', () => {
  let t: EmbeddedApp;
  let http: ReturnType<typeof request>;
  const P = `atk-${randomUUID().slice(0, 8)}`;
  const Q = `atk-other-${randomUUID().slice(0, 8)}`;
  const CANARY = `atk-canary-${randomUUID()}`;
  const tok: Record<string, string> = {};
  const sent: { query: string; status: number; text: string }[] = [];
  let counters: Map<string, { queries: number }>;
  const auth = (who: string) => ({ Authorization: `Bearer ${tok[who]}` });

  /** POST /graphql as `who` (undefined: no token); every answer is kept for the final value scan. */
  async function gq(who: string | undefined, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<request.Response> {
    let r = http.post('/graphql').set(headers).send(variables ? { query, variables } : { query });
    if (who) r = r.set(auth(who));
    const res = await r;
    sent.push({ query, status: res.status, text: res.text });
    return res;
  }
  const errorsOf = (r: request.Response): GqlError[] => (r.body?.errors ?? []) as GqlError[];
  const typesOf = (r: request.Response) => errorsOf(r).map((e) => e.extensions?.type);
  /** SQL round trips made while handling one request. */
  async function roundTrips(send: (id: string) => Promise<request.Response>): Promise<{ res: request.Response; queries: number }> {
    const id = randomUUID();
    const res = await send(id);
    return { res, queries: counters.get(id)?.queries ?? -1 };
  }
  async function newUser(role: string | null, opts: { environment?: string; project?: string } = {}): Promise<string> {
    const who = `u-${randomUUID().slice(0, 8)}`;
    tok[who] = await t.userToken(who);
    if (role) {
      const owner = (opts.project ?? P) === P ? 'olga' : 'quinn';
      const r = await http.post(`/v1/projects/${opts.project ?? P}/grants`).set(auth(owner)).send({ principal: { type: 'user', id: who }, role, ...(opts.environment ? { environment: opts.environment } : {}) });
      expect(r.status).toBe(201);
    }
    return who;
  }
  function spyDenials(): { recorded: string[]; restore: () => void } {
    const access = t.app.get(AccessControl);
    const recorded: string[] = [];
    const record = access.recordDenial.bind(access);
    access.recordDenial = (event, ctx, opts) => {
      recorded.push(`${event.data.principal.id}:${event.data.action}:${event.data.reason}:${event.data.name ?? ''}`);
      return record(event, ctx, opts);
    };
    return { recorded, restore: () => (access.recordDenial = record) };
  }

  beforeAll(async () => {
    t = await startEmbedded();
    await t.app.listen(0, '127.0.0.1');
    const server = t.app.getHttpServer() as Server;
    // SQL round trips counted per request (as graphql-ops.e2e.spec.ts does): the request's async context carries a counter.
    counters = countRoundTrips(server, t.infra.sql);
    http = request(server);

    tok.admin = await t.userToken('root', { admin: true });
    for (const u of ['olga', 'dave', 'rita', 'audrey', 'quinn', 'carol']) tok[u] = await t.userToken(u);
    tok.ci = await t.ciToken({ project: P, ref: 'main', environment: 'staging', pipeline: '1', job: '1' });
    tok.ciOther = await t.ciToken({ project: Q, ref: 'main', environment: 'staging', pipeline: '2', job: '2' });
    const grant = async (project: string, by: string, id: string, role: string, environment?: string) =>
      expect((await http.post(`/v1/projects/${project}/grants`).set(auth(by)).send({ principal: { type: 'user', id }, role, ...(environment ? { environment } : {}) })).status).toBe(201);
    await grant(P, 'admin', 'olga', 'owner');
    await grant(P, 'olga', 'dave', 'developer', 'staging');
    await grant(P, 'olga', 'rita', 'reporter');
    await grant(P, 'olga', 'audrey', 'auditor');
    await grant(P, 'olga', 'carol', 'break-glass');
    await grant(Q, 'admin', 'quinn', 'owner');
    await grant(Q, 'quinn', 'olga', 'auditor'); // olga: owner of P, auditor (no manage-grants) of Q
    for (const [name, environment] of [['PROD_DB', 'production'], ['STAGING_DB', 'staging'], ['GLOBAL', null]] as const) {
      expect((await http.post(`/v1/projects/${P}/secrets`).set(auth('olga')).send({ name, value: `${CANARY}-${name}`, ...(environment ? { environment } : {}) })).status).toBe(201);
    }
    expect((await http.post(`/v1/projects/${Q}/secrets`).set(auth('quinn')).send({ name: 'Q_TOKEN', value: `${CANARY}-Q` })).status).toBe(201);
    // History: dave reads STAGING_DB and is refused PROD_DB; olga reads GLOBAL; quinn reads Q_TOKEN.
    expect((await http.post(`/v1/projects/${P}/secrets/access`).set(auth('dave')).send({ names: ['STAGING_DB', 'PROD_DB'] })).status).toBe(200);
    expect((await http.post(`/v1/projects/${P}/secrets/access`).set(auth('olga')).send({ names: ['GLOBAL'] })).status).toBe(200);
    expect((await http.post(`/v1/projects/${Q}/secrets/access`).set(auth('quinn')).send({ names: ['Q_TOKEN'] })).status).toBe(200);
    await eventually(() => http.get(`/v1/projects/${P}/access-history`).set(auth('olga')), (r) => r.body?.items?.length === 3, 20_000);
    await eventually(() => http.get(`/v1/projects/${Q}/access-history`).set(auth('quinn')), (r) => r.body?.items?.length === 1, 20_000);
    await eventually(() => http.get(`/v1/projects/${P}/secrets`).set(auth('olga')), (r) => r.body?.items?.length === 3, 20_000);
    for (const name of ['PROD_DB', 'STAGING_DB', 'GLOBAL']) {
      await eventually(() => http.get(`/v1/projects/${P}/secrets/${name}/readers`).set(auth('olga')), (r) => r.body?.secretExisted === true, 20_000);
    }
    await eventually(() => http.get(`/v1/projects/${Q}/secrets/Q_TOKEN/readers`).set(auth('quinn')), (r) => r.body?.secretExisted === true, 20_000);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const NESTED = `query N($p: String!) {
    projectSecrets(projectId: $p, first: 10) {
      edges { node { name
        readers { readers { principal { type id } via { grantId grant { grantId principal { id } } } } }
        history(first: 5) { edges { node { eventId secret principal { id } via { grantId grant { grantId } } } } }
      } }
    }
  }`;

  // ---------------------------------------------------------------- authorization

  describe('authorization', () => {
    it('a developer narrowed to staging sees through GraphQL what REST shows: the list, one secret, batch access; no readers or history', async () => {
      const restList = await http.get(`/v1/projects/${P}/secrets`).set(auth('dave'));
      const list = await gq('dave', `query($p: String!) { projectSecrets(projectId: $p, first: 100) { edges { node { name environment } } } }`, { p: P });
      expect(list.body.data.projectSecrets.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(restList.body.items.map((i: { name: string }) => i.name).sort());
      expect(list.body.data.projectSecrets.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['STAGING_DB']);
      for (const name of ['PROD_DB', 'GLOBAL', 'STAGING_DB']) {
        const rest = await http.get(`/v1/projects/${P}/secrets/${name}`).set(auth('dave'));
        const g = await gq('dave', `query($p: String!, $n: String!) { projectSecret(projectId: $p, name: $n) { name environment } }`, { p: P, n: name });
        if (rest.status === 200) expect([name, g.body.data?.projectSecret?.name]).toEqual([name, name]);
        else expect([name, typesOf(g), g.body.data]).toEqual([name, [rest.body.type], null]);
      }
      const body = { names: ['PROD_DB', 'STAGING_DB', 'GLOBAL'] };
      const rest = await http.post(`/v1/projects/${P}/secrets/access`).set(auth('dave')).send(body);
      const g = await gq('dave', `mutation($p: String!, $n: [String!]!) { secretAccess(projectId: $p, names: $n) { items { name } denied { name reason } errors { type } } }`, { p: P, n: body.names });
      expect(g.body.data.secretAccess.items).toEqual(rest.body.items.map((i: { name: string }) => ({ name: i.name })));
      expect(g.body.data.secretAccess.denied).toEqual(rest.body.denied);
      // Nested: the only listed secret's readers and history need read-audit, which a narrowed grant never gives.
      const nested = await gq('dave', NESTED, { p: P });
      const nodes = nested.body.data.projectSecrets.edges.map((e: { node: unknown }) => e.node);
      expect(nodes).toEqual([{ name: 'STAGING_DB', readers: null, history: null }]);
      expect(new Set(typesOf(nested))).toEqual(new Set([`${PROBLEM}forbidden`]));
      // The rotation filter does not widen the list either.
      for (const rotation of ['approaching', 'overdue']) {
        const r = await gq('dave', `query($p: String!, $r: String) { projectSecrets(projectId: $p, rotation: $r) { edges { node { name } } } }`, { p: P, r: rotation });
        expect(r.body.data.projectSecrets.edges).toEqual([]);
      }
    });

    it('a user of another project reaches nothing of P through any root field, and the same answer as REST for each', async () => {
      const cases: [string, string, Record<string, unknown>][] = [
        [`/v1/projects/${P}/secrets`, 'query($p: String!) { projectSecrets(projectId: $p) { edges { node { name } } } }', { p: P }],
        [`/v1/projects/${P}/secrets/GLOBAL`, 'query($p: String!) { projectSecret(projectId: $p, name: "GLOBAL") { name } }', { p: P }],
        [`/v1/projects/${P}/grants`, 'query($p: String!) { projectGrants(projectId: $p) { grantId } }', { p: P }],
        [`/v1/projects/${P}/access-history`, 'query($p: String!) { accessHistory(projectId: $p) { edges { node { eventId } } } }', { p: P }],
        [`/v1/projects/${P}/secrets/GLOBAL/readers`, 'query($p: String!) { secretReaders(projectId: $p, name: "GLOBAL") { readers { principal { id } } } }', { p: P }],
        [`/v1/projects/${P}/access-requests`, 'query($p: String!) { accessRequests(projectId: $p) { edges { node { requestId } } } }', { p: P }],
        [`/v1/projects/${P}/break-glass`, 'query($p: String!) { breakGlasses(projectId: $p) { grantId } }', { p: P }],
      ];
      for (const [path, query, variables] of cases) {
        const rest = await http.get(path).set(auth('quinn'));
        const g = await gq('quinn', query, variables);
        // A connection (accessRequests) answers its nodes where REST answers items.
        const got = (g.body.data ? Object.values(g.body.data)[0] : g.body) as { edges?: { node: unknown }[] } | unknown[];
        if (rest.status === 200) expect([path, !Array.isArray(got) && got?.edges ? got.edges.map((e) => e.node) : got]).toEqual([path, rest.body.items]);
        else expect([path, typesOf(g), g.body.data]).toEqual([path, [rest.body.type], null]);
      }
      const access = await gq('quinn', 'mutation($p: String!) { secretAccess(projectId: $p, names: ["GLOBAL", "PROD_DB"]) { items { name } denied { name reason } } }', { p: P });
      expect(access.body.data.secretAccess).toEqual({ items: [], denied: [{ name: 'GLOBAL', reason: 'no-grant' }, { name: 'PROD_DB', reason: 'no-grant' }] });
      // A CI job of project Q is refused P's secrets whatever the scope.
      const ci = await gq('ciOther', 'mutation($p: String!) { secretAccess(projectId: $p, names: ["GLOBAL"]) { items { name } denied { name reason } } }', { p: P });
      expect(ci.body.data.secretAccess).toEqual({ items: [], denied: [{ name: 'GLOBAL', reason: 'other-project' }] });
    });

    it("nesting stays in the parent's project: in one request, P's via.grant resolves (owner) while Q's is refused (auditor only), and Q's readers name only Q's grants", async () => {
      const pGrants = new Set(((await http.get(`/v1/projects/${P}/grants`).set(auth('olga'))).body.items as { grantId: string }[]).map((g) => g.grantId));
      const qGrants = new Set(((await http.get(`/v1/projects/${Q}/grants`).set(auth('quinn'))).body.items as { grantId: string }[]).map((g) => g.grantId));
      const fields = {
        p: 'p: projectSecret(projectId: $p, name: "GLOBAL") { history { edges { node { via { grantId grant { grantId } } } } } readers { readers { via { grantId grant { grantId } } } } }',
        q: 'q: projectSecret(projectId: $q, name: "Q_TOKEN") { history { edges { node { via { grantId grant { grantId } } } } } readers { readers { via { grantId grant { grantId } } } } }',
      };
      // Either order of first use: P's loaders warmed before Q's and the other way round.
      for (const doc of [`query($p: String!, $q: String!) { ${fields.p} ${fields.q} }`, `query($p: String!, $q: String!) { ${fields.q} ${fields.p} }`]) {
        const r = await gq('olga', doc, { p: P, q: Q });
        const { p, q } = r.body.data;
        type Via = { grantId: string | null; grant: { grantId: string } | null } | null;
        const pVias = [...p.history.edges.map((e: { node: { via: Via } }) => e.node.via), ...p.readers.readers.map((x: { via: Via }) => x.via)].filter((v: Via) => v?.grantId) as NonNullable<Via>[];
        expect(pVias.length).toBeGreaterThan(1);
        expect(pVias.every((v) => v.grant?.grantId === v.grantId && pGrants.has(v.grantId!))).toBe(true);
        const qVias = [...q.history.edges.map((e: { node: { via: unknown } }) => e.node.via), ...q.readers.readers.map((x: { via: unknown }) => x.via)] as { grantId: string | null; grant: unknown }[];
        expect(qVias.length).toBeGreaterThan(1);
        expect(qVias.every((v) => v.grant === null && (v.grantId === null || (qGrants.has(v.grantId) && !pGrants.has(v.grantId))))).toBe(true);
        const refused = errorsOf(r).filter((e) => e.path?.[0] === 'q');
        expect(refused.length).toBeGreaterThan(0);
        expect(new Set(refused.map((e) => e.extensions?.type))).toEqual(new Set([`${PROBLEM}forbidden`]));
        expect(errorsOf(r).filter((e) => e.path?.[0] !== 'q')).toEqual([]);
      }
    });

    it("loaders are per request: an owner's nested queries, sent at the same time, warm nothing for a reporter", async () => {
      const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => gq(i % 2 === 0 ? 'olga' : 'rita', NESTED, { p: P })));
      const ownerIds = new Set<string>();
      for (const [i, r] of runs.entries()) {
        const nodes = r.body.data.projectSecrets.edges.map((e: { node: { history: { edges: { node: { eventId: string } }[] } | null; readers: unknown } }) => e.node);
        expect(nodes).toHaveLength(3);
        if (i % 2 === 0) {
          expect(errorsOf(r)).toEqual([]);
          for (const n of nodes) for (const e of n.history!.edges) ownerIds.add(e.node.eventId);
        } else {
          expect(nodes.every((n: { history: unknown; readers: unknown }) => n.history === null && n.readers === null)).toBe(true);
          expect(new Set(typesOf(r))).toEqual(new Set([`${PROBLEM}forbidden`]));
        }
      }
      expect(ownerIds.size).toBeGreaterThanOrEqual(3);
      for (const [i, r] of runs.entries()) if (i % 2 === 1) for (const id of ownerIds) expect(r.text).not.toContain(id);
    });

    it('an auditor reads history and readers, but via.grant (manage-grants) is refused on every entry, with one audited denial', async () => {
      const spy = spyDenials();
      try {
        const r = await gq('audrey', `query($p: String!) {
          accessHistory(projectId: $p, first: 100) { edges { node { eventId via { grantId grant { grantId grantedBy } } } } }
          secretReaders(projectId: $p, name: "GLOBAL") { readers { via { grantId grant { grantId } } } }
        }`, { p: P });
        const vias = [
          ...r.body.data.accessHistory.edges.map((e: { node: { via: unknown } }) => e.node.via),
          ...r.body.data.secretReaders.readers.map((x: { via: unknown }) => x.via),
        ].filter((v) => v !== null) as { grantId: string | null; grant: unknown }[];
        expect(vias.filter((v) => v.grantId).length).toBeGreaterThan(2);
        expect(vias.every((v) => v.grant === null)).toBe(true);
        expect(new Set(typesOf(r))).toEqual(new Set([`${PROBLEM}forbidden`]));
        expect(spy.recorded).toEqual(['audrey:manage-grants:role-lacks-action:']);
        // REST: the same refusal for the grants list.
        expect((await http.get(`/v1/projects/${P}/grants`).set(auth('audrey'))).status).toBe(403);
      } finally {
        spy.restore();
      }
    });

    it('a CI job: the same answers as REST for listing, metadata and history; its scope decides secretAccess', async () => {
      const rest = await http.get(`/v1/projects/${P}/secrets`).set(auth('ci'));
      const list = await gq('ci', 'query($p: String!) { projectSecrets(projectId: $p) { edges { node { name } } } }', { p: P });
      if (rest.status === 200) expect(list.body.data.projectSecrets.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(rest.body.items.map((i: { name: string }) => i.name).sort());
      else expect(typesOf(list)).toEqual([rest.body.type]);
      for (const name of ['GLOBAL', 'PROD_DB', 'STAGING_DB']) {
        const restOne = await http.get(`/v1/projects/${P}/secrets/${name}`).set(auth('ci'));
        const g = await gq('ci', 'query($p: String!, $n: String!) { projectSecret(projectId: $p, name: $n) { name history { edges { node { eventId } } } readers { at } } }', { p: P, n: name });
        if (restOne.status === 200) {
          expect([name, g.body.data.projectSecret.name, g.body.data.projectSecret.history, g.body.data.projectSecret.readers]).toEqual([name, name, null, null]);
          expect(new Set(typesOf(g))).toEqual(new Set([(await http.get(`/v1/projects/${P}/access-history`).set(auth('ci'))).body.type]));
        } else expect([name, typesOf(g)]).toEqual([name, [restOne.body.type]]);
      }
      const body = { names: ['GLOBAL', 'PROD_DB', 'STAGING_DB'] };
      const restAccess = await http.post(`/v1/projects/${P}/secrets/access`).set(auth('ci')).send(body);
      const g = await gq('ci', 'mutation($p: String!, $n: [String!]!) { secretAccess(projectId: $p, names: $n) { items { name } denied { name reason } } }', { p: P, n: body.names });
      expect(g.body.data.secretAccess).toEqual({ items: restAccess.body.items.map((i: { name: string }) => ({ name: i.name })), denied: restAccess.body.denied });
      expect(g.body.data.secretAccess.items.map((i: { name: string }) => i.name).sort()).toEqual(['GLOBAL', 'STAGING_DB']);
    });

    it('anonymous, malformed or foreign tokens: every root field is unauthenticated and no data comes back', async () => {
      const docs = [
        ['query($p: String!) { projectSecrets(projectId: $p) { edges { node { name } } } }', { p: P }],
        ['query($p: String!) { projectSecret(projectId: $p, name: "GLOBAL") { name } }', { p: P }],
        ['query($p: String!) { accessHistory(projectId: $p) { edges { node { eventId } } } }', { p: P }],
        ['query { auditCheckpoint { treeSize } }', {}],
        ['mutation($p: String!) { secretAccess(projectId: $p, names: ["GLOBAL"]) { items { value } errors { type } } }', { p: P }],
        ['mutation($p: String!) { accessRequestCreate(input: { projectId: $p, role: "owner", durationSeconds: 600, reason: "x" }) { requestId errors { type } } }', { p: P }],
      ] as const;
      for (const header of [undefined, 'Bearer not.a.jwt', 'Basic b2xnYTpvbGdh', `Bearer ${tok.olga}x`]) {
        for (const [query, variables] of docs) {
          const res = await gq(undefined, query, variables, header ? { Authorization: header } : {});
          expect([header, query, res.body.data ?? null, typesOf(res)]).toEqual([header, query, null, [`${PROBLEM}unauthenticated`]]);
        }
      }
    });

    it('a developer narrowed to branch release/*: list, metadata and batch access agree with REST (release/1 yes; release/** and main no)', async () => {
      const R = `atk-rel-${randomUUID().slice(0, 8)}`;
      expect((await http.post(`/v1/projects/${R}/grants`).set(auth('admin')).send({ principal: { type: 'user', id: 'olga' }, role: 'owner' })).status).toBe(201);
      const who = `u-${randomUUID().slice(0, 8)}`;
      tok[who] = await t.userToken(who);
      expect((await http.post(`/v1/projects/${R}/grants`).set(auth('olga')).send({ principal: { type: 'user', id: who }, role: 'developer', branch: 'release/*' })).status).toBe(201);
      const names = { REL_ONE: 'release/1', REL_ALL: 'release/**', MAIN_ONLY: 'main', REL_GLOB: 'release/?' };
      for (const [name, branch] of Object.entries(names)) expect((await http.post(`/v1/projects/${R}/secrets`).set(auth('olga')).send({ name, value: `${CANARY}-${name}`, branch })).status).toBe(201);
      expect((await http.post(`/v1/projects/${R}/secrets`).set(auth('olga')).send({ name: 'UNSCOPED', value: `${CANARY}-U` })).status).toBe(201);
      await eventually(() => http.get(`/v1/projects/${R}/secrets`).set(auth('olga')), (r) => r.body?.items?.length === 5, 20_000);
      const restList = await http.get(`/v1/projects/${R}/secrets`).set(auth(who));
      const list = await gq(who, 'query($p: String!) { projectSecrets(projectId: $p) { edges { node { name branch } } } }', { p: R });
      const listed = list.body.data.projectSecrets.edges.map((e: { node: { name: string } }) => e.node.name);
      expect(listed).toEqual(restList.body.items.map((i: { name: string }) => i.name).sort());
      expect(listed).toEqual(['REL_GLOB', 'REL_ONE']);
      for (const name of [...Object.keys(names), 'UNSCOPED']) {
        const rest = await http.get(`/v1/projects/${R}/secrets/${name}`).set(auth(who));
        const g = await gq(who, 'query($p: String!, $n: String!) { projectSecret(projectId: $p, name: $n) { name } }', { p: R, n: name });
        expect([name, g.body.data?.projectSecret?.name ?? typesOf(g)[0]]).toEqual([name, rest.status === 200 ? name : rest.body.type]);
      }
      const body = { names: [...Object.keys(names), 'UNSCOPED'] };
      const rest = await http.post(`/v1/projects/${R}/secrets/access`).set(auth(who)).send(body);
      const g = await gq(who, 'mutation($p: String!, $n: [String!]!) { secretAccess(projectId: $p, names: $n) { items { name } denied { name reason } } }', { p: R, n: body.names });
      expect(g.body.data.secretAccess).toEqual({ items: rest.body.items.map((i: { name: string }) => ({ name: i.name })), denied: rest.body.denied });
    });

    it('a revocation through GraphQL applies to the very next GraphQL request (no authorization kept across requests)', async () => {
      const who = await newUser('auditor');
      const q = 'query($p: String!) { accessHistory(projectId: $p, first: 1) { edges { cursor } } }';
      expect(errorsOf(await gq(who, q, { p: P }))).toEqual([]);
      const grants = await gq('olga', 'query($p: String!) { projectGrants(projectId: $p) { grantId principal { id } status } }', { p: P });
      const grantId = grants.body.data.projectGrants.find((g: { principal: { id: string }; status: string }) => g.principal.id === who && g.status === 'active').grantId;
      const revoke = await gq('olga', 'mutation($p: String!, $g: String!) { projectGrantRevoke(projectId: $p, grantId: $g) { revoked errors { type } } }', { p: P, g: grantId });
      expect(revoke.body.data.projectGrantRevoke).toEqual({ revoked: true, errors: [] });
      const after = await gq(who, q, { p: P });
      expect([after.body.data, typesOf(after)]).toEqual([null, [`${PROBLEM}forbidden`]]);
    });

    it('access requests and break-glasses: a reporter sees only her own requests, never the break-glasses', async () => {
      const mine = await gq('rita', 'mutation($p: String!) { accessRequestCreate(input: { projectId: $p, role: "developer", durationSeconds: 600, reason: "mine" }) { requestId errors { type } } }', { p: P });
      const other = await gq('dave', 'mutation($p: String!) { accessRequestCreate(input: { projectId: $p, role: "owner", durationSeconds: 600, reason: "his" }) { requestId errors { type } } }', { p: P });
      expect([mine.body.data.accessRequestCreate.errors, other.body.data.accessRequestCreate.errors]).toEqual([[], []]);
      const list = await gq('rita', 'query($p: String!) { a: accessRequests(projectId: $p) { edges { node { requestId requester { id } } } } b: accessRequests(projectId: $p, status: "pending") { edges { node { requestId requester { id } } } } }', { p: P });
      for (const k of ['a', 'b']) expect(list.body.data[k].edges.map((e: { node: { requester: { id: string } } }) => e.node.requester.id)).toEqual(['rita']);
      const bg = await gq('rita', 'query($p: String!) { breakGlasses(projectId: $p) { grantId } }', { p: P });
      expect(typesOf(bg)).toEqual([(await http.get(`/v1/projects/${P}/break-glass`).set(auth('rita'))).body.type]);
    });
  });

  // ---------------------------------------------------------------- audit

  describe('audit', () => {
    it('a refused read-audit is one SecretAccessDenied per request however many aliases and nested fields ask for it (as one REST call)', async () => {
      const who = await newUser('reporter');
      const spy = spyDenials();
      try {
        // 20 root fields: the most one operation may hold (MAX_ROOT_FIELDS).
        const aliases = Array.from({ length: 10 }, (_, i) => `h${i}: accessHistory(projectId: $p, first: 1) { pageInfo { hasNextPage } } r${i}: secretReaders(projectId: $p, name: "GLOBAL") { at }`).join(' ');
        const r = await gq(who, `query($p: String!) { ${aliases} }`, { p: P });
        expect(r.body.data).toBeNull();
        const nested = await gq(who, NESTED, { p: P });
        expect(nested.body.data.projectSecrets.edges).toHaveLength(3);
        expect(spy.recorded).toEqual([`${who}:read-audit:role-lacks-action:`, `${who}:read-audit:role-lacks-action:`]);
      } finally {
        spy.restore();
      }
    });

    it('aliases do not get past DENIAL_RATE_PER_MINUTE: 100 refused aliases (5 requests of 20, the most root fields an operation may hold) record at most 60 denials, the rest answer too-many-requests, and the REST budget is spent too', async () => {
      const who = await newUser(null);
      const rid = `atk-rate-${randomUUID()}`;
      const payloads: { denied: unknown[]; errors: { type: string }[] }[] = [];
      for (let k = 0; k < 5; k++) {
        const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: secretAccess(projectId: $p, names: ["NOPE_${k}_${i}"]) { denied { name reason } errors { type } }`).join(' ');
        const r = await gq(who, `mutation($p: String!) { ${aliases} }`, { p: P }, { 'X-Request-Id': `${rid}-${k}` });
        payloads.push(...(Object.values(r.body.data) as typeof payloads));
      }
      const limited = payloads.filter((x) => x.errors.some((e) => e.type === `${PROBLEM}too-many-requests`)).length;
      expect(limited).toBeGreaterThanOrEqual(40);
      const recorded = (await allEvents(t.infra.eventStore)).filter((e) => e.type === 'SecretAccessDenied' && String(e.metadata.correlationId).startsWith(`${rid}-`));
      expect(recorded.length).toBeLessThanOrEqual(60);
      expect(recorded.length).toBeGreaterThan(0);
      expect((await http.get(`/v1/projects/${P}/secrets/GLOBAL`).set(auth(who))).status).toBe(429);
    });

    it('a rate-limited GraphQL answer says when to retry, as the REST 429 does with Retry-After', async () => {
      const who = await newUser(null);
      for (let i = 0; i < 61; i++) await http.get(`/v1/projects/${P}/secrets/NOPE_${i}`).set(auth(who));
      const rest = await http.get(`/v1/projects/${P}/secrets/GLOBAL`).set(auth(who));
      expect([rest.status, Number(rest.headers['retry-after']) > 0]).toEqual([429, true]);
      const q = await gq(who, 'query($p: String!) { projectSecret(projectId: $p, name: "GLOBAL") { name } }', { p: P });
      expect(typesOf(q)).toEqual([`${PROBLEM}too-many-requests`]);
      // Either the HTTP header (when every error is a 429) or the error's extensions.
      const hint = q.headers['retry-after'] ?? errorsOf(q)[0].extensions?.retryAfter;
      expect(Number(hint)).toBeGreaterThan(0);
    });

    it('the same denied name under 10 aliases is recorded once (as 10 REST calls are), each denied name spending one unit', async () => {
      const who = await newUser(null);
      const rid = `atk-fold-${randomUUID()}`;
      const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: secretAccess(projectId: $p, names: ["GLOBAL", "PROD_DB"]) { denied { name reason } }`).join(' ');
      const r = await gq(who, `mutation($p: String!) { ${aliases} }`, { p: P }, { 'X-Request-Id': rid });
      expect(Object.values(r.body.data).every((x) => JSON.stringify(x) === JSON.stringify({ denied: [{ name: 'GLOBAL', reason: 'no-grant' }, { name: 'PROD_DB', reason: 'no-grant' }] }))).toBe(true);
      const recorded = (await allEvents(t.infra.eventStore)).filter((e) => e.type === 'SecretAccessDenied' && String(e.metadata.correlationId).startsWith(`${rid}.`));
      expect(recorded.map((e) => (e.data as { name: string }).name).sort()).toEqual(['GLOBAL', 'PROD_DB']);
    });

    it('four-eyes under aliases and several mutations in one document: never self-approved, every alias refused', async () => {
      const req = await gq('carol', 'mutation($p: String!) { accessRequestCreate(input: { projectId: $p, role: "owner", durationSeconds: 600, reason: "self" }) { requestId errors { type } } }', { p: P });
      const requestId = req.body.data.accessRequestCreate.requestId as string;
      // carol breaks the glass (an immediate owner grant) and, in the same document, approves her own request five times.
      const doc = `mutation($p: String!, $r: String!) {
        bg: breakGlass(input: { projectId: $p, reason: "outage", durationSeconds: 600 }) { grantId errors { type } }
        ${Array.from({ length: 5 }, (_, i) => `a${i}: accessRequestApprove(projectId: $p, requestId: $r) { grantId errors { type message } }`).join(' ')}
        d: accessRequestDeny(projectId: $p, requestId: $r, comment: "no") { status errors { type } }
      }`;
      const r = await gq('carol', doc, { p: P, r: requestId });
      expect(r.body.data.bg.errors).toEqual([]);
      for (let i = 0; i < 5; i++) expect([i, r.body.data[`a${i}`].grantId, r.body.data[`a${i}`].errors.map((e: { type: string }) => e.type)]).toEqual([i, null, [`${PROBLEM}forbidden`]]);
      expect(r.body.data.d.errors.map((e: { type: string }) => e.type)).toEqual([`${PROBLEM}forbidden`]);
      const status = await gq('olga', 'query($p: String!) { accessRequests(projectId: $p, first: 100) { edges { node { requestId status } } } }', { p: P });
      expect(status.body.data.accessRequests.edges.find((x: { node: { requestId: string } }) => x.node.requestId === requestId).node.status).toBe('pending');
    });
  });

  // ---------------------------------------------------------------- limits

  describe('limits', () => {
    const refusedForCost = (r: request.Response) => expect([r.status, errorsOf(r)[0]?.message]).toEqual([400, expect.stringMatching(/query cost \d+ exceeds the maximum 1000/)]);

    it('cost: aliases, fragments, variables (POST and GET), defaults, @include and a cached cost cannot bring a page of 100 inside a page of 100 under the bound', async () => {
      const page = (first: string) => `projectSecrets(projectId: $p, first: ${first}) { edges { node { history(first: ${first}) { edges { cursor } } } } }`;
      refusedForCost(await gq('olga', `query($p: String!) { ${page('100')} }`, { p: P }));
      refusedForCost(await gq('olga', `query($p: String!) { ${Array.from({ length: 11 }, (_, i) => `a${i}: accessHistory(projectId: $p, first: 100) { edges { cursor } }`).join(' ')} }`, { p: P }));
      refusedForCost(await gq('olga', `query($p: String!) { ...F } fragment F on Query { projectSecrets(projectId: $p, first: 100) { ...E } } fragment E on ProjectSecretConnection { edges { node { history(first: 100) { edges { cursor } } } } }`, { p: P }));
      refusedForCost(await gq('olga', `query($p: String!, $f: Int = 100) { ${page('$f')} }`, { p: P }));
      refusedForCost(await gq('olga', `query($p: String!, $yes: Boolean!) { projectSecrets(projectId: $p, first: 100) @include(if: $yes) { edges { node { history(first: 100) { edges { cursor } } } } } }`, { p: P, yes: true }));
      // The cost is cached per (document, variables): the same text, cheap first, then with first: 100.
      const text = `query($p: String!, $f: Int) { ${page('$f')} }`;
      expect(errorsOf(await gq('olga', text, { p: P, f: 1 }))).toEqual([]);
      refusedForCost(await gq('olga', text, { p: P, f: 100 }));
      // GET with variables: priced with them.
      const get = await http.get('/graphql').query({ query: text, variables: JSON.stringify({ p: P, f: 100 }) }).set(auth('olga')).set('apollo-require-preflight', '1');
      refusedForCost(get);
      // first past the maximum through a variable; 11 x 100 names of secretAccess.
      expect(typesOf(await gq('olga', 'query($p: String!, $f: Int) { projectSecrets(projectId: $p, first: $f) { edges { cursor } } }', { p: P, f: 101 }))).toEqual([`${PROBLEM}invalid-request`]);
      const names = Array.from({ length: 100 }, (_, i) => `N_${i}`);
      // (Refused before its cost is even priced: more than 100 names in one request.)
      const batches = await gq('dave', `mutation($p: String!, $n: [String!]!) { ${Array.from({ length: 11 }, (_, i) => `a${i}: secretAccess(projectId: $p, names: $n) { __typename }`).join(' ')} }`, { p: P, n: names });
      expect([batches.status, typesOf(batches), errorsOf(batches)[0]?.message]).toEqual([400, [`${PROBLEM}invalid-request`], expect.stringMatching(/secretAccess fields name 1100 secrets; at most 100/)]);
    });

    it('depth: fragments and inline fragments do not hide nesting past 8', async () => {
      const deep = `query($p: String!) { ...A } fragment A on Query { projectSecrets(projectId: $p, first: 1) { edges { node { ...B } } } }
        fragment B on ProjectSecret { history(first: 1) { edges { node { ... on AccessHistoryEntry { via { grant { principal { id } } } } } } } }`;
      const r = await gq('olga', deep, { p: P });
      expect([r.status, errorsOf(r)[0]?.message]).toEqual([400, expect.stringMatching(/exceeds maximum operation depth/)]);
    });

    it('size: a body over 512 KiB is 413, a URL over the header limit is refused, 15 000 operations in one document are refused quickly at parse time', async () => {
      const big = await http.post('/graphql').set(auth('olga')).send({ query: `query { ${'__typename '.repeat(60_000)} }` });
      expect(big.status).toBe(413);
      const long = await http.get('/graphql').query({ query: `query { ${'__typename '.repeat(3000)} }` }).set(auth('olga')).set('apollo-require-preflight', '1').catch((e: Error) => e);
      expect(long instanceof Error || (long.status >= 400 && long.status < 500)).toBe(true);
      const started = Date.now();
      const ops = await http.post('/graphql').set(auth('olga')).send({ query: Array.from({ length: 15_000 }, (_, i) => `query Q${i} { __typename }`).join(' '), operationName: 'Q7' });
      expect([ops.status, typesOf(ops), errorsOf(ops)[0]?.message]).toEqual([400, [`${PROBLEM}invalid-request`], expect.stringMatching(/5000 tokens/)]);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('secretAccess: one request decides at most 100 names (the REST batch limit), whatever the aliases', async () => {
      // 10 aliases x 100 distinct names: cost 10 x 100 = 1000, within the bound, so 1000 decisions in one request.
      const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: secretAccess(projectId: $p, names: $n${i}) { denied { name } }`);
      const vars: Record<string, unknown> = { p: P };
      for (let i = 0; i < 10; i++) vars[`n${i}`] = [...Array.from({ length: 99 }, (_, j) => `N_${i}_${j}`), 'STAGING_DB'];
      const r = await gq('dave', `mutation($p: String!, ${aliases.map((_, i) => `$n${i}: [String!]!`).join(', ')}) { ${aliases.join(' ')} }`, vars);
      // Refused before any decision (400 naming the bound), or each alias decided its 100 names.
      expect(typesOf(r)).toEqual([`${PROBLEM}invalid-request`]);
      const decided = r.body.data ? (Object.values(r.body.data) as { denied: unknown[] }[]).reduce((n, x) => n + (x.denied.length === 99 ? 100 : 0), 0) : 0;
      // Exactly 100 names across aliases is what one REST batch may do: allowed (a caller of its own: 100 denials spend more than dave's denial budget).
      const split = await gq(await newUser(null), 'mutation($p: String!, $a: [String!]!, $b: [String!]!) { a: secretAccess(projectId: $p, names: $a) { denied { name } } b: secretAccess(projectId: $p, names: $b) { denied { name } } }', {
        p: P,
        a: Array.from({ length: 50 }, (_, j) => `M_A_${j}`),
        b: Array.from({ length: 50 }, (_, j) => `M_B_${j}`),
      });
      expect([errorsOf(split), split.body.data.a.denied.length + split.body.data.b.denied.length]).toEqual([[], 100]);
      // 200 aliases x 1 name (cost 200): 200 values read and 200 SecretAccessed appended by one request.
      const ones = await gq('dave', `mutation($p: String!) { ${Array.from({ length: 200 }, (_, i) => `a${i}: secretAccess(projectId: $p, names: ["STAGING_DB"]) { items { name } }`).join(' ')} }`, { p: P });
      const values = ones.body.data ? (Object.values(ones.body.data) as { items: unknown[] }[]).reduce((n, x) => n + x.items.length, 0) : 0;
      // Today: 1000 names decided by the first request, 200 values read by the second.
      expect([`${decided} names decided`, `${values} values read`].map((m) => (Number(m.split(' ')[0]) <= 100 ? 'at most 100' : m))).toEqual(['at most 100', 'at most 100']);
    }, 60_000);

    it('secretAccess: a variable default in the document counts as the names it holds (10 aliases of one 100-name default decided 1000 names)', async () => {
      // Issue 18, 8: the bound read only the request's variables, so an unsent $n counted as one name per alias.
      const who = await newUser(null);
      const names = JSON.stringify(Array.from({ length: 100 }, (_, j) => `DEF_${j}`));
      const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: secretAccess(projectId: $p, names: $n) { denied { name } }`).join(' ');
      const r = await gq(who, `mutation($p: String!, $n: [String!]! = ${names}) { ${aliases} }`, { p: P });
      const decided = r.body.data ? (Object.values(r.body.data) as { denied?: unknown[] }[]).reduce((n, x) => n + (x?.denied?.length ?? 0), 0) : 0;
      expect([r.status, typesOf(r), decided]).toEqual([400, [`${PROBLEM}invalid-request`], 0]);
      expect(errorsOf(r)[0].message).toMatch(/secretAccess fields name 1000 secrets; at most 100/);
      // A sent variable still wins over its default.
      const sent = await gq(who, `mutation($p: String!, $n: [String!]! = ${names}) { ${aliases} }`, { p: P, n: ['DEF_0'] });
      expect([sent.status, errorsOf(sent)]).toEqual([200, []]);
    });

    it('aliased root fields: one request makes a bounded number of database round trips (cost 1000 must not mean 1000 queries)', async () => {
      const lists = `query($p: String!) { ${Array.from({ length: 1000 }, (_, i) => `a${i}: projectSecrets(projectId: $p, first: 1) { pageInfo { hasNextPage } }`).join(' ')} }`;
      const a = await roundTrips((id) => http.post('/graphql').set(auth('olga')).set('x-count-queries', id).send({ query: lists, variables: { p: P } }));
      const now = Date.now();
      const pages = `query($p: String!) { ${Array.from({ length: 1000 }, (_, i) => `a${i}: accessHistory(projectId: $p, first: 1, filter: { from: "${new Date(now - i * 1000).toISOString()}" }) { pageInfo { hasNextPage } }`).join(' ')} }`;
      const b = await roundTrips((id) => http.post('/graphql').set(auth('audrey')).set('x-count-queries', id).send({ query: pages, variables: { p: P } }));
      // One REST call is 1 to 3 round trips; the nested query of graphql-ops.e2e.spec.ts is at most 10.
      const answered = (r: request.Response) => (r.body.data ? Object.keys(r.body.data).length : 0);
      expect(Math.min(a.queries, b.queries)).toBeGreaterThanOrEqual(0);
      const seen = [`projectSecrets x1000: ${answered(a.res)} answered, ${a.queries} round trips`, `accessHistory x1000: ${answered(b.res)} answered, ${b.queries} round trips`];
      expect(seen.map((m, i) => ([a.queries, b.queries][i] <= 100 ? 'at most 100 round trips' : m))).toEqual(['at most 100 round trips', 'at most 100 round trips']);
    }, 60_000);
  });

  // ---------------------------------------------------------------- value leaks and error handling

  describe('values and errors', () => {
    it('a variable that fails coercion is refused without echoing the value it holds', async () => {
      const create = 'mutation C($input: ProjectSecretCreateInput!) { projectSecretCreate(input: $input) { name errors { type } } }';
      const update = 'mutation U($input: ProjectSecretUpdateInput!) { projectSecretUpdate(input: $input) { errors { type } } }';
      const value = `${CANARY}-coercion`;
      for (const [query, input] of [
        [create, { projectId: P, value }], // name missing
        [create, { projectId: P, name: 'LEAK', value, bogus: 1 }], // unknown field
        [create, { projectId: P, name: 'LEAK', value, protectedOnly: 'yes' }], // wrong type of another field
        [update, { projectId: P, value }],
      ] as const) {
        const r = await gq('olga', query, { input });
        expect([r.status, typesOf(r)]).toEqual([400, [`${PROBLEM}invalid-request`]]);
        expect([JSON.stringify(input), r.text.includes(value)]).toEqual([JSON.stringify(input), false]);
      }
    });

    it('no value in errors, extensions or denied entries: bad purpose, existing name, too large, refused update, denied and deleted names', async () => {
      const r1 = await gq('dave', 'mutation($p: String!, $u: String) { secretAccess(projectId: $p, names: ["STAGING_DB", "PROD_DB"], purpose: $u) { items { value } denied { name reason } errors { type field } } }', { p: P, u: 'x'.repeat(600) });
      expect(r1.body.data.secretAccess).toEqual({ items: [], denied: [], errors: [{ type: `${PROBLEM}invalid-request`, field: 'purpose' }] });
      const r2 = await gq('olga', 'mutation($i: ProjectSecretCreateInput!) { projectSecretCreate(input: $i) { name errors { type message } } }', { i: { projectId: P, name: 'GLOBAL', value: `${CANARY}-dup` } });
      expect(r2.body.data.projectSecretCreate.errors.map((e: { type: string }) => e.type)).toEqual([`${PROBLEM}conflict`]);
      const r3 = await gq('olga', 'mutation($i: ProjectSecretUpdateInput!) { projectSecretUpdate(input: $i) { errors { type field message } } }', { i: { projectId: P, name: 'GLOBAL', value: `${CANARY}-${'y'.repeat(70_000)}` } });
      expect(r3.body.data.projectSecretUpdate.errors.map((e: { field: string }) => e.field)).toEqual(['value']);
      const r4 = await gq('rita', 'mutation($i: ProjectSecretUpdateInput!) { projectSecretUpdate(input: $i) { errors { type message } } }', { i: { projectId: P, name: 'GLOBAL', value: `${CANARY}-by-rita`, description: 'x' } });
      expect(r4.body.data.projectSecretUpdate.errors.map((e: { type: string }) => e.type)).toEqual([`${PROBLEM}forbidden`]);
      const r5 = await gq('olga', 'mutation($i: ProjectSecretUpdateInput!) { projectSecretUpdate(input: $i) { errors { type field message } } }', { i: { projectId: P, name: 'GLOBAL', value: `${CANARY}-v2`, environment: 'bad glob ***' } });
      expect(r5.body.data.projectSecretUpdate.errors.map((e: { field: string }) => e.field)).toEqual(['environment']);
      for (const r of [r1, r2, r3, r4, r5]) expect(r.text).not.toContain(CANARY);
    });

    it('a syntax error never repeats the document: a value sent inline comes back only as a line and column', async () => {
      // Issue 18, 10: `found Name "battery"` echoed part of a value sent inline (unquoted, it is a Name token).
      const word = `c${CANARY.replace(/-/g, '')}`;
      for (const query of [
        `mutation { projectSecretCreate(input: { projectId: "${P}", name: "LEAK", value ${word} }) { name } }`,
        `mutation { projectSecretCreate(input: { projectId: "${P}", name: "LEAK", value: ${word} ${word} ) { name } }`,
        `mutation { projectSecretCreate(input: { projectId: "${P}", name: "LEAK", value: "${word} }) { name } }`,
        `mutation { projectSecretCreate(input: { projectId: "${P}", name: "LEAK", value: 1${word} }) { name } }`,
        `{ __typename } ${word}`,
        `query {\n  __typename\n  projectSecrets(projectId: ${word}\u00ff) { edges { node { name } } }\n}`,
      ]) {
        for (const r of [await gq('olga', query), await http.get('/graphql').query({ query }).set(auth('olga')).set('apollo-require-preflight', '1')]) {
          expect([r.status, typesOf(r)]).toEqual([400, [`${PROBLEM}invalid-request`]]);
          expect(r.text).not.toContain(word);
          expect(r.text).not.toContain(CANARY.slice(-12));
          expect(errorsOf(r)[0].message).toMatch(/^Syntax Error at line \d+, column \d+: the document is not valid GraphQL \(its text is not repeated here\)\.$/);
        }
      }
    });

    it('several operations without operationName, or an unknown operationName: 400 invalid-request, not 500', async () => {
      for (const body of [{ query: 'query A { __typename } query B { __typename }' }, { query: 'query A { __typename }', operationName: 'Z' }, { query: 'mutation A { __typename } query B { __typename }' }]) {
        const r = await http.post('/graphql').set(auth('olga')).send(body);
        expect([body, r.status, typesOf(r)]).toEqual([body, 400, [`${PROBLEM}invalid-request`]]);
      }
    });

    it('an automatic persisted query the server does not hold is a client error, not INTERNAL_SERVER_ERROR', async () => {
      const r = await http.post('/graphql').set(auth('olga')).send({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } });
      expect(errorsOf(r).map((e) => [e.extensions?.code, e.extensions?.type])).not.toContainEqual(['INTERNAL_SERVER_ERROR', `${PROBLEM}error`]);
      expect(typesOf(r)).toEqual([`${PROBLEM}invalid-request`]);
    });

    it('deeply chained or nested fragments from an anonymous caller: 400 invalid-request, never 500 or an engine message', async () => {
      const chain = (n: number) => `query { ...F0 } ${Array.from({ length: n }, (_, i) => `fragment F${i} on Query { __typename ${i + 1 < n ? `...F${i + 1}` : ''} }`).join(' ')}`;
      const inline = (n: number) => `query { ${'... on Query { '.repeat(n)}__typename${' }'.repeat(n)} }`;
      const seen: [string, number, string | undefined, string][] = [];
      for (const [label, query] of [...[1200, 1400, 1500, 1600, 1800].map((n) => [`chain ${n}`, chain(n)]), ...[2000, 5000].map((n) => [`inline ${n}`, inline(n)])]) {
        const r = await http.post('/graphql').send({ query });
        seen.push([label, r.status, typesOf(r)[0], errorsOf(r)[0]?.message ?? '']);
      }
      expect(seen.filter(([, status, type, message]) => status !== 400 || type !== `${PROBLEM}invalid-request` || /call stack/i.test(message))).toEqual([]);
    });

    it('odd but well-typed inputs answer client errors or data, never INTERNAL_SERVER_ERROR', async () => {
      const cases: [string, string, Record<string, unknown>][] = [
        ['olga', 'query($p: String!, $a: String) { projectSecrets(projectId: $p, after: $a) { edges { cursor } } }', { p: P, a: '%%%' }],
        ['olga', 'query($p: String!, $a: String) { projectSecrets(projectId: $p, after: $a) { edges { cursor } } }', { p: P, a: Buffer.from('n:\u0000\uffff').toString('base64url') }],
        ['olga', 'query($p: String!, $f: Int) { projectSecrets(projectId: $p, first: $f) { edges { cursor } } }', { p: P, f: -2147483648 }],
        ['olga', 'query($p: String!, $r: String) { projectSecrets(projectId: $p, rotation: $r) { edges { cursor } } }', { p: P, r: 'ok' }],
        ['audrey', 'query($p: String!, $at: String) { secretReaders(projectId: $p, name: "GLOBAL", at: $at) { at secretExisted } }', { p: P, at: '9999-12-31T23:59:59.999Z' }],
        ['audrey', 'query($p: String!, $at: String) { secretReaders(projectId: $p, name: "GLOBAL", at: $at) { at secretExisted } }', { p: P, at: '0000-01-01T00:00:00Z' }],
        ['audrey', 'query($p: String!, $at: String) { secretReaders(projectId: $p, name: "GLOBAL", at: $at) { at } }', { p: P, at: '2020-02-30T00:00:00Z' }],
        ['audrey', 'query($p: String!, $f: AccessHistoryFilter, $a: String) { accessHistory(projectId: $p, filter: $f, after: $a) { edges { cursor } } }', { p: P, f: { from: '0001-01-01T00:00:00Z', to: '9999-12-31T23:59:59Z' }, a: 'AAAA' }],
        ['audrey', 'query($p: String!, $f: AccessHistoryFilter) { accessHistory(projectId: $p, filter: $f) { edges { cursor } } }', { p: P, f: { secret: null, principal: 'x'.repeat(500), pipeline: '\u0000' } }],
        ['audrey', 'query($p: String!, $a: String) { projectSecret(projectId: $p, name: "GLOBAL") { history(after: $a) { edges { cursor } } readers(at: $a) { at } } }', { p: P, a: '\ud800' }],
        ['olga', 'query($p: String!) { accessRequests(projectId: $p, status: "") { edges { cursor } } }', { p: P }],
        ['olga', 'query($p: String!, $a: String) { accessRequests(projectId: $p, after: $a) { edges { cursor } } }', { p: P, a: '%%%' }],
        ['olga', 'query($p: String!, $f: Int) { accessRequests(projectId: $p, first: $f) { edges { cursor } } }', { p: P, f: -2147483648 }],
        ['olga', 'query($p: String!) { breakGlasses(projectId: $p, reviewed: false) { grantId } }', { p: P }],
        ['olga', 'query($p: String!) { projectGrants(projectId: $p) { grantId } }', { p: 'A'.repeat(100_000) }],
        ['olga', 'mutation($p: String!) { projectSecretDelete(projectId: $p, name: "NOPE", ifRevision: -2147483648) { deleted errors { type } } }', { p: P }],
        ['olga', 'mutation($i: ProjectSecretUpdateInput!) { projectSecretUpdate(input: $i) { errors { type field } } }', { i: { projectId: P, name: 'GLOBAL', rotationIntervalDays: null, description: null, environment: null, branch: null, ifRevision: 2147483647 } }],
        ['olga', 'mutation($i: ProjectGrantCreateInput!) { projectGrantCreate(input: $i) { errors { type field } } }', { i: { projectId: P, principal: { type: 'user', id: '' }, role: 'owner', expiresAt: '1970-01-01T00:00:00Z' } }],
        ['olga', 'mutation($p: String!) { projectGrantRevoke(projectId: $p, grantId: "00000000-0000-0000-0000-000000000000") { errors { type } } }', { p: P }],
        ['olga', 'mutation($p: String!) { breakGlassReview(projectId: $p, grantId: "00000000-0000-0000-0000-000000000000", outcome: "justified", comment: "") { errors { type field } } }', { p: P }],
        ['olga', 'mutation($p: String!) { accessRequestCancel(projectId: $p, requestId: "../../x") { errors { type field } } }', { p: P }],
        ['dave', 'mutation($p: String!, $n: [String!]!) { secretAccess(projectId: $p, names: $n) { errors { type field } } }', { p: P, n: ['A', 'a', '\u0130'] }],
        ['ci', 'mutation($p: String!) { projectSecretCreate(input: { projectId: $p, name: "CI_MADE", value: "v" }) { errors { type } } }', { p: P }],
        ['ci', 'query($p: String!) { accessRequests(projectId: $p) { edges { cursor } } }', { p: P }],
        ['ci', 'query { auditCheckpoint { treeSize } }', {}],
      ];
      const bad: unknown[] = [];
      for (const [who, query, variables] of cases) {
        const r = await gq(who, query, variables);
        const server = r.status >= 500 || errorsOf(r).some((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR' || e.extensions?.type === `${PROBLEM}error` || /stack|TypeError|at \//.test(e.message));
        if (server) bad.push([who, query, r.status, r.text.slice(0, 300)]);
      }
      expect(bad).toEqual([]);
    });

    it('CANARY: no response carries a value outside secretAccess items, and no log line or event does', async () => {
      const leaking = sent.filter((s) => s.text.includes(CANARY)).filter((s) => {
        try {
          return JSON.stringify(withoutAccessValues(JSON.parse(s.text))).includes(CANARY);
        } catch {
          return true;
        }
      });
      // The variable-coercion echo is its own (failing) test above: leave it out here so this one says whether anything else leaks.
      expect(leaking.filter((s) => !s.text.includes('got invalid value')).map((s) => [s.query.slice(0, 120), s.text.slice(0, 300)])).toEqual([]);
      expect(t.logs.filter((l) => l.includes(CANARY))).toEqual([]);
      const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
      expect((await allEvents(t.infra.eventStore)).some((e) => json(e).includes(CANARY))).toBe(false);
    });
  });
});

