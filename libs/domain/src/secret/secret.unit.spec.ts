import { DeciderSpecification } from '../testing/decider-specification';
import { CommandMetadata, SecretEvent, secretDecider, SecretScope } from './secret';

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
