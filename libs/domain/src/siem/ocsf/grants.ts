// Role grants, their revocation and expiry, and break-glass: User Access Management (3005) for a
// user, Group Management (3006) for a group.
import { AccessPolicyEvent } from '../../access-policy/access-policy';
import { BreakGlassInvoked } from '../../access-request/access-request';
import { RecordedEvent } from '../../ports/event-store';
import { actorFromMetadata, ClassFields, common, CommonParts, GROUP_MANAGEMENT, int, nullableStr, placeLabel, placeResource, purposeOf, roleOf, str, USER_ACCESS, USER_ACCESS_NAMES } from './common';
import { OcsfGroupManagement, OcsfOptions, OcsfUnmapped, OcsfUser, OcsfUserAccessManagement } from './types';

export function grantRecord(event: RecordedEvent, domain: AccessPolicyEvent, opts: OcsfOptions): OcsfUserAccessManagement | OcsfGroupManagement {
  const d = domain.data;
  const projectId = str(d.projectId);
  const role = roleOf(d.role);
  const grantee = granteeOf(d.principal);
  const grant: NonNullable<OcsfUnmapped['grant']> = { grant_id: str(d.grantId) };
  let narrowing: { environment: string | null; branch: string | null } | undefined;
  let activity: 1 | 2;
  let verb: string;
  if (domain.type === 'RoleGranted') {
    activity = 1;
    verb = 'granted';
    // The grant's narrowing (globs; null = all) travels with the project it applies to.
    narrowing = { environment: nullableStr(domain.data.environment), branch: nullableStr(domain.data.branch) };
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
  const resource = placeResource(projectId, narrowing);
  const actor = actorFromMetadata(event);
  // A grant to a group is Group Management (3006): the group is the target, the role its privilege.
  const toGroup = d.principal?.type === 'group';
  return iamRecord(event, opts, toGroup ? GROUP_MANAGEMENT : USER_ACCESS, {
    activity,
    // An owner grant made by breaking the glass skipped four-eyes: High (its BreakGlassInvoked is Critical).
    severity: grant.break_glass ? 4 : 1,
    success: true,
    statusDetail: domain.type === 'RoleExpired' ? 'expired' : grant.break_glass ? 'break-glass' : undefined,
    actor,
    message: `${actor.who} ${verb} role ${role} on ${placeLabel(projectId)} ${activity === 1 ? 'to' : 'from'} ${grantee.type.toLowerCase()} ${grantee.uid}`,
    unmapped: { grant },
  }, toGroup ? { group: { uid: grantee.uid, name: grantee.uid }, privileges: [role], resource } : { user: grantee, privileges: [role], resource });
}

function granteeOf(p: { type: unknown; id: unknown }): OcsfUser {
  const uid = str(p.id);
  // Only in `message`: a group grantee's record is Group Management (3006) with `group`.
  return p.type === 'group' ? { uid, type_id: 99, type: 'Group' } : { uid, type_id: 1, type: 'User' };
}

/**
 * Break-glass: an immediate owner-level grant that skipped four-eyes. User Access Management,
 * Assign Privileges, at severity 5 Critical, the highest an event gets: a SIEM alerts on it.
 */
export function breakGlassRecord(event: RecordedEvent, domain: BreakGlassInvoked, opts: OcsfOptions): OcsfUserAccessManagement {
  const d = domain.data;
  const projectId = str(d.projectId);
  const user = str(d.principal?.id);
  const actor = actorFromMetadata(event);
  return iamRecord(event, opts, USER_ACCESS, {
    activity: 1,
    severity: 5,
    success: true,
    statusDetail: 'break-glass',
    actor,
    message: `${actor.who} broke the glass on ${placeLabel(projectId)}: role owner for ${int(d.durationSeconds)} s, until ${str(d.expiresAt)}`,
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
  }, {
    user: { uid: user, type_id: 1, type: 'User' },
    privileges: ['owner'],
    resource: placeResource(projectId, { environment: nullableStr(d.environment), branch: nullableStr(d.branch) }),
  }) as OcsfUserAccessManagement;
}

/** A grant's or a break-glass's record, of an IAM class: the fields every record has and the class's own (`x`). */
function iamRecord(
  event: RecordedEvent,
  opts: OcsfOptions,
  cls: typeof USER_ACCESS | typeof GROUP_MANAGEMENT,
  p: Omit<CommonParts, 'cls' | 'activityName' | 'profiles'> & { activity: 1 | 2 },
  x: Pick<ClassFields, 'user' | 'group' | 'privileges' | 'resource'>,
): OcsfUserAccessManagement | OcsfGroupManagement {
  // Spelled out, not spread, for the same reason as in apiActivity (common.ts): one shape of CommonParts.
  const parts: CommonParts = {
    cls,
    activity: p.activity,
    activityName: USER_ACCESS_NAMES[p.activity],
    severity: p.severity,
    success: p.success,
    statusDetail: p.statusDetail,
    actor: p.actor,
    message: p.message,
    unmapped: p.unmapped,
    // actor is attached to IAM classes through OCSF's host profile
    profiles: DATETIME_HOST,
  };
  return common(event, opts, parts, x) as OcsfUserAccessManagement | OcsfGroupManagement;
}

const DATETIME_HOST = ['datetime', 'host'];
