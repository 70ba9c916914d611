import { randomUUID } from 'node:crypto';
import { EventStore, RecordedEvent, secretDecider, SecretEvent, SecretState, WrongExpectedRevisionError } from '@app/domain';
import { ConcurrencyConflictError, handleCommand, PreconditionFailedError } from './handle-command';
import { StreamStateCache } from './stream-state-cache';

// A fake store is fine here: this is the pure retry/expectation logic; the real stores have their own contract suite.
function fakeStore(conflicts: number) {
  const streams = new Map<string, RecordedEvent[]>();
  const appends: Array<{ expected: unknown }> = [];
  let left = conflicts;
  const store = {
    async readStream(name: string, o: { fromRevision?: number } = {}) {
      return (streams.get(name) ?? []).filter((e) => e.revision >= (o.fromRevision ?? 0));
    },
    async appendToStream(name: string, expected: unknown, events: RecordedEvent[]) {
      appends.push({ expected });
      if (left-- > 0) throw new WrongExpectedRevisionError(name, expected as number, 99);
      const cur = streams.get(name) ?? [];
      const recorded = events.map((e, i) => ({ ...e, streamName: name, revision: cur.length + i, position: { commit: 1n, prepare: 1n }, recordedAt: '' }));
      streams.set(name, [...cur, ...recorded]);
      return { nextExpectedRevision: cur.length + events.length - 1, position: { commit: 1n, prepare: 1n } };
    },
  } as unknown as EventStore;
  return { store, appends };
}

const ctx = { actor: { type: 'user' as const, id: 'a' }, now: '2026-01-01T00:00:00.000Z', correlationId: 'c', causationId: 'c' };
const create = {
  type: 'CreateSecret' as const,
  data: { projectId: 'p', name: 'N', description: null, scope: { environment: null, branch: null, protectedOnly: false }, valueRef: randomUUID() },
  metadata: { now: ctx.now, actor: ctx.actor },
};

describe('handleCommand', () => {
  it('appends with no-stream for a new stream, then with the exact revision', async () => {
    const { store, appends } = fakeStore(0);
    const states = new StreamStateCache<SecretState, SecretEvent>(store, { initialState: secretDecider.initialState, evolve: (s, e) => secretDecider.evolve(s, e) });
    await handleCommand(store, states, 's', secretDecider, create, ctx);
    await handleCommand(store, states, 's', secretDecider, { type: 'UpdateSecretValue', data: { valueRef: 'r2' }, metadata: create.metadata }, ctx);
    expect(appends.map((a) => a.expected)).toEqual(['no-stream', 0]);
  });

  it('re-decides on fresh state after a conflict, a bounded number of times', async () => {
    const { store, appends } = fakeStore(2);
    const states = new StreamStateCache<SecretState, SecretEvent>(store, { initialState: secretDecider.initialState, evolve: (s, e) => secretDecider.evolve(s, e) });
    await handleCommand(store, states, 's', secretDecider, create, ctx);
    expect(appends).toHaveLength(3);
    const always = fakeStore(100);
    await expect(handleCommand(always.store, states, 't', secretDecider, create, ctx)).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect(always.appends).toHaveLength(6);
  });

  it('never retries when the client named a revision: stale If-Match is a precondition failure', async () => {
    const { store, appends } = fakeStore(1);
    const states = new StreamStateCache<SecretState, SecretEvent>(store, { initialState: secretDecider.initialState, evolve: (s, e) => secretDecider.evolve(s, e) });
    await expect(handleCommand(store, states, 's', secretDecider, create, ctx, { ifMatch: 3 })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(appends).toHaveLength(0);
    await expect(handleCommand(store, states, 's', secretDecider, create, ctx, { ifMatch: -1 })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(appends).toHaveLength(1);
  });
});
