// API Activity (6003) records of four-eyes access requests (requested, approved, denied, cancelled,
// expired) and of the review of a break-glass.
import { AccessRequestEvent, BreakGlassInvoked } from '../../access-request/access-request';
import { RecordedEvent } from '../../ports/event-store';
import { actorFromMetadata, ApiActivityId, apiActivity, int, placeLabel, placeResource, purposeOf, roleOf, str } from './common';
import { OcsfApiActivity, OcsfOptions, OcsfUnmapped } from './types';

/** The life of an access request, and the review of a break-glass: API Activity on the request (or break-glass) resource. */
export function accessRequestRecord(event: RecordedEvent, domain: Exclude<AccessRequestEvent, BreakGlassInvoked>, opts: OcsfOptions): OcsfApiActivity {
  const actor = actorFromMetadata(event);
  const projectId = str(domain.data.projectId);
  const project = placeResource(projectId);
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
      message: `${actor.who} reviewed the break-glass of user ${str(d.principal?.id)} on ${placeLabel(projectId)}: ${outcome}`,
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
    message: `${actor.who} ${verb} on ${placeLabel(projectId)}`,
    unmapped: { access_request: info },
    resources: [{ type: 'access-request', uid: requestId, name: requestId }, project],
  });
}

function assertNeverRecord(v: never): never {
  throw new Error(`unexpected event ${JSON.stringify(v)}`);
}
