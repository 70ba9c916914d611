import { ACCESS_REQUEST_STATUSES, AccessRequest, accessRequestStatusAt, AccessRequestStatus, BreakGlassRecord, Principal } from '@app/domain';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { patternPipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AccessRequestView, BreakGlassView } from './access-request.dto';

// The listing rules of access requests and break-glasses, shared by REST (AccessRequestsController,
// BreakGlassController) and GraphQL (accessRequests, breakGlasses).

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const RequestIdPipe = patternPipe('requestId', UUID);
export const BreakGlassGrantIdPipe = patternPipe('grantId', UUID);

export function requestView(r: AccessRequest, now: string): AccessRequestView {
  return {
    requestId: r.requestId,
    requester: r.requester,
    role: r.role,
    environment: r.environment,
    branch: r.branch,
    durationSeconds: r.durationSeconds,
    reason: r.reason,
    requestedAt: r.requestedAt,
    expiresAt: r.expiresAt,
    status: accessRequestStatusAt(r, now),
    decidedBy: r.decidedBy,
    decidedAt: r.decidedAt,
    comment: r.comment,
    grantId: r.grantId,
    grantExpiresAt: r.grantExpiresAt,
  };
}

export function breakGlassView(b: BreakGlassRecord): BreakGlassView {
  return { grantId: b.grantId, principal: b.principal, reason: b.reason, durationSeconds: b.durationSeconds, invokedAt: b.invokedAt, expiresAt: b.expiresAt, review: b.review };
}

/** A status filter as given (undefined: none); a bad one is pushed onto errors. */
export function checkRequestStatus(status: unknown, errors: FieldError[]): void {
  if (status !== undefined && (typeof status !== 'string' || !(ACCESS_REQUEST_STATUSES as readonly string[]).includes(status))) {
    errors.push({ field: 'status', message: `status must be one of ${ACCESS_REQUEST_STATUSES.join(', ')}` });
  }
}

/** manage-grants: every request of the project; any other user: their own. */
export async function listAccessRequests(access: AccessControl, p: Principal, projectId: string, status: AccessRequestStatus | undefined, ctx: CommandContext): Promise<AccessRequestView[]> {
  if (p.kind !== 'user') throw problems.forbidden('users-only');
  const { state } = await access.policy(projectId);
  const all = (await access.check(p, 'manage-grants', { projectId }, ctx, state)).allowed;
  return [...state.requests.values()]
    .filter((r) => all || r.requester.id === p.id)
    .map((r) => requestView(r, ctx.now))
    .filter((r) => status === undefined || r.status === status);
}

/** read-audit or manage-grants: the project's break-glasses (reviewed: filter on whether they have a review). */
export async function listBreakGlasses(access: AccessControl, p: Principal, projectId: string, reviewed: boolean | undefined, ctx: CommandContext): Promise<BreakGlassView[]> {
  const { state } = await access.policy(projectId);
  if (!(await access.check(p, 'read-audit', { projectId }, ctx, state)).allowed) await access.require(p, 'manage-grants', { projectId }, ctx, state);
  return [...state.breakGlass.values()].filter((b) => reviewed === undefined || (b.review !== null) === reviewed).map(breakGlassView);
}
