import { defineAbilityFor, Principal, secretSubject } from '@app/domain';
import { SecretCatalog, SecretMetadata } from '@app/infra/read-models/secret-catalog';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { problems } from '../http/problem';
import { SecretMetadataView } from './secret.dto';
import { metadataView, SecretStates } from './secret-states';

/** The secrets of a project the principal may list (REST GET …/secrets and GraphQL projectSecrets share it). */
export async function listVisibleSecrets(access: AccessControl, catalog: SecretCatalog, p: Principal, projectId: string, ctx: CommandContext): Promise<SecretMetadata[]> {
  const { state } = await access.policy(projectId);
  const ability = defineAbilityFor(p, projectId, state, ctx.now);
  if (!ability.can('list', 'Secret')) {
    // No rule could allow listing anything here: audited denial.
    await access.require(p, 'list', { projectId }, ctx);
  }
  const items = await catalog.list(projectId);
  return items.filter((s) => ability.can('list', secretSubject(s)));
}

/** One secret's metadata for a principal allowed to list it (REST GET …/secrets/{name} and GraphQL projectSecret share it). */
export async function readSecretMetadata(access: AccessControl, secrets: SecretStates, p: Principal, projectId: string, name: string, ctx: CommandContext): Promise<SecretMetadataView> {
  const loaded = await secrets.forSecret(projectId, name);
  const s = loaded.state;
  const subject = s.status === 'active' ? { projectId, name, ...s.scope } : { projectId, name, environment: null, branch: null, protectedOnly: false };
  await access.require(p, 'list', subject, ctx);
  if (s.status !== 'active') throw problems.notFound(`secret ${name} not found`);
  return metadataView(s, loaded.revision);
}
