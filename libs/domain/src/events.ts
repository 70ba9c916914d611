import { AccessEvent } from './access/access-decision';
import { AbuseEvent } from './access/denials-suppressed';
import { RecordedEvent } from './ports/event-store';
import { OpenBaoDriftEvent } from './openbao-audit/drift';
import { AccessPolicyEvent } from './access-policy/access-policy';
import { AccessRequestCoordinationEvent, AccessRequestEvent } from './access-request/access-request';
import { SecretEvent } from './secret/secret';
import { SecretValueNotDelivered } from './openbao/value-delivery';
import { ProjectGroupEvent } from './group/project-group';
import { ExposureReportGenerated } from './exposure/exposure-request';
import { isWellFormedText, toWellFormedText } from './invariants';

export type DomainEventUnion = SecretEvent | AccessPolicyEvent | AccessRequestEvent | AccessRequestCoordinationEvent | AccessEvent | AbuseEvent | OpenBaoDriftEvent | SecretValueNotDelivered | ProjectGroupEvent | ExposureReportGenerated;
export type EventType = DomainEventUnion['type'];

/** The schema version written for each event type today. Bump it, and add an upcaster, when a shape changes. */
export const CURRENT_SCHEMA_VERSION: Readonly<Record<EventType, number>> = {
  SecretCreated: 1,
  SecretValueUpdated: 1,
  SecretMetadataChanged: 1,
  SecretDeleted: 1,
  SecretRotationOverdue: 1,
  RoleGranted: 1,
  RoleRevoked: 1,
  RoleExpired: 1,
  SecretAccessed: 1,
  SecretAccessDenied: 1,
  OpenBaoDriftDetected: 1,
  OpenBaoDriftRepaired: 1,
  SecretValueNotDelivered: 1,
  SecretAccessDenialsSuppressed: 1,
  AccessRequested: 1,
  AccessRequestApproved: 1,
  AccessRequestDenied: 1,
  AccessRequestCancelled: 1,
  AccessRequestExpired: 1,
  BreakGlassInvoked: 1,
  BreakGlassReviewed: 1,
  AccessRequestApprovalClaimed: 1,
  AccessRequestApprovalReleased: 1,
  AccessRequestApprovalVoided: 1,
  ProjectGroupChanged: 1,
  ExposureReportGenerated: 1,
};

export function isKnownEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(CURRENT_SCHEMA_VERSION, type);
}

/** Turns data of schema version `from` into version `from + 1`. Old events are upcast when read, never rewritten. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;
export type UpcasterRegistry = Partial<Record<string, Record<number, Upcaster>>>;

/** No shape has changed yet; the mechanism is tested with a registry of its own. */
export const UPCASTERS: UpcasterRegistry = {};

/**
 * Repairs of events recorded, at a given schema version, in a shape that version never allowed
 * (history is immutable, so they are mended when read, never rewritten). Each keeps what a valid
 * event of that version would have said, and only touches fields that are present and invalid.
 */
export type RepairRegistry = Partial<Record<string, Record<number, Upcaster>>>;

const wellFormed = (v: string): string => (isWellFormedText(v) ? v : toWellFormedText(v));

function repairScope(d: Record<string, unknown>): Record<string, unknown> {
  let out = d;
  if (typeof d.description === 'string' && !isWellFormedText(d.description)) out = { ...out, description: wellFormed(d.description) };
  const scope = d.scope;
  if (scope && typeof scope === 'object' && !Array.isArray(scope)) {
    const s = scope as Record<string, unknown>;
    // Until the decider refused it, PATCH {"protectedOnly": null} recorded a null here. Every decision
    // taken since (the ability check, the rendered OpenBao roles) read that null as false, so false
    // is what the read models must say when they are rebuilt, or they would disagree with the audit trail.
    const fixed: Record<string, unknown> = { ...s };
    let changed = false;
    if ('protectedOnly' in s && typeof s.protectedOnly !== 'boolean') {
      fixed.protectedOnly = s.protectedOnly === 'true';
      changed = true;
    }
    for (const k of ['environment', 'branch'] as const) {
      if (k in s && s[k] !== null && typeof s[k] !== 'string') {
        fixed[k] = null;
        changed = true;
      }
    }
    if (changed) out = { ...out, scope: fixed };
  }
  return out;
}

function repairPurpose(d: Record<string, unknown>): Record<string, unknown> {
  return typeof d.purpose === 'string' && !isWellFormedText(d.purpose) ? { ...d, purpose: wellFormed(d.purpose) } : d;
}

export const REPAIRS: RepairRegistry = {
  SecretCreated: { 1: repairScope },
  SecretMetadataChanged: { 1: repairScope },
  SecretAccessed: { 1: repairPurpose },
  SecretAccessDenied: { 1: repairPurpose },
};

export function upcast(
  type: string,
  schemaVersion: number,
  data: Record<string, unknown>,
  registry: UpcasterRegistry = UPCASTERS,
  current: Readonly<Record<string, number>> = CURRENT_SCHEMA_VERSION,
  repairs: RepairRegistry = REPAIRS,
): Record<string, unknown> {
  const target = current[type];
  if (target === undefined) throw new Error(`unknown event type ${type}`);
  if (schemaVersion > target) throw new Error(`${type} v${schemaVersion} is newer than this code (v${target})`);
  let d = data;
  for (let v = schemaVersion; ; v++) {
    const repair = repairs[type]?.[v];
    if (repair) d = repair(d);
    if (v >= target) return d;
    const step = registry[type]?.[v];
    if (!step) throw new Error(`no upcaster for ${type} v${v}`);
    d = step(d);
  }
}

/** A stored event as the domain sees it: upcast to today's shape. */
export function toDomainEvent<E extends DomainEventUnion>(recorded: RecordedEvent): E {
  if (!isKnownEventType(recorded.type)) throw new Error(`unknown event type ${recorded.type} in ${recorded.streamName}`);
  return { type: recorded.type, data: upcast(recorded.type, recorded.schemaVersion, recorded.data) } as E;
}
