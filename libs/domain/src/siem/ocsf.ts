// Recorded events → OCSF 1.3.0 records (https://schema.ocsf.io/1.3.0/). Every record is built
// field by field from an allow-list: event data is never spread, so a field added to an event
// (or a value reference) cannot leak into the SIEM. Enumerated values (reasons, actions, roles)
// are checked against the domain's closed sets; only identifiers are copied as they are.
//
// This file is the entry point; the records are built in ocsf/: types.ts (the OCSF objects),
// common.ts (what every record shares: class frame, metadata, actor, place as resources, value
// coercions), one file per group of records (secret-lifecycle, secret-access, openbao-drift,
// access-request, project-group: API Activity 6003; grants: User Access 3005 and Group Management 3006), and
// canonical-order.ts (the key order every record leaves in).
import { DomainEventUnion, isKnownEventType, toDomainEvent } from '../events';
import { RecordedEvent } from '../ports/event-store';
import { accessRequestRecord } from './ocsf/access-request';
import { breakGlassRecord, grantRecord } from './ocsf/grants';
import { driftRecord } from './ocsf/openbao-drift';
import { projectGroupRecord } from './ocsf/project-group';
import { exposureReportRecord } from './ocsf/exposure-report';
import { accessRecord, notDeliveredRecord, suppressedRecord } from './ocsf/secret-access';
import { rotationOverdueRecord, secretRecord } from './ocsf/secret-lifecycle';
import { OcsfOptions, OcsfRecord } from './ocsf/types';

export { AUDIT_LOG_NAME, OCSF_VERSION } from './ocsf/types';
export type {
  OcsfActor,
  OcsfApi,
  OcsfApiActivity,
  OcsfAuthorization,
  OcsfGroupManagement,
  OcsfMetadata,
  OcsfNetworkEndpoint,
  OcsfOptions,
  OcsfPolicy,
  OcsfProduct,
  OcsfRecord,
  OcsfResourceDetails,
  OcsfService,
  OcsfSession,
  OcsfUnmapped,
  OcsfUser,
  OcsfUserAccessManagement,
} from './ocsf/types';
/** Purposes in records are cut to this many code points (ocsf/common.ts, purposeOf). */
export { MAX_PURPOSE_LENGTH } from '../limits';

/**
 * The OCSF record of one recorded event as the audit log stores it: its canonical (RFC 8785) JSON,
 * the Merkle leaf's bytes, or null when the event is not audit-relevant (unknown types). The record
 * is assembled with its keys already in canonical order (ocsf/canonical-order.ts), so this is one
 * JSON.stringify.
 */
export function toOcsfJson(event: RecordedEvent, opts: OcsfOptions): string | null {
  const r = buildRecord(event, opts);
  return r === null ? null : JSON.stringify(r);
}

/** The OCSF record of one recorded event (parsed back from toOcsfJson's bytes: exactly what is logged), or null. */
export function toOcsf(event: RecordedEvent, opts: OcsfOptions): OcsfRecord | null {
  const json = toOcsfJson(event, opts);
  return json === null ? null : (JSON.parse(json) as OcsfRecord);
}

function buildRecord(event: RecordedEvent, opts: OcsfOptions): OcsfRecord | null {
  if (!isKnownEventType(event.type)) return null;
  // Upcast to today's shape; an event newer than this code throws rather than being skipped,
  // so the auditor stops instead of silently losing an audit record.
  const domain = toDomainEvent<DomainEventUnion>(event);
  switch (domain.type) {
    case 'SecretCreated':
    case 'SecretValueUpdated':
    case 'SecretMetadataChanged':
    case 'SecretDeleted':
      return secretRecord(event, domain, opts);
    case 'SecretRotationOverdue':
      return rotationOverdueRecord(event, domain, opts);
    case 'SecretAccessed':
    case 'SecretAccessDenied':
      return accessRecord(event, domain, opts);
    case 'SecretAccessDenialsSuppressed':
      return suppressedRecord(event, domain, opts);
    case 'OpenBaoDriftDetected':
    case 'OpenBaoDriftRepaired':
      return driftRecord(event, domain, opts);
    case 'SecretValueNotDelivered':
      return notDeliveredRecord(event, domain, opts);
    case 'RoleGranted':
    case 'RoleRevoked':
    case 'RoleExpired':
      return grantRecord(event, domain, opts);
    case 'BreakGlassInvoked':
      return breakGlassRecord(event, domain, opts);
    case 'AccessRequested':
    case 'AccessRequestApproved':
    case 'AccessRequestDenied':
    case 'AccessRequestCancelled':
    case 'AccessRequestExpired':
    case 'BreakGlassReviewed':
      return accessRequestRecord(event, domain, opts);
    case 'ProjectGroupChanged':
      return projectGroupRecord(event, domain, opts);
    case 'ExposureReportGenerated':
      return exposureReportRecord(event, domain, opts);
    default:
      return null;
  }
}
