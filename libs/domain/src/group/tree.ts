// The one resolver of the group tree. Every rule that answers "which grants act on this secret at T"
// or "which secrets does this CI job see at T" (the decider, the CASL ability, readers-at-T, the
// access-history `via`, the OpenBao renderer) asks these functions, so they never disagree.
import { AccessPolicyState, Grant } from '../access-policy/access-policy';
import { groupAndAncestors, groupKey, PlaceRef, placeKey } from './place';

/**
 * The places whose grants act on `target`, nearest first: the place itself, then (for a project)
 * its group and each group above it, or (for a group) each group above it. `groupOfProject` is the
 * project's group at the instant in question (ignored for a group target). A project's grants never
 * reach a group: no project is ever above a group.
 */
export function grantPlaces(target: PlaceRef, groupOfProject: string | null): PlaceRef[] {
  if (target.type === 'group') return groupAndAncestors(target.id).map((id) => ({ type: 'group', id }));
  const above = groupOfProject === null ? [] : groupAndAncestors(groupOfProject).map((id): PlaceRef => ({ type: 'group', id }));
  return [target, ...above];
}

/**
 * The place keys whose secrets a CI job of `projectId` may read, nearest first: the project, its
 * group (at the instant in question), each group above it. The order is the shadowing order.
 */
export function jobPlaceKeys(projectId: string, groupOfProject: string | null): string[] {
  return [projectId, ...(groupOfProject === null ? [] : groupAndAncestors(groupOfProject).map(groupKey))];
}

/**
 * The grants acting on `target`: its own, and those of every place above it, the latter tagged
 * `inheritedFrom` (they act exactly as if granted on the target: roles, globs, expiry and all).
 * `policies` are the states of `grantPlaces(target, …)`, in that order; the result is an
 * AccessPolicyState of the target, so the ability and the decider read it like any project's.
 * On a grant id seen twice the nearer grant is kept (ids are server-made UUIDs; this never happens).
 */
export function effectivePolicy(target: PlaceRef, policies: readonly { place: PlaceRef; state: AccessPolicyState }[]): AccessPolicyState {
  const key = placeKey(target);
  const grants = new Map<string, Grant>();
  for (const { place, state } of policies) {
    const k = placeKey(place);
    // Defence in depth: a state folded from another place's stream than it claims is ignored.
    if (state.projectId !== null && state.projectId !== k) continue;
    const inherited = k !== key;
    for (const g of state.grants.values()) {
      if (grants.has(g.grantId)) continue;
      grants.set(g.grantId, inherited ? { ...g, inheritedFrom: { type: 'group', id: place.id } } : g);
    }
  }
  return { projectId: key, grants };
}

/** One candidate of a read down the tree: the place and the secret's scope there (null: no active secret of that name there). */
export interface TreeCandidate<S> {
  key: string;
  secret: S | null;
}

/**
 * Nearest first: the first candidate whose secret exists and whose scope the job matches is the one
 * read (a project secret shadows a group's, a nearer group's a farther one's; a secret the job's
 * environment or protection does not match shadows nothing). With none matching, the nearest that
 * exists is the one the denial names (null when the name exists nowhere on the path).
 */
export function resolveDownTheTree<S>(candidates: readonly TreeCandidate<S>[], matches: (key: string, secret: S) => boolean): { chosen: TreeCandidate<S> | null; nearest: TreeCandidate<S> | null } {
  let nearest: TreeCandidate<S> | null = null;
  for (const c of candidates) {
    if (c.secret === null) continue;
    nearest ??= c;
    if (matches(c.key, c.secret)) return { chosen: c, nearest };
  }
  return { chosen: null, nearest };
}
