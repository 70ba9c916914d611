import { AccessEvent } from './access/access-decision';
import { RecordedEvent } from './ports/event-store';
import { AccessPolicyEvent } from './access-policy/access-policy';
import { SecretEvent } from './secret/secret';

export type DomainEventUnion = SecretEvent | AccessPolicyEvent | AccessEvent;
export type EventType = DomainEventUnion['type'];

/** The schema version written for each event type today. Bump it, and add an upcaster, when a shape changes. */
export const CURRENT_SCHEMA_VERSION: Readonly<Record<EventType, number>> = {
  SecretCreated: 1,
  SecretValueUpdated: 1,
  SecretMetadataChanged: 1,
  SecretDeleted: 1,
  RoleGranted: 1,
  RoleRevoked: 1,
  RoleExpired: 1,
  SecretAccessed: 1,
  SecretAccessDenied: 1,
};

export function isKnownEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(CURRENT_SCHEMA_VERSION, type);
}

/** Turns data of schema version `from` into version `from + 1`. Old events are upcast when read, never rewritten. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;
export type UpcasterRegistry = Partial<Record<string, Record<number, Upcaster>>>;

/** No shape has changed yet; the mechanism is tested with a registry of its own. */
export const UPCASTERS: UpcasterRegistry = {};

export function upcast(
  type: string,
  schemaVersion: number,
  data: Record<string, unknown>,
  registry: UpcasterRegistry = UPCASTERS,
  current: Readonly<Record<string, number>> = CURRENT_SCHEMA_VERSION,
): Record<string, unknown> {
  const target = current[type];
  if (target === undefined) throw new Error(`unknown event type ${type}`);
  if (schemaVersion > target) throw new Error(`${type} v${schemaVersion} is newer than this code (v${target})`);
  let d = data;
  for (let v = schemaVersion; v < target; v++) {
    const step = registry[type]?.[v];
    if (!step) throw new Error(`no upcaster for ${type} v${v}`);
    d = step(d);
  }
  return d;
}

/** A stored event as the domain sees it: upcast to today's shape. */
export function toDomainEvent<E extends DomainEventUnion>(recorded: RecordedEvent): E {
  if (!isKnownEventType(recorded.type)) throw new Error(`unknown event type ${recorded.type} in ${recorded.streamName}`);
  return { type: recorded.type, data: upcast(recorded.type, recorded.schemaVersion, recorded.data) } as E;
}
