// API Activity (6003) records of access to a secret's value: a read allowed or denied, identical
// denials folded into one record, and an allowed read whose value was not delivered after all.
import { AbilityAction, DenialReason } from '../../authorization/ability';
import { AccessEvent } from '../../access/access-decision';
import { SecretAccessDenialsSuppressed } from '../../access/denials-suppressed';
import { SecretValueNotDelivered, VALUE_NOT_DELIVERED_REASONS } from '../../openbao/value-delivery';
import { RecordedEvent } from '../../ports/event-store';
import { actorFromMetadata, ApiActivityId, apiActivity, closedOr, int, jobProjectOf, nonNegative, placeLabel, placeResource, principalActor, purposeOf, roleOf, secretResources, str } from './common';
import { OcsfApiActivity, OcsfOptions, OcsfPolicy, OcsfUnmapped } from './types';

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
  'move-project': { activity: 99, operation: 'MoveProject' },
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
  'not-platform-admin': true,
  'bootstrap-self': true,
  'secret-not-found': true,
};

export function accessRecord(event: RecordedEvent, domain: AccessEvent, opts: OcsfOptions): OcsfApiActivity {
  const projectId = str(domain.data.projectId);
  const principal = principalActor(domain.data.principal);
  const unmapped: OcsfUnmapped = {};
  if (principal.ci) unmapped.ci = principal.ci;
  const purpose = purposeOf(domain.data.purpose);
  if (purpose !== undefined) unmapped.purpose = purpose;
  const ob = openBaoVia(domain.data.via);
  if (ob) unmapped.openbao = ob;

  // A CI job deciding about a group's secret (or probing another project): its own project too.
  const jobProject = jobProjectOf(domain.data.jobProjectId, projectId);
  const ofJob = jobProject === null ? '' : ` (a job of project ${jobProject})`;

  if (domain.type === 'SecretAccessed') {
    const resources = secretResources(projectId, str(domain.data.name), { version: int(domain.data.version), jobProjectId: jobProject });
    principal.actor.authorizations = [{ decision: 'Allowed', policy: viaPolicy(domain.data.via) }];
    return apiActivity(event, opts, {
      activity: 2,
      operation: 'AccessSecret',
      severity: 1,
      success: true,
      actor: principal,
      resources,
      message: `${principal.who}${ofJob} read secret ${resources[0].uid}`,
      unmapped,
    });
  }

  const action = Object.prototype.hasOwnProperty.call(DENIED_ACTION, domain.data.action)
    ? DENIED_ACTION[domain.data.action]
    : { activity: 99 as const, operation: 'Unknown' };
  const reason = closedOr(DENIAL_REASONS, domain.data.reason);
  unmapped.denied_action = action.operation;
  const burst = opts.burst === true;
  if (burst) unmapped.denial_burst = true;
  principal.actor.authorizations = [{ decision: 'Denied' }];
  const name = typeof domain.data.name === 'string' ? domain.data.name : null;
  const resources = name === null ? [placeResource(projectId), ...(jobProject === null ? [] : [placeResource(jobProject)])] : secretResources(projectId, name, { jobProjectId: jobProject });
  const target = name === null ? placeLabel(projectId) : `secret ${resources[0].uid}`;
  return apiActivity(event, opts, {
    activity: action.activity,
    operation: action.operation,
    severity: burst ? 4 : 3,
    success: false,
    statusDetail: reason,
    actor: principal,
    resources,
    message: `${principal.who}${ofJob} was denied ${action.operation} on ${target}: ${reason}${burst ? ' (repeated denials)' : ''}`,
    unmapped,
  });
}

/** An allowed access whose value was not delivered after all: API Activity Read, failed, naming the SecretAccessed it corrects. */
export function notDeliveredRecord(event: RecordedEvent, domain: SecretValueNotDelivered, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const resources = secretResources(str(d.projectId), str(d.name), { version: int(d.version) });
  const reason = closedOr(VALUE_NOT_DELIVERED_REASONS, d.reason);
  const actor = actorFromMetadata(event);
  return apiActivity(event, opts, {
    activity: 2,
    operation: 'AccessSecret',
    severity: 3,
    success: false,
    statusDetail: reason,
    actor,
    resources,
    message: `the value of secret ${resources[0].uid} was not delivered to ${actor.who} (${reason}); corrects access ${str(d.accessEventId)}`,
    unmapped: { not_delivered: { access_event_uid: str(d.accessEventId) } },
  });
}

/** Identical denials folded into one record: OCSF's `count` with `start_time`/`end_time` (API Activity, activity Other). */
export function suppressedRecord(event: RecordedEvent, domain: SecretAccessDenialsSuppressed, opts: OcsfOptions): OcsfApiActivity {
  const d = domain.data;
  const projectId = str(d.projectId);
  const principal = principalActor(d.principal);
  principal.actor.authorizations = [{ decision: 'Denied' }];
  const rateLimited = d.reason === 'rate-limited';
  const reason = rateLimited ? 'rate-limited' : closedOr(DENIAL_REASONS, d.reason);
  const count = nonNegative(d.count);
  const unmapped: OcsfUnmapped = { suppressed: { rate_limited: nonNegative(d.rateLimited), projects: nonNegative(d.projects), window_seconds: nonNegative(d.windowSeconds) } };
  if (principal.ci) unmapped.ci = principal.ci;
  const first = Date.parse(str(d.firstAt));
  const last = Date.parse(str(d.lastAt));
  return apiActivity(event, opts, {
    activity: 99,
    operation: 'SuppressedDenials',
    severity: rateLimited || d.rateLimited > 0 ? 4 : 3,
    success: false,
    statusDetail: reason,
    actor: principal,
    resources: [placeResource(projectId)],
    message: `${principal.who} was denied ${count} more time(s) on ${placeLabel(projectId)}: ${reason} (repeats folded into one record${d.rateLimited > 0 ? `, ${nonNegative(d.rateLimited)} answered 429` : ''})`,
    unmapped,
    fold: {
      count,
      start_time: Number.isFinite(first) ? first : undefined,
      start_time_dt: Number.isFinite(first) ? new Date(first).toISOString() : undefined,
      end_time: Number.isFinite(last) ? last : undefined,
      end_time_dt: Number.isFinite(last) ? new Date(last).toISOString() : undefined,
    },
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
