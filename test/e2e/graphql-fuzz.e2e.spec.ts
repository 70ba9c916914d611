import { randomUUID } from 'node:crypto';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  getNullableType,
  GraphQLArgument,
  GraphQLField,
  GraphQLInputType,
  GraphQLNamedType,
  GraphQLSchema,
  IntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';
import request from 'supertest';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';

// A schema-driven fuzz pass: operations generated from the live schema's introspection (valid
// ones with hostile argument values, and invalid ones: wrong types, unknown fields, missing
// arguments, broken syntax, bad variables), sent as several principals. The server must never
// fail: no 5xx, and no error without a problem type or with INTERNAL_SERVER_ERROR.
// FUZZ_SEED reproduces a run; FUZZ_OPERATIONS sets its size.

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const OPERATIONS = Number(process.env.FUZZ_OPERATIONS ?? 600);
const P = 'gql-fuzz';
const CANARY = `fuzz-canary-${randomUUID()}`;

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = [
  P, 'DEPLOY_TOKEN', 'FUZZ_ONE', '', ' ', 'a'.repeat(600), '../../etc/passwd', 'x\u0000y', 'line\nbreak', '💥🔑', '\ud800', "'; DROP TABLE es_events; --",
  '2026-01-01T00:00:00Z', '0000-00-00T00:00:00Z', 'yesterday', 'not-a-cursor', 'AAAA', 'MTIzLjQ1Ng', randomUUID(), 'owner', 'developer', 'reporter', 'auditor', 'break-glass', 'god',
  'pending', 'approved', 'allowed', 'denied', 'api', 'openbao', 'justified', 'unjustified', 'production', 'main', 'feature/*', '**/**/**/**/**/**/**/**/**', 'user', 'group', 'olga', 'dave',
];
const INTS = [0, 1, -1, 2, 50, 60, 100, 101, 900, 3600, 3601, 28_800, 2 ** 31 - 1, -(2 ** 31)];
/** Variable names that are Object.prototype members (graphql-jit read an unsent `$toString` from the prototype: issue 18, 9). */
const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).filter((n) => /^[_A-Za-z][_0-9A-Za-z]*$/.test(n));

class Generator {
  /** When set, string values are passed as variables (what tools do, and what graphql-jit compiles): their definitions and values. */
  private vars?: { defs: string[]; values: Record<string, unknown> };
  constructor(private readonly schema: GraphQLSchema, readonly rnd: () => number) {}
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)];
  }
  chance(p: number) {
    return this.rnd() < p;
  }

  /** A GraphQL literal for an input type (sometimes of the wrong kind when `wrong`). */
  literal(type: GraphQLInputType, depth = 0, wrong = false): string {
    if (wrong && this.chance(0.3)) return this.pick(['"s"', '1', 'true', 'null', '[1, 2]', '{ x: 1 }', '1.5', 'ENUMISH']);
    if (!isNonNullType(type) && this.chance(0.15)) return 'null';
    const t = getNullableType(type) as GraphQLInputType;
    if (isListType(t)) {
      const n = this.pick([0, 1, 2, 3, 101]);
      const item = this.literal(t.ofType as GraphQLInputType, depth + 1, wrong);
      return `[${Array.from({ length: n }, (_, i) => (i === 0 ? item : this.literal(t.ofType as GraphQLInputType, depth + 1, wrong))).join(', ')}]`;
    }
    if (isInputObjectType(t)) {
      const fields = Object.values(t.getFields()).filter((f) => isNonNullType(f.type) || this.chance(0.6) || depth > 2);
      const extra = wrong && this.chance(0.3) ? ' unknownField: 1' : '';
      return `{ ${fields.map((f) => `${f.name}: ${this.literal(f.type, depth + 1, wrong)}`).join(', ')}${extra} }`;
    }
    if (isEnumType(t)) return this.pick(t.getValues()).name;
    if (isScalarType(t)) {
      if (t.name === 'Int') return String(this.pick(INTS));
      if (t.name === 'Boolean') return this.pick(['true', 'false']);
      if (t.name === 'Float') return String(this.rnd() * 1e6);
      const value = this.pick(STRINGS);
      if (this.vars && !wrong) {
        // Now and then a variable named after an Object.prototype member, and (when nullable) not sent at all.
        const proto = this.chance(0.3) ? this.pick(PROTO_NAMES.filter((n) => !this.vars!.defs.some((d) => d.startsWith(`$${n}:`)))) : undefined;
        const name = proto ?? `v${this.vars.defs.length}`;
        this.vars.defs.push(`$${name}: ${String(type)}`);
        if (!proto || isNonNullType(type) || this.chance(0.3)) this.vars.values[name] = value;
        return `$${name}`;
      }
      return JSON.stringify(value);
    }
    return 'null';
  }

  args(args: readonly GraphQLArgument[], wrong: boolean): string {
    const chosen = args.filter((a) => (wrong && isNonNullType(a.type) ? !this.chance(0.2) : isNonNullType(a.type) || this.chance(0.5)));
    const extra = wrong && this.chance(0.2) ? [`bogus: 1`] : [];
    const parts = [...chosen.map((a) => `${a.name}: ${this.literal(a.type, 0, wrong)}`), ...extra];
    return parts.length ? `(${parts.join(', ')})` : '';
  }

  selection(type: GraphQLNamedType, depth: number, wrong: boolean): string {
    if (isLeafType(type)) return '';
    if (!isObjectType(type)) return '';
    const fields = Object.values(type.getFields()) as GraphQLField<unknown, unknown>[];
    const leaves = fields.filter((f) => isLeafType(getNamedType(f.type)));
    const objects = fields.filter((f) => !isLeafType(getNamedType(f.type)));
    const out: string[] = [];
    for (const f of leaves) if (this.chance(0.5)) out.push(f.name);
    if (depth < 6) for (const f of objects) if (this.chance(depth < 3 ? 0.7 : 0.3)) out.push(`${f.name}${this.args(f.args, wrong)} ${this.selection(getNamedType(f.type), depth + 1, wrong)}`);
    if (out.length === 0) out.push(leaves[0]?.name ?? '__typename');
    if (wrong && this.chance(0.2)) out.push('noSuchField');
    return `{ ${out.join(' ')} }`;
  }

  operation(): { query: string; variables?: unknown; kind: string } {
    const isMutation = this.chance(0.45);
    const root = isMutation ? this.schema.getMutationType()! : this.schema.getQueryType()!;
    const field = this.pick(Object.values(root.getFields()));
    const r = this.rnd();
    const wrong = r < 0.35;
    const withVariables = !isMutation && !wrong && r <= 0.8 && this.chance(0.5);
    this.vars = withVariables ? { defs: [], values: {} } : undefined;
    const body = `${field.name}${this.args(field.args, wrong)} ${this.selection(getNamedType(field.type), 1, wrong)}`;
    const vars = this.vars;
    this.vars = undefined;
    if (vars && vars.defs.length > 0) return { query: `query F(${vars.defs.join(', ')}) { ${this.chance(0.1) ? `a: ${body} b: ${body}` : body} }`, variables: vars.values, kind: 'valid' };
    let query = `${isMutation ? 'mutation' : 'query'} { ${this.chance(0.1) ? `a: ${body} b: ${body}` : body} }`;
    if (r > 0.9) {
      // Broken syntax: a cut, a stray brace, an unknown operation type.
      const cut = Math.floor(this.rnd() * query.length);
      query = this.pick([query.slice(0, cut), `${query} }`, `subscription { ${field.name} }`, query.replace('{', '(')]);
      return { query, kind: 'syntax' };
    }
    if (r > 0.8) {
      // Variables of the wrong type or missing.
      const arg = field.args[0];
      if (arg) {
        const type = String(arg.type);
        return { query: `${isMutation ? 'mutation' : 'query'} V($v: ${type}) { ${field.name}(${arg.name}: $v) ${this.selection(getNamedType(field.type), 1, false)} }`, variables: this.pick([{}, { v: 42 }, { v: 'x' }, { v: null }, { v: { deep: [1] } }, { v: ['a', 'b'] }]), kind: 'variables' };
      }
    }
    return { query, kind: wrong ? 'invalid' : 'valid' };
  }
}

describe('GraphQL fuzz pass (schema-driven), embedded profile', () => {
  let t: EmbeddedApp;

  beforeAll(async () => {
    t = await startEmbedded();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('what the first fuzz run found: bad or missing variables and a subscription are 400 invalid-request, not 500', async () => {
    const http = request(t.app.getHttpServer());
    const auth = { Authorization: `Bearer ${await t.userToken('olga')}` };
    for (const body of [
      { query: 'query V($v: String!) { projectGrants(projectId: $v) { grantId } }', variables: { v: 42 } },
      { query: 'query V($v: String!) { projectGrants(projectId: $v) { grantId } }', variables: {} },
      { query: 'mutation V($v: AccessRequestCreateInput!) { accessRequestCreate(input: $v) { requestId } }', variables: { v: { projectId: P } } },
      { query: 'subscription { projectSecrets }' },
    ]) {
      const r = await http.post('/graphql').set(auth).send(body);
      expect([body.query, r.status, r.body.errors?.[0]?.extensions?.type]).toEqual([body.query, 400, 'urn:pipeline-secrets:problem:invalid-request']);
    }
  });

  it('what the second review found: an unsent variable named after an Object.prototype member answers the same compiled as interpreted, never an internal error', async () => {
    const http = request(t.app.getHttpServer());
    const auth = { Authorization: `Bearer ${await t.userToken('olga')}` };
    const compiled = async () => (await t.infra.metrics.graphqlOperations.get()).values.find((v) => v.labels.operation === 'query' && v.labels.executor === 'compiled')?.value ?? 0;
    const before = await compiled();
    const differs: string[] = [];
    for (const name of ['toString', 'constructor', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__']) {
      const query = `query F($p: String!, $${name}: String, $i${name}: Int) { projectSecrets(projectId: $p, rotation: $${name}, after: $${name}, first: $i${name}) { edges { node { name } } } }`;
      const [first, again] = [await http.post('/graphql').set(auth).send({ query, variables: { p: P } }), await http.post('/graphql').set(auth).send({ query, variables: { p: P } })];
      if (again.status !== first.status || again.text !== first.text || /INTERNAL_SERVER_ERROR|internal error/.test(first.text + again.text)) differs.push(`$${name}: ${first.status} ${first.text.slice(0, 200)} → ${again.status} ${again.text.slice(0, 300)}`);
    }
    expect(differs).toEqual([]);
    expect((await compiled()) - before).toBe(7); // every second run but $__defineGetter__'s (a `_` in a name is never compiled)
  });

  it(`${OPERATIONS} generated operations as owner, auditor, stranger and anonymous: 0 server errors, the value only in secretAccess results`, async () => {
    const http = request(t.app.getHttpServer());
    const tokens = {
      owner: await t.userToken('olga'),
      auditor: await t.userToken('audrey'),
      stranger: await t.userToken('stan'),
      admin: await t.userToken('root', { admin: true }),
    };
    expect((await http.post(`/v1/projects/${P}/grants`).set({ Authorization: `Bearer ${tokens.admin}` }).send({ principal: { type: 'user', id: 'olga' }, role: 'owner' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/grants`).set({ Authorization: `Bearer ${tokens.owner}` }).send({ principal: { type: 'user', id: 'audrey' }, role: 'auditor' })).status).toBe(201);
    expect((await http.post(`/v1/projects/${P}/secrets`).set({ Authorization: `Bearer ${tokens.owner}` }).send({ name: 'DEPLOY_TOKEN', value: CANARY })).status).toBe(201);

    const intro = await http.post('/graphql').set({ Authorization: `Bearer ${tokens.owner}` }).send({ query: getIntrospectionQuery() });
    expect(intro.status).toBe(200);
    const schema = buildClientSchema(intro.body.data as IntrospectionQuery);
    const gen = new Generator(schema, mulberry32(SEED));
    const who = [tokens.owner, tokens.owner, tokens.auditor, tokens.stranger, undefined];

    const failures: { seed: number; i: number; status: number; query: string; body: string }[] = [];
    const kinds: Record<string, number> = {};
    const statuses: Record<number, number> = {};
    let repeated = 0;
    const compiled = async () => (await t.infra.metrics.graphqlOperations.get()).values.find((v) => v.labels.operation === 'query' && v.labels.executor === 'compiled')?.value ?? 0;
    const compiledBefore = await compiled();
    const started = Date.now();
    for (let i = 0; i < OPERATIONS; i++) {
      const op = gen.operation();
      kinds[op.kind] = (kinds[op.kind] ?? 0) + 1;
      const token = gen.pick(who);
      const viaGet = op.kind === 'valid' && !op.query.startsWith('mutation') && gen.chance(0.1);
      const send = () => {
        const req = viaGet ? http.get('/graphql').query({ query: op.query }).set('apollo-require-preflight', '1') : http.post('/graphql').send(op.variables ? { query: op.query, variables: op.variables } : { query: op.query });
        return token ? req.set({ Authorization: `Bearer ${token}` }) : req;
      };
      const check = (res: request.Response, note = '') => {
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        // A body refused before GraphQL runs (a variable named `constructor` or `__proto__` sent in a POST body: apps/bootstrap.ts
        // refuses those JSON keys) is a REST problem+json, not GraphQL errors: a client error when it is a 4xx with a problem type.
        const problem = /application\/problem\+json/.test(String(res.headers['content-type'])) ? (res.body as { type?: string }) : undefined;
        const errors = (problem ? [] : (res.body?.errors ?? [])) as { extensions?: { code?: string; type?: string } }[];
        const serverError = res.status >= 500 || (problem !== undefined && (!problem.type || problem.type.endsWith(':error'))) || errors.some((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR' || !e.extensions?.type || e.extensions.type === 'urn:pipeline-secrets:problem:error');
        const leaked = res.text.includes(CANARY) && !(res.status === 200 && /^\{"data":\{"(a|secretAccess)"/.test(res.text) && op.query.includes('secretAccess'));
        if (serverError || leaked || note) failures.push({ seed: SEED, i, status: res.status, query: op.query.slice(0, 500), body: `${note}${res.text.slice(0, note ? 1500 : 500)}` });
      };
      const first = await send();
      check(first);
      // A valid query sent again runs compiled (graphql-jit) when it holds no string literal: it must answer as the interpreted run did
      // (instants that default to "now", such as secretReaders.at, aside).
      if (op.kind === 'valid' && !op.query.startsWith('mutation')) {
        const again = await send();
        repeated++;
        // Errors are compared as a set: the order of errors from sibling fields resolved concurrently is
        // not defined. And when the twin fields `a: X b: X` both fail into a null `data`, which of the
        // two is reported first (and alone: the executor stops at the first) is not defined either.
        const norm = (text: string) => {
          const body = JSON.parse(text.replace(/"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/g, '"<instant>"')) as { data?: unknown; errors?: { path?: unknown[] }[] };
          if (body.data === null) for (const e of body.errors ?? []) if (e.path && (e.path[0] === 'a' || e.path[0] === 'b')) e.path[0] = 'a|b';
          if (body.errors) body.errors = [...new Set(body.errors.map((e) => JSON.stringify(e)))].sort() as never;
          return JSON.stringify(body);
        };
        // (The denial budget is state: once a run spends it, the next answer is rightly a 429 instead.)
        const rateLimited = [first.text, again.text].some((x) => x.includes('problem:too-many-requests'));
        check(again, rateLimited || (again.status === first.status && norm(again.text) === norm(first.text)) ? '' : `compiled answer differs from the interpreted ${first.status} ${first.text.slice(0, 300)} → `);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const compiledRuns = (await compiled()) - compiledBefore;
    console.log(`graphql fuzz: seed ${SEED}, ${OPERATIONS} operations (${repeated} valid queries sent again, ${compiledRuns} of them compiled) in ${seconds.toFixed(1)} s, kinds ${JSON.stringify(kinds)}, statuses ${JSON.stringify(statuses)}`);
    expect(failures).toEqual([]);
    expect(kinds.valid).toBeGreaterThan(OPERATIONS / 4);
    expect(statuses[200]).toBeGreaterThan(OPERATIONS / 10);
    expect(statuses[400]).toBeGreaterThan(0);
    expect(repeated).toBeGreaterThan(OPERATIONS / 10);
    expect(compiledRuns).toBeGreaterThan(OPERATIONS / 40);
    // The whole log is free of the value too.
    expect(t.logs.some((l) => l.includes(CANARY))).toBe(false);
  }, 90_000);
});
