import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { AccessPolicyCommand, accessPolicyDecider, denied, EventStore, Principal, StreamName } from '@app/domain';
import { problems } from '../http/problem';
import { EVENT_STORE } from '@app/infra/nest/tokens';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { handleCommand } from '../application/handle-command';
import { CreateGrantDto } from './grant.dto';

export class GrantRoleCommand {
  constructor(readonly projectId: string, readonly body: CreateGrantDto, readonly principal: Principal, readonly ctx: CommandContext) {}
}
export class RevokeRoleCommand {
  constructor(readonly projectId: string, readonly grantId: string, readonly principal: Principal, readonly ctx: CommandContext) {}
}

@CommandHandler(GrantRoleCommand)
export class GrantRoleHandler implements ICommandHandler<GrantRoleCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, body, principal, ctx }: GrantRoleCommand): Promise<{ grantId: string }> {
    const grantId = randomUUID();
    await handleCommand(this.store, this.access.policies, StreamName.project(projectId), accessPolicyDecider, async (loaded): Promise<AccessPolicyCommand> => {
      // Owners manage grants; a platform admin may only bootstrap the first (unnarrowed) owner of an ownerless project.
      const asOwner = await this.access.check(principal, 'manage-grants', { projectId }, ctx, loaded.state);
      if (!asOwner.allowed) {
        const bootstrapping = body.role === 'owner' && !body.environment && !body.branch;
        const asAdmin = bootstrapping ? await this.access.check(principal, 'bootstrap-owner', { projectId }, ctx, loaded.state) : asOwner;
        if (!asAdmin.allowed) await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
        // A platform admin bootstraps someone else, never itself (nor a group it is in): with groups, an
        // admin could otherwise own a new group and move any project below it (the review of issue 20).
        if (principal.kind === 'user' && (body.principal.type === 'user' ? body.principal.id === principal.id : principal.groups.includes(body.principal.id))) {
          await this.access.recordDenial(denied(principal, projectId, null, 'bootstrap-owner', 'bootstrap-self'), ctx);
          throw problems.forbidden('bootstrap-self');
        }
      }
      return {
        type: 'GrantRole',
        data: {
          projectId,
          grantId,
          principal: { type: body.principal.type, id: body.principal.id },
          role: body.role,
          environment: body.environment ?? null,
          branch: body.branch ?? null,
          expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
        },
        metadata: { now: ctx.now, actor: ctx.actor },
      };
    }, ctx);
    return { grantId };
  }
}

@CommandHandler(RevokeRoleCommand)
export class RevokeRoleHandler implements ICommandHandler<RevokeRoleCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore, private readonly access: AccessControl) {}

  async execute({ projectId, grantId, principal, ctx }: RevokeRoleCommand): Promise<void> {
    await handleCommand(this.store, this.access.policies, StreamName.project(projectId), accessPolicyDecider, async (loaded): Promise<AccessPolicyCommand> => {
      await this.access.require(principal, 'manage-grants', { projectId }, ctx, loaded.state);
      return { type: 'RevokeRole', data: { grantId }, metadata: { now: ctx.now, actor: ctx.actor } };
    }, ctx);
  }
}

export const GRANT_COMMAND_HANDLERS = [GrantRoleHandler, RevokeRoleHandler];
