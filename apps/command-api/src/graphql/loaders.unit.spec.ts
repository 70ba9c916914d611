import { EventStore, EventToAppend, Principal, RecordedEvent, StreamName } from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { Metrics } from '@app/infra/observability/metrics';
import { AccessControl } from '../application/access-control';
import { ProblemException } from '../http/problem';
import { groupKeyOf } from './groups.resolver';
import { RequestLoaders } from './loaders';
import type { GqlContext } from './secrets.resolver';

// The request's AccessControl (loaders.ts requestScopedAccess): the same decisions as the shared
// instance, each policy stream of the tree read once per request, denials through the shared one.

const NOW = '2026-12-07T10:00:00.000Z';
const TOP = 'acme';
const G = 'acme/payments';
const P = 'pay-a';

/** An event store holding a few streams, counting every stream read. */
function fakeStore(streams: Record<string, { type: string; data: Record<string, unknown> }[]>) {
  const reads: string[] = [];
  const appended: { stream: string; events: EventToAppend[] }[] = [];
  const store = {
    async readStream(name: string, opts?: { fromRevision?: number }): Promise<RecordedEvent[]> {
      reads.push(name);
      return (streams[name] ?? [])
        .map((e, i) => ({ eventId: `${name}-${i}`, type: e.type, schemaVersion: 1, data: e.data, metadata: {} as never, streamName: name, revision: i, position: { commit: 0n, prepare: BigInt(i) }, recordedAt: NOW }))
        .filter((e) => e.revision >= (opts?.fromRevision ?? 0));
    },
    async appendToStream(stream: string, _expected: unknown, events: EventToAppend[]) {
      appended.push({ stream, events });
      return { nextRevision: 0 } as never;
    },
  } as unknown as EventStore;
  return { store, reads, appended };
}

let grants = 0;
const granted = (key: string, user: string, role: string) => ({
  type: 'RoleGranted',
  data: { projectId: key, grantId: `00000000-0000-4000-8000-${String(++grants).padStart(12, '0')}`, principal: { type: 'user', id: user }, role, environment: null, branch: null, expiresAt: null, grantedBy: 'root', grantedAt: '2026-12-01T00:00:00.000Z' },
});

function setup() {
  const f = fakeStore({
    [StreamName.project(`group:${TOP}`)]: [granted(`group:${TOP}`, 'gina', 'owner')],
    [StreamName.project(`group:${G}`)]: [granted(`group:${G}`, 'dana', 'developer')],
    [StreamName.projectGroup(P)]: [{ type: 'ProjectGroupChanged', data: { projectId: P, groupId: G, previousGroupId: null, changedBy: 'root', changedAt: '2026-12-01T00:00:00.000Z' } }],
  });
  const shared = new AccessControl(f.store, new Metrics(), { denials: { ratePerMinute: 60, summaryWindowSeconds: 60 } } as AppConfig);
  const loaders = (p: Principal) => new RequestLoaders(shared, {} as never, p, { req: { principal: p, headers: {}, requestId: 'r-1', header: () => undefined } } as unknown as GqlContext);
  return { ...f, shared, loaders };
}

const user = (id: string): Principal => ({ kind: 'user', id, groups: [], admin: false });
/** list and read are decided on a secret, manage-grants on the place. */
const decide = (a: { check: AccessControl['check'] }, p: Principal, projectId: string) =>
  [
    a.check(p, 'list', { projectId, name: 'DEPLOY_TOKEN', environment: null, branch: null, protectedOnly: false }, ctx),
    a.check(p, 'read', { projectId, name: 'DEPLOY_TOKEN', environment: null, branch: null, protectedOnly: false }, ctx),
    a.check(p, 'manage-grants', { projectId }, ctx),
  ];
const ctx = { actor: { type: 'user' as const, id: 'gina' }, now: NOW, correlationId: 'c', causationId: 'c' };

describe('requestScopedAccess: each policy of a tree read once per request', () => {
  afterEach(() => jest.restoreAllMocks());

  it('many decisions over a group, its parent and a project below them read each policy stream and membership once', async () => {
    const { shared, loaders, reads } = setup();
    const l = loaders(user('gina'));
    const targets = [`group:${G}`, `group:${TOP}`, P, `group:${G}`, P];
    const scoped = await Promise.all(targets.flatMap((projectId) => decide(l.access, user('gina'), projectId)));
    // The readers' membership history comes from the same one read of the project's membership stream.
    expect(await l.projectGroupHistory(P)).toEqual([{ groupId: G, from: '2026-12-01T00:00:00.000Z' }]);
    const counts = reads.reduce((m, s) => m.set(s, (m.get(s) ?? 0) + 1), new Map<string, number>());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect([...counts.keys()].sort()).toEqual([`project-${P}`, `project-group:${G}`, `project-group:${TOP}`, `projectgroup-${P}`].sort());
    // The same decisions as the shared instance, which reads again every time.
    reads.length = 0;
    const fresh = await Promise.all(targets.flatMap((projectId) => decide(shared, user('gina'), projectId)));
    expect(scoped).toEqual(fresh);
    expect(reads.length).toBeGreaterThan(counts.size * 3);
    // gina's owner grant on the top group acts on everything below it (inherited).
    expect(scoped.filter((d) => !d.allowed)).toEqual([]);
  });

  it('a second request reads again (a revoke applies to the very next request)', async () => {
    const { loaders, reads } = setup();
    await loaders(user('gina')).access.effective(`group:${G}`);
    const first = reads.length;
    await loaders(user('gina')).access.effective(`group:${G}`);
    expect(reads.length).toBe(first * 2);
  });

  it("a refusal is recorded by the shared instance (its limiter, the place's access log), once per (place, action) through require", async () => {
    const { shared, loaders, appended } = setup();
    const record = jest.spyOn(shared, 'recordDenial');
    const l = loaders(user('mallory'));
    const outcomes = await Promise.allSettled([l.require('list', `group:${G}`), l.require('list', `group:${G}`), l.access.require(user('mallory'), 'manage-grants', { projectId: `group:${TOP}` }, ctx)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(outcomes.map((o) => ((o as PromiseRejectedResult).reason as ProblemException).problem.status)).toEqual([403, 403, 403]);
    expect(record).toHaveBeenCalledTimes(2);
    expect(appended.map((a) => a.stream)).toEqual([StreamName.access(`group:${G}`), StreamName.access(`group:${TOP}`)]);
  });

  it('an owner of a project only has nothing on the group above it (a project grant never reaches a group)', async () => {
    const f = fakeStore({ [StreamName.project(P)]: [granted(P, 'olive', 'owner')], [StreamName.projectGroup(P)]: [] });
    const shared = new AccessControl(f.store, new Metrics(), { denials: { ratePerMinute: 60, summaryWindowSeconds: 60 } } as AppConfig);
    const l = new RequestLoaders(shared, {} as never, user('olive'), { req: { principal: user('olive'), headers: {}, requestId: 'r-2', header: () => undefined } } as unknown as GqlContext);
    expect((await Promise.all(decide(l.access, user('olive'), P))).map((d) => d.allowed)).toEqual([true, true, true]);
    expect((await Promise.all(decide(l.access, user('olive'), `group:${P}`))).map((d) => d.allowed)).toEqual([false, false, false]);
  });
});

describe('groupKeyOf: a GraphQL groupId, checked as GroupKeyPipe checks a REST one', () => {
  it.each([['depth 9', 'a/b/c/d/e/f/g/h/i'], ['..', `${TOP}/..`], ['a trailing /', `${TOP}/`], ['a leading /', `/${TOP}`], ['upper case', 'ACME/payments'], ['a place key', `group:${TOP}`], ['empty', ''], ['encoded', `${TOP}%2Fpayments`], ['a number', 7]])(
    'refuses %s: a 400 naming groupId',
    (_what, v) => {
      let error: unknown;
      try {
        groupKeyOf(v);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ProblemException);
      expect((error as ProblemException).problem.status).toBe(400);
      expect((error as ProblemException).problem.errors?.map((e) => e.field)).toEqual(['groupId']);
    },
  );

  it('a path of depth 1 to 8 becomes the group place key', () => {
    expect(groupKeyOf(TOP)).toBe('group:acme');
    expect(groupKeyOf('a/b/c/d/e/f/g/h')).toBe('group:a/b/c/d/e/f/g/h');
  });
});
