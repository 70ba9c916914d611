import { Controller, Get, Inject, Param, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { AccessPolicyState, authorize, Grant, grantActions, Principal, PROJECT_ID_PATTERN, Role, UserPrincipal } from '@app/domain';
import { SECRET_CATALOG, EVENT_STORE } from '@app/infra/nest/tokens';
import type { EventStore } from '@app/domain';
import { SecretCatalog } from '@app/infra/read-models/secret-catalog';
import { AccessControl } from '../application/access-control';
import { userOnly } from '../access-requests/access-request-commands';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { patternPipe, ProjectIdPipe } from '../http/params';
import { problems } from '../http/problem';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

const RequestIdPipe = patternPipe('requestId', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

/** What a request asks for: enough to build the grant an approval would make. */
interface Asked {
  requester: { type: 'user'; id: string };
  requesterGroups: string[];
  role: Role;
  environment: string | null;
  branch: string | null;
}

export interface ImpactView {
  wouldRead: { name: string; source: { type: 'project' | 'group'; id: string } }[];
  wouldManage: boolean;
}

/**
 * What approving a request would let the requester do now: the grant it would make, added to the
 * project's event-sourced policy, decided for every secret of the project by the domain's own
 * authorize (the rule every endpoint uses) for the requester as they asked (their groups then).
 */
export function impactOf(asked: Asked, policy: AccessPolicyState, secrets: { projectId: string; name: string; environment: string | null; branch: string | null; protectedOnly: boolean }[], now: string): ImpactView {
  const grant: Grant = {
    grantId: 'impact-of-approval',
    principal: { type: 'user', id: asked.requester.id },
    role: asked.role,
    environment: asked.environment,
    branch: asked.branch,
    expiresAt: null,
    grantedBy: 'impact',
    grantedAt: now,
    revokedAt: null,
    revokedBy: null,
    accessRequestId: 'impact',
  };
  const after: AccessPolicyState = { ...policy, grants: new Map([...policy.grants, [grant.grantId, grant]]) };
  const requester: UserPrincipal = { kind: 'user', id: asked.requester.id, groups: asked.requesterGroups, admin: false };
  const wouldRead = secrets
    .filter((s) => authorize(requester, after, 'read', s, now).allowed)
    .map((s) => ({ name: s.name, source: { type: 'project' as const, id: s.projectId } }));
  const narrowed = grant.environment !== null || grant.branch !== null;
  return { wouldRead, wouldManage: !narrowed && (grantActions(grant) as readonly string[]).includes('manage-grants') };
}

@ApiTags('access-requests')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@ApiParam({ name: 'projectId', schema: { type: 'string', pattern: PROJECT_ID_PATTERN.source } })
@Controller('v1/projects/:projectId/access-requests')
export class AccessRequestImpactController {
  constructor(
    private readonly access: AccessControl,
    @Inject(SECRET_CATALOG) private readonly catalog: SecretCatalog,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get(':requestId/impact')
  @ApiParam({ name: 'requestId', schema: { type: 'string', format: 'uuid' } })
  @ApiOkResponse({ description: 'manage-grants, or the requester: {wouldRead: [{name, source}], wouldManage} — what approving it would let the requester do now.' })
  async impact(
    @Param('projectId', ProjectIdPipe) projectId: string,
    @Param('requestId', RequestIdPipe) requestId: string,
    @CurrentPrincipal() p: Principal,
    @Req() req: AuthenticatedRequest,
  ): Promise<ImpactView> {
    const ctx = commandContext(req, p);
    // A CI job takes no part in access requests: 403, recorded and rate-limited like every refusal (issue 18, 7).
    await userOnly(this.access, p, projectId, 'manage-grants', ctx);
    const { state } = await this.access.policy(projectId);
    const asked = await this.asked(projectId, requestId, state.requests.get(requestId));
    if (!asked || asked.requester.id !== p.id) {
      // Not the requester: manage-grants (audited denial otherwise), and only then say whether it exists.
      await this.access.require(p, 'manage-grants', { projectId }, ctx, state);
    }
    if (!asked) throw problems.notFound(`access request ${requestId} not found`);
    return impactOf(asked, state, await this.catalog.list(projectId), ctx.now);
  }

  /** The request as asked: recorded on the policy stream (older requests) or first on its own stream. */
  private async asked(projectId: string, requestId: string, legacy: Asked | undefined): Promise<Asked | null> {
    if (legacy) return legacy;
    // The request's own stream (StreamName.accessRequest): its first event is AccessRequested.
    const [first] = await this.store.readStream(`accessrequest-${projectId}.${requestId}`, { maxCount: 1 });
    if (first?.type !== 'AccessRequested') return null;
    const d = first.data as unknown as Asked & { projectId: string; requestId: string };
    return d.projectId === projectId && d.requestId === requestId ? d : null;
  }
}
