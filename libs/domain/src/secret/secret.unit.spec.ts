import { DeciderSpecification } from '../testing/decider-specification';
import { CommandMetadata, rotationAt, SecretEvent, secretDecider, SecretScope } from './secret';

const meta: CommandMetadata = { now: '2026-01-01T00:00:00.000Z', actor: { type: 'user', id: 'alice' } };
const scope: SecretScope = { environment: null, branch: null, protectedOnly: false };
const spec = DeciderSpecification.for(secretDecider);
const created: SecretEvent = {
  type: 'SecretCreated',
  data: { projectId: 'p', name: 'TOKEN', description: null, scope, version: 1, valueRef: 'ref-1', createdBy: 'alice' },
};
const deleted: SecretEvent = { type: 'SecretDeleted', data: { projectId: 'p', name: 'TOKEN', lastVersion: 1, deletedBy: 'alice' } };

describe('Secret decider', () => {
  it('creates a secret at version 1 holding only a value reference', () =>
    spec
      .given([])
      .when({ type: 'CreateSecret', data: { projectId: 'p', name: 'TOKEN', description: null, scope, valueRef: 'ref-1' }, metadata: meta })
      .then([created]));

  it('refuses to create a secret that exists', () =>
    spec
      .given([created])
      .when({ type: 'CreateSecret', data: { projectId: 'p', name: 'TOKEN', description: null, scope, valueRef: 'ref-2' }, metadata: meta })
      .thenThrows('secret-exists', 'already-exists'));

  it('creates again after deletion, from version 1', () =>
    spec
      .given([created, deleted])
      .when({ type: 'CreateSecret', data: { projectId: 'p', name: 'TOKEN', description: null, scope, valueRef: 'ref-9' }, metadata: meta })
      .then([{ ...created, data: { ...created.data, valueRef: 'ref-9' } } as SecretEvent]));

  it('adds a value version', () =>
    spec
      .given([created])
      .when({ type: 'UpdateSecretValue', data: { valueRef: 'ref-2' }, metadata: meta })
      .then([{ type: 'SecretValueUpdated', data: { projectId: 'p', name: 'TOKEN', version: 2, valueRef: 'ref-2', updatedBy: 'alice' } }]));

  it('does not update a missing or deleted secret', () => {
    spec.given([]).when({ type: 'UpdateSecretValue', data: { valueRef: 'x' }, metadata: meta }).thenThrows('secret-not-found', 'not-found');
    spec.given([created, deleted]).when({ type: 'UpdateSecretValue', data: { valueRef: 'x' }, metadata: meta }).thenThrows('secret-not-found');
  });

  it('changes scope and description, keeping fields not named; null clears', () =>
    spec
      .given([
        created,
        { type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: 'd', scope: { environment: 'prod', branch: 'main', protectedOnly: true }, changedBy: 'alice' } },
      ])
      .when({ type: 'ChangeSecretMetadata', data: { branch: null }, metadata: meta })
      .then([
        { type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: 'd', scope: { environment: 'prod', branch: null, protectedOnly: true }, changedBy: 'alice' } },
      ]));

  it('records nothing when metadata does not change', () =>
    spec.given([created]).when({ type: 'ChangeSecretMetadata', data: { protectedOnly: false }, metadata: meta }).thenNothingHappens());

  it('deletes, remembering the last version; twice is not found', () => {
    spec
      .given([created, { type: 'SecretValueUpdated', data: { projectId: 'p', name: 'TOKEN', version: 2, valueRef: 'r2', updatedBy: 'bob' } }])
      .when({ type: 'DeleteSecret', data: {}, metadata: meta })
      .then([{ type: 'SecretDeleted', data: { projectId: 'p', name: 'TOKEN', lastVersion: 2, deletedBy: 'alice' } }]);
    spec.given([created, deleted]).when({ type: 'DeleteSecret', data: {}, metadata: meta }).thenThrows('secret-not-found');
  });

  describe('the decider is the last gate: invalid commands never become events', () => {
    const create = (over: Record<string, unknown> = {}, scopeOver: Record<string, unknown> = {}) =>
      ({ type: 'CreateSecret', data: { projectId: 'p', name: 'TOKEN', description: null, scope: { ...scope, ...scopeOver }, valueRef: 'ref-1', ...over }, metadata: meta }) as never;
    const change = (data: Record<string, unknown>) => ({ type: 'ChangeSecretMetadata', data, metadata: meta }) as never;
    const fieldOf = (run: () => unknown) => {
      try {
        run();
      } catch (e) {
        return { kind: (e as { kind?: string }).kind, field: (e as { field?: string }).field };
      }
      return 'no error';
    };
    const decide = (c: never, given: SecretEvent[] = []) => () => secretDecider.decide(c, given.reduce(secretDecider.evolve, secretDecider.initialState()));

    it.each([
      ['protectedOnly: null', { protectedOnly: null }, 'protectedOnly'],
      ['protectedOnly: "true"', { protectedOnly: 'true' }, 'protectedOnly'],
      ['environment: 42', { environment: 42 }, 'environment'],
      ['environment with a space', { environment: 'prod uction' }, 'environment'],
      ['branch of 256 characters', { branch: 'a'.repeat(256) }, 'branch'],
      ['description with a lone surrogate', { description: 'a\ud800b' }, 'description'],
      ['description with NUL', { description: 'a\u0000b' }, 'description'],
      ['description over 1024 characters', { description: 'd'.repeat(1025) }, 'description'],
      ['a field it does not know', { colour: 'red' }, 'colour'],
    ])('ChangeSecretMetadata refuses %s', (_n, data, field) => {
      expect(fieldOf(decide(change(data), [created]))).toEqual({ kind: 'invalid', field });
    });

    it.each([
      ['scope.protectedOnly: null', create({}, { protectedOnly: null }), 'protectedOnly'],
      ['scope.environment: ""', create({}, { environment: '' }), 'environment'],
      ['name in lower case', create({ name: 'token' }), 'name'],
      ['a bad project id', create({ projectId: '../x' }), 'projectId'],
      ['description: undefined', create({ description: undefined }), 'description'],
      ['an empty value reference', create({ valueRef: '' }), 'valueRef'],
      ['a decision time that is not an instant', { ...(create() as object), metadata: { ...meta, now: '2026-13-01T00:00:00Z' } } as never, 'now'],
    ])('CreateSecret refuses %s', (_n, command, field) => {
      expect(fieldOf(decide(command))).toEqual({ kind: 'invalid', field });
    });

    it('still accepts null to clear description and globs, and a real boolean', () =>
      spec
        .given([created])
        .when({ type: 'ChangeSecretMetadata', data: { description: null, environment: 'prod*', branch: null, protectedOnly: true }, metadata: meta })
        .then([{ type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: null, scope: { environment: 'prod*', branch: null, protectedOnly: true }, changedBy: 'alice' } }]));
  });
});

describe('Secret decider: rotation', () => {
  const DAY = 86_400_000;
  const T0 = '2026-01-01T00:00:00.000Z';
  const plus = (days: number, ms = 0) => new Date(Date.parse(T0) + days * DAY + ms).toISOString();
  const timer = (now: string): CommandMetadata => ({ now, actor: { type: 'system', id: 'rotation-overdue' } });

  // Events as the store hands them over: each with the instant it occurred (what evolveAt sees).
  const when = new WeakMap<SecretEvent, string>();
  const occurred = <E extends SecretEvent>(e: E, time: string): E => {
    when.set(e, time);
    return e;
  };
  const timed = { ...secretDecider, evolve: (s: Parameters<typeof secretDecider.evolve>[0], e: SecretEvent) => secretDecider.evolveAt(s, e, when.get(e) ?? '') };
  const spec = DeciderSpecification.for(timed);

  const created30 = () =>
    occurred({ type: 'SecretCreated', data: { ...(created.data as object), rotationIntervalDays: 30 } } as SecretEvent, T0);
  const updatedAt = (version: number, time: string) =>
    occurred({ type: 'SecretValueUpdated', data: { projectId: 'p', name: 'TOKEN', version, valueRef: `ref-${version}`, updatedBy: 'alice' } } as SecretEvent, time);
  const overdue = (version: number, lastRotatedAt: string, dueAt: string, recordedAt: string): SecretEvent => ({
    type: 'SecretRotationOverdue',
    data: { projectId: 'p', name: 'TOKEN', version, intervalDays: 30, lastRotatedAt, dueAt, recordedAt },
  });
  const record = (version: number, now: string) => ({ type: 'RecordSecretRotationOverdue' as const, data: { version }, metadata: timer(now) });

  describe('rotationIntervalDays on create and on a metadata change', () => {
    it('creates with an interval: the event names it', () =>
      spec
        .given([])
        .when({ type: 'CreateSecret', data: { projectId: 'p', name: 'TOKEN', description: null, scope, valueRef: 'ref-1', rotationIntervalDays: 30 }, metadata: meta })
        .then([{ type: 'SecretCreated', data: { ...(created.data as object), rotationIntervalDays: 30 } } as SecretEvent]));

    it('creates without one (absent or null): the event keeps the shape it always had', () => {
      spec.given([]).when({ type: 'CreateSecret', data: { projectId: 'p', name: 'TOKEN', description: null, scope, valueRef: 'ref-1' }, metadata: meta }).then([created]);
      spec
        .given([])
        .when({ type: 'CreateSecret', data: { projectId: 'p', name: 'TOKEN', description: null, scope, valueRef: 'ref-1', rotationIntervalDays: null }, metadata: meta })
        .then([created]);
    });

    it.each([1, 3650])('accepts the bound %i', (days) =>
      spec
        .given([created])
        .when({ type: 'ChangeSecretMetadata', data: { rotationIntervalDays: days }, metadata: meta })
        .then([{ type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: null, scope, changedBy: 'alice', rotationIntervalDays: days } }]));

    const refusal = (command: unknown) => {
      try {
        secretDecider.decide(command as never, [created].reduce(secretDecider.evolve, secretDecider.initialState()));
      } catch (e) {
        return { kind: (e as { kind?: string }).kind, field: (e as { field?: string }).field };
      }
      return 'no error';
    };
    it.each([
      ['0', 0],
      ['3651', 3651],
      ['1.5', 1.5],
      ['-1', -1],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a string "30"', '30'],
      ['a boolean', true],
      ['an object', { days: 30 }],
    ])('refuses %s, on create and on change, naming rotationIntervalDays', (_n, days) => {
      const create = { type: 'CreateSecret', data: { projectId: 'p', name: 'OTHER', description: null, scope, valueRef: 'ref-1', rotationIntervalDays: days }, metadata: meta };
      expect(refusal(create)).toEqual({ kind: 'invalid', field: 'rotationIntervalDays' });
      expect(refusal({ type: 'ChangeSecretMetadata', data: { rotationIntervalDays: days }, metadata: meta })).toEqual({ kind: 'invalid', field: 'rotationIntervalDays' });
    });

    it('null clears the interval; the event says so', () =>
      spec
        .given([created30()])
        .when({ type: 'ChangeSecretMetadata', data: { rotationIntervalDays: null }, metadata: meta })
        .then([{ type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: null, scope, changedBy: 'alice', rotationIntervalDays: null } }]));

    it('records nothing when the interval does not change (null on none, or the same days)', () => {
      spec.given([created]).when({ type: 'ChangeSecretMetadata', data: { rotationIntervalDays: null }, metadata: meta }).thenNothingHappens();
      spec.given([created30()]).when({ type: 'ChangeSecretMetadata', data: { rotationIntervalDays: 30 }, metadata: meta }).thenNothingHappens();
    });

    it('another metadata change keeps the interval, and says what it is', () =>
      spec
        .given([created30()])
        .when({ type: 'ChangeSecretMetadata', data: { description: 'd' }, metadata: meta })
        .then([{ type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: 'd', scope, changedBy: 'alice', rotationIntervalDays: 30 } }]));
  });

  describe('SecretRotationOverdue: once per version, never before it is due', () => {
    it('is recorded at the due instant: the version, its interval, when it was written and when it was due', () =>
      spec.given([created30()]).when(record(1, plus(30))).then([overdue(1, T0, plus(30), plus(30))]));

    it('is not recorded a millisecond before the due instant', () => spec.given([created30()]).when(record(1, plus(30, -1))).thenNothingHappens());

    it('is recorded once: a second record for the same version records nothing', () =>
      spec.given([created30(), overdue(1, T0, plus(30), plus(30))]).when(record(1, plus(45))).thenNothingHappens());

    it('a new value version restarts the interval from its own write time', () => {
      const v2 = updatedAt(2, plus(20));
      spec.given([created30(), v2]).when(record(2, plus(30))).thenNothingHappens();
      spec.given([created30(), v2]).when(record(2, plus(50, -1))).thenNothingHappens();
      spec.given([created30(), v2]).when(record(2, plus(50))).then([overdue(2, plus(20), plus(50), plus(50))]);
    });

    it('the new version after an overdue one is recorded again when it in turn is overdue', () => {
      const given = [created30(), overdue(1, T0, plus(30), plus(31)), updatedAt(2, plus(40))];
      spec.given(given).when(record(2, plus(69))).thenNothingHappens();
      spec.given(given).when(record(2, plus(70))).then([overdue(2, plus(40), plus(70), plus(70))]);
    });

    it('records nothing for a version that is not the current one', () =>
      spec.given([created30(), updatedAt(2, plus(1))]).when(record(1, plus(100))).thenNothingHappens());

    it('records nothing without an interval, after it was cleared, for a deleted or a missing secret', () => {
      spec.given([occurred(created, T0)]).when(record(1, plus(5000))).thenNothingHappens();
      const cleared = occurred({ type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: null, scope, changedBy: 'alice', rotationIntervalDays: null } } as SecretEvent, plus(1));
      spec.given([created30(), cleared]).when(record(1, plus(100))).thenNothingHappens();
      spec.given([created30(), deleted]).when(record(1, plus(100))).thenNothingHappens();
      spec.given([]).when(record(1, plus(100))).thenNothingHappens();
    });

    it('an interval set later counts from when the current version was written', () => {
      const set = occurred({ type: 'SecretMetadataChanged', data: { projectId: 'p', name: 'TOKEN', description: null, scope, changedBy: 'alice', rotationIntervalDays: 10 } } as SecretEvent, plus(20));
      spec
        .given([occurred(created, T0), set])
        .when(record(1, plus(20)))
        .then([{ type: 'SecretRotationOverdue', data: { projectId: 'p', name: 'TOKEN', version: 1, intervalDays: 10, lastRotatedAt: T0, dueAt: plus(10), recordedAt: plus(20) } }]);
    });

    it('records nothing when the time of the version is unknown (folded without instants)', () =>
      DeciderSpecification.for(secretDecider).given([created30()]).when(record(1, plus(100))).thenNothingHappens());

    it.each([
      ['version 0', { version: 0 }, 'version'],
      ['version "1"', { version: '1' }, 'version'],
      ['version 1.5', { version: 1.5 }, 'version'],
      ['another field', { version: 1, now: T0 }, 'now'],
    ])('refuses a record with %s', (_n, data, field) => {
      let caught: unknown;
      try {
        timed.decide({ type: 'RecordSecretRotationOverdue', data, metadata: timer(plus(100)) } as never, timed.evolve(secretDecider.initialState(), created30()));
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({ kind: 'invalid', field });
    });
  });

  describe('the rotation object of metadata', () => {
    it('is null without an interval', () => expect(rotationAt(null, T0, plus(1))).toBeNull());
    it.each([
      [plus(22, -1), 'ok'],
      [plus(23), 'approaching'],
      [plus(30, -1), 'approaching'],
      [plus(30), 'overdue'],
      [plus(400), 'overdue'],
    ])('at %s is %s (approaching within 7 days of dueAt)', (now, status) =>
      expect(rotationAt(30, T0, now)).toEqual({ intervalDays: 30, lastRotatedAt: T0, dueAt: plus(30), status }));
    it('is the same through the decider state the command API folds', () => {
      const s = [created30(), updatedAt(2, plus(3))].reduce(timed.evolve, secretDecider.initialState());
      expect(s).toMatchObject({ status: 'active', rotationIntervalDays: 30, versionAt: plus(3), rotationOverdueVersion: null });
    });
  });
});
