import { AccessPolicyState } from '../access-policy/access-policy';
import { authorize, DenialReason, Decision, SecretSubject } from '../authorization/ability';
import { DomainEvent } from '../decider';
import { Principal, PrincipalRecord, principalRecord } from '../principal';
import { AbilityAction } from '../authorization/ability';
import { CommandMetadata, SecretState } from '../secret/secret';
import { DomainError } from '../errors';
import { requireCommandMetadata, requireFreeText, requireSecretName } from '../invariants';
import { requirePlaceKey } from '../group/place';
import { AuthorizationContext } from '../authorization/ability';
import { MAX_PURPOSE_LENGTH } from '../limits';

/** The purpose a caller gives, checked: null when it is acceptable, else the error naming `purpose`. */
export function purposeError(purpose: unknown): DomainError | null {
  if (purpose === null) return null;
  try {
    requireFreeText('purpose', purpose, MAX_PURPOSE_LENGTH);
    return null;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
}

export type AccessVia = Extract<Decision, { allowed: true }>['via'];
/** A read OpenBao decided (a CI job read KV directly with its JWT role), ingested from OpenBao's audit device. */
export interface OpenBaoVia {
  channel: 'openbao';
  /** OpenBao's request id: one event per request, however often the audit entry is read */
  requestId: string;
  /** the ACL policy that granted (or, for a denial, the job's ps-ci- policy), when OpenBao says */
  policy: string | null;
}

export type SecretAccessed = DomainEvent<
  'SecretAccessed',
  {
    /** The place key: a project id, or `group:<path>` for a group secret (group/place.ts). */
    projectId: string;
    name: string;
    version: number;
    principal: PrincipalRecord;
    via: AccessVia | OpenBaoVia;
    purpose: string | null;
    /** A CI job reading a group secret: the job's own project (absent when the secret is the project's). */
    jobProjectId?: string;
  }
>;
export type SecretAccessDenied = DomainEvent<
  'SecretAccessDenied',
  {
    projectId: string;
    /** null when the denied action was not about one secret (e.g. managing grants). */
    name: string | null;
    action: AbilityAction;
    principal: PrincipalRecord;
    reason: DenialReason;
    purpose: string | null;
    /** set when OpenBao refused a direct read (403), from its audit device */
    via?: OpenBaoVia;
    /** A CI job refused a group secret: the job's own project. */
    jobProjectId?: string;
  }
>;
export type AccessEvent = SecretAccessed | SecretAccessDenied;

export interface AccessSecret {
  type: 'AccessSecret';
  data: { projectId: string; name: string; principal: Principal; purpose: string | null };
  metadata: CommandMetadata;
}

export function secretSubjectOf(state: SecretState, projectId: string, name: string): SecretSubject {
  if (state.status === 'active') {
    return { projectId, name, environment: state.scope.environment, branch: state.scope.branch, protectedOnly: state.scope.protectedOnly };
  }
  // A secret that does not exist has the narrowest conceivable scope, so no grant "covers" it by accident.
  return { projectId, name, environment: null, branch: null, protectedOnly: false };
}

export function denied(
  principal: Principal,
  projectId: string,
  name: string | null,
  action: AbilityAction,
  reason: DenialReason,
  purpose: string | null = null,
): SecretAccessDenied {
  return { type: 'SecretAccessDenied', data: { projectId, name, action, principal: principalRecord(principal), reason, purpose } };
}

/**
 * Reading a value: exactly one event, SecretAccessed or SecretAccessDenied, always recorded
 * before any value leaves the service. A missing secret is reported as not found only to
 * principals who may see the project's secrets at all; others learn nothing about existence.
 */
export function decideAccess(command: AccessSecret, state: { secret: SecretState; policy: AccessPolicyState } & AuthorizationContext): AccessEvent {
  // The last gate: callers check the purpose first (to record a denial for a bad one); an invalid one never reaches an event.
  requireCommandMetadata(command.metadata);
  requirePlaceKey('projectId', command.data.projectId);
  requireSecretName(command.data.name);
  const bad = purposeError(command.data.purpose);
  if (bad) throw bad;
  const { projectId, name, principal, purpose } = command.data;
  const now = command.metadata.now;
  const ctx: AuthorizationContext = { jobPlaces: state.jobPlaces };
  if (state.secret.status !== 'active') {
    const probe = authorize(principal, state.policy, principal.kind === 'ci-job' ? 'read' : 'list', secretSubjectOf(state.secret, projectId, name), now, ctx);
    const knowsProject = probe.allowed || (principal.kind === 'ci-job' && principal.projectId === projectId);
    return withJobProject(denied(principal, projectId, name, 'read', knowsProject ? 'secret-not-found' : (probe as { reason: DenialReason }).reason, purpose), principal);
  }
  const decision = authorize(principal, state.policy, 'read', secretSubjectOf(state.secret, projectId, name), now, ctx);
  if (!decision.allowed) return withJobProject(denied(principal, projectId, name, 'read', decision.reason, purpose), principal);
  return withJobProject(
    { type: 'SecretAccessed', data: { projectId, name, version: state.secret.version, principal: principalRecord(principal), via: decision.via, purpose } },
    principal,
  );
}

/** A CI job's decision about another place's secret (a group's) names the job's project too: the audit shows both. */
function withJobProject<E extends AccessEvent>(e: E, principal: Principal): E {
  if (principal.kind !== 'ci-job' || principal.projectId === e.data.projectId) return e;
  return { ...e, data: { ...e.data, jobProjectId: principal.projectId } };
}
