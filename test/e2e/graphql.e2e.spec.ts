import { randomUUID } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { ClientError, gql, GraphQLClient } from 'graphql-request';
import request from 'supertest';
import { RecordedEvent } from '@app/domain';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedApp, startEmbedded } from '../support/embedded-app';
import { writeTestMasterKey } from '../support/test-master-key';
import { allEvents } from '../support/events';

// The embedded profile always; the production profile on PostgreSQL too when DATABASE_URL is set (eval "$(scripts/stack env)").
const DATABASE_URL = process.env.DATABASE_URL;
const PROFILES: { name: string; env: () => Record<string, string> }[] = [
  { name: 'embedded', env: () => ({}) },
  ...(DATABASE_URL
    ? [{ name: 'production (PostgreSQL)', env: () => ({ PROFILE: 'production', DATABASE_URL, DEV_ISSUER: '1', MASTER_KEY_FILE: writeTestMasterKey(mkdtempSync(join(tmpdir(), 'ps-gql-key-'))) }) }]
    : []),
];

const CANARY = `canary-${randomUUID()}-do-not-leak`;


const SECRETS = gql`
  query Secrets($projectId: String!, $first: Int, $after: String) {
    projectSecrets(projectId: $projectId, first: $first, after: $after) {
      edges { cursor node { name version revision environment branch protectedOnly description } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const SECRET = gql`
  query Secret($projectId: String!, $name: String!) { projectSecret(projectId: $projectId, name: $name) { name version revision description } }
`;
const CREATE = gql`
  mutation Create($input: ProjectSecretCreateInput!) { projectSecretCreate(input: $input) { name version revision errors { type field message } } }
`;
const ACCESS = gql`
  mutation Access($projectId: String!, $names: [String!]!, $purpose: String) {
    secretAccess(projectId: $projectId, names: $names, purpose: $purpose) { items { name version value } denied { name reason } errors { type field message } }
  }
`;

describe.each(PROFILES)('GraphQL API, $name profile, end to end', ({ env }) => {
  const P = `gql-project-${randomUUID().slice(0, 8)}`;
  let t: EmbeddedApp;
  let url: string;
  let admin: string, owner: string, dev: string, reporter: string, stranger: string, auditor: string;
  const responses: string[] = [];

  const client = (token?: string) =>
    new GraphQLClient(url, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      responseMiddleware: (r) => {
        if (!(r instanceof Error)) responses.push(JSON.stringify(r.data ?? null));
        else if (r instanceof ClientError) responses.push(JSON.stringify(r.response));
      },
    });
  async function gqlError(p: Promise<unknown>): Promise<{ message: string; extensions?: { type?: string; status?: number } }[]> {
    try {
      await p;
    } catch (e) {
      if (e instanceof ClientError) return (e.response.errors ?? []) as never;
      throw e;
    }
    throw new Error('expected a GraphQL error');
  }

  beforeAll(async () => {
    t = await startEmbedded({ env: env() });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/graphql`;
    admin = await t.userToken('root', { admin: true });
    owner = await t.userToken('olga');
    dev = await t.userToken('dave');
    reporter = await t.userToken('rita');
    stranger = await t.userToken('stan');
    auditor = await t.userToken('audrey');
    const http = request(t.app.getHttpServer());
    expect((await http.post(`/v1/projects/${P}/grants`).set({ Authorization: `Bearer ${admin}` }).send({ principal: { type: 'user', id: 'olga' }, role: 'owner' })).status).toBe(201);
    for (const [id, role] of [['dave', 'developer'], ['rita', 'reporter'], ['audrey', 'auditor']]) {
      expect((await http.post(`/v1/projects/${P}/grants`).set({ Authorization: `Bearer ${owner}` }).send({ principal: { type: 'user', id }, role })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it('projectSecretCreate, projectSecrets (paged), projectSecret, secretAccess; the value appears only in secretAccess', async () => {
    for (const name of ['A_ONE', 'B_TWO', 'C_THREE']) {
      const r = await client(owner).request<{ projectSecretCreate: unknown }>(CREATE, { input: { projectId: P, name, value: `${CANARY}-${name}`, description: 'gql' } });
      expect(r.projectSecretCreate).toEqual({ name, version: 1, revision: 0, errors: [] });
    }
    const dup = await client(owner).request<{ projectSecretCreate: { errors: { type: string }[] } }>(CREATE, { input: { projectId: P, name: 'A_ONE', value: 'x' } });
    expect(dup.projectSecretCreate.errors[0].type).toBe('urn:pipeline-secrets:problem:conflict');
    const bad = await client(owner).request<{ projectSecretCreate: { errors: { type: string; field: string }[] } }>(CREATE, { input: { projectId: P, name: 'bad name', value: 'x' } });
    expect(bad.projectSecretCreate.errors).toEqual([expect.objectContaining({ type: 'urn:pipeline-secrets:problem:invalid-request', field: 'name' })]);

    // The catalog is a projection: wait until it has the three.
    let page1: { projectSecrets: { edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } | undefined;
    for (let i = 0; i < 100; i++) {
      page1 = await client(dev).request(SECRETS, { projectId: P, first: 2 });
      if (page1!.projectSecrets.pageInfo.hasNextPage) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(page1!.projectSecrets.edges.map((e) => e.node.name)).toEqual(['A_ONE', 'B_TWO']);
    const page2 = await client(dev).request<typeof page1>(SECRETS, { projectId: P, first: 2, after: page1!.projectSecrets.pageInfo.endCursor });
    expect(page2!.projectSecrets.edges.map((e) => e.node.name)).toEqual(['C_THREE']);
    expect(page2!.projectSecrets.pageInfo.hasNextPage).toBe(false);

    expect(await client(reporter).request(SECRET, { projectId: P, name: 'B_TWO' })).toEqual({ projectSecret: { name: 'B_TWO', version: 1, revision: 0, description: 'gql' } });

    const a = await client(dev).request<{ secretAccess: { items: unknown[]; denied: unknown[] } }>(ACCESS, { projectId: P, names: ['A_ONE', 'C_THREE', 'NOPE'], purpose: 'gql e2e' });
    expect(a.secretAccess.items).toEqual([
      { name: 'A_ONE', version: 1, value: `${CANARY}-A_ONE` },
      { name: 'C_THREE', version: 1, value: `${CANARY}-C_THREE` },
    ]);
    expect(a.secretAccess.denied).toEqual([expect.objectContaining({ name: 'NOPE' })]);

    const withValue = responses.filter((r) => r.includes(CANARY));
    expect(withValue.length).toBe(1);
    expect(withValue[0]).toContain('"secretAccess"');
    const events = await allEvents(t.infra.eventStore);
    expect(events.some((e) => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).includes(CANARY))).toBe(false);
    expect(t.logs.some((l) => l.includes(CANARY))).toBe(false);
  });

  it('authorization matches REST: stranger, reporter, developer, owner, auditor', async () => {
    const http = request(t.app.getHttpServer());
    for (const [who, token] of [['stranger', stranger], ['reporter', reporter], ['developer', dev], ['owner', owner], ['auditor', auditor]] as const) {
      const rest = await http.get(`/v1/projects/${P}/secrets/A_ONE`).set({ Authorization: `Bearer ${token}` });
      const g = client(token).request(SECRET, { projectId: P, name: 'A_ONE' });
      if (rest.status === 200) expect([who, ((await g) as { projectSecret: { name: string } }).projectSecret.name]).toEqual([who, 'A_ONE']);
      else expect([who, (await gqlError(g))[0].extensions?.type]).toEqual([who, rest.body.type]);

      // secretAccess is REST's batch access: the same items and denials (with their reasons), name by name.
      const restAccess = await http.post(`/v1/projects/${P}/secrets/access`).set({ Authorization: `Bearer ${token}` }).send({ names: ['A_ONE', 'NOPE'] });
      const ga = await client(token).request<{ secretAccess: { items: { name: string }[]; denied: { name: string; reason: string }[] } }>(ACCESS, { projectId: P, names: ['A_ONE', 'NOPE'] });
      expect([who, restAccess.status]).toEqual([who, 200]);
      expect([who, ga.secretAccess.items.map((i) => i.name), ga.secretAccess.denied]).toEqual([who, restAccess.body.items.map((i: { name: string }) => i.name), restAccess.body.denied]);
    }
  });

  it('projectGrantCreate, projectGrants, projectGrantRevoke: same rule and answers as REST', async () => {
    const GRANT = gql`
      mutation G($input: ProjectGrantCreateInput!) { projectGrantCreate(input: $input) { grantId errors { type field message } } }
    `;
    const LIST = gql`
      query L($projectId: String!) { projectGrants(projectId: $projectId) { grantId role status principal { type id } } }
    `;
    const REVOKE = gql`
      mutation R($projectId: String!, $grantId: String!) { projectGrantRevoke(projectId: $projectId, grantId: $grantId) { revoked errors { type field message } } }
    `;
    const c = await client(owner).request<{ projectGrantCreate: { grantId: string; errors: unknown[] } }>(GRANT, { input: { projectId: P, principal: { type: 'user', id: 'gina' }, role: 'developer' } });
    expect(c.projectGrantCreate.errors).toEqual([]);
    expect(c.projectGrantCreate.grantId).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await client(owner).request<{ projectGrantCreate: { errors: { type: string; field: string }[] } }>(GRANT, { input: { projectId: P, principal: { type: 'user', id: 'gina' }, role: 'god' } });
    expect(bad.projectGrantCreate.errors).toEqual([expect.objectContaining({ type: 'urn:pipeline-secrets:problem:invalid-request', field: 'role' })]);
    const byDev = await client(dev).request<{ projectGrantCreate: { errors: { type: string }[] } }>(GRANT, { input: { projectId: P, principal: { type: 'user', id: 'gina' }, role: 'owner' } });
    expect(byDev.projectGrantCreate.errors[0].type).toBe('urn:pipeline-secrets:problem:forbidden');

    const list = await client(owner).request<{ projectGrants: { grantId: string; role: string; status: string; principal: { id: string } }[] }>(LIST, { projectId: P });
    const http = request(t.app.getHttpServer());
    const rest = await http.get(`/v1/projects/${P}/grants`).set({ Authorization: `Bearer ${owner}` });
    expect(list.projectGrants.map((g) => [g.grantId, g.role, g.status]).sort()).toEqual(rest.body.items.map((g: { grantId: string; role: string; status: string }) => [g.grantId, g.role, g.status]).sort());
    const restReporter = await http.get(`/v1/projects/${P}/grants`).set({ Authorization: `Bearer ${reporter}` });
    expect((await gqlError(client(reporter).request(LIST, { projectId: P })))[0].extensions?.type).toBe(restReporter.body.type);

    const r = await client(owner).request<{ projectGrantRevoke: { revoked: boolean; errors: unknown[] } }>(REVOKE, { projectId: P, grantId: c.projectGrantCreate.grantId });
    expect(r.projectGrantRevoke).toEqual({ revoked: true, errors: [] });
    const after = await client(owner).request<{ projectGrants: { grantId: string; status: string }[] }>(LIST, { projectId: P });
    expect(after.projectGrants.find((g) => g.grantId === c.projectGrantCreate.grantId)?.status).toBe('revoked');
  });

  it('projectSecretDelete: refused for a developer, stale ifRevision is precondition-failed, then deleted', async () => {
    const DEL = gql`
      mutation D($projectId: String!, $name: String!, $ifRevision: Int) { projectSecretDelete(projectId: $projectId, name: $name, ifRevision: $ifRevision) { deleted errors { type field message } } }
    `;
    const c = await client(owner).request<{ projectSecretCreate: { errors: unknown[] } }>(CREATE, { input: { projectId: P, name: 'TO_DELETE', value: 'short-lived' } });
    expect(c.projectSecretCreate.errors).toEqual([]);
    const byDev = await client(dev).request<{ projectSecretDelete: { deleted: boolean; errors: { type: string }[] } }>(DEL, { projectId: P, name: 'TO_DELETE' });
    expect([byDev.projectSecretDelete.deleted, byDev.projectSecretDelete.errors[0]?.type]).toEqual([false, 'urn:pipeline-secrets:problem:forbidden']);
    const stale = await client(owner).request<{ projectSecretDelete: { deleted: boolean; errors: { type: string }[] } }>(DEL, { projectId: P, name: 'TO_DELETE', ifRevision: 7 });
    expect([stale.projectSecretDelete.deleted, stale.projectSecretDelete.errors[0]?.type]).toEqual([false, 'urn:pipeline-secrets:problem:precondition-failed']);
    const ok = await client(owner).request<{ projectSecretDelete: unknown }>(DEL, { projectId: P, name: 'TO_DELETE', ifRevision: 0 });
    expect(ok.projectSecretDelete).toEqual({ deleted: true, errors: [] });
    expect((await gqlError(client(owner).request(SECRET, { projectId: P, name: 'TO_DELETE' })))[0].extensions?.type).toBe('urn:pipeline-secrets:problem:not-found');
  });

  it('a denial through GraphQL is a recorded SecretAccessDenied', async () => {
    const sid = await t.userToken(`sid-${randomUUID().slice(0, 8)}`); // a fresh principal: its first denial is never suppressed
    // This project's denials only: the production profile shares its database with other runs.
    const mine = (e: RecordedEvent) => e.type === 'SecretAccessDenied' && (e.data as { projectId?: string }).projectId === P;
    const before = (await allEvents(t.infra.eventStore)).filter(mine).length;
    const r = await client(sid).request<{ secretAccess: { items: unknown[]; denied: { name: string; reason: string }[] } }>(ACCESS, { projectId: P, names: ['B_TWO'] });
    expect(r.secretAccess.items).toEqual([]);
    expect(r.secretAccess.denied).toEqual([{ name: 'B_TWO', reason: 'no-grant' }]);
    const denials = (await allEvents(t.infra.eventStore)).filter(mine);
    expect(denials.length).toBe(before + 1);
    expect((denials[denials.length - 1].data as { name?: string }).name).toBe('B_TWO');
  });

  it('no token: unauthenticated, with the REST problem type', async () => {
    const errs = await gqlError(client().request(SECRETS, { projectId: P }));
    expect(errs[0].extensions?.type).toBe('urn:pipeline-secrets:problem:unauthenticated');
  });

  it('cost over the bound and a page over the maximum are refused before execution', async () => {
    // Depth (MAX_QUERY_DEPTH) is a validation rule: limits.unit.spec.ts (no type of this first slice nests that deep).
    const costly = `query { ${Array.from({ length: 12 }, (_, i) => `p${i}: projectSecrets(projectId: "${P}", first: 100) { edges { node { name version } } }`).join(' ')} }`;
    const c = await gqlError(client(dev).request(costly));
    expect(c[0].message).toMatch(/query cost \d+ exceeds the maximum 1000/);
    const big = await gqlError(client(dev).request(SECRETS, { projectId: P, first: 101 }));
    expect(big[0].extensions?.type).toBe('urn:pipeline-secrets:problem:invalid-request');
  });

  it('HTTP: batching refused, mutations over GET refused, CSRF-safe', async () => {
    const http = request(t.app.getHttpServer());
    const auth = { Authorization: `Bearer ${dev}` };
    const batch = await http.post('/graphql').set(auth).send([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(batch.status).toBe(400);
    const get = await http.get('/graphql').query({ query: `mutation { secretAccess(projectId: "${P}", names: ["A_ONE"]) { items { value } } }` }).set(auth).set('apollo-require-preflight', 'true');
    expect(get.status).toBe(405);
    expect(get.text).not.toContain(CANARY);
    const simple = await http.get('/graphql').query({ query: '{ __typename }' }).set(auth);
    expect(simple.status).toBe(400); // no preflight-forcing header: Apollo's CSRF prevention
    const ok = await http.get('/graphql').query({ query: '{ __typename }' }).set(auth).set('apollo-require-preflight', 'true');
    expect(ok.status).toBe(200);
  });
});
