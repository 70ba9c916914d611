import { isGrantActive, Principal } from '@app/domain';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { GrantView } from './grant.dto';

/** Every grant of a project with its status now, for a principal who may manage grants (REST GET …/grants and GraphQL projectGrants). */
export async function listProjectGrants(access: AccessControl, p: Principal, projectId: string, ctx: CommandContext): Promise<GrantView[]> {
  await access.require(p, 'manage-grants', { projectId }, ctx);
  const { state } = await access.policy(projectId);
  return [...state.grants.values()].map((g) => ({
    ...g,
    status: g.revokedAt !== null ? 'revoked' : isGrantActive(g, ctx.now) ? 'active' : 'expired',
  }));
}
