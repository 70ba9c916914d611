import { defineAbilityFor, Principal, rotationAt, RotationStatus, SecretRotation, secretSubject } from '@app/domain';
import { SecretCatalog, SecretMetadata } from '@app/infra/read-models/secret-catalog';
import { AccessControl } from '../application/access-control';
import { CommandContext } from '../application/event-envelope';
import { FieldError, problems } from '../http/problem';
import { SecretMetadataView } from './secret.dto';
import { metadataView, placeFields, SecretStates } from './secret-states';

/** The rotation states a list may be filtered by (`?rotation=`). */
export const ROTATION_FILTERS = ['approaching', 'overdue'] as const;
export type RotationFilter = (typeof ROTATION_FILTERS)[number];

/** A listed secret: its projected metadata and its rotation at the request's time. */
export type ListedSecret = Omit<SecretMetadata, 'rotationIntervalDays' | 'lastRotatedAt' | 'projectId'> & ReturnType<typeof placeFields> & { rotation: SecretRotation | null };

/** `rotation` query value → filter; a field-named 400 for anything else (REST and GraphQL share it). */
export function parseRotationFilter(v: unknown): RotationFilter | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && (ROTATION_FILTERS as readonly string[]).includes(v)) return v as RotationFilter;
  const errors: FieldError[] = [{ field: 'rotation', message: `rotation must be one of ${ROTATION_FILTERS.join(', ')}` }];
  throw problems.badRequest('invalid rotation', errors);
}

function listed(s: SecretMetadata, now: string): ListedSecret {
  const { rotationIntervalDays, lastRotatedAt, projectId, ...rest } = s;
  return { ...placeFields(projectId), ...rest, rotation: rotationAt(rotationIntervalDays, lastRotatedAt, now) };
}

/**
 * The secrets of a project the principal may list (REST GET …/secrets and GraphQL projectSecrets share it),
 * with their rotation at the request's time; `rotation` keeps only those approaching or overdue.
 */
export async function listVisibleSecrets(
  access: AccessControl,
  catalog: SecretCatalog,
  p: Principal,
  projectId: string,
  ctx: CommandContext,
  filter: { rotation?: RotationFilter } = {},
): Promise<ListedSecret[]> {
  // Grants of the groups above act here too (inherited).
  const state = await access.effective(projectId);
  const ability = defineAbilityFor(p, projectId, state, ctx.now);
  if (!ability.can('list', 'Secret')) {
    // No rule could allow listing anything here: audited denial.
    await access.require(p, 'list', { projectId }, ctx);
  }
  const items = await catalog.list(projectId);
  const want: RotationStatus | undefined = filter.rotation;
  return items
    .filter((s) => ability.can('list', secretSubject(s)))
    .map((s) => listed(s, ctx.now))
    .filter((s) => want === undefined || s.rotation?.status === want);
}

/** One secret's metadata for a principal allowed to list it (REST GET …/secrets/{name} and GraphQL projectSecret share it). */
export async function readSecretMetadata(access: AccessControl, secrets: SecretStates, p: Principal, projectId: string, name: string, ctx: CommandContext): Promise<SecretMetadataView> {
  const loaded = await secrets.forSecret(projectId, name);
  const s = loaded.state;
  const subject = s.status === 'active' ? { projectId, name, ...s.scope } : { projectId, name, environment: null, branch: null, protectedOnly: false };
  // A CI job may read metadata (and so learn where OpenBao keeps the value) of exactly the secrets whose value it may read.
  await access.require(p, p.kind === 'ci-job' ? 'read' : 'list', subject, ctx);
  if (s.status !== 'active') throw problems.notFound(`secret ${name} not found`);
  return metadataView(s, loaded.revision, ctx.now);
}
