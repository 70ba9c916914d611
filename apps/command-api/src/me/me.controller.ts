import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Action, ACTIONS, defineAbilityFor, Principal, PROJECT_ACTIONS, projectSubject, ROLES } from '@app/domain';
import { COMPLIANCE_QUERIES } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

export interface PlaceActions {
  projectId: string;
  actions: Action[];
}
export interface MeView {
  principal: { type: 'user' | 'ci-job'; id: string; groups?: string[]; admin?: boolean; projectId?: string };
  projects: PlaceActions[];
  /** Group grants (issue 20) are not built yet: always empty until groups exist. */
  groups: { groupId: string; actions: Action[] }[];
}

/** The actions the ability gives on a project now: project powers on the project, secret actions on some secret of it. */
export function actionsOn(p: Principal, projectId: string, ability: ReturnType<typeof defineAbilityFor>): Action[] {
  // can(action, 'Secret') with no instance asks whether any rule could allow it (conditions aside):
  // the console offers a screen, the API still decides every secret.
  return ACTIONS.filter((a) => (PROJECT_ACTIONS.includes(a) ? ability.can(a, projectSubject(projectId)) : ability.can(a, 'Secret')));
}

/**
 * `GET /v1/me`: where the caller holds a grant in force, and the actions it has there now. Candidate
 * projects come from the projected grants (rm_grants); each is confirmed against the event-sourced
 * policy with the same CASL ability every endpoint uses, so a revoked grant drops out at once.
 */
@ApiTags('me')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@Controller('v1/me')
export class MeController {
  constructor(private readonly access: AccessControl, @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries) {}

  @Get()
  @ApiOkResponse({ description: '{principal, projects: [{projectId, actions}], groups: []} — places where the caller holds a grant in force (own or through a group claim) and its actions there now; groups stays empty until group grants exist.' })
  async me(@CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<MeView> {
    const ctx = commandContext(req, p);
    if (p.kind === 'ci-job') {
      return { principal: { type: 'ci-job', id: p.id, projectId: p.projectId }, projects: [{ projectId: p.projectId, actions: ['read'] }], groups: [] };
    }
    const candidates = await this.queries.projectsWithRole({ id: p.id, groups: p.groups }, ROLES, ctx.now);
    const projects: PlaceActions[] = [];
    for (const projectId of candidates) {
      const { state } = await this.access.policy(projectId);
      const actions = actionsOn(p, projectId, defineAbilityFor(p, projectId, state, ctx.now));
      if (actions.length > 0) projects.push({ projectId, actions });
    }
    return { principal: { type: 'user', id: p.id, groups: p.groups, admin: p.admin }, projects, groups: [] };
  }
}
