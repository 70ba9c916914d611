import { GrantInterval, Reader, readersAt, SecretSubject } from '@app/domain';
import { problems } from '../http/problem';

/** Where the readers of a secret come from: ComplianceQueries itself (REST) or per-request batched loaders (GraphQL). */
export interface ReaderSources {
  secretScopeAt(projectId: string, name: string, at: string): Promise<{ everExisted: boolean; scope: SecretSubject | null }>;
  grantsInForceAt(projectId: string, at: string): Promise<GrantInterval[]>;
}

export interface SecretReadersView {
  at: string;
  secretExisted: boolean;
  readers: Reader[];
}

/**
 * Who could read the secret at `at` (REST GET …/secrets/{name}/readers and GraphQL secretReaders /
 * projectSecret.readers share it). The caller has required read-audit on the project.
 */
export async function secretReadersAt(sources: ReaderSources, projectId: string, name: string, at: string): Promise<SecretReadersView> {
  const { everExisted, scope } = await sources.secretScopeAt(projectId, name, at);
  if (!everExisted) throw problems.notFound(`secret ${name} not found`);
  const grants = scope ? await sources.grantsInForceAt(projectId, at) : [];
  return { at, secretExisted: scope !== null, readers: readersAt(scope, grants, at) };
}
