import { GrantInterval, grantPlacesAt, grantsActingOn, GroupMemberAt, placeKey, placeOf, Reader, readersAt, SecretSubject } from '@app/domain';
import { problems } from '../http/problem';

/** Where the readers of a secret come from: ComplianceQueries itself (REST) or per-request batched loaders (GraphQL). */
export interface ReaderSources {
  /** `placeKey`: a project id or a group's key (`group:<path>`). */
  secretScopeAt(placeKey: string, name: string, at: string): Promise<{ everExisted: boolean; scope: SecretSubject | null }>;
  /** Grants made on the place (a project id or a group key) in force at `at`. */
  grantsInForceAt(placeKey: string, at: string): Promise<GrantInterval[]>;
  /**
   * The project's membership history (`{groupId, from}`, oldest first), for the tree as it was at T.
   * A source without it answers as if the project had never been in a group (grants of the project
   * only): give it, or a grouped project's inherited readers are missing.
   */
  projectGroupHistory?(projectId: string): Promise<{ groupId: string | null; from: string }[]>;
  /** The projects in or below a group at `at` (whose CI jobs could read its secrets). Required for a group secret. */
  projectsInOrBelowGroupAt?(groupId: string, at: string): Promise<GroupMemberAt[]>;
}

export interface SecretReadersView {
  at: string;
  secretExisted: boolean;
  readers: Reader[];
}

/**
 * Who could read the secret at `at` (REST GET …/secrets/{name}/readers of a project or a group, and
 * GraphQL secretReaders / projectSecret.readers share it): the grants of every place whose grants
 * acted on it at `at` (the tree as it was then: domain grantPlacesAt → grantsActingOn, inherited
 * ones tagged), and the CI jobs that could read it. The caller has required read-audit on the place.
 */
export async function secretReadersAt(sources: ReaderSources, key: string, name: string, at: string): Promise<SecretReadersView> {
  const target = placeOf(key);
  if (!target) throw new Error('not a place key'); // pipes validate ids before they get here
  const { everExisted, scope } = await sources.secretScopeAt(key, name, at);
  if (!everExisted) throw problems.notFound(`secret ${name} not found`);
  if (!scope) return { at, secretExisted: false, readers: [] };
  const history = target.type === 'project' && sources.projectGroupHistory ? await sources.projectGroupHistory(target.id) : [];
  const places = grantPlacesAt(target, { history }, at);
  const perPlace = await Promise.all(places.map(async (place) => ({ place, grants: await sources.grantsInForceAt(placeKey(place), at) })));
  let members: GroupMemberAt[] = [];
  if (target.type === 'group') {
    if (!sources.projectsInOrBelowGroupAt) throw new Error('readers of a group secret need projectsInOrBelowGroupAt');
    members = await sources.projectsInOrBelowGroupAt(target.id, at);
  }
  return { at, secretExisted: true, readers: readersAt(scope, grantsActingOn(target, perPlace), at, members) };
}
