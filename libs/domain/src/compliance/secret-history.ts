import { AccessPolicyEvent, GrantPrincipal, RoleGranted } from '../access-policy/access-policy';
import { grantCoversSecret, SecretSubject } from '../authorization/ability';
import { toDomainEvent } from '../events';
import { ActorRef, comparePositions, Position, RecordedEvent } from '../ports/event-store';
import { ROLE_ACTIONS } from '../roles';
import { secretDecider, SecretEvent, SecretScope, SecretState } from '../secret/secret';

/**
 * One entry of a secret's history (GET …/secrets/{name}/history): what changed, who did it and
 * when. Built only from metadata: a value, or the reference to where a value is kept, never appears.
 */
export interface SecretHistoryItem {
  at: string;
  type:
    | 'SecretCreated'
    | 'SecretValueUpdated'
    | 'SecretMetadataChanged'
    | 'SecretDeleted'
    | 'SecretRotationOverdue'
    | 'RoleGranted'
    | 'RoleRevoked'
    | 'RoleExpired';
  /** `metadata`: the secret's own stream; `grant`: a grant of the place (or of a group above it) that could read it. */
  kind: 'metadata' | 'grant';
  actor: ActorRef;
  /** Fields that changed, each `{from, to}`; on creation every field, from null. */
  changes: Record<string, { from: unknown; to: unknown }>;
  /** The value version the event is about (created, new value, deleted, overdue). */
  version?: number;
  /** For grant entries: the grant and why it existed. */
  grant?: {
    grantId: string;
    principal: GrantPrincipal;
    role: string;
    environment: string | null;
    branch: string | null;
    expiresAt: string | null;
    accessRequestId?: string;
    breakGlass?: true;
    /** A grant of a group above the secret's place (acting on it by inheritance). */
    inheritedFrom?: { type: 'group'; id: string };
  };
  /** The event's global position (the keyset the API pages on). */
  position: Position;
}

const SECRET_TYPES = new Set(['SecretCreated', 'SecretValueUpdated', 'SecretMetadataChanged', 'SecretDeleted', 'SecretRotationOverdue']);
const GRANT_TYPES = new Set(['RoleGranted', 'RoleRevoked', 'RoleExpired']);

function scopeFields(s: SecretScope | null, description: string | null | undefined, rotation: number | null | undefined) {
  return {
    description: description ?? null,
    environment: s?.environment ?? null,
    branch: s?.branch ?? null,
    protectedOnly: s?.protectedOnly ?? null,
    rotationIntervalDays: rotation ?? null,
  };
}

function fieldsOf(s: SecretState) {
  return s.status === 'active' ? scopeFields(s.scope, s.description, s.rotationIntervalDays) : scopeFields(null, null, null);
}

function diff(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const k of Object.keys(after)) if (before[k] !== after[k]) out[k] = { from: before[k], to: after[k] };
  return out;
}

/**
 * A secret's metadata history and the timeline of the grants that could read it, oldest first.
 * `secretEvents`: its stream; `projectEvents`: the project's access-policy stream. A grant is on
 * the timeline when its role includes `read` and its narrowing covers a scope the secret had
 * (the authorizer's own rules: ROLE_ACTIONS and grantCoversSecret), so every change of readers
 * between two instants is explained by an entry: a grant made, revoked or expired, or the
 * secret's creation, scope change or deletion. `inherited`: the policy streams of the groups whose
 * grants act on the place by inheritance (for a group secret: the groups above it, group/tree.ts
 * grantPlaces; they never change, a group never moves), their grants tagged `inheritedFrom`.
 */
export function secretHistory(
  projectId: string,
  name: string,
  secretEvents: readonly RecordedEvent[],
  projectEvents: readonly RecordedEvent[],
  inherited: readonly { groupId: string; events: readonly RecordedEvent[] }[] = [],
): SecretHistoryItem[] {
  const items: SecretHistoryItem[] = [];
  const scopes: SecretSubject[] = [];
  let state: SecretState = secretDecider.initialState();
  for (const recorded of secretEvents) {
    if (!SECRET_TYPES.has(recorded.type)) continue;
    const e = toDomainEvent<SecretEvent>(recorded);
    const at = String(recorded.metadata.occurredAt);
    const before = fieldsOf(state);
    state = secretDecider.evolveAt(state, e, at);
    const after = fieldsOf(state);
    if (state.status === 'active') scopes.push({ projectId, name, ...state.scope });
    const base = { at, type: e.type, kind: 'metadata' as const, actor: recorded.metadata.actor, position: recorded.position };
    switch (e.type) {
      case 'SecretCreated':
        items.push({ ...base, changes: Object.fromEntries(Object.entries(after).map(([k, to]) => [k, { from: null, to }])), version: e.data.version });
        break;
      case 'SecretValueUpdated':
        items.push({ ...base, changes: {}, version: e.data.version });
        break;
      case 'SecretMetadataChanged':
        items.push({ ...base, changes: diff(before, after) });
        break;
      case 'SecretDeleted':
        items.push({ ...base, changes: {}, version: e.data.lastVersion });
        break;
      case 'SecretRotationOverdue':
        items.push({ ...base, changes: {}, version: e.data.version });
        break;
    }
  }
  const covers = (g: Pick<RoleGranted['data'], 'role' | 'environment' | 'branch'>) =>
    (ROLE_ACTIONS[g.role] as readonly string[]).includes('read') && scopes.some((s) => grantCoversSecret(g, s));
  for (const { events, from } of [{ events: projectEvents, from: undefined }, ...inherited.map((i) => ({ events: i.events, from: i.groupId }))]) {
    const grants = new Map<string, RoleGranted['data']>();
    for (const recorded of events) {
      if (!GRANT_TYPES.has(recorded.type)) continue;
      const e = toDomainEvent<AccessPolicyEvent>(recorded);
      if (e.type === 'RoleGranted') grants.set(e.data.grantId, e.data);
      const g = grants.get(e.data.grantId);
      if (!g || !covers(g)) continue;
      items.push({
        at: String(recorded.metadata.occurredAt),
        type: e.type,
        kind: 'grant',
        actor: recorded.metadata.actor,
        changes: {},
        grant: {
          grantId: g.grantId,
          principal: { type: g.principal.type, id: g.principal.id },
          role: g.role,
          environment: g.environment,
          branch: g.branch,
          expiresAt: g.expiresAt,
          ...(g.accessRequestId !== undefined ? { accessRequestId: g.accessRequestId } : {}),
          ...(g.breakGlass === true ? { breakGlass: true as const } : {}),
          ...(from !== undefined ? { inheritedFrom: { type: 'group' as const, id: from } } : {}),
        },
        position: recorded.position,
      });
    }
  }
  return items.sort((a, b) => comparePositions(a.position, b.position));
}
