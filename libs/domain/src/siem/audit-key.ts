import { isGroupKey, placeOf } from '../group/place';
import { RecordedEvent } from '../ports/event-store';

/**
 * Kafka key of an event's audit record: `{place key}/{secretName}`, so records of one secret
 * keep their order in one partition. A project's place key is its id (`acme/DB_PASSWORD`); a
 * group's is `group:<path>` (`group:acme/payments/REGISTRY_TOKEN`, API.md: `group:{groupId}/{name}`),
 * which no project key can equal (`:` never occurs in a project id). Grants and denials not about
 * one secret (name null) use `{place key}/*`: a grant covers many secrets, so it is keyed to the
 * place as a whole. A `group:` key that is not a well-formed group path (a forged or damaged
 * event) keys to no place (`/name`), never to something that reads as a group or a project.
 */
export function auditKey(event: RecordedEvent): string {
  const data = event.data as { projectId?: unknown; name?: unknown };
  let place = typeof data.projectId === 'string' ? data.projectId : '';
  if (isGroupKey(place) && placeOf(place) === null) place = '';
  const name = typeof data.name === 'string' && event.type !== 'RoleGranted' && event.type !== 'RoleRevoked' ? data.name : '*';
  return `${place}/${name}`;
}
