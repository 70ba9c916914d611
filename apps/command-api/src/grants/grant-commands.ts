import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { AccessPolicyCommand, accessPolicyDecider, EventStore, Principal, StreamName } from '@app/domain';
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
