import { Inject, Injectable } from '@nestjs/common';
import { ActiveSecret, EventStore, isGroupKey, placeOf, rotationAt, SecretEvent, secretDecider, SecretState, StreamName } from '@app/domain';
import { EVENT_STORE } from '@app/infra/nest/tokens';
import { Loaded, StreamStateCache } from '../application/stream-state-cache';
import { ciRoleName, directlyReadable } from '@app/domain/openbao/policy-renderer';
import { parseBaoRef } from '@app/infra/value-store/openbao-value-store';
import { OpenBaoLocationView, SecretMetadataView } from './secret.dto';

/** Secret streams folded for decisions; timestamps come from each event's occurredAt. */
@Injectable()
export class SecretStates extends StreamStateCache<SecretState, SecretEvent> {
  constructor(@Inject(EVENT_STORE) store: EventStore) {
    super(store, {
      initialState: secretDecider.initialState,
      evolve: (s, e, recorded) => secretDecider.evolveAt(s, e, String(recorded.metadata.occurredAt)),
    });
  }

  forSecret(projectId: string, name: string): Promise<Loaded<SecretState>> {
    return this.load(StreamName.secret(projectId, name));
  }
}

/** `now`: the instant the rotation status is given for (the request's). */
export function metadataView(s: ActiveSecret, revision: number, now: string): SecretMetadataView {
  return {
    ...placeFields(s.projectId),
    name: s.name,
    description: s.description,
    environment: s.scope.environment,
    branch: s.scope.branch,
    protectedOnly: s.scope.protectedOnly,
    version: s.version,
    revision,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    rotation: rotationAt(s.rotationIntervalDays, s.versionAt, now),
    ...openBaoLocation(s),
  };
}

/** A place key as the API names it: `{projectId}` for a project, `{groupId}` for a group (never the internal key). */
export function placeFields(key: string): { projectId: string } | { groupId: string } {
  const place = placeOf(key);
  return place?.type === 'group' ? { groupId: place.id } : { projectId: key };
}

/**
 * Where a direct reader finds the current value: only for a value in OpenBao (the per-version path,
 * and for a project's secret the role of its scope). A group secret has no role of its own: a job
 * reads it with its own project's role of the secret's scope (jobRoleName), so no one role is named.
 */
function openBaoLocation(s: ActiveSecret): { openbao?: OpenBaoLocationView } {
  const ref = parseBaoRef(s.valueRef);
  // A scope OpenBao cannot enforce exactly has no role: such a secret is read through the API only.
  if (!ref || !directlyReadable(s.scope)) return {};
  const at = { path: `${ref.mount}/data/${ref.path}`, version: ref.version };
  return { openbao: isGroupKey(s.projectId) ? at : { ...at, role: ciRoleName(s.projectId, s.scope) } };
}
