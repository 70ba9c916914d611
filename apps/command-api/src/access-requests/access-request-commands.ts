import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import {
  ACCESS_REQUEST_LIMITS,
  AccessRequestCommand,
  DenialReason,
  denied,
  DomainError,
  EventStore,
  Principal,
  ProjectPolicyState,
  projectPolicyDecider,
  StreamName,
  UserPrincipal,
} from '@app/domain';
import { AppConfig } from '@app/infra/config/config';
import { CONFIG, EVENT_STORE } from '@app/infra/nest/tokens';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';
import { Loaded } from '../application/stream-state-cache';
import { problems } from '../http/problem';
import { ApproveAccessRequestDto, BreakGlassDto, CreateAccessRequestDto, DenyAccessRequestDto, ReviewBreakGlassDto } from './access-request.dto';

/** Access requests and break-glass are for people: a CI job takes no part (403, audited as a denial by the caller). */
function userOnly(principal: Principal): UserPrincipal {
  if (principal.kind !== 'user') throw problems.forbidden('users-only');
  return principal;
}

/** The decider's four-eyes refusals: audited like any other denial (a SOC sees a requester trying to approve their own request). */
const FOUR_EYES: readonly string[] = ['four-eyes-self', 'four-eyes-shared-group', 'no-manage-grants'] satisfies DenialReason[];

async function run(store: EventStore, access: AccessControl, projectId: string, ctx: CommandContext, command: (loaded: Loaded<ProjectPolicyState>) => Promise<AccessRequestCommand>, principal?: Principal) {
  try {
    return await handleCommand(store, access.policies, StreamName.project(projectId), projectPolicyDecider, command, ctx);
  } catch (e) {
    if (principal && e instanceof DomainError && e.kind === 'forbidden' && FOUR_EYES.includes(e.code)) {
      await access.recordDenial(denied(principal, projectId, null, 'manage-grants', e.code as DenialReason), ctx);
    }
    throw e;
  }
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
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl, @Inject(CONFIG) private readonly config: AppConfig) {}

  async execute({ projectId, body, principal, ctx }: RequestAccessCommand): Promise<{ requestId: string; status: 'pending'; expiresAt: string }> {
    const user = userOnly(principal);
    const requestId = randomUUID();
    const r = await run(this.store, this.access, projectId, ctx, async (loaded) => {
      // Recorded whether or not anyone has set the project up: a 404 here would tell any user which
      // project ids exist. A request nobody can approve expires like any other.
      return {
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
        },
        metadata: meta(ctx),
      };
    });
    const event = r.events[0] as unknown as { data: { expiresAt: string } };
    return { requestId, status: 'pending', expiresAt: event.data.expiresAt };
  }
}

@CommandHandler(ApproveAccessRequestCommand)
export class ApproveAccessRequestHandler implements ICommandHandler<ApproveAccessRequestCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, requestId, body, principal, ctx }: ApproveAccessRequestCommand): Promise<{ grantId: string; expiresAt: string }> {
    const grantId = randomUUID();
    const r = await run(this.store, this.access, projectId, ctx, async (loaded) => {
      // Someone without manage-grants is refused (and audited) here; four-eyes is the decider's.
      await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
      const user = userOnly(principal);
      return { type: 'ApproveAccessRequest', data: { requestId, grantId, approverGroups: [...user.groups], comment: body.comment ?? null }, metadata: meta(ctx) };
    }, principal);
    const approved = r.events[0] as unknown as { data: { grantExpiresAt: string } };
    return { grantId, expiresAt: approved.data.grantExpiresAt };
  }
}

@CommandHandler(DenyAccessRequestCommand)
export class DenyAccessRequestHandler implements ICommandHandler<DenyAccessRequestCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, requestId, body, principal, ctx }: DenyAccessRequestCommand): Promise<{ requestId: string; status: 'denied' }> {
    await run(this.store, this.access, projectId, ctx, async (loaded) => {
      await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
      const user = userOnly(principal);
      return { type: 'DenyAccessRequest', data: { requestId, denierGroups: [...user.groups], comment: body.comment }, metadata: meta(ctx) };
    }, principal);
    return { requestId, status: 'denied' };
  }
}

@CommandHandler(CancelAccessRequestCommand)
export class CancelAccessRequestHandler implements ICommandHandler<CancelAccessRequestCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, requestId, principal, ctx }: CancelAccessRequestCommand): Promise<void> {
    userOnly(principal);
    await run(this.store, this.access, projectId, ctx, async () => ({ type: 'CancelAccessRequest', data: { requestId }, metadata: meta(ctx) }));
  }
}

@CommandHandler(BreakGlassCommand)
export class BreakGlassHandler implements ICommandHandler<BreakGlassCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, body, principal, ctx }: BreakGlassCommand): Promise<{ grantId: string; expiresAt: string }> {
    const user = userOnly(principal);
    const grantId = randomUUID();
    const r = await run(this.store, this.access, projectId, ctx, async () => ({
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
    await run(this.store, this.access, projectId, ctx, async (loaded) => {
      await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
      const user = userOnly(principal);
      return { type: 'ReviewBreakGlass', data: { grantId, reviewerGroups: [...user.groups], outcome: body.outcome, comment: body.comment }, metadata: meta(ctx) };
    }, principal);
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
