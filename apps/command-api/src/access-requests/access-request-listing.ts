import { ACCESS_REQUEST_STATUSES, AccessRequest, accessRequestStatusAt, AccessRequestStatus, BreakGlassRecord, Principal } from '@app/domain';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { patternPipe } from '../http/params';
import { FieldError, problems } from '../http/problem';
import { AccessRequestView, BreakGlassView } from './access-request.dto';
import { userOnly } from './access-request-commands';
import { AccessRequestIndex, decodeRequestCursor, RequestKey } from './access-request-index';

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

export const REQUEST_PAGE = { default: 50, max: 100 } as const;

/** `limit` and `cursor` as given (REST query or GraphQL first/after); bad ones are pushed onto errors. */
export function checkRequestPage(limit: unknown, cursor: unknown, errors: FieldError[], names = { limit: 'limit', cursor: 'cursor' }): { limit: number; after: RequestKey | null } {
  let size: number = REQUEST_PAGE.default;
  if (limit !== undefined && limit !== null) {
    const n = typeof limit === 'number' ? limit : typeof limit === 'string' && /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > REQUEST_PAGE.max) errors.push({ field: names.limit, message: `${names.limit} must be an integer from 1 to ${REQUEST_PAGE.max}` });
    else size = n;
  }
  let after: RequestKey | null = null;
  if (cursor !== undefined && cursor !== null) {
    after = decodeRequestCursor(cursor);
    if (after === null) errors.push({ field: names.cursor, message: `${names.cursor} must be a cursor this list returned` });
  }
  return { limit: size, after };
}

/**
 * manage-grants: every request of the project; any other user: their own; a page at a time, in
 * the order they were made. A CI job is refused, and that refusal is recorded like any other.
 */
export async function listAccessRequests(
  access: AccessControl,
  index: AccessRequestIndex,
  p: Principal,
  projectId: string,
  query: { status?: AccessRequestStatus; limit: number; after: RequestKey | null },
  ctx: CommandContext,
): Promise<{ items: AccessRequestView[]; nextCursor: string | null }> {
  const user = await userOnly(access, p, projectId, 'request-access', ctx);
  const { state } = await access.policy(projectId);
  const all = (await access.check(user, 'manage-grants', { projectId }, ctx, state)).allowed;
  await index.catchUp();
  const page = index.page(projectId, { requesterId: all ? undefined : user.id, status: query.status }, query.limit, query.after, ctx.now);
  return { items: page.items.map((r) => requestView(r, ctx.now)), nextCursor: page.nextCursor };
}

/** read-audit or manage-grants: the project's break-glasses (reviewed: filter on whether they have a review). */
export async function listBreakGlasses(access: AccessControl, p: Principal, projectId: string, reviewed: boolean | undefined, ctx: CommandContext): Promise<BreakGlassView[]> {
  const { state } = await access.policy(projectId);
  if (!(await access.check(p, 'read-audit', { projectId }, ctx, state)).allowed) await access.require(p, 'manage-grants', { projectId }, ctx, state);
  return [...state.breakGlass.values()].filter((b) => reviewed === undefined || (b.review !== null) === reviewed).map(breakGlassView);
}
