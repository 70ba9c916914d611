import { assertNever, Decider, DomainEvent } from '../decider';
import { alreadyExists, conflict, invalid, notFound } from '../errors';
import {
  requireCommandMetadata,
  requireNullableGlob,
  requireNullableInstant,
  requireOnlyKeys,
  requirePrincipalId,
  requireString,
} from '../invariants';
import { requirePlaceKey } from '../group/place';
import { Action, isRole, Role, ROLE_ACTIONS } from '../roles';
import { CommandMetadata } from '../secret/secret';

export interface GrantPrincipal {
  type: 'user' | 'group';
  id: string;
}

export interface Grant {
  grantId: string;
  principal: GrantPrincipal;
  role: Role;
  /** Glob narrowing the grant to secrets of matching environment scope; null = all. */
  environment: string | null;
  /** Glob narrowing the grant to secrets of matching branch scope; null = all. */
  branch: string | null;
  expiresAt: string | null;
  grantedBy: string;
  grantedAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  /** Provenance: the approved access request this grant came from (absent for a plain grant). */
  accessRequestId?: string;
  /** Provenance: made by a break-glass (absent for a plain grant). */
  breakGlass?: true;
  /** Set only in an effective policy (group/tree.ts): the grant is a group's above the place it acts on. */
  inheritedFrom?: { type: 'group'; id: string };
}

/** Where a grant came from, when not from a plain POST /grants (optional fields: older events simply lack them). */
export type GrantProvenance = {
  accessRequestId?: string;
  breakGlass?: true;
};

// ---- commands ----
export type AccessPolicyCommand =
  | {
      type: 'GrantRole';
      data: {
        projectId: string;
        grantId: string;
        principal: GrantPrincipal;
        role: Role;
        environment: string | null;
        branch: string | null;
        expiresAt: string | null;
      } & GrantProvenance;
      metadata: CommandMetadata;
    }
  | { type: 'RevokeRole'; data: { grantId: string }; metadata: CommandMetadata }
  /** Records, once, that a grant's expiry has passed (issued by the service itself on a timer). */
  | { type: 'RecordGrantExpiry'; data: { grantId: string }; metadata: CommandMetadata };

// ---- events ----
export type RoleGranted = DomainEvent<
  'RoleGranted',
  {
    projectId: string;
    grantId: string;
    principal: GrantPrincipal;
    role: Role;
    environment: string | null;
    branch: string | null;
    expiresAt: string | null;
    grantedBy: string;
    grantedAt: string;
  } & GrantProvenance
>;
export type RoleRevoked = DomainEvent<
  'RoleRevoked',
  { projectId: string; grantId: string; principal: GrantPrincipal; role: Role; revokedBy: string; revokedAt: string }
>;
/**
 * A grant's `expiresAt` passed. Authorization never needed this event (it compares expiresAt with
 * the decision time); it makes the expiry a fact in the log, so a SIEM sees it when it happens.
 */
export type RoleExpired = DomainEvent<
  'RoleExpired',
  { projectId: string; grantId: string; principal: GrantPrincipal; role: Role; expiresAt: string; recordedAt: string }
>;
export type AccessPolicyEvent = RoleGranted | RoleRevoked | RoleExpired;

// ---- state ----
export interface AccessPolicyState {
  projectId: string | null;
  /** Every grant ever made, revoked ones included (history answers "who could, when"). */
  grants: ReadonlyMap<string, Grant>;
  /** Grants whose expiry has been recorded (RoleExpired). */
  expiryRecorded?: ReadonlySet<string>;
}

export function isGrantActive(g: Grant, now: string): boolean {
  return g.revokedAt === null && (g.expiresAt === null || Date.parse(now) < Date.parse(g.expiresAt));
}

/**
 * Actions a grant gives. A break-glass grant never manages grants (issue 18): through it the
 * breaker could grant themself a standing owner grant and revoke the reviewers of the break-glass.
 */
export function grantActions(g: Pick<Grant, 'role' | 'breakGlass'>): readonly Action[] {
  return g.breakGlass === true ? ROLE_ACTIONS[g.role].filter((a) => a !== 'manage-grants') : ROLE_ACTIONS[g.role];
}

/** An owner grant that is unnarrowed, in force and not a break-glass: what keeps a project administrable. */
function isFullOwner(g: Grant, now: string): boolean {
  return g.role === 'owner' && g.breakGlass !== true && g.environment === null && g.branch === null && isGrantActive(g, now);
}

export function hasActiveOwner(state: AccessPolicyState, now: string): boolean {
  for (const g of state.grants.values()) if (isFullOwner(g, now)) return true;
  return false;
}

const GRANT_ID = /^[A-Za-z0-9-]{1,64}$/;

/** The decider is the last gate: a command of an invalid shape is refused here, whatever was validated before. */
export function checkAccessPolicyCommand(command: AccessPolicyCommand): void {
  requireCommandMetadata(command.metadata);
  switch (command.type) {
    case 'GrantRole': {
      const d = requireOnlyKeys(command.data, ['projectId', 'grantId', 'principal', 'role', 'environment', 'branch', 'expiresAt', 'accessRequestId', 'breakGlass']);
      requirePlaceKey('projectId', d.projectId);
      if (!GRANT_ID.test(requireString('grantId', d.grantId))) throw invalid('invalid-field', 'grantId must be 1-64 characters from A-Z a-z 0-9 -', 'grantId');
      const p = requireOnlyKeys(d.principal, ['type', 'id']);
      if (p.type !== 'user' && p.type !== 'group') throw invalid('invalid-field', 'principal.type must be user or group', 'principal.type');
      requirePrincipalId('principal.id', p.id);
      if (!isRole(d.role)) throw invalid('invalid-field', 'role is not a role', 'role');
      requireNullableGlob('environment', d.environment);
      requireNullableGlob('branch', d.branch);
      requireNullableInstant('expiresAt', d.expiresAt);
      if (d.accessRequestId !== undefined && !GRANT_ID.test(requireString('accessRequestId', d.accessRequestId))) throw invalid('invalid-field', 'accessRequestId must be 1-64 characters from A-Z a-z 0-9 -', 'accessRequestId');
      if (d.breakGlass !== undefined && d.breakGlass !== true) throw invalid('invalid-field', 'breakGlass must be true when present', 'breakGlass');
      return;
    }
    case 'RevokeRole':
    case 'RecordGrantExpiry': {
      const d = requireOnlyKeys(command.data, ['grantId']);
      requireString('grantId', d.grantId);
      return;
    }
    default:
      assertNever(command);
  }
}

export const accessPolicyDecider: Decider<AccessPolicyState, AccessPolicyCommand, AccessPolicyEvent> = {
  initialState: () => ({ projectId: null, grants: new Map() }),

  decide(command, state) {
    checkAccessPolicyCommand(command);
    const now = command.metadata.now;
    switch (command.type) {
      case 'GrantRole': {
        const d = command.data;
        if (state.grants.has(d.grantId)) throw alreadyExists('grant-exists', 'grant id already used');
        if (d.expiresAt !== null && Date.parse(d.expiresAt) <= Date.parse(now)) {
          throw invalid('expiry-in-past', 'expiresAt must be in the future', 'expiresAt');
        }
        for (const g of state.grants.values()) {
          if (
            isGrantActive(g, now) &&
            g.principal.type === d.principal.type &&
            g.principal.id === d.principal.id &&
            g.role === d.role &&
            g.environment === d.environment &&
            g.branch === d.branch &&
            g.expiresAt === d.expiresAt
          ) {
            throw alreadyExists('grant-duplicate', `an identical grant is already in force: ${g.grantId}`);
          }
        }
        return [
          {
            type: 'RoleGranted',
            data: {
              projectId: d.projectId,
              grantId: d.grantId,
              principal: d.principal,
              role: d.role,
              environment: d.environment,
              branch: d.branch,
              expiresAt: d.expiresAt,
              grantedBy: command.metadata.actor.id,
              grantedAt: now,
              // Provenance only when there is one: a plain grant's event keeps its shape byte for byte.
              ...(d.accessRequestId !== undefined ? { accessRequestId: d.accessRequestId } : {}),
              ...(d.breakGlass === true ? { breakGlass: true as const } : {}),
            },
          },
        ];
      }
      case 'RevokeRole': {
        const g = state.grants.get(command.data.grantId);
        if (!g || g.revokedAt !== null) throw notFound('grant-not-found', 'grant not found');
        if (isFullOwner(g, now)) {
          // A permanent owner may go only if another permanent one stays: an owner that expires would
          // leave the project ownerless once it has. An expiring owner may go while any other owner stays.
          const others = [...state.grants.values()].filter((o) => o.grantId !== g.grantId && isFullOwner(o, now));
          const remaining = g.expiresAt === null ? others.filter((o) => o.expiresAt === null) : others;
          if (remaining.length === 0) {
            throw conflict(
              'last-owner',
              g.expiresAt === null && others.length > 0
                ? 'the last permanent owner of a project cannot be revoked while the other owners expire; grant another owner without expiry first'
                : 'the last owner of a project cannot be revoked; grant another owner first',
            );
          }
        }
        return [
          {
            type: 'RoleRevoked',
            data: {
              projectId: state.projectId ?? '',
              grantId: g.grantId,
              principal: g.principal,
              role: g.role,
              revokedBy: command.metadata.actor.id,
              revokedAt: now,
            },
          },
        ];
      }
      case 'RecordGrantExpiry': {
        const g = state.grants.get(command.data.grantId);
        // Nothing to record: unknown, revoked first, never expiring, not yet expired, or already recorded.
        if (!g || g.revokedAt !== null || g.expiresAt === null || Date.parse(now) < Date.parse(g.expiresAt) || state.expiryRecorded?.has(g.grantId)) return [];
        return [
          {
            type: 'RoleExpired',
            data: { projectId: state.projectId ?? '', grantId: g.grantId, principal: g.principal, role: g.role, expiresAt: g.expiresAt, recordedAt: now },
          },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    const grants = new Map(state.grants);
    switch (event.type) {
      case 'RoleGranted': {
        const d = event.data;
        grants.set(d.grantId, {
          grantId: d.grantId,
          principal: d.principal,
          role: d.role,
          environment: d.environment,
          branch: d.branch,
          expiresAt: d.expiresAt,
          grantedBy: d.grantedBy,
          grantedAt: d.grantedAt,
          revokedAt: null,
          revokedBy: null,
          ...(d.accessRequestId !== undefined ? { accessRequestId: d.accessRequestId } : {}),
          ...(d.breakGlass === true ? { breakGlass: true as const } : {}),
        });
        // Keep the rest of the state (expiryRecorded): dropping it let RoleExpired be recorded twice.
        return { ...state, projectId: d.projectId, grants };
      }
      case 'RoleRevoked': {
        const g = grants.get(event.data.grantId);
        if (g) grants.set(g.grantId, { ...g, revokedAt: event.data.revokedAt, revokedBy: event.data.revokedBy });
        return { ...state, grants };
      }
      case 'RoleExpired':
        return { ...state, grants, expiryRecorded: new Set([...(state.expiryRecorded ?? []), event.data.grantId]) };
      default:
        return assertNever(event);
    }
  },
};
