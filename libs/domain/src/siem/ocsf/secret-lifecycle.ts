// API Activity (6003) records of a secret's life: created, value updated, metadata changed,
// deleted, and a value version overdue for rotation.
import { RecordedEvent } from '../../ports/event-store';
import { SecretEvent, SecretRotationOverdue, SecretScope } from '../../secret/secret';
import { actorFromMetadata, ApiActivityId, apiActivity, int, nullableStr, secretResources, SeverityId, str } from './common';
import { OcsfApiActivity, OcsfOptions } from './types';

export function secretRecord(event: RecordedEvent, domain: Exclude<SecretEvent, SecretRotationOverdue>, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  let activity: ApiActivityId;
  let operation: string;
  let severity: SeverityId = 1;
  let verb: string;
  let version: number | undefined;
  let data: Record<string, unknown> = {};
  switch (domain.type) {
    case 'SecretCreated':
      activity = 1;
      operation = 'CreateSecret';
      verb = 'created';
      version = int(domain.data.version);
      data = settingsOf(domain.data);
      break;
    case 'SecretValueUpdated':
      activity = 3;
      operation = 'UpdateSecretValue';
      verb = 'updated the value of';
      version = int(domain.data.version);
      break;
    case 'SecretMetadataChanged':
      activity = 3;
      operation = 'ChangeSecretMetadata';
      verb = 'changed the metadata of';
      data = settingsOf(domain.data);
      break;
    case 'SecretDeleted':
      activity = 4;
      operation = 'DeleteSecret';
      verb = 'deleted';
      version = int(domain.data.lastVersion);
      severity = 2; // destructive, but routine
      break;
  }
  const resources = secretResources(str(d.projectId), str(d.name), { version, data });
  const actor = actorFromMetadata(event);
  return apiActivity(event, opts, {
    activity,
    operation,
    severity,
    success: true,
    actor,
    resources,
    message: `${actor.who} ${verb} secret ${resources[0].uid}`,
  });
}

/** A secret's settings in its resource data: the scope, and the rotation interval when the event carries one. */
function settingsOf(d: { scope: SecretScope; rotationIntervalDays?: number | null }): Record<string, unknown> {
  const data: Record<string, unknown> = { scope: scopeOf(d.scope) };
  if (d.rotationIntervalDays !== undefined) data.rotation_interval_days = intervalOf(d.rotationIntervalDays);
  return data;
}

function scopeOf(scope: SecretScope): { environment: string | null; branch: string | null; protected_only: boolean } {
  const s = (scope ?? {}) as Partial<SecretScope>;
  return { environment: nullableStr(s.environment), branch: nullableStr(s.branch), protected_only: s.protectedOnly === true };
}

/** An interval copied into a record: a whole number of days, or null (cleared); anything else is null. */
function intervalOf(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null;
}

/**
 * A value version outlived its rotation interval: API Activity "Other" (operation
 * RecordSecretRotationOverdue) on the secret and version, by the system's timer, Medium: the
 * secret still works, but a reviewer must act. status_detail "rotation-overdue".
 */
export function rotationOverdueRecord(event: RecordedEvent, domain: SecretRotationOverdue, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const resources = secretResources(str(d.projectId), str(d.name), { version: int(d.version) });
  const resource = resources[0];
  const actor = actorFromMetadata(event);
  const rotation = { interval_days: intervalOf(d.intervalDays) ?? 0, last_rotated_at: str(d.lastRotatedAt), due_at: str(d.dueAt) };
  return apiActivity(event, opts, {
    activity: 99,
    operation: 'RecordSecretRotationOverdue',
    severity: 3,
    success: true,
    statusDetail: 'rotation-overdue',
    actor,
    resources,
    message: `version ${int(d.version)} of secret ${resource.uid} is overdue for rotation: due ${rotation.due_at} (every ${rotation.interval_days} days, last rotated ${rotation.last_rotated_at})`,
    unmapped: { rotation },
  });
}
