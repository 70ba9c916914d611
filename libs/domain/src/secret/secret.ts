import { assertNever, Decider, DomainEvent } from '../decider';
import { alreadyExists, notFound } from '../errors';
import {
  requireBoolean,
  requireCommandMetadata,
  requireNullableFreeText,
  requireNullableGlob,
  requireOnlyKeys,
  requireProjectId,
  requireSecretName,
  requireValueRef,
} from '../invariants';
import { MAX_DESCRIPTION_LENGTH } from '../limits';

/** Where a secret may be used. Globs; absent = everywhere. */
export interface SecretScope {
  environment: string | null;
  branch: string | null;
  /** Only CI jobs on protected refs may read it. */
  protectedOnly: boolean;
}

export interface CommandMetadata {
  /** RFC 3339; the only clock a decider sees. */
  now: string;
  actor: { type: 'user' | 'ci-job' | 'system'; id: string };
}

// ---- commands (imperative) ----
export type SecretCommand =
  | {
      type: 'CreateSecret';
      data: { projectId: string; name: string; description: string | null; scope: SecretScope; valueRef: string };
      metadata: CommandMetadata;
    }
  | { type: 'UpdateSecretValue'; data: { valueRef: string }; metadata: CommandMetadata }
  | {
      type: 'ChangeSecretMetadata';
      data: { description?: string | null; environment?: string | null; branch?: string | null; protectedOnly?: boolean };
      metadata: CommandMetadata;
    }
  | { type: 'DeleteSecret'; data: Record<string, never>; metadata: CommandMetadata };

// ---- events (past tense; values never appear, only an opaque reference into the value store) ----
export type SecretCreated = DomainEvent<
  'SecretCreated',
  { projectId: string; name: string; description: string | null; scope: SecretScope; version: number; valueRef: string; createdBy: string }
>;
export type SecretValueUpdated = DomainEvent<
  'SecretValueUpdated',
  { projectId: string; name: string; version: number; valueRef: string; updatedBy: string }
>;
export type SecretMetadataChanged = DomainEvent<
  'SecretMetadataChanged',
  { projectId: string; name: string; description: string | null; scope: SecretScope; changedBy: string }
>;
export type SecretDeleted = DomainEvent<'SecretDeleted', { projectId: string; name: string; lastVersion: number; deletedBy: string }>;

export type SecretEvent = SecretCreated | SecretValueUpdated | SecretMetadataChanged | SecretDeleted;

// ---- state ----
export interface ActiveSecret {
  status: 'active';
  projectId: string;
  name: string;
  description: string | null;
  scope: SecretScope;
  version: number;
  valueRef: string;
  createdAt: string;
  updatedAt: string;
}
export type SecretState =
  | { status: 'absent' }
  | { status: 'deleted'; projectId: string; name: string; lastVersion: number }
  | ActiveSecret;

export const secretDecider: Decider<SecretState, SecretCommand, SecretEvent> & {
  /** Like evolve, but also records when (from the recorded event) for metadata timestamps. */
  evolveAt(state: SecretState, event: SecretEvent, at: string): SecretState;
} = {
  initialState: () => ({ status: 'absent' }),

  decide(command, state) {
    checkSecretCommand(command);
    const by = command.metadata.actor.id;
    switch (command.type) {
      case 'CreateSecret': {
        if (state.status === 'active') throw alreadyExists('secret-exists', `secret ${state.name} already exists`);
        const { projectId, name, description, scope, valueRef } = command.data;
        return [{ type: 'SecretCreated', data: { projectId, name, description, scope, version: 1, valueRef, createdBy: by } }];
      }
      case 'UpdateSecretValue': {
        const s = requireActive(state);
        return [
          {
            type: 'SecretValueUpdated',
            data: { projectId: s.projectId, name: s.name, version: s.version + 1, valueRef: command.data.valueRef, updatedBy: by },
          },
        ];
      }
      case 'ChangeSecretMetadata': {
        const s = requireActive(state);
        const d = command.data;
        const description = d.description !== undefined ? d.description : s.description;
        const scope: SecretScope = {
          environment: d.environment !== undefined ? d.environment : s.scope.environment,
          branch: d.branch !== undefined ? d.branch : s.scope.branch,
          protectedOnly: d.protectedOnly !== undefined ? d.protectedOnly : s.scope.protectedOnly,
        };
        const unchanged =
          description === s.description &&
          scope.environment === s.scope.environment &&
          scope.branch === s.scope.branch &&
          scope.protectedOnly === s.scope.protectedOnly;
        if (unchanged) return []; // idempotent: nothing happened, so no fact to record
        return [{ type: 'SecretMetadataChanged', data: { projectId: s.projectId, name: s.name, description, scope, changedBy: by } }];
      }
      case 'DeleteSecret': {
        const s = requireActive(state);
        return [{ type: 'SecretDeleted', data: { projectId: s.projectId, name: s.name, lastVersion: s.version, deletedBy: by } }];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    return secretDecider.evolveAt(state, event, '');
  },

  evolveAt(state, event, at) {
    switch (event.type) {
      case 'SecretCreated': {
        const d = event.data;
        return {
          status: 'active',
          projectId: d.projectId,
          name: d.name,
          description: d.description,
          scope: d.scope,
          version: d.version,
          valueRef: d.valueRef,
          createdAt: at,
          updatedAt: at,
        };
      }
      case 'SecretValueUpdated':
        if (state.status !== 'active') return state;
        return { ...state, version: event.data.version, valueRef: event.data.valueRef, updatedAt: at };
      case 'SecretMetadataChanged':
        if (state.status !== 'active') return state;
        return { ...state, description: event.data.description, scope: event.data.scope, updatedAt: at };
      case 'SecretDeleted':
        return { status: 'deleted', projectId: event.data.projectId, name: event.data.name, lastVersion: event.data.lastVersion };
      default:
        return assertNever(event);
    }
  },
};

/**
 * The decider is the last gate: a command of an invalid shape (a null where a value is required,
 * a boolean that is not one, text that is not well-formed Unicode, a glob out of bounds) is refused
 * here, whatever the caller validated before, so it never becomes an event.
 */
export function checkSecretCommand(command: SecretCommand): void {
  requireCommandMetadata(command.metadata);
  switch (command.type) {
    case 'CreateSecret': {
      const d = requireOnlyKeys(command.data, ['projectId', 'name', 'description', 'scope', 'valueRef']);
      requireProjectId(d.projectId);
      requireSecretName(d.name);
      requireNullableFreeText('description', d.description, MAX_DESCRIPTION_LENGTH);
      const scope = requireOnlyKeys(d.scope, ['environment', 'branch', 'protectedOnly']);
      requireNullableGlob('environment', scope.environment);
      requireNullableGlob('branch', scope.branch);
      requireBoolean('protectedOnly', scope.protectedOnly);
      requireValueRef(d.valueRef);
      return;
    }
    case 'UpdateSecretValue':
      requireValueRef(requireOnlyKeys(command.data, ['valueRef']).valueRef);
      return;
    case 'ChangeSecretMetadata': {
      // undefined = leave as it is; null clears description and globs; protectedOnly is never null.
      const d = requireOnlyKeys(command.data, ['description', 'environment', 'branch', 'protectedOnly']);
      if (d.description !== undefined) requireNullableFreeText('description', d.description, MAX_DESCRIPTION_LENGTH);
      if (d.environment !== undefined) requireNullableGlob('environment', d.environment);
      if (d.branch !== undefined) requireNullableGlob('branch', d.branch);
      if (d.protectedOnly !== undefined) requireBoolean('protectedOnly', d.protectedOnly);
      return;
    }
    case 'DeleteSecret':
      requireOnlyKeys(command.data, []);
      return;
    default:
      assertNever(command);
  }
}

function requireActive(state: SecretState): ActiveSecret {
  if (state.status !== 'active') throw notFound('secret-not-found', 'secret not found');
  return state;
}
