// Access requests (four-eyes) and break-glass.
//
// A request lives in a stream of its own (`accessrequest-<projectId>.<requestId>`): nothing a
// requester does appends to the project's policy stream, so no stranger can make an owner's grant
// change conflict, wait or retry (issue 18). The approval is the one append on the policy stream
// ([AccessRequestApproved, RoleGranted], four-eyes against the grants at that revision), after the
// approver has claimed the request on its own stream (the claim is what cancel, deny and expiry race
// against: one of them wins). docs/architecture.md argues it. Requests recorded in the policy
// stream before that still fold and are decided there (legacy).

import { assertNever, Decider, DomainEvent } from '../decider';
import { conflict, forbidden, invalid, notFound } from '../errors';
import {
  AccessPolicyCommand,
  accessPolicyDecider,
  AccessPolicyEvent,
  AccessPolicyState,
  Grant,
  grantActions,
  isGrantActive,
  RoleGranted,
} from '../access-policy/access-policy';
import {
  codePointLength,
  requireCommandMetadata,
  requireFreeText,
  requireNullableGlob,
  requireNullableInstant,
  requireOnlyKeys,
  requirePrincipalId,
  requireString,
} from '../invariants';
import { isRole, Role } from '../roles';
import { requirePlaceKey } from '../group/place';
import { CommandMetadata } from '../secret/secret';

export const ACCESS_REQUEST_LIMITS = {
  minDurationSeconds: 60,
  maxDurationSeconds: 28_800,
  minBreakGlassSeconds: 60,
  maxBreakGlassSeconds: 3_600,
  maxReasonLength: 500,
  maxCommentLength: 500,
  /** Groups of one token recorded with a request (what the four-eyes rule compares). */
  maxGroups: 256,
  defaultTtlSeconds: 86_400,
  /** Pending requests of one requester across all projects, and of one project (ACCESS_REQUEST_MAX_PENDING_*). */
  defaultMaxPendingPerRequester: 20,
  defaultMaxPendingPerProject: 200,
  /** A claim no approval followed within this long is voided by the recovery (the approver crashed). */
  claimGraceSeconds: 60,
} as const;

export const ACCESS_REQUEST_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;
export type AccessRequestStatus = (typeof ACCESS_REQUEST_STATUSES)[number];
export const BREAK_GLASS_OUTCOMES = ['justified', 'unjustified'] as const;
export type BreakGlassOutcome = (typeof BREAK_GLASS_OUTCOMES)[number];

export interface UserRef {
  type: 'user';
  id: string;
}

export interface AccessRequest {
  requestId: string;
  projectId: string;
  requester: UserRef;
  /** The requester's groups when they asked: a group grant to any of them does not make an approver. */
  requesterGroups: string[];
  role: Role;
  environment: string | null;
  branch: string | null;
  durationSeconds: number;
  reason: string;
  requestedAt: string;
  /** When the request, still pending, expires unreviewed. */
  expiresAt: string;
  /** Recorded status (a pending request past expiresAt reads as expired: see accessRequestStatusAt). */
  status: AccessRequestStatus;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
  grantId: string | null;
  grantExpiresAt: string | null;
}

export interface BreakGlassRecord {
  grantId: string;
  projectId: string;
  principal: UserRef;
  principalGroups: string[];
  reason: string;
  durationSeconds: number;
  invokedAt: string;
  expiresAt: string;
  /** The break-glass grant that made the user eligible. */
  eligibleVia: string;
  review: { outcome: BreakGlassOutcome; comment: string; reviewedBy: string; reviewedAt: string } | null;
}

/** What the approval on the policy stream needs to know of a request (read from its own stream). */
export type ApprovalSubject = Omit<AccessRequested['data'], 'reason' | 'requestedAt'>;

export interface PendingBounds {
  pendingOfRequester: number;
  pendingInProject: number;
  maxPerRequester: number;
  maxPerProject: number;
}

export interface ApprovalClaim {
  claimId: string;
  claimedBy: string;
  claimedAt: string;
}

// ---- commands ----
export type AccessRequestCommand =
  | {
      type: 'RequestAccess';
      data: {
        projectId: string;
        requestId: string;
        requesterGroups: string[];
        role: Role;
        environment: string | null;
        branch: string | null;
        durationSeconds: number;
        reason: string;
        /** How long the request may stay pending (ACCESS_REQUEST_TTL_SECONDS). */
        ttlSeconds: number;
        /** Pending requests counted before this one, and the bounds they may not reach (request stream only). */
        bounds?: PendingBounds;
      };
      metadata: CommandMetadata;
    }
  /** Legacy: a request recorded in the policy stream (before issue 18), approved there. */
  | { type: 'ApproveAccessRequest'; data: { requestId: string; grantId: string; approverGroups: string[]; comment: string | null }; metadata: CommandMetadata }
  /** The approval of a request of its own stream, claimed there first: the one append on the policy stream. */
  | { type: 'ApproveClaimedAccessRequest'; data: { request: ApprovalSubject; claimId: string; grantId: string; approverGroups: string[]; comment: string | null }; metadata: CommandMetadata }
  /** Recovery: a claim no approval followed is voided on the policy stream, so it can never be approved later. */
  | { type: 'VoidAccessRequestApproval'; data: { requestId: string; claimId: string }; metadata: CommandMetadata }
  | { type: 'ClaimAccessRequestApproval'; data: { requestId: string; claimId: string; approverGroups: string[] }; metadata: CommandMetadata }
  | { type: 'ReleaseAccessRequestApproval'; data: { requestId: string; claimId: string }; metadata: CommandMetadata }
  | { type: 'DenyAccessRequest'; data: { requestId: string; denierGroups: string[]; comment: string }; metadata: CommandMetadata }
  | { type: 'CancelAccessRequest'; data: { requestId: string }; metadata: CommandMetadata }
  /** Records, once, that a pending request's time ran out (issued by the service itself on a timer). */
  | { type: 'RecordAccessRequestExpiry'; data: { requestId: string }; metadata: CommandMetadata }
  | { type: 'BreakGlass'; data: { projectId: string; grantId: string; principalGroups: string[]; reason: string; durationSeconds: number }; metadata: CommandMetadata }
  | { type: 'ReviewBreakGlass'; data: { grantId: string; reviewerGroups: string[]; outcome: BreakGlassOutcome; comment: string }; metadata: CommandMetadata };

// ---- events ----
export type AccessRequested = DomainEvent<
  'AccessRequested',
  {
    projectId: string;
    requestId: string;
    requester: UserRef;
    requesterGroups: string[];
    role: Role;
    environment: string | null;
    branch: string | null;
    durationSeconds: number;
    reason: string;
    requestedAt: string;
    expiresAt: string;
  }
>;
export type AccessRequestApproved = DomainEvent<
  'AccessRequestApproved',
  { projectId: string; requestId: string; requester: UserRef; approvedBy: string; approvedAt: string; comment: string | null; grantId: string; grantExpiresAt: string }
>;
export type AccessRequestDenied = DomainEvent<
  'AccessRequestDenied',
  { projectId: string; requestId: string; requester: UserRef; deniedBy: string; deniedAt: string; comment: string }
>;
export type AccessRequestCancelled = DomainEvent<'AccessRequestCancelled', { projectId: string; requestId: string; requester: UserRef; cancelledAt: string }>;
export type AccessRequestExpired = DomainEvent<
  'AccessRequestExpired',
  { projectId: string; requestId: string; requester: UserRef; expiresAt: string; recordedAt: string }
>;
export type BreakGlassInvoked = DomainEvent<
  'BreakGlassInvoked',
  {
    projectId: string;
    grantId: string;
    principal: UserRef;
    principalGroups: string[];
    role: 'owner';
    environment: string | null;
    branch: string | null;
    reason: string;
    durationSeconds: number;
    invokedAt: string;
    expiresAt: string;
    eligibleVia: string;
  }
>;
export type BreakGlassReviewed = DomainEvent<
  'BreakGlassReviewed',
  { projectId: string; grantId: string; principal: UserRef; outcome: BreakGlassOutcome; comment: string; reviewedBy: string; reviewedAt: string }
>;
/** The approver took the request (its own stream): cancel, deny and expiry lose to it from now on. */
export type AccessRequestApprovalClaimed = DomainEvent<
  'AccessRequestApprovalClaimed',
  { projectId: string; requestId: string; claimId: string; claimedBy: string; claimedAt: string }
>;
/** The approval did not happen (refused, or voided after a crash): the request is pending again. */
export type AccessRequestApprovalReleased = DomainEvent<'AccessRequestApprovalReleased', { projectId: string; requestId: string; claimId: string; releasedAt: string }>;
/** Policy stream: this claim can never become an approval (recorded by the recovery of a crashed approval). */
export type AccessRequestApprovalVoided = DomainEvent<'AccessRequestApprovalVoided', { projectId: string; requestId: string; claimId: string; voidedAt: string }>;
/** How an approval and the request's own stream agree; service bookkeeping, not audited as such (the approval is). */
export type AccessRequestCoordinationEvent = AccessRequestApprovalClaimed | AccessRequestApprovalReleased | AccessRequestApprovalVoided;

export type AccessRequestEvent =
  | AccessRequested
  | AccessRequestApproved
  | AccessRequestDenied
  | AccessRequestCancelled
  | AccessRequestExpired
  | BreakGlassInvoked
  | BreakGlassReviewed;

export const ACCESS_REQUEST_EVENT_TYPES: readonly AccessRequestEvent['type'][] = [
  'AccessRequested',
  'AccessRequestApproved',
  'AccessRequestDenied',
  'AccessRequestCancelled',
  'AccessRequestExpired',
  'BreakGlassInvoked',
  'BreakGlassReviewed',
];

// ---- state of the project's policy stream: grants, requests, break-glasses ----
export interface ProjectPolicyState extends AccessPolicyState {
  /** Legacy: requests recorded in the policy stream before they had streams of their own. */
  requests: ReadonlyMap<string, AccessRequest>;
  breakGlass: ReadonlyMap<string, BreakGlassRecord>;
  /** Claims the recovery voided: never approved. */
  voidedClaims: ReadonlySet<string>;
}
export type ProjectPolicyCommand = AccessPolicyCommand | AccessRequestCommand;
export type ProjectPolicyEvent = AccessPolicyEvent | AccessRequestEvent | AccessRequestApprovalVoided;

/** The grant an approval made for `requestId`, if any (an approval and its grant are one append). */
export function grantOfRequest(state: AccessPolicyState, requestId: string): Grant | null {
  for (const g of state.grants.values()) if (g.accessRequestId === requestId) return g;
  return null;
}

/** A request's status at `now`: a pending one whose time ran out is expired, recorded or not. */
export function accessRequestStatusAt(r: AccessRequest, now: string): AccessRequestStatus {
  return r.status === 'pending' && Date.parse(now) >= Date.parse(r.expiresAt) ? 'expired' : r.status;
}

const ID = /^[A-Za-z0-9-]{1,64}$/;
const requireId = (field: string, v: unknown) => {
  if (!ID.test(requireString(field, v))) throw invalid('invalid-field', `${field} must be 1-64 characters from A-Z a-z 0-9 -`, field);
};
function requireText(field: string, v: unknown, max: number): void {
  const s = requireFreeText(field, v, max);
  if (codePointLength(s.trim()) === 0) throw invalid('invalid-field', `${field} must be 1-${max} characters, not blank`, field);
}
function requireGroups(field: string, v: unknown): void {
  if (!Array.isArray(v) || v.length > ACCESS_REQUEST_LIMITS.maxGroups) throw invalid('invalid-field', `${field} must be an array of at most ${ACCESS_REQUEST_LIMITS.maxGroups} group ids`, field);
  v.forEach((g, i) => requirePrincipalId(`${field}[${i}]`, g));
}
function requireSeconds(field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid('invalid-field', `${field} must be an integer from ${min} to ${max}`, field);
}

/** The decider is the last gate: a command of an invalid shape is refused here, whatever was validated before. */
export function checkAccessRequestCommand(command: AccessRequestCommand): void {
  requireCommandMetadata(command.metadata);
  const L = ACCESS_REQUEST_LIMITS;
  switch (command.type) {
    case 'RequestAccess': {
      const d = requireOnlyKeys(command.data, ['projectId', 'requestId', 'requesterGroups', 'role', 'environment', 'branch', 'durationSeconds', 'reason', 'ttlSeconds', 'bounds']);
      if (d.bounds !== undefined) {
        const b = requireOnlyKeys(d.bounds, ['pendingOfRequester', 'pendingInProject', 'maxPerRequester', 'maxPerProject']);
        for (const k of ['pendingOfRequester', 'pendingInProject', 'maxPerRequester', 'maxPerProject'] as const) requireSeconds(`bounds.${k}`, b[k], 0, 1_000_000_000);
      }
      requirePlaceKey('projectId', d.projectId);
      requireId('requestId', d.requestId);
      requireGroups('requesterGroups', d.requesterGroups);
      if (!isRole(d.role)) throw invalid('invalid-field', 'role is not a role', 'role');
      requireNullableGlob('environment', d.environment);
      requireNullableGlob('branch', d.branch);
      requireSeconds('durationSeconds', d.durationSeconds, L.minDurationSeconds, L.maxDurationSeconds);
      requireText('reason', d.reason, L.maxReasonLength);
      requireSeconds('ttlSeconds', d.ttlSeconds, 1, 31_536_000);
      return;
    }
    case 'ApproveAccessRequest': {
      const d = requireOnlyKeys(command.data, ['requestId', 'grantId', 'approverGroups', 'comment']);
      requireId('requestId', d.requestId);
      requireId('grantId', d.grantId);
      requireGroups('approverGroups', d.approverGroups);
      if (d.comment !== null) requireText('comment', d.comment, L.maxCommentLength);
      return;
    }
    case 'ApproveClaimedAccessRequest': {
      const d = requireOnlyKeys(command.data, ['request', 'claimId', 'grantId', 'approverGroups', 'comment']);
      const r = requireOnlyKeys(d.request, ['projectId', 'requestId', 'requester', 'requesterGroups', 'role', 'environment', 'branch', 'durationSeconds', 'expiresAt']);
      requirePlaceKey('projectId', r.projectId);
      requireId('request.requestId', r.requestId);
      const who = requireOnlyKeys(r.requester, ['type', 'id']);
      if (who.type !== 'user') throw invalid('invalid-field', 'request.requester.type must be user', 'request.requester.type');
      requirePrincipalId('request.requester.id', who.id);
      requireGroups('request.requesterGroups', r.requesterGroups);
      if (!isRole(r.role)) throw invalid('invalid-field', 'request.role is not a role', 'request.role');
      requireNullableGlob('request.environment', r.environment);
      requireNullableGlob('request.branch', r.branch);
      requireSeconds('request.durationSeconds', r.durationSeconds, L.minDurationSeconds, L.maxDurationSeconds);
      requireNullableInstant('request.expiresAt', r.expiresAt);
      requireId('claimId', d.claimId);
      requireId('grantId', d.grantId);
      requireGroups('approverGroups', d.approverGroups);
      if (d.comment !== null) requireText('comment', d.comment, L.maxCommentLength);
      return;
    }
    case 'VoidAccessRequestApproval':
    case 'ReleaseAccessRequestApproval': {
      const d = requireOnlyKeys(command.data, ['requestId', 'claimId']);
      requireId('requestId', d.requestId);
      requireId('claimId', d.claimId);
      return;
    }
    case 'ClaimAccessRequestApproval': {
      const d = requireOnlyKeys(command.data, ['requestId', 'claimId', 'approverGroups']);
      requireId('requestId', d.requestId);
      requireId('claimId', d.claimId);
      requireGroups('approverGroups', d.approverGroups);
      return;
    }
    case 'DenyAccessRequest': {
      const d = requireOnlyKeys(command.data, ['requestId', 'denierGroups', 'comment']);
      requireId('requestId', d.requestId);
      requireGroups('denierGroups', d.denierGroups);
      requireText('comment', d.comment, L.maxCommentLength);
      return;
    }
    case 'CancelAccessRequest':
    case 'RecordAccessRequestExpiry': {
      const d = requireOnlyKeys(command.data, ['requestId']);
      requireId('requestId', d.requestId);
      return;
    }
    case 'BreakGlass': {
      const d = requireOnlyKeys(command.data, ['projectId', 'grantId', 'principalGroups', 'reason', 'durationSeconds']);
      requirePlaceKey('projectId', d.projectId);
      requireId('grantId', d.grantId);
      requireGroups('principalGroups', d.principalGroups);
      requireText('reason', d.reason, L.maxReasonLength);
      requireSeconds('durationSeconds', d.durationSeconds, L.minBreakGlassSeconds, L.maxBreakGlassSeconds);
      return;
    }
    case 'ReviewBreakGlass': {
      const d = requireOnlyKeys(command.data, ['grantId', 'reviewerGroups', 'outcome', 'comment']);
      requireId('grantId', d.grantId);
      requireGroups('reviewerGroups', d.reviewerGroups);
      if (!(BREAK_GLASS_OUTCOMES as readonly unknown[]).includes(d.outcome)) throw invalid('invalid-field', 'outcome must be justified or unjustified', 'outcome');
      requireText('comment', d.comment, L.maxCommentLength);
      return;
    }
    default:
      assertNever(command);
  }
}

const plus = (now: string, seconds: number) => new Date(Date.parse(now) + seconds * 1000).toISOString();

/** Does a grant in force, unnarrowed, give `user` (with `groups`) an action? */
function appliesTo(g: Grant, userId: string, groups: readonly string[]): boolean {
  return g.principal.type === 'user' ? g.principal.id === userId : groups.includes(g.principal.id);
}

/**
 * Four-eyes: may `actor` (with `groups`) decide about something `subject` asked for or did?
 * Never the subject themself, whatever they hold; and the actor's manage-grants must come from a
 * grant that is not the subject's too: a grant to the actor as a user, or to a group of the actor
 * that the subject was not in. A group grant that includes the subject does not count.
 */
export function fourEyesRefusal(
  state: AccessPolicyState,
  actor: { id: string; groups: readonly string[] },
  subject: { id: string; groups: readonly string[] },
  now: string,
): 'four-eyes-self' | 'four-eyes-shared-group' | 'no-manage-grants' | null {
  if (actor.id === subject.id) return 'four-eyes-self';
  const managing = [...state.grants.values()].filter(
    (g) =>
      state.projectId !== null &&
      isGrantActive(g, now) &&
      g.environment === null &&
      g.branch === null &&
      grantActions(g).includes('manage-grants') &&
      appliesTo(g, actor.id, actor.groups),
  );
  if (managing.length === 0) return 'no-manage-grants';
  const independent = managing.some((g) => g.principal.type === 'user' || !subject.groups.includes(g.principal.id));
  return independent ? null : 'four-eyes-shared-group';
}

/** The break-glass grant in force that makes `user` eligible (unnarrowed first), or null. */
export function breakGlassEligibility(state: AccessPolicyState, userId: string, groups: readonly string[], now: string): Grant | null {
  const eligible = [...state.grants.values()].filter((g) => g.role === 'break-glass' && isGrantActive(g, now) && appliesTo(g, userId, groups));
  return eligible.find((g) => g.environment === null && g.branch === null) ?? eligible[0] ?? null;
}

/** Break-glass grants nobody has reviewed yet (what reviewers are shown). */
export function unreviewedBreakGlass(state: ProjectPolicyState): BreakGlassRecord[] {
  return [...state.breakGlass.values()].filter((b) => b.review === null);
}

function pendingRequest(state: ProjectPolicyState, requestId: string, now: string): AccessRequest {
  const r = state.requests.get(requestId);
  if (!r) throw notFound('access-request-not-found', 'access request not found');
  const status = accessRequestStatusAt(r, now);
  if (status !== 'pending') throw conflict('access-request-not-pending', `the access request is ${status}, no longer pending`);
  return r;
}

function grantThroughPolicy(state: ProjectPolicyState, command: Extract<AccessPolicyCommand, { type: 'GrantRole' }>): RoleGranted {
  // The existing grant path: the same checks (shape, duplicate, expiry in the future) as POST /grants.
  const [granted] = accessPolicyDecider.decide(command, state) as RoleGranted[];
  return granted;
}

function decideAccessRequest(command: AccessRequestCommand, state: ProjectPolicyState): AccessRequestEvent[] | [AccessRequestEvent, RoleGranted] {
  checkAccessRequestCommand(command);
  const now = command.metadata.now;
  const actor = command.metadata.actor;
  const projectId = state.projectId ?? '';
  const onlyUsers = () => {
    if (actor.type !== 'user') throw forbidden('users-only', 'only users take part in access requests and break-glass');
  };
  switch (command.type) {
    case 'RequestAccess':
    case 'ClaimAccessRequestApproval':
    case 'ReleaseAccessRequestApproval':
      // A request's own stream decides these (accessRequestDecider); the policy stream never holds a new request.
      throw invalid('wrong-stream', `${command.type} is decided on the request's own stream`);
    case 'ApproveClaimedAccessRequest': {
      onlyUsers();
      const d = command.data;
      const r = d.request;
      if (r.projectId !== projectId) throw notFound('access-request-not-found', 'access request not found');
      if (grantOfRequest(state, r.requestId)) throw conflict('access-request-not-pending', 'the access request is approved, no longer pending');
      if (state.voidedClaims.has(d.claimId)) throw conflict('access-request-claim-voided', 'this approval was abandoned; approve the request again');
      if (Date.parse(now) >= Date.parse(r.expiresAt)) throw conflict('access-request-not-pending', 'the access request is expired, no longer pending');
      const refusal = fourEyesRefusal(state, { id: actor.id, groups: d.approverGroups }, { id: r.requester.id, groups: r.requesterGroups }, now);
      if (refusal) throw forbidden(refusal, 'the requester, or someone holding manage-grants only through a group the requester is in, cannot approve');
      const grantExpiresAt = plus(now, r.durationSeconds);
      const granted = grantThroughPolicy(state, {
        type: 'GrantRole',
        data: { projectId, grantId: d.grantId, principal: { type: 'user', id: r.requester.id }, role: r.role, environment: r.environment, branch: r.branch, expiresAt: grantExpiresAt, accessRequestId: r.requestId },
        metadata: command.metadata,
      });
      return [
        {
          type: 'AccessRequestApproved',
          data: { projectId, requestId: r.requestId, requester: r.requester, approvedBy: actor.id, approvedAt: now, comment: d.comment, grantId: d.grantId, grantExpiresAt },
        },
        granted,
      ];
    }
    case 'VoidAccessRequestApproval': {
      const d = command.data;
      // Nothing to void: the claim became an approval, or was voided already.
      if (grantOfRequest(state, d.requestId) || state.voidedClaims.has(d.claimId)) return [];
      return [{ type: 'AccessRequestApprovalVoided', data: { projectId, requestId: d.requestId, claimId: d.claimId, voidedAt: now } } as unknown as AccessRequestEvent];
    }
    case 'ApproveAccessRequest': {
      onlyUsers();
      const d = command.data;
      const r = pendingRequest(state, d.requestId, now);
      const refusal = fourEyesRefusal(state, { id: actor.id, groups: d.approverGroups }, { id: r.requester.id, groups: r.requesterGroups }, now);
      if (refusal) throw forbidden(refusal, 'the requester, or someone holding manage-grants only through a group the requester is in, cannot approve');
      const grantExpiresAt = plus(now, r.durationSeconds);
      const granted = grantThroughPolicy(state, {
        type: 'GrantRole',
        data: {
          projectId,
          grantId: d.grantId,
          principal: { type: 'user', id: r.requester.id },
          role: r.role,
          environment: r.environment,
          branch: r.branch,
          expiresAt: grantExpiresAt,
          accessRequestId: r.requestId,
        },
        metadata: command.metadata,
      });
      return [
        {
          type: 'AccessRequestApproved',
          data: { projectId, requestId: r.requestId, requester: r.requester, approvedBy: actor.id, approvedAt: now, comment: d.comment, grantId: d.grantId, grantExpiresAt },
        },
        granted,
      ];
    }
    case 'DenyAccessRequest': {
      onlyUsers();
      const d = command.data;
      const r = pendingRequest(state, d.requestId, now);
      const refusal = fourEyesRefusal(state, { id: actor.id, groups: d.denierGroups }, { id: r.requester.id, groups: r.requesterGroups }, now);
      if (refusal) throw forbidden(refusal, 'the requester cannot deny their own request (cancel it instead)');
      return [{ type: 'AccessRequestDenied', data: { projectId, requestId: r.requestId, requester: r.requester, deniedBy: actor.id, deniedAt: now, comment: d.comment } }];
    }
    case 'CancelAccessRequest': {
      const r = state.requests.get(command.data.requestId);
      if (!r) throw notFound('access-request-not-found', 'access request not found');
      if (actor.type !== 'user' || actor.id !== r.requester.id) throw forbidden('not-requester', 'only the requester may cancel a request');
      pendingRequest(state, r.requestId, now);
      return [{ type: 'AccessRequestCancelled', data: { projectId, requestId: r.requestId, requester: r.requester, cancelledAt: now } }];
    }
    case 'RecordAccessRequestExpiry': {
      const r = state.requests.get(command.data.requestId);
      // Nothing to record: unknown, decided or cancelled first, not yet expired, or already recorded.
      if (!r || r.status !== 'pending' || Date.parse(now) < Date.parse(r.expiresAt)) return [];
      return [{ type: 'AccessRequestExpired', data: { projectId, requestId: r.requestId, requester: r.requester, expiresAt: r.expiresAt, recordedAt: now } }];
    }
    case 'BreakGlass': {
      onlyUsers();
      const d = command.data;
      const via = breakGlassEligibility(state, actor.id, d.principalGroups, now);
      if (!via) throw forbidden('break-glass-not-eligible', 'breaking the glass needs the break-glass role on the project');
      const expiresAt = plus(now, d.durationSeconds);
      const granted = grantThroughPolicy(state, {
        type: 'GrantRole',
        data: { projectId: d.projectId, grantId: d.grantId, principal: { type: 'user', id: actor.id }, role: 'owner', environment: via.environment, branch: via.branch, expiresAt, breakGlass: true },
        metadata: command.metadata,
      });
      return [
        {
          type: 'BreakGlassInvoked',
          data: {
            projectId: d.projectId,
            grantId: d.grantId,
            principal: { type: 'user', id: actor.id },
            principalGroups: [...d.principalGroups],
            role: 'owner',
            environment: via.environment,
            branch: via.branch,
            reason: d.reason,
            durationSeconds: d.durationSeconds,
            invokedAt: now,
            expiresAt,
            eligibleVia: via.grantId,
          },
        },
        granted,
      ];
    }
    case 'ReviewBreakGlass': {
      onlyUsers();
      const d = command.data;
      const b = state.breakGlass.get(d.grantId);
      if (!b) throw notFound('break-glass-not-found', 'break-glass grant not found');
      const refusal = fourEyesRefusal(state, { id: actor.id, groups: d.reviewerGroups }, { id: b.principal.id, groups: b.principalGroups }, now);
      if (refusal) throw forbidden(refusal, 'the user who broke the glass, or someone holding manage-grants only through a group they are in, cannot review it');
      if (b.review !== null) throw conflict('break-glass-reviewed', 'this break-glass has already been reviewed');
      return [
        { type: 'BreakGlassReviewed', data: { projectId, grantId: b.grantId, principal: b.principal, outcome: d.outcome, comment: d.comment, reviewedBy: actor.id, reviewedAt: now } },
      ];
    }
    default:
      return assertNever(command);
  }
}

const POLICY_COMMANDS: ReadonlySet<string> = new Set<AccessPolicyCommand['type']>(['GrantRole', 'RevokeRole', 'RecordGrantExpiry']);
const POLICY_EVENTS: ReadonlySet<string> = new Set<AccessPolicyEvent['type']>(['RoleGranted', 'RoleRevoked', 'RoleExpired']);

function evolveAccessRequest(state: ProjectPolicyState, event: AccessRequestEvent | AccessRequestApprovalVoided): ProjectPolicyState {
  if (event.type === 'AccessRequestApprovalVoided') return { ...state, voidedClaims: new Set([...state.voidedClaims, event.data.claimId]) };
  // Legacy requests only (new ones never reach the policy stream). The map is updated in place and
  // handed on: copying it per event made a cold load quadratic in requests (8,000: 4.7 s). Every
  // update is keyed by request id, so a state folded further shares it with the states before,
  // which only ever see the same requests at the same or a later point of the same stream.
  const requests = state.requests as Map<string, AccessRequest>;
  const update = (requestId: string, patch: Partial<AccessRequest>) => {
    const r = requests.get(requestId);
    if (r) requests.set(requestId, { ...r, ...patch });
    return { ...state, requests };
  };
  switch (event.type) {
    case 'AccessRequested': {
      const d = event.data;
      requests.set(d.requestId, {
        ...d,
        requesterGroups: [...d.requesterGroups],
        status: 'pending',
        decidedBy: null,
        decidedAt: null,
        comment: null,
        grantId: null,
        grantExpiresAt: null,
      });
      return { ...state, projectId: state.projectId ?? d.projectId, requests };
    }
    case 'AccessRequestApproved': {
      const d = event.data;
      return update(d.requestId, { status: 'approved', decidedBy: d.approvedBy, decidedAt: d.approvedAt, comment: d.comment, grantId: d.grantId, grantExpiresAt: d.grantExpiresAt });
    }
    case 'AccessRequestDenied':
      return update(event.data.requestId, { status: 'denied', decidedBy: event.data.deniedBy, decidedAt: event.data.deniedAt, comment: event.data.comment });
    case 'AccessRequestCancelled':
      return update(event.data.requestId, { status: 'cancelled', decidedBy: event.data.requester.id, decidedAt: event.data.cancelledAt });
    case 'AccessRequestExpired':
      return update(event.data.requestId, { status: 'expired', decidedAt: event.data.recordedAt });
    case 'BreakGlassInvoked': {
      const d = event.data;
      const breakGlass = new Map(state.breakGlass);
      breakGlass.set(d.grantId, {
        grantId: d.grantId,
        projectId: d.projectId,
        principal: d.principal,
        principalGroups: [...d.principalGroups],
        reason: d.reason,
        durationSeconds: d.durationSeconds,
        invokedAt: d.invokedAt,
        expiresAt: d.expiresAt,
        eligibleVia: d.eligibleVia,
        review: null,
      });
      return { ...state, breakGlass };
    }
    case 'BreakGlassReviewed': {
      const d = event.data;
      const breakGlass = new Map(state.breakGlass);
      const b = breakGlass.get(d.grantId);
      if (b) breakGlass.set(d.grantId, { ...b, review: { outcome: d.outcome, comment: d.comment, reviewedBy: d.reviewedBy, reviewedAt: d.reviewedAt } });
      return { ...state, breakGlass };
    }
    default:
      return assertNever(event);
  }
}

/**
 * The decider of a project's policy stream: grants (delegated to accessPolicyDecider, unchanged),
 * access requests and break-glass. Approval and break-glass make their grant through
 * accessPolicyDecider's GrantRole, in the same decision, so both events are one append.
 */
export const projectPolicyDecider: Decider<ProjectPolicyState, ProjectPolicyCommand, ProjectPolicyEvent> = {
  initialState: () => ({ ...accessPolicyDecider.initialState(), requests: new Map(), breakGlass: new Map(), voidedClaims: new Set() }),

  decide(command, state) {
    if (POLICY_COMMANDS.has(command.type)) return accessPolicyDecider.decide(command as AccessPolicyCommand, state);
    return decideAccessRequest(command as AccessRequestCommand, state);
  },

  evolve(state, event) {
    if (POLICY_EVENTS.has(event.type)) return { ...state, ...accessPolicyDecider.evolve(state, event as AccessPolicyEvent) };
    return evolveAccessRequest(state, event as AccessRequestEvent | AccessRequestApprovalVoided);
  },
};

// ---- a request's own stream: accessrequest-<projectId>.<requestId> ----

export type AccessRequestStreamCommand = Extract<
  AccessRequestCommand,
  { type: 'RequestAccess' | 'ClaimAccessRequestApproval' | 'ReleaseAccessRequestApproval' | 'DenyAccessRequest' | 'CancelAccessRequest' | 'RecordAccessRequestExpiry' }
>;
export type AccessRequestStreamEvent =
  | AccessRequested
  | AccessRequestDenied
  | AccessRequestCancelled
  | AccessRequestExpired
  | AccessRequestApprovalClaimed
  | AccessRequestApprovalReleased;

export interface AccessRequestStreamState {
  request: AccessRequest | null;
  /** The approval in progress (or done: the policy stream says which). */
  claim: ApprovalClaim | null;
  /**
   * The project's grants, handed in by the caller at decision time (never folded from this stream):
   * four-eyes of a denial, and whether an approval of this request is on the policy stream.
   */
  policy: AccessPolicyState;
}

const REQUEST_STREAM_COMMANDS: ReadonlySet<string> = new Set<AccessRequestStreamCommand['type']>([
  'RequestAccess',
  'ClaimAccessRequestApproval',
  'ReleaseAccessRequestApproval',
  'DenyAccessRequest',
  'CancelAccessRequest',
  'RecordAccessRequestExpiry',
]);

/** A request of its own stream with what the policy stream says about it: approved if its approval is there. */
export function requestWithApproval(state: Pick<AccessRequestStreamState, 'request' | 'policy'>): AccessRequest | null {
  const r = state.request;
  if (!r) return null;
  const g = grantOfRequest(state.policy, r.requestId);
  if (!g) return r;
  return { ...r, status: 'approved', grantId: g.grantId, grantExpiresAt: g.expiresAt, decidedBy: g.grantedBy, decidedAt: g.grantedAt };
}

function pendingOnItsStream(state: AccessRequestStreamState, requestId: string, now: string): AccessRequest {
  const r = requestWithApproval(state);
  if (!r || r.requestId !== requestId) throw notFound('access-request-not-found', 'access request not found');
  const status = accessRequestStatusAt(r, now);
  if (status !== 'pending') throw conflict('access-request-not-pending', `the access request is ${status}, no longer pending`);
  if (state.claim !== null) throw conflict('access-request-being-approved', 'the access request is being approved');
  return r;
}

/**
 * The decider of one request's stream. A new request counts against the bounds it is given (the
 * caller counts pending requests across streams); the claim is the approval's step on this stream,
 * so a cancel, denial or expiry racing the approval either lands first (the claim then fails) or
 * fails on the claim: one winner.
 */
export const accessRequestDecider: Decider<AccessRequestStreamState, AccessRequestStreamCommand, AccessRequestStreamEvent> = {
  initialState: () => ({ request: null, claim: null, policy: accessPolicyDecider.initialState() }),

  decide(command, state) {
    if (!REQUEST_STREAM_COMMANDS.has(command.type)) throw invalid('wrong-stream', `${command.type} is decided on the project's policy stream`);
    checkAccessRequestCommand(command);
    const now = command.metadata.now;
    const actor = command.metadata.actor;
    const users = () => {
      if (actor.type !== 'user') throw forbidden('ci-job-action', 'only users take part in access requests');
    };
    switch (command.type) {
      case 'RequestAccess': {
        users();
        const d = command.data;
        if (state.request !== null) throw conflict('access-request-exists', 'request id already used');
        const b = d.bounds;
        if (b && b.pendingOfRequester >= b.maxPerRequester) throw conflict('access-request-limit', `at most ${b.maxPerRequester} pending access requests per requester`);
        if (b && b.pendingInProject >= b.maxPerProject) throw conflict('access-request-limit', `at most ${b.maxPerProject} pending access requests per project`);
        return [
          {
            type: 'AccessRequested',
            data: {
              projectId: d.projectId,
              requestId: d.requestId,
              requester: { type: 'user', id: actor.id },
              requesterGroups: [...d.requesterGroups],
              role: d.role,
              environment: d.environment,
              branch: d.branch,
              durationSeconds: d.durationSeconds,
              reason: d.reason,
              requestedAt: now,
              expiresAt: plus(now, d.ttlSeconds),
            },
          },
        ];
      }
      case 'ClaimAccessRequestApproval': {
        users();
        const d = command.data;
        const r = pendingOnItsStream(state, d.requestId, now);
        // Four-eyes proper is decided with the approval on the policy stream; the requester never even claims.
        if (actor.id === r.requester.id) throw forbidden('four-eyes-self', 'the requester cannot approve their own request');
        return [{ type: 'AccessRequestApprovalClaimed', data: { projectId: r.projectId, requestId: r.requestId, claimId: d.claimId, claimedBy: actor.id, claimedAt: now } }];
      }
      case 'ReleaseAccessRequestApproval': {
        const d = command.data;
        const r = state.request;
        // Only the claim it names, and only while no approval followed it.
        if (!r || state.claim?.claimId !== d.claimId || grantOfRequest(state.policy, r.requestId)) return [];
        return [{ type: 'AccessRequestApprovalReleased', data: { projectId: r.projectId, requestId: r.requestId, claimId: d.claimId, releasedAt: now } }];
      }
      case 'DenyAccessRequest': {
        users();
        const d = command.data;
        const r = pendingOnItsStream(state, d.requestId, now);
        const refusal = fourEyesRefusal(state.policy, { id: actor.id, groups: d.denierGroups }, { id: r.requester.id, groups: r.requesterGroups }, now);
        if (refusal) throw forbidden(refusal, 'the requester cannot deny their own request (cancel it instead)');
        return [{ type: 'AccessRequestDenied', data: { projectId: r.projectId, requestId: r.requestId, requester: r.requester, deniedBy: actor.id, deniedAt: now, comment: d.comment } }];
      }
      case 'CancelAccessRequest': {
        const r = state.request;
        if (!r || r.requestId !== command.data.requestId) throw notFound('access-request-not-found', 'access request not found');
        if (actor.type !== 'user') throw forbidden('ci-job-action', 'only users take part in access requests');
        if (actor.id !== r.requester.id) throw forbidden('not-requester', 'only the requester may cancel a request');
        pendingOnItsStream(state, r.requestId, now);
        return [{ type: 'AccessRequestCancelled', data: { projectId: r.projectId, requestId: r.requestId, requester: r.requester, cancelledAt: now } }];
      }
      case 'RecordAccessRequestExpiry': {
        const r = requestWithApproval(state);
        // Nothing to record: unknown, decided, cancelled, claimed (the approval or its recovery settles it), not yet expired, or recorded.
        if (!r || r.requestId !== command.data.requestId || r.status !== 'pending' || state.claim !== null || Date.parse(now) < Date.parse(r.expiresAt)) return [];
        return [{ type: 'AccessRequestExpired', data: { projectId: r.projectId, requestId: r.requestId, requester: r.requester, expiresAt: r.expiresAt, recordedAt: now } }];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    const r = state.request;
    const set = (patch: Partial<AccessRequest>) => (r ? { ...state, request: { ...r, ...patch } } : state);
    switch (event.type) {
      case 'AccessRequested': {
        const d = event.data;
        return {
          ...state,
          request: { ...d, requesterGroups: [...d.requesterGroups], status: 'pending', decidedBy: null, decidedAt: null, comment: null, grantId: null, grantExpiresAt: null },
        };
      }
      case 'AccessRequestApprovalClaimed':
        return { ...state, claim: { claimId: event.data.claimId, claimedBy: event.data.claimedBy, claimedAt: event.data.claimedAt } };
      case 'AccessRequestApprovalReleased':
        return state.claim?.claimId === event.data.claimId ? { ...state, claim: null } : state;
      case 'AccessRequestDenied':
        return set({ status: 'denied', decidedBy: event.data.deniedBy, decidedAt: event.data.deniedAt, comment: event.data.comment });
      case 'AccessRequestCancelled':
        return set({ status: 'cancelled', decidedBy: event.data.requester.id, decidedAt: event.data.cancelledAt });
      case 'AccessRequestExpired':
        return set({ status: 'expired', decidedAt: event.data.recordedAt });
      default:
        return assertNever(event);
    }
  },
};

/** The approval command for the policy stream, from a request read off its own stream. */
export function approvalSubject(r: AccessRequest): ApprovalSubject {
  return {
    projectId: r.projectId,
    requestId: r.requestId,
    requester: r.requester,
    requesterGroups: [...r.requesterGroups],
    role: r.role,
    environment: r.environment,
    branch: r.branch,
    durationSeconds: r.durationSeconds,
    expiresAt: r.expiresAt,
  };
}
