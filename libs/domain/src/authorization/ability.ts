import { AbilityBuilder, MatchConditions, PureAbility, subject as asSubject } from '@casl/ability';
import { AccessPolicyState, Grant, grantActions, hasActiveOwner, isGrantActive } from '../access-policy/access-policy';
import { globCovers, globMatches } from '../glob';
import { CiJobPrincipal, Principal, UserPrincipal } from '../principal';
import { Action, PROJECT_ACTIONS, Role, SECRET_ACTIONS } from '../roles';

/** The fields of a secret that authorization looks at (its scope, never its value). */
export interface SecretSubject {
  projectId: string;
  name: string;
  environment: string | null;
  branch: string | null;
  protectedOnly: boolean;
}
export interface ProjectSubject {
  projectId: string;
}

/**
 * `bootstrap-owner`: a platform admin may grant the first owner of a project that has none.
 * `request-access` and `break-glass` name what a refused caller of those endpoints tried (only
 * users take part; the decider decides the rest), so the denial says it.
 */
export type AbilityAction = Action | 'bootstrap-owner' | 'request-access' | 'break-glass' | 'move-project';
type Subjects = 'Secret' | 'Project';
export type AppAbility = PureAbility<[AbilityAction, Subjects | ReturnType<typeof asSubject>], MatchConditions>;

/** CI jobs read through their own scope, not through a grant. */
export const CI_JOB_SCOPE = 'ci-job-scope';
export const ADMIN_BOOTSTRAP = 'admin-bootstrap';

// Rules are plain predicates (CASL's lambda matcher): scopes are globs, which Mongo-style
// conditions cannot express.
const lambdaMatcher = (conditions: MatchConditions) => conditions;

/**
 * A narrowed grant covers a secret only when the secret's own scope lies within the glob: every
 * environment (branch) the secret's glob matches is matched by the grant's glob (glob
 * containment, computed: `prod?` does not cover `prod*`, `release/*` does not cover
 * `release/**`). An unscoped secret is not within a narrowed grant. The one rule for the ability,
 * readers-at-T and the list filter.
 */
export function grantCoversSecret(g: Pick<Grant, 'environment' | 'branch'>, s: SecretSubject): boolean {
  if (g.environment !== null && (s.environment === null || !globCovers(g.environment, s.environment))) return false;
  if (g.branch !== null && (s.branch === null || !globCovers(g.branch, s.branch))) return false;
  return true;
}

export function grantAppliesTo(g: Grant, p: UserPrincipal): boolean {
  return g.principal.type === 'user' ? g.principal.id === p.id : p.groups.includes(g.principal.id);
}

/**
 * What a decision needs beyond the target's effective policy. `jobPlaces`: the place keys whose
 * secrets a CI job may read (group/tree.ts jobPlaceKeys: its project, its group, the groups above,
 * as of the decision); absent = its project only.
 */
export interface AuthorizationContext {
  jobPlaces?: readonly string[];
}

function jobMayReadAt(job: CiJobPrincipal, placeKey: string, ctx: AuthorizationContext): boolean {
  return placeKey === job.projectId || (ctx.jobPlaces !== undefined && ctx.jobPlaces[0] === job.projectId && ctx.jobPlaces.includes(placeKey));
}

/** Does a CI job's identity satisfy a secret's scope? */
export function jobMatchesScope(job: CiJobPrincipal, s: SecretSubject, ctx: AuthorizationContext = {}): boolean {
  return scopeMismatch(job, s, ctx) === null;
}

function scopeMismatch(job: CiJobPrincipal, s: SecretSubject, ctx: AuthorizationContext): DenialReason | null {
  if (!jobMayReadAt(job, s.projectId, ctx)) return 'other-project';
  if (s.protectedOnly && !job.refProtected) return 'unprotected-ref';
  if (s.environment !== null && (job.environment === undefined || !globMatches(s.environment, job.environment))) {
    return 'environment-mismatch';
  }
  // A secret's `branch` glob names branches: a tag job never matches it, whatever the tag is
  // called (a tag `main` is not branch `main`). Tag jobs read only secrets without a branch scope.
  if (s.branch !== null && job.refType !== 'branch') return 'ref-type-mismatch';
  if (s.branch !== null && !globMatches(s.branch, job.ref)) return 'branch-mismatch';
  return null;
}

/**
 * Abilities of one principal on one project, from the project's event-sourced grants at `now`.
 * Deny by default: nothing is allowed unless a rule below says so.
 */
export function defineAbilityFor(principal: Principal, projectId: string, policy: AccessPolicyState, now: string, ctx: AuthorizationContext = {}): AppAbility {
  const { can, build } = new AbilityBuilder<AppAbility>(PureAbility);
  if (principal.kind === 'ci-job') {
    if (jobMayReadAt(principal, projectId, ctx)) {
      can('read', 'Secret', ((s: SecretSubject) => s.projectId === projectId && jobMatchesScope(principal, s, ctx)) as unknown as MatchConditions).because(CI_JOB_SCOPE);
    }
    return build({ conditionsMatcher: lambdaMatcher });
  }
  // Defence in depth: grants of another project's policy never apply here.
  const grants = policy.projectId === projectId ? [...policy.grants.values()] : [];
  for (const g of grants) {
    if (!isGrantActive(g, now) || !grantAppliesTo(g, principal)) continue;
    const narrowed = g.environment !== null || g.branch !== null;
    for (const action of grantActions(g)) {
      if (SECRET_ACTIONS.includes(action)) {
        const cond = (s: SecretSubject) => s.projectId === projectId && grantCoversSecret(g, s);
        can(action, 'Secret', cond as unknown as MatchConditions).because(g.grantId);
      } else if (PROJECT_ACTIONS.includes(action) && !narrowed) {
        // Project-wide powers come only from unnarrowed grants.
        can(action, 'Project', ((p: ProjectSubject) => p.projectId === projectId) as unknown as MatchConditions).because(g.grantId);
      }
    }
  }
  if (principal.admin && (policy.projectId === null || policy.projectId === projectId) && !hasActiveOwner(policy, now)) {
    can('bootstrap-owner', 'Project', ((p: ProjectSubject) => p.projectId === projectId) as unknown as MatchConditions).because(ADMIN_BOOTSTRAP);
  }
  return build({ conditionsMatcher: lambdaMatcher });
}

export type DenialReason =
  | 'no-grant' // no grant in force for this principal on this project
  | 'openbao-denied' // OpenBao itself refused a direct read (403), seen in its audit device
  | 'grant-expired' // only expired grants would have allowed it
  | 'grant-revoked' // only revoked grants would have allowed it
  | 'role-lacks-action' // grants exist, none of their roles includes the action
  | 'scope-mismatch' // a grant's environment/branch narrowing excludes this secret
  | 'other-project' // CI job of another project
  | 'unprotected-ref' // protectedOnly secret, job on an unprotected ref
  | 'environment-mismatch'
  | 'branch-mismatch'
  | 'ref-type-mismatch' // branch-scoped secret, job on a tag (a branch glob never matches a tag)
  | 'ci-job-action' // CI jobs may only read
  | 'four-eyes-self' // the requester (or the user who broke the glass) cannot approve, deny or review it
  | 'four-eyes-shared-group' // manage-grants held only through a group the requester is in
  | 'no-manage-grants' // no unscoped manage-grants grant of one's own for a four-eyes decision
  | 'not-requester' // cancelling someone else's access request
  | 'break-glass-not-eligible' // breaking the glass without the break-glass role
  | 'not-platform-admin' // moving a project between groups without `admin: true`
  | 'bootstrap-self' // a platform admin bootstrapping itself (or a group it is in) as a place's first owner
  | 'secret-not-found';

export type Decision =
  | { allowed: true; via: { grantId: string; role: Role; inheritedFrom?: { type: 'group'; id: string } } | { scope: typeof CI_JOB_SCOPE } | { scope: typeof ADMIN_BOOTSTRAP } }
  | { allowed: false; reason: DenialReason };

export function secretSubject(s: SecretSubject) {
  return asSubject('Secret', { ...s });
}
export function projectSubject(projectId: string) {
  return asSubject('Project', { projectId });
}

/** Decides one action and says why: through which grant, or for which reason not. */
export function authorize(
  principal: Principal,
  policy: AccessPolicyState,
  action: AbilityAction,
  target: SecretSubject | ProjectSubject,
  now: string,
  ctx: AuthorizationContext = {},
): Decision {
  const projectId = target.projectId;
  const ability = defineAbilityFor(principal, projectId, policy, now, ctx);
  const subj = 'name' in target ? secretSubject(target) : projectSubject(projectId);
  const rule = ability.relevantRuleFor(action, subj);
  if (rule && !rule.inverted) {
    const reason = rule.reason ?? '';
    if (reason === CI_JOB_SCOPE || reason === ADMIN_BOOTSTRAP) return { allowed: true, via: { scope: reason } };
    const g = policy.grants.get(reason);
    if (!g) throw new Error('ability rule without its grant'); // cannot happen: rules are built from these grants
    // An inherited grant is named as such (API.md: `via.inheritedFrom`); a grant of the place itself keeps its old shape.
    return { allowed: true, via: { grantId: g.grantId, role: g.role, ...(g.inheritedFrom ? { inheritedFrom: g.inheritedFrom } : {}) } };
  }
  return { allowed: false, reason: explainDenial(principal, policy, action, target, now, ctx) };
}

function explainDenial(
  principal: Principal,
  policy: AccessPolicyState,
  action: AbilityAction,
  target: SecretSubject | ProjectSubject,
  now: string,
  ctx: AuthorizationContext,
): DenialReason {
  if (principal.kind === 'ci-job') {
    if (!jobMayReadAt(principal, target.projectId, ctx)) return 'other-project';
    if (action !== 'read' || !('name' in target)) return 'ci-job-action';
    return scopeMismatch(principal, target, ctx) ?? 'no-grant';
  }
  const mine = [...policy.grants.values()].filter((g) => grantAppliesTo(g, principal));
  const withAction = mine.filter((g) => (grantActions(g) as readonly string[]).includes(action));
  const inForce = withAction.filter((g) => isGrantActive(g, now));
  if (inForce.length > 0) return 'scope-mismatch';
  if (withAction.some((g) => g.revokedAt !== null)) return 'grant-revoked';
  if (withAction.length > 0) return 'grant-expired';
  if (mine.some((g) => isGrantActive(g, now))) return 'role-lacks-action';
  return 'no-grant';
}
