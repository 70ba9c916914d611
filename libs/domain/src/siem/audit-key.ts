import { RecordedEvent } from '../ports/event-store';

/**
 * Kafka key of an event's audit record: `{projectId}/{secretName}`, so records of one secret
 * keep their order in one partition. Grants and denials not about one secret (name null) use
 * `{projectId}/*`: a grant covers many secrets, so it is keyed to the project as a whole.
 */
export function auditKey(event: RecordedEvent): string {
  const data = event.data as { projectId?: unknown; name?: unknown };
  const projectId = typeof data.projectId === 'string' ? data.projectId : '';
  const name = typeof data.name === 'string' && event.type !== 'RoleGranted' && event.type !== 'RoleRevoked' ? data.name : '*';
  return `${projectId}/${name}`;
}
