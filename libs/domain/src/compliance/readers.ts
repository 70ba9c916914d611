import { GrantPrincipal } from '../access-policy/access-policy';
import { CI_JOB_SCOPE, grantCoversSecret, SecretSubject } from '../authorization/ability';
import { isAtOrBelow, PlaceRef, placeKey, placeOf } from '../group/place';
import { groupAt, ProjectGroupState } from '../group/project-group';
import { effectivePolicy, grantPlaces } from '../group/tree';
import { Role, ROLE_ACTIONS } from '../roles';

/** A grant as the read model keeps it: in force on [validFrom, validTo). validTo = min(expiresAt, revokedAt), null = open. */
export interface GrantInterval {
  grantId: string;
  principal: GrantPrincipal;
  role: Role;
  environment: string | null;
  branch: string | null;
  grantedBy: string;
  grantedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  validFrom: string;
  validTo: string | null;
  /** The approved access request behind the grant, if any. */
  accessRequestId?: string;
  /** The grant was made by breaking the glass. */
  breakGlass?: true;
  /** Set by grantsActingOn only: the grant is a group's above the place it acts on. */
  inheritedFrom?: { type: 'group'; id: string };
}

/** A project whose CI jobs could read a group's secrets at T, and the group it was in then (the secret's group or one below it). */
export interface GroupMemberAt {
  projectId: string;
  groupId: string;
}

export type Reader =
  | {
      principal: GrantPrincipal;
      via: {
        grantId: string;
        role: Role;
        grantedBy: string;
        grantedAt: string;
        expiresAt: string | null;
        environment: string | null;
        branch: string | null;
        accessRequestId?: string;
        breakGlass?: true;
        /** The grant is a group's above the secret's place (API.md: inherited downward). */
        inheritedFrom?: { type: 'group'; id: string };
      };
    }
  | {
      /**
       * Every CI job of the project whose ref, protection and environment match the secret's scope.
       * For a group secret, one such reader per project in or below the group at T.
       */
      principal: { type: 'ci-scope'; projectId: string; environment: string | null; branch: string | null; protectedOnly: boolean };
      /** `memberOf`: for a group secret, the group the project was in at T (the secret's group or one below it). */
      via: { rule: typeof CI_JOB_SCOPE; memberOf?: { type: 'group'; id: string } };
    };

export function inForceAt(g: Pick<GrantInterval, 'validFrom' | 'validTo'>, at: string): boolean {
  const t = Date.parse(at);
  return Date.parse(g.validFrom) <= t && (g.validTo === null || t < Date.parse(g.validTo));
}

/**
 * The places whose grants acted on `target` at `at`, nearest first: group/tree.ts grantPlaces with
 * the project's group as it was at `at` (group/project-group.ts groupAt over its membership history).
 * A group target ignores the history (a group never moves).
 */
export function grantPlacesAt(target: PlaceRef, membership: Pick<ProjectGroupState, 'history'>, at: string): PlaceRef[] {
  return grantPlaces(target, target.type === 'project' ? groupAt(membership, at) : null);
}

/**
 * The grant intervals acting on `target`, from the intervals of each place of grantPlacesAt (in
 * that order), through the tree's one merge (effectivePolicy): those of a place above the target are
 * tagged `inheritedFrom`, a grant id seen twice keeps the nearer one, and intervals filed under
 * another place than they claim are ignored.
 */
export function grantsActingOn(target: PlaceRef, perPlace: readonly { place: PlaceRef; grants: readonly GrantInterval[] }[]): GrantInterval[] {
  const key = (place: PlaceRef, grantId: string) => `${placeKey(place)}\0${grantId}`;
  const intervals = new Map(perPlace.flatMap(({ place, grants }) => grants.map((g) => [key(place, g.grantId), g] as const)));
  const merged = effectivePolicy(
    target,
    perPlace.map(({ place, grants }) => ({ place, state: { projectId: placeKey(place), grants: new Map(grants.map((g) => [g.grantId, { ...g, revokedBy: null }])) } })),
  );
  // Back from the merged grants to the intervals they came from, with the tag the merge gave them.
  return [...merged.grants.values()].map((g) => {
    const interval = intervals.get(key(g.inheritedFrom ?? target, g.grantId))!;
    return g.inheritedFrom ? { ...interval, inheritedFrom: g.inheritedFrom } : interval;
  });
}

/**
 * Who could read a secret's value at `at`, and through which grant: the same rule the live
 * authorizer applies (role includes `read`, grant narrowing covers the secret's scope), evaluated
 * over the grants' validity intervals. `secret` is the secret's scope at `at`; null = it did not
 * exist then. `grants`: those acting on its place (grantsActingOn). `members`: for a group secret,
 * the projects in or below the group at `at`, whose CI jobs could read it (ignored for a project's).
 */
export function readersAt(secret: SecretSubject | null, grants: readonly GrantInterval[], at: string, members: readonly GroupMemberAt[] = []): Reader[] {
  if (secret === null) return [];
  const byGrant: Reader[] = grants
    .filter((g) => inForceAt(g, at) && (ROLE_ACTIONS[g.role] as readonly string[]).includes('read'))
    .filter((g) => grantCoversSecret(g, secret))
    .sort((a, b) => cmp(a.principal.type, b.principal.type) || cmp(a.principal.id, b.principal.id) || cmp(a.grantId, b.grantId))
    .map((g) => ({
      principal: { type: g.principal.type, id: g.principal.id },
      via: {
        grantId: g.grantId,
        role: g.role,
        grantedBy: g.grantedBy,
        grantedAt: g.grantedAt,
        expiresAt: g.expiresAt,
        environment: g.environment,
        branch: g.branch,
        // Why this grant existed, when it was not a plain grant (absent otherwise).
        ...(g.accessRequestId !== undefined ? { accessRequestId: g.accessRequestId } : {}),
        ...(g.breakGlass === true ? { breakGlass: true as const } : {}),
        ...(g.inheritedFrom !== undefined ? { inheritedFrom: { type: 'group' as const, id: g.inheritedFrom.id } } : {}),
      },
    }));
  const place = placeOf(secret.projectId);
  const scope = { environment: secret.environment, branch: secret.branch, protectedOnly: secret.protectedOnly };
  if (place?.type !== 'group') return [...byGrant, { principal: { type: 'ci-scope', projectId: secret.projectId, ...scope }, via: { rule: CI_JOB_SCOPE } }];
  // A group secret: the jobs of every project in or below the group at T (CI jobs read down the tree).
  const seen = new Set<string>();
  const ci: Reader[] = [...members]
    .filter((m) => isAtOrBelow(m.groupId, place.id) && !seen.has(m.projectId) && seen.add(m.projectId))
    .sort((a, b) => cmp(a.projectId, b.projectId))
    .map((m) => ({ principal: { type: 'ci-scope', projectId: m.projectId, ...scope }, via: { rule: CI_JOB_SCOPE, memberOf: { type: 'group', id: m.groupId } } }));
  return [...byGrant, ...ci];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
