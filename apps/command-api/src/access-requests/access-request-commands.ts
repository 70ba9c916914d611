import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import {
  AbilityAction,
  ACCESS_REQUEST_LIMITS,
  AccessPolicyState,
  AccessRequestCommand,
  accessRequestDecider,
  AccessRequestStreamCommand,
  AccessRequestStreamEvent,
  AccessRequestStreamState,
  approvalSubject,
  DenialReason,
  denied,
  DomainError,
  EventStore,
  Principal,
  ProjectPolicyState,
  projectPolicyDecider,
  requestWithApproval,
  StreamName,
  UserPrincipal,
} from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { CONFIG, EVENT_STORE } from '@app/infra/nest/tokens';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { handleCommand, HandleResult } from '../application/handle-command';
import { Loaded, StreamStateCache } from '../application/stream-state-cache';
import { PROBLEM_BASE, ProblemException } from '../http/problem';
import { AccessRequestIndex } from './access-request-index';
import { ApproveAccessRequestDto, BreakGlassDto, CreateAccessRequestDto, DenyAccessRequestDto, ReviewBreakGlassDto } from './access-request.dto';

/**
 * Every refusal here is a recorded, rate-limited denial (issue 18): the decider's four-eyes,
 * not-requester and break-glass-not-eligible refusals as much as a CI job on these endpoints.
 */
export async function refuse(access: AccessControl, principal: Principal, projectId: string, action: AbilityAction, e: unknown, ctx: CommandContext): Promise<never> {
  if (e instanceof DomainError && e.kind === 'forbidden') await access.recordDenial(denied(principal, projectId, null, action, e.code as DenialReason), ctx);
  throw e;
}

/** Access requests and break-glass are for people: a CI job takes no part (403, recorded as a denial). */
export async function userOnly(access: AccessControl, principal: Principal, projectId: string, action: AbilityAction, ctx: CommandContext): Promise<UserPrincipal> {
  if (principal.kind === 'user') return principal;
  return refuse(access, principal, projectId, action, new DomainError('forbidden', 'ci-job-action', 'only users take part in access requests and break-glass'), ctx);
}

async function onPolicyStream(store: EventStore, access: AccessControl, projectId: string, ctx: CommandContext, action: AbilityAction, principal: Principal, command: (loaded: Loaded<ProjectPolicyState>) => Promise<AccessRequestCommand>) {
  try {
    return await handleCommand(store, access.policies, StreamName.project(projectId), projectPolicyDecider, command, ctx);
  } catch (e) {
    return refuse(access, principal, projectId, action, e, ctx);
  }
}

/** One request's own stream, decided with the project's grants as they are at each attempt. */
async function onRequestStream(
  store: EventStore,
  access: AccessControl,
  streams: StreamStateCache<AccessRequestStreamState, AccessRequestStreamEvent>,
  projectId: string,
  requestId: string,
  ctx: CommandContext,
  action: AbilityAction,
  principal: Principal,
  command: (loaded: Loaded<AccessRequestStreamState>, policy: AccessPolicyState) => Promise<AccessRequestStreamCommand>,
): Promise<HandleResult<AccessRequestStreamState>> {
  let policy: AccessPolicyState = (await access.policy(projectId)).state;
  const decider = { decide: (c: AccessRequestStreamCommand, s: AccessRequestStreamState) => accessRequestDecider.decide(c, { ...s, policy }) };
  try {
    return await handleCommand(store, streams, StreamName.accessRequest(projectId, requestId), decider, async (loaded) => {
      policy = (await access.policy(projectId)).state;
      return command(loaded, policy);
    }, ctx);
  } catch (e) {
    return refuse(access, principal, projectId, action, e, ctx);
  }
}

const tooMany = (detail: string) =>
  new ProblemException({ type: `${PROBLEM_BASE}too-many-requests`, title: 'Too many requests', status: 429, detail, reason: 'access-request-limit' }, { 'Retry-After': '60' });

/** Serializes the bound check and the append of new requests in this process (see RequestAccessHandler). */
let requesting: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(f: () => Promise<T>): Promise<T> {
  const run = requesting.then(f, f);
  requesting = run.catch(() => undefined);
  return run;
}

const meta = (ctx: CommandContext) => ({ now: ctx.now, actor: ctx.actor });

export class RequestAccessCommand {
  constructor(readonly projectId: string, readonly body: CreateAccessRequestDto, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class ApproveAccessRequestCommand {
  constructor(readonly projectId: string, readonly requestId: string, readonly body: ApproveAccessRequestDto, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class DenyAccessRequestCommand {
  constructor(readonly projectId: string, readonly requestId: string, readonly body: DenyAccessRequestDto, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class CancelAccessRequestCommand {
  constructor(readonly projectId: string, readonly requestId: string, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class BreakGlassCommand {
  constructor(readonly projectId: string, readonly body: BreakGlassDto, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class ReviewBreakGlassCommand {
  constructor(readonly projectId: string, readonly grantId: string, readonly body: ReviewBreakGlassDto, readonly principal: Principal, readonly ctx: CommandContext) {}
}

@CommandHandler(RequestAccessCommand)
export class RequestAccessHandler implements ICommandHandler<RequestAccessCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl, @Inject(CONFIG) private readonly config: AppConfig, private readonly index: AccessRequestIndex) {}

  /**
   * A request is the first event of its own stream: nothing here touches the policy stream. The
   * bounds are counted and the request appended one at a time in this process, after catching up
   * with the store, so concurrent requests to one replica never pass a bound together.
   */
  async execute({ projectId, body, principal, ctx }: RequestAccessCommand): Promise<{ requestId: string; status: 'pending'; expiresAt: string }> {
    const user = await userOnly(this.access, principal, projectId, 'request-access', ctx);
    const requestId = randomUUID();
    const maxPerRequester = this.config.accessRequestMaxPendingPerRequester ?? ACCESS_REQUEST_LIMITS.defaultMaxPendingPerRequester;
    const maxPerProject = this.config.accessRequestMaxPendingPerProject ?? ACCESS_REQUEST_LIMITS.defaultMaxPendingPerProject;
    return oneAtATime(async () => {
      await this.index.catchUp();
      const counts = this.index.pendingCounts(user.id, projectId, ctx.now);
      // Recorded whether or not anyone has set the project up: a 404 here would tell any user which
      // project ids exist. A request nobody can approve expires like any other, and counts meanwhile.
      let r: HandleResult<AccessRequestStreamState>;
      try {
        r = await handleCommand(this.store, this.index.streams, StreamName.accessRequest(projectId, requestId), accessRequestDecider, {
          type: 'RequestAccess',
          data: {
            projectId,
            requestId,
            requesterGroups: [...user.groups],
            role: body.role,
            environment: body.environment ?? null,
            branch: body.branch ?? null,
            durationSeconds: body.durationSeconds,
            reason: body.reason,
            // ACCESS_REQUEST_TTL_SECONDS (default 86400).
            ttlSeconds: this.config.accessRequestTtlSeconds ?? ACCESS_REQUEST_LIMITS.defaultTtlSeconds,
            bounds: { pendingOfRequester: counts.ofRequester, pendingInProject: counts.inProject, maxPerRequester, maxPerProject },
          },
          metadata: meta(ctx),
        }, ctx);
      } catch (e) {
        if (e instanceof DomainError && e.code === 'access-request-limit') throw tooMany(e.message);
        throw e;
      }
      const event = r.events[0] as unknown as { type: string; data: Record<string, unknown> & { expiresAt: string } };
      this.index.applyOwn(event.type, event.data, 0);
      return { requestId, status: 'pending' as const, expiresAt: event.data.expiresAt };
    });
  }
}

@CommandHandler(ApproveAccessRequestCommand)
export class ApproveAccessRequestHandler implements ICommandHandler<ApproveAccessRequestCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl, private readonly index: AccessRequestIndex) {}

  async execute({ projectId, requestId, body, principal, ctx }: ApproveAccessRequestCommand): Promise<{ grantId: string; expiresAt: string }> {
    const grantId = randomUUID();
    const own = await this.index.streams.load(StreamName.accessRequest(projectId, requestId));
    const r = own.revision < 0 ? await this.legacy(projectId, requestId, grantId, body, principal, ctx) : await this.claimed(projectId, requestId, grantId, body, principal, ctx);
    const approved = r.events[0] as unknown as { data: Record<string, unknown> & { grantExpiresAt: string } };
    this.index.applyApproval(approved.data);
    return { grantId, expiresAt: approved.data.grantExpiresAt };
  }

  /** A request recorded in the policy stream before issue 18: decided there, as it always was. */
  private legacy(projectId: string, requestId: string, grantId: string, body: ApproveAccessRequestDto, principal: Principal, ctx: CommandContext) {
    return onPolicyStream(this.store, this.access, projectId, ctx, 'manage-grants', principal, async (loaded) => {
      // Someone without manage-grants is refused (and audited) here; four-eyes is the decider's.
      await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
      const user = await userOnly(this.access, principal, projectId, 'manage-grants', ctx);
      return { type: 'ApproveAccessRequest', data: { requestId, grantId, approverGroups: [...user.groups], comment: body.comment ?? null }, metadata: meta(ctx) };
    });
  }

  /**
   * Claim on the request's stream (cancel, deny and expiry race this one append), then the one
   * append on the policy stream that decides four-eyes and makes the grant. If that is refused, the
   * claim is released; if this process dies in between, AccessRequestExpiryRecorder voids the claim
   * on the policy stream after ACCESS_REQUEST_LIMITS.claimGraceSeconds and releases it.
   */
  private async claimed(projectId: string, requestId: string, grantId: string, body: ApproveAccessRequestDto, principal: Principal, ctx: CommandContext) {
    const before = await this.access.policy(projectId);
    await this.access.require(principal, 'manage-grants', { projectId }, ctx, before.state);
    const user = await userOnly(this.access, principal, projectId, 'manage-grants', ctx);
    const approverGroups = [...user.groups];
    const claimId = grantId;
    const claim = await onRequestStream(this.store, this.access, this.index.streams, projectId, requestId, ctx, 'manage-grants', principal, async (loaded, policy) => {
      const r = requestWithApproval({ ...loaded.state, policy });
      // Four-eyes first, without a claim: a refused approver leaves no trace on the request's stream.
      if (r) projectPolicyDecider.decide({ type: 'ApproveClaimedAccessRequest', data: { request: approvalSubject(r), claimId, grantId, approverGroups, comment: body.comment ?? null }, metadata: meta(ctx) }, policy as ProjectPolicyState);
      return { type: 'ClaimAccessRequestApproval', data: { requestId, claimId, approverGroups }, metadata: meta(ctx) };
    });
    const request = claim.before.state.request!;
    this.index.applyOwn('AccessRequestApprovalClaimed', claim.events[0].data as Record<string, unknown>, claim.nextExpectedRevision);
    try {
      return await onPolicyStream(this.store, this.access, projectId, ctx, 'manage-grants', principal, async () => ({
        type: 'ApproveClaimedAccessRequest',
        data: { request: approvalSubject(request), claimId, grantId, approverGroups, comment: body.comment ?? null },
        metadata: meta(ctx),
      }));
    } catch (e) {
      await releaseClaim(this.store, this.access, this.index, projectId, requestId, claimId, ctx).catch(() => undefined);
      throw e;
    }
  }
}

/** Gives a claim up on the request's stream (only that claim, and only if no approval followed it). */
export async function releaseClaim(store: EventStore, access: AccessControl, index: AccessRequestIndex, projectId: string, requestId: string, claimId: string, ctx: CommandContext): Promise<void> {
  const system = { type: 'system' as const, id: 'access-request-claim' };
  let policy: AccessPolicyState = (await access.policy(projectId)).state;
  const r = await handleCommand(
    store,
    index.streams,
    StreamName.accessRequest(projectId, requestId),
    { decide: (c: AccessRequestStreamCommand, s: AccessRequestStreamState) => accessRequestDecider.decide(c, { ...s, policy }) },
    async () => {
      policy = (await access.policy(projectId)).state;
      return { type: 'ReleaseAccessRequestApproval' as const, data: { requestId, claimId }, metadata: { now: ctx.now, actor: system } };
    },
    { ...ctx, actor: system },
  );
  if (r.events.length > 0) index.applyOwn('AccessRequestApprovalReleased', r.events[0].data as Record<string, unknown>, r.nextExpectedRevision);
}

@CommandHandler(DenyAccessRequestCommand)
export class DenyAccessRequestHandler implements ICommandHandler<DenyAccessRequestCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl, private readonly index: AccessRequestIndex) {}

  async execute({ projectId, requestId, body, principal, ctx }: DenyAccessRequestCommand): Promise<{ requestId: string; status: 'denied' }> {
    const own = await this.index.streams.load(StreamName.accessRequest(projectId, requestId));
    if (own.revision < 0) {
      await onPolicyStream(this.store, this.access, projectId, ctx, 'manage-grants', principal, async (loaded) => {
        await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
        const user = await userOnly(this.access, principal, projectId, 'manage-grants', ctx);
        return { type: 'DenyAccessRequest', data: { requestId, denierGroups: [...user.groups], comment: body.comment }, metadata: meta(ctx) };
      });
      return { requestId, status: 'denied' };
    }
    const r = await onRequestStream(this.store, this.access, this.index.streams, projectId, requestId, ctx, 'manage-grants', principal, async (_loaded, policy) => {
      await this.access.require(principal, 'manage-grants', { projectId }, ctx, policy);
      const user = await userOnly(this.access, principal, projectId, 'manage-grants', ctx);
      return { type: 'DenyAccessRequest', data: { requestId, denierGroups: [...user.groups], comment: body.comment }, metadata: meta(ctx) };
    });
    this.index.applyOwn('AccessRequestDenied', r.events[0].data as Record<string, unknown>, r.nextExpectedRevision);
    return { requestId, status: 'denied' };
  }
}

@CommandHandler(CancelAccessRequestCommand)
export class CancelAccessRequestHandler implements ICommandHandler<CancelAccessRequestCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl, private readonly index: AccessRequestIndex) {}

  async execute({ projectId, requestId, principal, ctx }: CancelAccessRequestCommand): Promise<void> {
    await userOnly(this.access, principal, projectId, 'request-access', ctx);
    const own = await this.index.streams.load(StreamName.accessRequest(projectId, requestId));
    if (own.revision < 0) {
      // Legacy requests only: no new request is ever recorded in the policy stream.
      await onPolicyStream(this.store, this.access, projectId, ctx, 'request-access', principal, async () => ({ type: 'CancelAccessRequest', data: { requestId }, metadata: meta(ctx) }));
      return;
    }
    const r = await onRequestStream(this.store, this.access, this.index.streams, projectId, requestId, ctx, 'request-access', principal, async () => ({
      type: 'CancelAccessRequest',
      data: { requestId },
      metadata: meta(ctx),
    }));
    this.index.applyOwn('AccessRequestCancelled', r.events[0].data as Record<string, unknown>, r.nextExpectedRevision);
  }
}

@CommandHandler(BreakGlassCommand)
export class BreakGlassHandler implements ICommandHandler<BreakGlassCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, body, principal, ctx }: BreakGlassCommand): Promise<{ grantId: string; expiresAt: string }> {
    const user = await userOnly(this.access, principal, projectId, 'break-glass', ctx);
    const grantId = randomUUID();
    const r = await onPolicyStream(this.store, this.access, projectId, ctx, 'break-glass', principal, async () => ({
      type: 'BreakGlass',
      data: { projectId, grantId, principalGroups: [...user.groups], reason: body.reason, durationSeconds: body.durationSeconds },
      metadata: meta(ctx),
    }));
    const invoked = r.events[0] as unknown as { data: { expiresAt: string } };
    return { grantId, expiresAt: invoked.data.expiresAt };
  }
}

@CommandHandler(ReviewBreakGlassCommand)
export class ReviewBreakGlassHandler implements ICommandHandler<ReviewBreakGlassCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, grantId, body, principal, ctx }: ReviewBreakGlassCommand): Promise<{ grantId: string; outcome: string }> {
    await onPolicyStream(this.store, this.access, projectId, ctx, 'manage-grants', principal, async (loaded) => {
      await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
      const user = await userOnly(this.access, principal, projectId, 'manage-grants', ctx);
      return { type: 'ReviewBreakGlass', data: { grantId, reviewerGroups: [...user.groups], outcome: body.outcome, comment: body.comment }, metadata: meta(ctx) };
    });
    return { grantId, outcome: body.outcome };
  }
}

export const ACCESS_REQUEST_COMMAND_HANDLERS = [
  RequestAccessHandler,
  ApproveAccessRequestHandler,
  DenyAccessRequestHandler,
  CancelAccessRequestHandler,
  BreakGlassHandler,
  ReviewBreakGlassHandler,
];
