import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import {
  AccessPolicyState,
  Action,
  ACTIONS,
  defineAbilityFor,
  effectivePolicy,
  EventStore,
  grantPlaces,
  groupKey,
  isGroupKey,
  placeKey,
  placeOf,
  Principal,
  PROJECT_ACTIONS,
  projectSubject,
  ROLES,
} from '@app/domain';
import { COMPLIANCE_QUERIES, EVENT_STORE } from '@app/infra/nest/tokens';
import { ComplianceQueries } from '@app/infra/read-models/compliance';
import { AccessControl } from '../application/access-control';
import { ApiProblems } from '../http/api-problems';
import { CurrentPrincipal } from '../http/auth.guard';
import { AuthenticatedRequest, commandContext } from '../http/request-context';
import { GroupMembershipIndex } from './group-membership-index';

/** At most this many projects and this many groups in one answer (sorted by id; `truncated` says when more were left out). */
export const ME_MAX_PLACES = 1000;
/** Places whose policies are read at once while answering (the reads are fresh, one or two a place). */
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
 * "Who am I here"). Candidate places come from the projected grants (rm_grants, keyed by place
 * key: a group's grants under `group:<path>`); projects below a group where the caller holds a
 * grant come from the current tree (GroupMembershipIndex). Each candidate is confirmed on its
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
  private readonly memberships: GroupMembershipIndex;

  constructor(
    private readonly access: AccessControl,
    @Inject(COMPLIANCE_QUERIES) private readonly queries: ComplianceQueries,
    @Inject(EVENT_STORE) store: EventStore,
  ) {
    this.memberships = new GroupMembershipIndex(store);
  }

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

    // Projects: its own, and those below the groups where it acts (inherited grants).
    let below: string[] = [];
    if (groups.length > 0) {
      await this.memberships.catchUp();
      const found = this.memberships.projectsAtOrBelow(
        groups.map((g) => g.id),
        ME_MAX_PLACES + 1,
      );
      below = found.projects;
      truncated ||= found.truncated;
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

/** Each id with its actions, in the ids' order, dropping those with none; at most CONCURRENCY at a time. */
async function actionsOfPlaces(ids: readonly string[], actionsOf: (id: string) => Promise<Action[]>): Promise<{ id: string; actions: Action[] }[]> {
  const out: ({ id: string; actions: Action[] } | null)[] = new Array(ids.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      const actions = await actionsOf(ids[i]);
      if (actions.length > 0) out[i] = { id: ids[i], actions };
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
  return out.filter((x): x is { id: string; actions: Action[] } => x !== null);
}
