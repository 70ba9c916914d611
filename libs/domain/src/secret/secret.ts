import { assertNever, Decider, DomainEvent } from '../decider';
import { alreadyExists, invalid, notFound } from '../errors';
import {
  requireBoolean,
  requireCommandMetadata,
  requireNullableFreeText,
  requireNullableGlob,
  requireOnlyKeys,
  requireSecretName,
  requireValueRef,
} from '../invariants';
import { MAX_DESCRIPTION_LENGTH } from '../limits';
import { isGroupKey, requirePlaceKey } from '../group/place';

/** Group secrets are scoped by environment and protection only, as on the platform: a group has no branches. */
function refuseBranchOnGroup(projectId: string, branch: string | null): void {
  if (isGroupKey(projectId) && branch !== null) throw invalid('invalid-field', 'branch is not a scope of group secrets (environment and protectedOnly only)', 'branch');
}

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

// ---- rotation ----
/** Bounds of `rotationIntervalDays`: a day to ten years, whole days. */
export const MIN_ROTATION_INTERVAL_DAYS = 1;
export const MAX_ROTATION_INTERVAL_DAYS = 3650;
/** Within this many days of its due instant, a secret's rotation is "approaching". */
export const ROTATION_APPROACHING_DAYS = 7;
const DAY_MS = 86_400_000;

export type RotationStatus = 'ok' | 'approaching' | 'overdue';
export const ROTATION_STATUSES: readonly RotationStatus[] = ['ok', 'approaching', 'overdue'];

/** What metadata says about a secret's rotation (null when it has no interval). */
export interface SecretRotation {
  intervalDays: number;
  /** When the current value version was written. */
  lastRotatedAt: string;
  /** lastRotatedAt + intervalDays. */
  dueAt: string;
  status: RotationStatus;
}

/** The due instant of a version written at `lastRotatedAt` (RFC 3339) under `intervalDays`; null if either is unknown. */
export function rotationDueAt(intervalDays: number | null, lastRotatedAt: string): string | null {
  const at = Date.parse(lastRotatedAt);
  if (intervalDays === null || !Number.isFinite(at)) return null;
  return new Date(at + intervalDays * DAY_MS).toISOString();
}

/** overdue from dueAt on; approaching within ROTATION_APPROACHING_DAYS before it; ok before that. */
export function rotationStatusAt(dueAt: string, now: string): RotationStatus {
  const due = Date.parse(dueAt);
  const t = Date.parse(now);
  if (t >= due) return 'overdue';
  if (t >= due - ROTATION_APPROACHING_DAYS * DAY_MS) return 'approaching';
  return 'ok';
}

/** The rotation object of metadata at `now`, or null when the secret has no interval. */
export function rotationAt(intervalDays: number | null, lastRotatedAt: string, now: string): SecretRotation | null {
  const dueAt = rotationDueAt(intervalDays, lastRotatedAt);
  if (intervalDays === null || dueAt === null) return null;
  return { intervalDays, lastRotatedAt: new Date(Date.parse(lastRotatedAt)).toISOString(), dueAt, status: rotationStatusAt(dueAt, now) };
}

// ---- commands (imperative) ----
export type SecretCommand =
  | {
      type: 'CreateSecret';
      data: { projectId: string; name: string; description: string | null; scope: SecretScope; valueRef: string; rotationIntervalDays?: number | null };
      metadata: CommandMetadata;
    }
  | { type: 'UpdateSecretValue'; data: { valueRef: string }; metadata: CommandMetadata }
  | {
      type: 'ChangeSecretMetadata';
      data: { description?: string | null; environment?: string | null; branch?: string | null; protectedOnly?: boolean; rotationIntervalDays?: number | null };
      metadata: CommandMetadata;
    }
  | { type: 'DeleteSecret'; data: Record<string, never>; metadata: CommandMetadata }
  /** The timer's: the given version's rotation is due. Recorded once per version, and only once it really is due. */
  | { type: 'RecordSecretRotationOverdue'; data: { version: number }; metadata: CommandMetadata };

// ---- events (past tense; values never appear, only an opaque reference into the value store) ----
/** rotationIntervalDays is present only when the secret was created with one (events of secrets without rotation keep their shape). */
export type SecretCreated = DomainEvent<
  'SecretCreated',
  { projectId: string; name: string; description: string | null; scope: SecretScope; version: number; valueRef: string; createdBy: string; rotationIntervalDays?: number }
>;
export type SecretValueUpdated = DomainEvent<
  'SecretValueUpdated',
  { projectId: string; name: string; version: number; valueRef: string; updatedBy: string }
>;
/**
 * The metadata after the change. rotationIntervalDays (the interval after it; null = cleared) is
 * present when the secret had or now has an interval; absent means none before and none after.
 */
export type SecretMetadataChanged = DomainEvent<
  'SecretMetadataChanged',
  { projectId: string; name: string; description: string | null; scope: SecretScope; changedBy: string; rotationIntervalDays?: number | null }
>;
export type SecretDeleted = DomainEvent<'SecretDeleted', { projectId: string; name: string; lastVersion: number; deletedBy: string }>;
/** The value version `version` was not replaced within its rotation interval. Recorded once per version, by the command API's timer. */
export type SecretRotationOverdue = DomainEvent<
  'SecretRotationOverdue',
  { projectId: string; name: string; version: number; intervalDays: number; lastRotatedAt: string; dueAt: string; recordedAt: string }
>;

export type SecretEvent = SecretCreated | SecretValueUpdated | SecretMetadataChanged | SecretDeleted | SecretRotationOverdue;

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
  /** Days a value version may live; null = no rotation interval. */
  rotationIntervalDays: number | null;
  /** When the current value version was written (evolveAt's instant; '' when folded without one). */
  versionAt: string;
  /** The version whose SecretRotationOverdue is recorded (null: none yet for any version). */
  rotationOverdueVersion: number | null;
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
        const { projectId, name, description, scope, valueRef, rotationIntervalDays } = command.data;
        refuseBranchOnGroup(projectId, scope.branch);
        const data: SecretCreated['data'] = { projectId, name, description, scope, version: 1, valueRef, createdBy: by };
        if (rotationIntervalDays !== undefined && rotationIntervalDays !== null) data.rotationIntervalDays = rotationIntervalDays;
        return [{ type: 'SecretCreated', data }];
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
        refuseBranchOnGroup(s.projectId, scope.branch);
        const rotationIntervalDays = d.rotationIntervalDays !== undefined ? d.rotationIntervalDays : s.rotationIntervalDays;
        const unchanged =
          description === s.description &&
          scope.environment === s.scope.environment &&
          scope.branch === s.scope.branch &&
          scope.protectedOnly === s.scope.protectedOnly &&
          rotationIntervalDays === s.rotationIntervalDays;
        if (unchanged) return []; // idempotent: nothing happened, so no fact to record
        const data: SecretMetadataChanged['data'] = { projectId: s.projectId, name: s.name, description, scope, changedBy: by };
        if (rotationIntervalDays !== null || s.rotationIntervalDays !== null) data.rotationIntervalDays = rotationIntervalDays;
        return [{ type: 'SecretMetadataChanged', data }];
      }
      case 'RecordSecretRotationOverdue': {
        // Nothing to record: gone, no interval, another version now, already recorded for it, or not yet due.
        if (state.status !== 'active' || state.rotationIntervalDays === null) return [];
        if (command.data.version !== state.version || state.rotationOverdueVersion === state.version) return [];
        const dueAt = rotationDueAt(state.rotationIntervalDays, state.versionAt);
        const now = command.metadata.now;
        if (dueAt === null || Date.parse(now) < Date.parse(dueAt)) return [];
        return [
          {
            type: 'SecretRotationOverdue',
            data: {
              projectId: state.projectId,
              name: state.name,
              version: state.version,
              intervalDays: state.rotationIntervalDays,
              lastRotatedAt: new Date(Date.parse(state.versionAt)).toISOString(),
              dueAt,
              recordedAt: now,
            },
          },
        ];
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
          rotationIntervalDays: d.rotationIntervalDays ?? null,
          versionAt: at,
          rotationOverdueVersion: null,
        };
      }
      case 'SecretValueUpdated':
        // A new value version restarts the rotation interval.
        if (state.status !== 'active') return state;
        return { ...state, version: event.data.version, valueRef: event.data.valueRef, updatedAt: at, versionAt: at };
      case 'SecretMetadataChanged': {
        if (state.status !== 'active') return state;
        const r = event.data.rotationIntervalDays;
        return { ...state, description: event.data.description, scope: event.data.scope, updatedAt: at, rotationIntervalDays: r !== undefined ? r : state.rotationIntervalDays };
      }
      case 'SecretRotationOverdue':
        // A fact about a version, not a change of the secret: updatedAt stays.
        if (state.status !== 'active') return state;
        return { ...state, rotationOverdueVersion: event.data.version };
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
      const d = requireOnlyKeys(command.data, ['projectId', 'name', 'description', 'scope', 'valueRef', 'rotationIntervalDays']);
      requirePlaceKey('projectId', d.projectId);
      requireSecretName(d.name);
      requireNullableFreeText('description', d.description, MAX_DESCRIPTION_LENGTH);
      const scope = requireOnlyKeys(d.scope, ['environment', 'branch', 'protectedOnly']);
      requireNullableGlob('environment', scope.environment);
      requireNullableGlob('branch', scope.branch);
      requireBoolean('protectedOnly', scope.protectedOnly);
      requireValueRef(d.valueRef);
      if (d.rotationIntervalDays !== undefined && d.rotationIntervalDays !== null) requireRotationInterval(d.rotationIntervalDays);
      return;
    }
    case 'UpdateSecretValue':
      requireValueRef(requireOnlyKeys(command.data, ['valueRef']).valueRef);
      return;
    case 'ChangeSecretMetadata': {
      // undefined = leave as it is; null clears description and globs; protectedOnly is never null.
      const d = requireOnlyKeys(command.data, ['description', 'environment', 'branch', 'protectedOnly', 'rotationIntervalDays']);
      if (d.description !== undefined) requireNullableFreeText('description', d.description, MAX_DESCRIPTION_LENGTH);
      if (d.environment !== undefined) requireNullableGlob('environment', d.environment);
      if (d.branch !== undefined) requireNullableGlob('branch', d.branch);
      if (d.protectedOnly !== undefined) requireBoolean('protectedOnly', d.protectedOnly);
      // null clears the interval.
      if (d.rotationIntervalDays !== undefined && d.rotationIntervalDays !== null) requireRotationInterval(d.rotationIntervalDays);
      return;
    }
    case 'DeleteSecret':
      requireOnlyKeys(command.data, []);
      return;
    case 'RecordSecretRotationOverdue': {
      const v = requireOnlyKeys(command.data, ['version']).version;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw invalid('invalid-field', 'version must be a positive integer', 'version');
      return;
    }
    default:
      assertNever(command);
  }
}

/** A whole number of days from MIN_ROTATION_INTERVAL_DAYS to MAX_ROTATION_INTERVAL_DAYS. */
export function requireRotationInterval(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_ROTATION_INTERVAL_DAYS || v > MAX_ROTATION_INTERVAL_DAYS) {
    throw invalid('invalid-field', `rotationIntervalDays must be a whole number of days from ${MIN_ROTATION_INTERVAL_DAYS} to ${MAX_ROTATION_INTERVAL_DAYS}`, 'rotationIntervalDays');
  }
  return v;
}

function requireActive(state: SecretState): ActiveSecret {
  if (state.status !== 'active') throw notFound('secret-not-found', 'secret not found');
  return state;
}
