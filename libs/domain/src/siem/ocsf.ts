// Recorded events → OCSF 1.3.0 records (https://schema.ocsf.io/1.3.0/). Every record is built
// field by field from an allow-list: event data is never spread, so a field added to an event
// (or a value reference) cannot leak into the SIEM. Enumerated values (reasons, actions, roles)
// are checked against the domain's closed sets; only identifiers are copied as they are.
import { AbilityAction, DenialReason } from '../authorization/ability';
import { AccessEvent } from '../access/access-decision';
import { SecretAccessDenialsSuppressed } from '../access/denials-suppressed';
import { OpenBaoDriftEvent } from '../openbao-audit/drift';
import { SecretValueNotDelivered, VALUE_NOT_DELIVERED_REASONS } from '../openbao/value-delivery';
import { AccessPolicyEvent } from '../access-policy/access-policy';
import { AccessRequestEvent, BreakGlassInvoked } from '../access-request/access-request';
import { DomainEventUnion, isKnownEventType, toDomainEvent } from '../events';
import { RecordedEvent } from '../ports/event-store';
import { PrincipalRecord } from '../principal';
import { ROLES, Role } from '../roles';
import { SecretEvent, SecretRotationOverdue, SecretScope } from '../secret/secret';

export const OCSF_VERSION = '1.3.0';
export const AUDIT_LOG_NAME = 'secrets.audit.v1';
import { MAX_PURPOSE_LENGTH } from '../limits';
/**
 * A purpose is a user-written justification, kept whole for reviewers: the one limit of limits.ts
 * (in code points), which the access decision already enforces; the cut below only guards history.
 */
export { MAX_PURPOSE_LENGTH };

export interface OcsfOptions {
  productName: string;
  productVersion: string;
  vendorName: string;
  /** The denial burst detector flagged this event (only meaningful for SecretAccessDenied). */
  burst: boolean;
}

// ---- the OCSF objects used here (subsets of the 1.3.0 objects of the same names) ----
export interface OcsfProduct {
  name: string;
  version: string;
  vendor_name: string;
}
export interface OcsfMetadata {
  version: typeof OCSF_VERSION;
  product: OcsfProduct;
  profiles: string[];
  uid: string;
  correlation_uid: string;
  event_code: string;
  log_name: string;
  original_time: string;
  logged_time?: number;
}
export interface OcsfUser {
  uid: string;
  name?: string;
  type_id: 0 | 1 | 2 | 3 | 99;
  type: string;
}
export interface OcsfSession {
  uid: string;
}
export interface OcsfPolicy {
  uid?: string;
  name: string;
}
export interface OcsfAuthorization {
  decision: 'Allowed' | 'Denied';
  policy?: OcsfPolicy;
}
export interface OcsfActor {
  user: OcsfUser;
  session?: OcsfSession;
  authorizations?: OcsfAuthorization[];
}
export interface OcsfNetworkEndpoint {
  svc_name: string;
}
export interface OcsfService {
  name: string;
}
export interface OcsfApi {
  operation: string;
  service: OcsfService;
}
export interface OcsfResourceDetails {
  type: 'secret' | 'project' | 'access-request' | 'break-glass' | 'openbao-acl-policy' | 'openbao-jwt-role' | 'openbao-jwt-config' | 'openbao-object';
  uid: string;
  name: string;
  version?: string;
  labels?: string[];
  data?: Record<string, unknown>;
}
/** Fields OCSF has no attribute for, under the one catch-all OCSF offers. */
export interface OcsfUnmapped {
  ci?: {
    pipeline_id?: string;
    job_id?: string;
    ref?: string;
    ref_protected?: boolean;
    environment?: string;
    triggered_by?: string;
  };
  purpose?: string;
  denied_action?: string;
  denial_burst?: boolean;
  /** OpenBaoDriftDetected / OpenBaoDriftRepaired: what was changed behind the service's back, and what the reconciler put back */
  openbao_drift?: { request_id: string | null; path: string | null; operation?: string; policies?: string[]; written?: string[]; removed?: string[] };
  /** the read bypassed the API: OpenBao decided it, seen in OpenBao's audit device */
  openbao?: { request_id: string; policy: string | null };
  /** SecretAccessDenialsSuppressed: what the folded denials were (count, start_time and end_time are on the record). */
  suppressed?: { rate_limited: number; projects: number; window_seconds: number };
  grant?: { grant_id: string; expires_at?: string | null; access_request_id?: string; break_glass?: true };
  /** Access requests (four-eyes) and break-glass: what was asked or done, why, and who decided. */
  access_request?: { request_id: string; requester: string; role?: string; duration_seconds?: number; reason?: string; expires_at?: string; grant_id?: string; comment?: string | null };
  break_glass?: { grant_id: string; user: string; reason?: string; duration_seconds?: number; expires_at?: string; eligible_via?: string; outcome?: string; comment?: string };
  /** SecretRotationOverdue: the interval the version outlived, when it was written and when it was due. */
  rotation?: { interval_days: number; last_rotated_at: string; due_at: string };
  /** SecretValueNotDelivered: the SecretAccessed record this one corrects (its metadata.uid). */
  not_delivered?: { access_event_uid: string };
}

interface OcsfBase {
  metadata: OcsfMetadata;
  time: number;
  time_dt: string;
  category_uid: number;
  category_name: string;
  class_uid: number;
  class_name: string;
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  severity_id: 1 | 2 | 3 | 4 | 5;
  severity: 'Informational' | 'Low' | 'Medium' | 'High' | 'Critical';
  status_id: 1 | 2;
  status: 'Success' | 'Failure';
  status_detail?: string;
  message: string;
  actor: OcsfActor;
  src_endpoint: OcsfNetworkEndpoint;
  unmapped?: OcsfUnmapped;
}

/** API Activity (class_uid 6003): every secret event and every access decision. */
export interface OcsfApiActivity extends OcsfBase {
  class_uid: 6003;
  class_name: 'API Activity';
  category_uid: 6;
  category_name: 'Application Activity';
  activity_id: 1 | 2 | 3 | 4 | 99;
  api: OcsfApi;
  resources: OcsfResourceDetails[];
  /** Folded repeats (SecretAccessDenialsSuppressed): how many, from when to when. */
  count?: number;
  start_time?: number;
  start_time_dt?: string;
  end_time?: number;
  end_time_dt?: string;
}

/** User Access Management (class_uid 3005): role grants and revocations. */
export interface OcsfUserAccessManagement extends OcsfBase {
  class_uid: 3005;
  class_name: 'User Access Management';
  category_uid: 3;
  category_name: 'Identity & Access Management';
  activity_id: 1 | 2;
  user: OcsfUser;
  privileges: string[];
  resource: OcsfResourceDetails;
}

/** Group Management (class_uid 3006): a role granted to, or revoked from, a group. */
export interface OcsfGroupManagement extends OcsfBase {
  class_uid: 3006;
  class_name: 'Group Management';
  category_uid: 3;
  category_name: 'Identity & Access Management';
  activity_id: 1 | 2;
  group: { uid: string; name: string };
  privileges: string[];
  resource: OcsfResourceDetails;
}

export type OcsfRecord = OcsfApiActivity | OcsfUserAccessManagement | OcsfGroupManagement;

const API_ACTIVITY = { class_uid: 6003, class_name: 'API Activity', category_uid: 6, category_name: 'Application Activity' } as const;
const USER_ACCESS = { class_uid: 3005, class_name: 'User Access Management', category_uid: 3, category_name: 'Identity & Access Management' } as const;
const GROUP_MANAGEMENT = { class_uid: 3006, class_name: 'Group Management', category_uid: 3, category_name: 'Identity & Access Management' } as const;

const API_ACTIVITY_NAMES = { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' } as const;
type ApiActivityId = keyof typeof API_ACTIVITY_NAMES;
const USER_ACCESS_NAMES = { 1: 'Assign Privileges', 2: 'Revoke Privileges' } as const;
// 5 Critical ("action is required immediately") is the highest severity that describes an event;
// 6 Fatal is for errors too late to remedy. Break-glass is recorded at 5.
const SEVERITY_NAMES = { 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High', 5: 'Critical' } as const;
type SeverityId = keyof typeof SEVERITY_NAMES;

/** The attempted action of a denial → API activity and the operation the caller tried. */
const DENIED_ACTION: Readonly<Record<AbilityAction, { activity: ApiActivityId; operation: string }>> = {
  read: { activity: 2, operation: 'AccessSecret' },
  list: { activity: 2, operation: 'ListSecrets' },
  create: { activity: 1, operation: 'CreateSecret' },
  update: { activity: 3, operation: 'UpdateSecret' },
  delete: { activity: 4, operation: 'DeleteSecret' },
  'read-audit': { activity: 2, operation: 'ReadAudit' },
  // Not a CRUD call on a secret: OCSF's "Other", named in activity_name.
  'manage-grants': { activity: 99, operation: 'ManageGrants' },
  'bootstrap-owner': { activity: 99, operation: 'BootstrapOwner' },
  'request-access': { activity: 99, operation: 'RequestAccess' },
  'break-glass': { activity: 99, operation: 'BreakGlass' },
};

/** Closed set of denial reasons; the compiler forces this list to follow DenialReason. */
const DENIAL_REASONS: Readonly<Record<DenialReason, true>> = {
  'no-grant': true,
  'openbao-denied': true,
  'grant-expired': true,
  'grant-revoked': true,
  'role-lacks-action': true,
  'scope-mismatch': true,
  'other-project': true,
  'unprotected-ref': true,
  'environment-mismatch': true,
  'branch-mismatch': true,
  'ref-type-mismatch': true,
  'ci-job-action': true,
  'four-eyes-self': true,
  'four-eyes-shared-group': true,
  'no-manage-grants': true,
  'not-requester': true,
  'break-glass-not-eligible': true,
  'secret-not-found': true,
};

/** The OCSF record of one recorded event, or null when the event is not audit-relevant (unknown types). */
export function toOcsf(event: RecordedEvent, opts: OcsfOptions): OcsfRecord | null {
  const r = buildRecord(event, opts);
  return r && inCanonicalOrder(r);
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
    default:
      return null;
  }
}

function secretRecord(event: RecordedEvent, domain: Exclude<SecretEvent, SecretRotationOverdue>, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const projectId = str(d.projectId);
  const name = str(d.name);
  const resource: OcsfResourceDetails = { type: 'secret', uid: `${projectId}/${name}`, name };
  let activity: ApiActivityId;
  let operation: string;
  let severity: SeverityId = 1;
  let verb: string;
  switch (domain.type) {
    case 'SecretCreated':
      activity = 1;
      operation = 'CreateSecret';
      verb = 'created';
      resource.version = String(int(domain.data.version));
      resource.data = { project_id: projectId, scope: scopeOf(domain.data.scope) };
      if (domain.data.rotationIntervalDays !== undefined) resource.data.rotation_interval_days = intervalOf(domain.data.rotationIntervalDays);
      break;
    case 'SecretValueUpdated':
      activity = 3;
      operation = 'UpdateSecretValue';
      verb = 'updated the value of';
      resource.version = String(int(domain.data.version));
      resource.data = { project_id: projectId };
      break;
    case 'SecretMetadataChanged':
      activity = 3;
      operation = 'ChangeSecretMetadata';
      verb = 'changed the metadata of';
      resource.data = { project_id: projectId, scope: scopeOf(domain.data.scope) };
      if (domain.data.rotationIntervalDays !== undefined) resource.data.rotation_interval_days = intervalOf(domain.data.rotationIntervalDays);
      break;
    case 'SecretDeleted':
      activity = 4;
      operation = 'DeleteSecret';
      verb = 'deleted';
      resource.version = String(int(domain.data.lastVersion));
      resource.data = { project_id: projectId };
      severity = 2; // destructive, but routine
      break;
  }
  const actor = actorFromMetadata(event);
  return apiActivity(event, opts, {
    activity,
    operation,
    severity,
    success: true,
    actor,
    resources: [resource],
    message: `${actor.who} ${verb} secret ${resource.uid}`,
  });
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
function rotationOverdueRecord(event: RecordedEvent, domain: SecretRotationOverdue, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const projectId = str(d.projectId);
  const name = str(d.name);
  const uid = `${projectId}/${name}`;
  const actor = actorFromMetadata(event);
  const rotation = { interval_days: intervalOf(d.intervalDays) ?? 0, last_rotated_at: str(d.lastRotatedAt), due_at: str(d.dueAt) };
  return apiActivity(event, opts, {
    activity: 99,
    operation: 'RecordSecretRotationOverdue',
    severity: 3,
    success: true,
    statusDetail: 'rotation-overdue',
    actor,
    resources: [{ type: 'secret', uid, name, version: String(int(d.version)), data: { project_id: projectId } }],
    message: `version ${int(d.version)} of secret ${uid} is overdue for rotation: due ${rotation.due_at} (every ${rotation.interval_days} days, last rotated ${rotation.last_rotated_at})`,
    unmapped: { rotation },
  });
}

function accessRecord(event: RecordedEvent, domain: AccessEvent, opts: OcsfOptions): OcsfApiActivity {
  const projectId = str(domain.data.projectId);
  const principal = principalActor(domain.data.principal);
  const unmapped: OcsfUnmapped = {};
  if (principal.ci) unmapped.ci = principal.ci;
  const purpose = purposeOf(domain.data.purpose);
  if (purpose !== undefined) unmapped.purpose = purpose;
  const ob = openBaoVia(domain.data.via);
  if (ob) unmapped.openbao = ob;

  if (domain.type === 'SecretAccessed') {
    const name = str(domain.data.name);
    const uid = `${projectId}/${name}`;
    principal.actor.authorizations = [{ decision: 'Allowed', policy: viaPolicy(domain.data.via) }];
    return apiActivity(event, opts, {
      activity: 2,
      operation: 'AccessSecret',
      severity: 1,
      success: true,
      actor: principal,
      resources: [{ type: 'secret', uid, name, version: String(int(domain.data.version)), data: { project_id: projectId } }],
      message: `${principal.who} read secret ${uid}`,
      unmapped,
    });
  }

  const action = Object.prototype.hasOwnProperty.call(DENIED_ACTION, domain.data.action)
    ? DENIED_ACTION[domain.data.action]
    : { activity: 99 as const, operation: 'Unknown' };
  const reason = typeof domain.data.reason === 'string' && Object.prototype.hasOwnProperty.call(DENIAL_REASONS, domain.data.reason) ? domain.data.reason : 'other';
  unmapped.denied_action = action.operation;
  const burst = opts.burst === true;
  if (burst) unmapped.denial_burst = true;
  principal.actor.authorizations = [{ decision: 'Denied' }];
  const name = typeof domain.data.name === 'string' ? domain.data.name : null;
  const resource: OcsfResourceDetails =
    name === null
      ? { type: 'project', uid: projectId, name: projectId }
      : { type: 'secret', uid: `${projectId}/${name}`, name, data: { project_id: projectId } };
  return apiActivity(event, opts, {
    activity: action.activity,
    operation: action.operation,
    severity: burst ? 4 : 3,
    success: false,
    statusDetail: reason,
    actor: principal,
    resources: [resource],
    message: `${principal.who} was denied ${action.operation} on ${resource.type} ${resource.uid}: ${reason}${burst ? ' (repeated denials)' : ''}`,
    unmapped,
  });
}

/** Identical denials folded into one record: OCSF's `count` with `start_time`/`end_time` (API Activity, activity Other). */
/** An allowed access whose value was not delivered after all: API Activity Read, failed, naming the SecretAccessed it corrects. */
function notDeliveredRecord(event: RecordedEvent, domain: SecretValueNotDelivered, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const projectId = str(d.projectId);
  const name = str(d.name);
  const reason = typeof d.reason === 'string' && Object.prototype.hasOwnProperty.call(VALUE_NOT_DELIVERED_REASONS, d.reason) ? d.reason : 'other';
  const actor = actorFromMetadata(event);
  return apiActivity(event, opts, {
    activity: 2,
    operation: 'AccessSecret',
    severity: 3,
    success: false,
    statusDetail: reason,
    actor,
    resources: [{ type: 'secret', uid: `${projectId}/${name}`, name, version: String(int(d.version)), data: { project_id: projectId } }],
    message: `the value of secret ${projectId}/${name} was not delivered to ${actor.who} (${reason}); corrects access ${str(d.accessEventId)}`,
    unmapped: { not_delivered: { access_event_uid: str(d.accessEventId) } },
  });
}

function suppressedRecord(event: RecordedEvent, domain: SecretAccessDenialsSuppressed, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const projectId = str(d.projectId);
  const principal = principalActor(d.principal);
  principal.actor.authorizations = [{ decision: 'Denied' }];
  const rateLimited = d.reason === 'rate-limited';
  const reason = rateLimited ? 'rate-limited' : typeof d.reason === 'string' && Object.prototype.hasOwnProperty.call(DENIAL_REASONS, d.reason) ? d.reason : 'other';
  const count = nonNegative(d.count);
  const unmapped: OcsfUnmapped = { suppressed: { rate_limited: nonNegative(d.rateLimited), projects: nonNegative(d.projects), window_seconds: nonNegative(d.windowSeconds) } };
  if (principal.ci) unmapped.ci = principal.ci;
  const record = apiActivity(event, opts, {
    activity: 99,
    operation: 'SuppressedDenials',
    severity: rateLimited || d.rateLimited > 0 ? 4 : 3,
    success: false,
    statusDetail: reason,
    actor: principal,
    resources: [{ type: 'project', uid: projectId, name: projectId }],
    message: `${principal.who} was denied ${count} more time(s) on project ${projectId}: ${reason} (repeats folded into one record${d.rateLimited > 0 ? `, ${nonNegative(d.rateLimited)} answered 429` : ''})`,
    unmapped,
  });
  record.count = count;
  const first = Date.parse(str(d.firstAt));
  const last = Date.parse(str(d.lastAt));
  if (Number.isFinite(first)) {
    record.start_time = first;
    record.start_time_dt = new Date(first).toISOString();
  }
  if (Number.isFinite(last)) {
    record.end_time = last;
    record.end_time_dt = new Date(last).toISOString();
  }
  return record;
}

const nonNegative = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);

function grantRecord(event: RecordedEvent, domain: AccessPolicyEvent, opts: OcsfOptions): OcsfUserAccessManagement | OcsfGroupManagement {
  const d = domain.data;
  const projectId = str(d.projectId);
  const role = roleOf(d.role);
  const grantee = granteeOf(d.principal);
  const resource: OcsfResourceDetails = { type: 'project', uid: projectId, name: projectId };
  const grant: NonNullable<OcsfUnmapped['grant']> = { grant_id: str(d.grantId) };
  let activity: 1 | 2;
  let verb: string;
  if (domain.type === 'RoleGranted') {
    activity = 1;
    verb = 'granted';
    // The grant's narrowing (globs; null = all) travels with the project it applies to.
    const environment = nullableStr(domain.data.environment);
    const branch = nullableStr(domain.data.branch);
    resource.data = { environment, branch };
    resource.labels = [`environment:${environment ?? '*'}`, `branch:${branch ?? '*'}`];
    grant.expires_at = nullableStr(domain.data.expiresAt);
    if (typeof domain.data.accessRequestId === 'string') grant.access_request_id = domain.data.accessRequestId;
    if (domain.data.breakGlass === true) grant.break_glass = true;
  } else if (domain.type === 'RoleExpired') {
    // The privilege lapsed at expires_at; the service recorded it (actor: system) at `time`.
    activity = 2;
    verb = 'recorded the expiry of';
    grant.expires_at = nullableStr(domain.data.expiresAt);
  } else {
    activity = 2;
    verb = 'revoked';
  }
  const actor = actorFromMetadata(event);
  // A grant to a group is Group Management (3006): the group is the target, the role its privilege.
  const toGroup = d.principal?.type === 'group';
  const base = common(event, opts, {
    cls: toGroup ? GROUP_MANAGEMENT : USER_ACCESS,
    activity,
    activityName: USER_ACCESS_NAMES[activity],
    // An owner grant made by breaking the glass skipped four-eyes: High (its BreakGlassInvoked is Critical).
    severity: grant.break_glass ? 4 : 1,
    success: true,
    statusDetail: domain.type === 'RoleExpired' ? 'expired' : grant.break_glass ? 'break-glass' : undefined,
    actor,
    message: `${actor.who} ${verb} role ${role} on project ${projectId} ${activity === 1 ? 'to' : 'from'} ${grantee.type.toLowerCase()} ${grantee.uid}`,
    unmapped: { grant },
    // actor is attached to IAM classes through OCSF's host profile
    profiles: ['datetime', 'host'],
  });
  if (toGroup) return { ...base, ...GROUP_MANAGEMENT, activity_id: activity, group: { uid: grantee.uid, name: grantee.uid }, privileges: [role], resource };
  return { ...base, ...USER_ACCESS, activity_id: activity, user: grantee, privileges: [role], resource };
}

/**
 * Break-glass: an immediate owner-level grant that skipped four-eyes. User Access Management,
 * Assign Privileges, at severity 5 Critical, the highest an event gets: a SIEM alerts on it.
 */
function breakGlassRecord(event: RecordedEvent, domain: BreakGlassInvoked, opts: OcsfOptions): OcsfUserAccessManagement {
  const d = domain.data;
  const projectId = str(d.projectId);
  const user = str(d.principal?.id);
  const environment = nullableStr(d.environment);
  const branch = nullableStr(d.branch);
  const actor = actorFromMetadata(event);
  const base = common(event, opts, {
    cls: USER_ACCESS,
    activity: 1,
    activityName: USER_ACCESS_NAMES[1],
    severity: 5,
    success: true,
    statusDetail: 'break-glass',
    actor,
    message: `${actor.who} broke the glass on project ${projectId}: role owner for ${int(d.durationSeconds)} s, until ${str(d.expiresAt)}`,
    unmapped: {
      grant: { grant_id: str(d.grantId), expires_at: str(d.expiresAt), break_glass: true },
      break_glass: {
        grant_id: str(d.grantId),
        user,
        reason: purposeOf(d.reason) ?? '',
        duration_seconds: int(d.durationSeconds),
        expires_at: str(d.expiresAt),
        eligible_via: str(d.eligibleVia),
      },
    },
    profiles: ['datetime', 'host'],
  });
  return {
    ...base,
    ...USER_ACCESS,
    activity_id: 1,
    user: { uid: user, type_id: 1, type: 'User' },
    privileges: ['owner'],
    resource: { type: 'project', uid: projectId, name: projectId, data: { environment, branch }, labels: [`environment:${environment ?? '*'}`, `branch:${branch ?? '*'}`] },
  };
}

/** The life of an access request, and the review of a break-glass: API Activity on the request (or break-glass) resource. */
function accessRequestRecord(event: RecordedEvent, domain: Exclude<AccessRequestEvent, BreakGlassInvoked>, opts: OcsfOptions): OcsfApiActivity {
  const actor = actorFromMetadata(event);
  const projectId = str(domain.data.projectId);
  const project: OcsfResourceDetails = { type: 'project', uid: projectId, name: projectId };
  if (domain.type === 'BreakGlassReviewed') {
    const d = domain.data;
    const outcome = d.outcome === 'justified' || d.outcome === 'unjustified' ? d.outcome : 'unknown';
    return apiActivity(event, opts, {
      activity: 3,
      operation: 'ReviewBreakGlass',
      // An unjustified break-glass is a finding.
      severity: outcome === 'justified' ? 1 : 4,
      success: true,
      statusDetail: outcome,
      actor,
      message: `${actor.who} reviewed the break-glass of user ${str(d.principal?.id)} on project ${projectId}: ${outcome}`,
      unmapped: { break_glass: { grant_id: str(d.grantId), user: str(d.principal?.id), outcome, comment: purposeOf(d.comment) ?? '' } },
      resources: [{ type: 'break-glass', uid: str(d.grantId), name: str(d.grantId) }, project],
    });
  }
  const requestId = str(domain.data.requestId);
  const requester = str(domain.data.requester?.id);
  const info: NonNullable<OcsfUnmapped['access_request']> = { request_id: requestId, requester };
  let activity: ApiActivityId;
  let operation: string;
  let verb: string;
  let statusDetail: string;
  switch (domain.type) {
    case 'AccessRequested':
      activity = 1;
      operation = 'RequestAccess';
      verb = `requested role ${roleOf(domain.data.role)} for ${int(domain.data.durationSeconds)} s`;
      statusDetail = 'pending';
      info.role = roleOf(domain.data.role);
      info.duration_seconds = int(domain.data.durationSeconds);
      info.reason = purposeOf(domain.data.reason) ?? '';
      info.expires_at = str(domain.data.expiresAt);
      break;
    case 'AccessRequestApproved':
      activity = 3;
      operation = 'ApproveAccessRequest';
      verb = `approved the access request of user ${requester}`;
      statusDetail = 'approved';
      info.grant_id = str(domain.data.grantId);
      info.expires_at = str(domain.data.grantExpiresAt);
      info.comment = domain.data.comment === null ? null : (purposeOf(domain.data.comment) ?? '');
      break;
    case 'AccessRequestDenied':
      activity = 3;
      operation = 'DenyAccessRequest';
      verb = `denied the access request of user ${requester}`;
      statusDetail = 'denied';
      info.comment = purposeOf(domain.data.comment) ?? '';
      break;
    case 'AccessRequestCancelled':
      activity = 4;
      operation = 'CancelAccessRequest';
      verb = 'cancelled their access request';
      statusDetail = 'cancelled';
      break;
    case 'AccessRequestExpired':
      activity = 3;
      operation = 'ExpireAccessRequest';
      verb = `recorded the expiry, unreviewed, of the access request of user ${requester}`;
      statusDetail = 'expired';
      info.expires_at = str(domain.data.expiresAt);
      break;
    default:
      return assertNeverRecord(domain);
  }
  return apiActivity(event, opts, {
    activity,
    operation,
    severity: 1,
    success: true,
    statusDetail,
    actor,
    message: `${actor.who} ${verb} on project ${projectId}`,
    unmapped: { access_request: info },
    resources: [{ type: 'access-request', uid: requestId, name: requestId }, project],
  });
}

function assertNeverRecord(v: never): never {
  throw new Error(`unexpected event ${JSON.stringify(v)}`);
}

// ---- canonical key order (issue 23, 4) ----
//
// The record leaves here with every object's keys in RFC 8785 order (UTF-16 code units, which is
// Array.prototype.sort's default), so its canonical JSON is one JSON.stringify: the auditor hashes
// and stores JSON.stringify(record) (apps/auditor/src/audit-log.projection.ts). Every object of a
// record is written below in that order by hand; the variable leaves (unmapped.*, resource data)
// go through sortedCopy. A unit test checks canonicalJson(record) === JSON.stringify(record) for
// every record kind (ocsf-canonical.unit.spec.ts), so a key added out of order fails there.

function inCanonicalOrder<R extends OcsfRecord>(r: R): R {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one reader of the three record classes' fields
  const a = r as any;
  const o: Record<string, unknown> = {};
  o.activity_id = a.activity_id;
  o.activity_name = a.activity_name;
  o.actor = actorOut(a.actor);
  if (a.api !== undefined) o.api = { operation: a.api.operation, service: { name: a.api.service.name } };
  o.category_name = a.category_name;
  o.category_uid = a.category_uid;
  o.class_name = a.class_name;
  o.class_uid = a.class_uid;
  if (a.count !== undefined) o.count = a.count;
  if (a.end_time !== undefined) o.end_time = a.end_time;
  if (a.end_time_dt !== undefined) o.end_time_dt = a.end_time_dt;
  if (a.group !== undefined) o.group = { name: a.group.name, uid: a.group.uid };
  o.message = a.message;
  o.metadata = metadataOut(a.metadata);
  if (a.privileges !== undefined) o.privileges = a.privileges;
  if (a.resource !== undefined) o.resource = resourceOut(a.resource);
  if (a.resources !== undefined) o.resources = a.resources.map(resourceOut);
  o.severity = a.severity;
  o.severity_id = a.severity_id;
  o.src_endpoint = { svc_name: a.src_endpoint.svc_name };
  if (a.start_time !== undefined) o.start_time = a.start_time;
  if (a.start_time_dt !== undefined) o.start_time_dt = a.start_time_dt;
  o.status = a.status;
  if (a.status_detail !== undefined) o.status_detail = a.status_detail;
  o.status_id = a.status_id;
  o.time = a.time;
  o.time_dt = a.time_dt;
  o.type_name = a.type_name;
  o.type_uid = a.type_uid;
  if (a.unmapped !== undefined) o.unmapped = sortedCopy(a.unmapped);
  if (a.user !== undefined) o.user = userOut(a.user);
  return o as unknown as R;
}

function userOut(u: OcsfUser): OcsfUser {
  return u.name === undefined ? ({ type: u.type, type_id: u.type_id, uid: u.uid } as OcsfUser) : ({ name: u.name, type: u.type, type_id: u.type_id, uid: u.uid } as OcsfUser);
}

function actorOut(a: OcsfActor): OcsfActor {
  const o: Partial<OcsfActor> = {};
  if (a.authorizations !== undefined) {
    o.authorizations = a.authorizations.map((z) =>
      z.policy === undefined ? { decision: z.decision } : { decision: z.decision, policy: z.policy.uid === undefined ? { name: z.policy.name } : ({ name: z.policy.name, uid: z.policy.uid } as OcsfPolicy) },
    );
  }
  if (a.session !== undefined) o.session = { uid: a.session.uid };
  o.user = userOut(a.user);
  return o as OcsfActor;
}

function metadataOut(m: OcsfMetadata): OcsfMetadata {
  const o: Record<string, unknown> = { correlation_uid: m.correlation_uid, event_code: m.event_code, log_name: m.log_name };
  if (m.logged_time !== undefined) o.logged_time = m.logged_time;
  o.original_time = m.original_time;
  o.product = { name: m.product.name, vendor_name: m.product.vendor_name, version: m.product.version };
  o.profiles = m.profiles;
  o.uid = m.uid;
  o.version = m.version;
  return o as unknown as OcsfMetadata;
}

function resourceOut(r: OcsfResourceDetails): OcsfResourceDetails {
  const o: Record<string, unknown> = {};
  if (r.data !== undefined) o.data = sortedCopy(r.data);
  if (r.labels !== undefined) o.labels = r.labels;
  o.name = r.name;
  o.type = r.type;
  o.uid = r.uid;
  if (r.version !== undefined) o.version = r.version;
  return o as unknown as OcsfResourceDetails;
}

/** The small variable parts (unmapped.*, resource data: strings, numbers, booleans, null, arrays, objects): a copy with sorted keys. */
function sortedCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortedCopy) as T;
  if (v === null || typeof v !== 'object') return v;
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) o[k] = sortedCopy(x);
  }
  return o as T;
}

// ---- shared builders ----

interface ActorParts {
  actor: OcsfActor;
  /** Short human-readable name for `message`. */
  who: string;
  ci?: OcsfUnmapped['ci'];
}

interface CommonParts {
  cls: typeof API_ACTIVITY | typeof USER_ACCESS | typeof GROUP_MANAGEMENT;
  activity: number;
  activityName: string;
  severity: SeverityId;
  success: boolean;
  statusDetail?: string;
  actor: ActorParts;
  message: string;
  unmapped?: OcsfUnmapped;
  profiles: string[];
}

function common(event: RecordedEvent, opts: OcsfOptions, p: CommonParts): OcsfBase {
  const time = eventTime(event);
  const record: OcsfBase = {
    metadata: metadataOf(event, opts, p.profiles),
    time,
    time_dt: new Date(time).toISOString(),
    category_uid: p.cls.category_uid,
    category_name: p.cls.category_name,
    class_uid: p.cls.class_uid,
    class_name: p.cls.class_name,
    activity_id: p.activity,
    activity_name: p.activityName,
    type_uid: p.cls.class_uid * 100 + p.activity,
    type_name: `${p.cls.class_name}: ${p.activityName}`,
    severity_id: p.severity,
    severity: SEVERITY_NAMES[p.severity],
    status_id: p.success ? 1 : 2,
    status: p.success ? 'Success' : 'Failure',
    message: p.message,
    actor: p.actor.actor,
    src_endpoint: srcEndpoint(p.actor.actor.user),
  };
  if (p.statusDetail !== undefined) record.status_detail = p.statusDetail;
  if (p.unmapped && Object.keys(p.unmapped).length > 0) record.unmapped = p.unmapped;
  return record;
}

function apiActivity(
  event: RecordedEvent,
  opts: OcsfOptions,
  p: Omit<CommonParts, 'cls' | 'activityName' | 'profiles'> & { activity: ApiActivityId; operation: string; resources: OcsfResourceDetails[] },
): OcsfApiActivity {
  const base = common(event, opts, { ...p, cls: API_ACTIVITY, activityName: API_ACTIVITY_NAMES[p.activity], profiles: ['datetime'] });
  return {
    ...base,
    ...API_ACTIVITY,
    activity_id: p.activity,
    api: { operation: p.operation, service: { name: str(opts.productName) } },
    resources: p.resources,
  };
}

function metadataOf(event: RecordedEvent, opts: OcsfOptions, profiles: string[]): OcsfMetadata {
  const m: OcsfMetadata = {
    version: OCSF_VERSION,
    product: { name: str(opts.productName), version: str(opts.productVersion), vendor_name: str(opts.vendorName) },
    profiles,
    uid: str(event.eventId),
    correlation_uid: str(event.metadata.correlationId),
    event_code: event.type,
    log_name: AUDIT_LOG_NAME,
    original_time: str(event.metadata.occurredAt),
  };
  const logged = Date.parse(event.recordedAt);
  if (Number.isFinite(logged)) m.logged_time = logged;
  return m;
}

/**
 * src_endpoint is required in API Activity, but events carry no network address (the service
 * records who and what, not where from). OCSF's network_endpoint needs one of ip, uid, name,
 * hostname, svc_name…; `svc_name` names the calling channel: "ci" for CI jobs, "admin-api"
 * for people using the REST API, "internal" for the service itself.
 */
function srcEndpoint(user: OcsfUser): OcsfNetworkEndpoint {
  if (user.type === CI_JOB_USER_TYPE) return { svc_name: 'ci' };
  if (user.type_id === 3) return { svc_name: 'internal' };
  return { svc_name: 'admin-api' };
}

/** A CI job is a workload identity, not a person nor an OS system account: OCSF "Other", named. */
const CI_JOB_USER_TYPE = 'CI Job';

function actorFromMetadata(event: RecordedEvent): ActorParts {
  const a = event.metadata.actor;
  const id = str(a.id);
  switch (a.type) {
    case 'user':
      return { actor: { user: { uid: id, type_id: 1, type: 'User' } }, who: `user ${id}` };
    case 'ci-job':
      return { actor: { user: { uid: id, type_id: 99, type: CI_JOB_USER_TYPE } }, who: `CI job ${id}` };
    case 'system':
      return { actor: { user: { uid: id, type_id: 3, type: 'System' } }, who: `system ${id}` };
    default:
      return { actor: { user: { uid: id, type_id: 0, type: 'Unknown' } }, who: id };
  }
}

function principalActor(p: PrincipalRecord): ActorParts {
  const id = str(p.id);
  if (p.type !== 'ci-job') return { actor: { user: { uid: id, type_id: 1, type: 'User' } }, who: `user ${id}` };
  // The job is the authenticated session of the pipeline's identity (its token lives as long as the job).
  const actor: OcsfActor = { user: { uid: id, type_id: 99, type: CI_JOB_USER_TYPE } };
  const ci: NonNullable<OcsfUnmapped['ci']> = {};
  if (typeof p.jobId === 'string') {
    actor.session = { uid: p.jobId };
    ci.job_id = p.jobId;
  }
  if (typeof p.pipelineId === 'string') ci.pipeline_id = p.pipelineId;
  if (typeof p.ref === 'string') ci.ref = p.ref;
  if (typeof p.refProtected === 'boolean') ci.ref_protected = p.refProtected;
  if (typeof p.environment === 'string') ci.environment = p.environment;
  if (typeof p.triggeredBy === 'string') ci.triggered_by = p.triggeredBy;
  const where = ci.pipeline_id !== undefined ? ` (pipeline ${ci.pipeline_id}${ci.job_id !== undefined ? `, job ${ci.job_id}` : ''})` : '';
  return { actor, who: `CI job ${id}${where}`, ci };
}

function granteeOf(p: { type: unknown; id: unknown }): OcsfUser {
  const uid = str(p.id);
  // Only in `message`: a group grantee's record is Group Management (3006) with `group`.
  return p.type === 'group' ? { uid, type_id: 99, type: 'Group' } : { uid, type_id: 1, type: 'User' };
}

const DRIFT_ACTIVITY: Readonly<Record<string, ApiActivityId>> = { create: 1, update: 3, delete: 4 };

/** The kind of OpenBao object a drift path names (the path itself is the resource uid). */
function driftResource(path: string | null): OcsfResourceDetails {
  const p = path ?? '';
  const type: OcsfResourceDetails['type'] = p.startsWith('sys/polic') ? 'openbao-acl-policy' : p.endsWith('/config') ? 'openbao-jwt-config' : p.includes('/role/') ? 'openbao-jwt-role' : 'openbao-object';
  return { type, uid: p || 'openbao', name: p.slice(p.lastIndexOf('/') + 1) || 'openbao' };
}

/**
 * Drift on OpenBao's side: a write by someone else to an object the projector owns is an API
 * Activity (6003) on OpenBao's API by that actor (severity High: it bypassed the service); the
 * repair is an Update by the service (Informational).
 */
function driftRecord(event: RecordedEvent, domain: OpenBaoDriftEvent, opts: OcsfOptions): OcsfApiActivity {
  if (domain.type === 'OpenBaoDriftDetected') {
    const d = domain.data;
    const who = str(d.who?.displayName);
    const path = typeof d.path === 'string' ? d.path : null;
    const operation = str(d.operation);
    return apiActivity(event, opts, {
      activity: DRIFT_ACTIVITY[operation] ?? 99,
      operation: 'OpenBaoWrite',
      severity: 4,
      success: true,
      actor: { actor: { user: { uid: who, name: who, type_id: 99, type: 'OpenBao token' } }, who: `OpenBao token ${who}` },
      resources: [driftResource(path)],
      message: `OpenBao token ${who} changed ${path ?? 'an OpenBao object'} (${operation}) outside the service: drift`,
      unmapped: { openbao_drift: { request_id: typeof d.requestId === 'string' ? d.requestId : null, path, operation, policies: Array.isArray(d.who?.policies) ? d.who.policies.map(String) : [] } },
    });
  }
  const d = domain.data;
  const path = typeof d.path === 'string' ? d.path : null;
  const written = Array.isArray(d.written) ? d.written.map(String) : [];
  const removed = Array.isArray(d.removed) ? d.removed.map(String) : [];
  const actor = actorFromMetadata(event);
  return apiActivity(event, opts, {
    activity: 3,
    operation: 'RepairOpenBaoDrift',
    severity: 1,
    success: true,
    actor,
    resources: [driftResource(path)],
    message: `${actor.who} put ${written.length} OpenBao object(s) back to the desired state and removed ${removed.length}`,
    unmapped: { openbao_drift: { request_id: typeof d.requestId === 'string' ? d.requestId : null, path, written, removed } },
  });
}

/** A direct read's OpenBao request id and policy (only these two strings: nothing else of the audit entry). */
function openBaoVia(via: unknown): { request_id: string; policy: string | null } | undefined {
  const v = (via ?? {}) as { channel?: unknown; requestId?: unknown; policy?: unknown };
  if (v.channel !== 'openbao' || typeof v.requestId !== 'string') return undefined;
  return { request_id: v.requestId, policy: typeof v.policy === 'string' ? v.policy : null };
}

function viaPolicy(via: unknown): OcsfPolicy {
  const v = (via ?? {}) as { grantId?: unknown; role?: unknown; scope?: unknown };
  const ob = openBaoVia(via);
  if (ob) return { uid: ob.request_id, name: ob.policy ?? 'openbao' };
  if (typeof v.grantId === 'string') return { uid: v.grantId, name: roleOf(v.role) };
  if (v.scope === 'ci-job-scope' || v.scope === 'admin-bootstrap') return { name: v.scope };
  return { name: 'unknown' };
}

function scopeOf(scope: SecretScope): { environment: string | null; branch: string | null; protected_only: boolean } {
  const s = (scope ?? {}) as Partial<SecretScope>;
  return { environment: nullableStr(s.environment), branch: nullableStr(s.branch), protected_only: s.protectedOnly === true };
}

function roleOf(role: unknown): Role | 'unknown' {
  return typeof role === 'string' && (ROLES as readonly string[]).includes(role) ? (role as Role) : 'unknown';
}

function purposeOf(purpose: unknown): string | undefined {
  if (typeof purpose !== 'string' || purpose.length === 0) return undefined;
  return Array.from(purpose).slice(0, MAX_PURPOSE_LENGTH).join('');
}

function eventTime(event: RecordedEvent): number {
  const t = Date.parse(event.metadata.occurredAt);
  if (Number.isFinite(t)) return t;
  const r = Date.parse(event.recordedAt);
  return Number.isFinite(r) ? r : 0;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function nullableStr(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function int(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) ? v : 0;
}
