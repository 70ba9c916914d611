import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import {
  AccessPolicyState,
  Action,
  ACTIONS,
  defineAbilityFor,
  effectivePolicy,
  grantPlaces,
  groupKey,
  isAtOrBelow,
  isGroupKey,
  placeKey,
  placeOf,
  Principal,
  PROJECT_ACTIONS,
  projectSubject,
  ROLES,
} from '@app/domain';
import { COMPLIANCE_QUERIES } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { AuthenticatedRequest, commandContext } from '../http/request-context';

/** At most this many projects and this many groups in one answer (sorted by id; `truncated` says when more were left out). */
export const ME_MAX_PLACES = 1000;
/** Places (or groups' member lists) read at once while answering (the policy reads are fresh, one or two a place). */
const CONCURRENCY = 16;

export interface PlaceActions {
  projectId: string;
  actions: Action[];
}
export interface GroupActions {
  groupId: string;
  actions: Action[];
}
export interface MeView {
  principal: { type: 'user' | 'ci-job'; id: string; groups?: string[]; admin?: boolean; projectId?: string };
  projects: PlaceActions[];
  groups: GroupActions[];
  /**
   * Present (true) only when there were more than ME_MAX_PLACES projects or groups: the lists then
   * hold the first ME_MAX_PLACES of each, by id. Absent otherwise, so the answer is API.md's shape.
   */
  truncated?: true;
}

/** The actions the ability gives on a place now: place powers on the place, secret actions on some secret of it. */
export function actionsOn(p: Principal, key: string, ability: ReturnType<typeof defineAbilityFor>): Action[] {
  // can(action, 'Secret') with no instance asks whether any rule could allow it (conditions aside):
  // the console offers a screen, the API still decides every secret.
  return ACTIONS.filter((a) => (PROJECT_ACTIONS.includes(a) ? ability.can(a, projectSubject(key)) : ability.can(a, 'Secret')));
}

/**
 * `GET /v1/me`: where the caller holds a grant in force, and the actions it has there now (API.md,
 * "Who am I here"). Candidate places come from the read models: the projected grants (rm_grants,
 * keyed by place key: a group's grants under `group:<path>`) and, for the projects in or below a
 * group where the caller acts, membership over time (rm_project_groups) as of now. Each candidate is confirmed on its
 * effective policy (its own grants and every group's above it, read fresh from the event store:
 * group/tree.ts, as AccessControl.effective) with the same CASL ability every endpoint uses, so a
 * revoked grant or a project moved out of the group drops out at once, and a place where the
 * caller has no action is never listed.
 */
@ApiTags('me')
@ApiBearerAuth()
@ApiProduces('application/json', 'application/problem+json')
@ApiProblems()
@Controller('v1/me')
export class MeController {
  constructor(
    private readonly access: AccessControl,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
  ) {}

  @Get()
  @ApiOkResponse({
    description:
      '{principal, projects: [{projectId, actions}], groups: [{groupId, actions}]} — the places where the caller holds a grant in force (its own, or through a group claim) and its actions there now. ' +
      '`groups`: the groups where it holds a grant (actions include those inherited from groups above). `projects`: the projects where it holds a grant, and the projects in or below one of those groups (as the tree is now) where inherited grants give it actions. ' +
      'Never a place where it has no action. Bounded: at most 1000 projects and 1000 groups, sorted by id; when more were left out the answer also carries `truncated: true` (use the per-place endpoints for the rest). A CI job sees its own project with `read`.',
  })
  async me(@CurrentPrincipal() p: Principal, @Req() req: AuthenticatedRequest): Promise<MeView> {
    const ctx = commandContext(req, p);
    if (p.kind === 'ci-job') {
      return { principal: { type: 'ci-job', id: p.id, projectId: p.projectId }, projects: [{ projectId: p.projectId, actions: ['read'] }], groups: [] };
    }
    // One more than the bound tells a cut list from a full one.
    const keys = await this.queries.projectsWithRole({ id: p.id, groups: p.groups }, ROLES, ctx.now, 2 * ME_MAX_PLACES + 1);
    let truncated = keys.length > 2 * ME_MAX_PLACES;
    const ownProjects: string[] = [];
    const ownGroups: string[] = [];
    for (const key of keys) {
      const place = placeOf(key);
      if (place?.type === 'project') ownProjects.push(place.id);
      else if (place?.type === 'group') ownGroups.push(place.id);
    }
    const effective = this.effectiveLoader();

    // Groups where the caller holds a grant, confirmed on the group's effective policy.
    ownGroups.sort();
    if (ownGroups.length > ME_MAX_PLACES) truncated = true;
    const groups = await actionsOfPlaces(ownGroups.slice(0, ME_MAX_PLACES), async (groupId) => {
      const key = groupKey(groupId);
      return actionsOn(p, key, defineAbilityFor(p, key, await effective(key), ctx.now));
    });

    // Projects: its own, and those in or below the groups where it acts (inherited grants), from the
    // membership read model as of now (a group inside another listed group adds nothing: skipped).
    const tops = groups.map((g) => g.id).filter((g, _i, all) => !all.some((other) => other !== g && isAtOrBelow(g, other)));
    const below = new Set<string>();
    for (const members of await mapLimited(tops, (g) => this.queries.projectsInOrBelowGroupAt(g, ctx.now, ME_MAX_PLACES + 1))) {
      if (members.length > ME_MAX_PLACES) truncated = true;
      // Only project ids (a damaged row naming a group key is not a project); each is confirmed below anyway.
      for (const m of members) if (placeOf(m.projectId)?.type === 'project') below.add(m.projectId);
    }
    const candidates = [...new Set([...ownProjects, ...below])].sort();
    if (candidates.length > ME_MAX_PLACES) truncated = true;
    const projects = await actionsOfPlaces(candidates.slice(0, ME_MAX_PLACES), async (projectId) =>
      actionsOn(p, projectId, defineAbilityFor(p, projectId, await effective(projectId), ctx.now)),
    );
    return {
      principal: { type: 'user', id: p.id, groups: p.groups, admin: p.admin },
      projects: projects.map(({ id, actions }) => ({ projectId: id, actions })),
      groups: groups.map(({ id, actions }) => ({ groupId: id, actions })),
      ...(truncated ? { truncated: true as const } : {}),
    };
  }

  /**
   * A place's effective policy now, as AccessControl.effective computes it (grantPlaces and
   * effectivePolicy of group/tree.ts, every stream read fresh), with the policies of the groups
   * shared by many projects read once per request instead of once per project.
   */
  private effectiveLoader(): (key: string) => Promise<AccessPolicyState> {
    const groupPolicies = new Map<string, Promise<AccessPolicyState>>();
    const policyOf = (key: string): Promise<AccessPolicyState> => {
      if (!isGroupKey(key)) return this.access.policy(key).then((l) => l.state);
      let loaded = groupPolicies.get(key);
      if (!loaded) {
        loaded = this.access.policy(key).then((l) => l.state);
        groupPolicies.set(key, loaded);
      }
      return loaded;
    };
    return async (key) => {
      const place = placeOf(key);
      if (!place) throw new Error('not a place key'); // keys come from placeOf-checked candidates
      const places = grantPlaces(place, place.type === 'project' ? await this.access.groupOf(place.id) : null);
      const states = await Promise.all(places.map((x) => policyOf(placeKey(x))));
      return effectivePolicy(place, places.map((x, i) => ({ place: x, state: states[i] })));
    };
  }
}

/** Each id with its actions, in the ids' order, dropping those with none. */
async function actionsOfPlaces(ids: readonly string[], actionsOf: (id: string) => Promise<Action[]>): Promise<{ id: string; actions: Action[] }[]> {
  const actions = await mapLimited(ids, actionsOf);
  return ids.map((id, i) => ({ id, actions: actions[i] })).filter((x) => x.actions.length > 0);
}

/** f of each item, in order, at most CONCURRENCY at a time. */
async function mapLimited<T, R>(items: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return out;
}
