import { GrantPrincipal } from '../access-policy/access-policy';
import { CI_JOB_SCOPE, grantCoversSecret, SecretSubject } from '../authorization/ability';
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
      };
    }
  | {
      /** Every CI job of the project whose ref, protection and environment match the secret's scope. */
      principal: { type: 'ci-scope'; projectId: string; environment: string | null; branch: string | null; protectedOnly: boolean };
      via: { rule: typeof CI_JOB_SCOPE };
    };

export function inForceAt(g: Pick<GrantInterval, 'validFrom' | 'validTo'>, at: string): boolean {
  const t = Date.parse(at);
  return Date.parse(g.validFrom) <= t && (g.validTo === null || t < Date.parse(g.validTo));
}

/**
 * Who could read a secret's value at `at`, and through which grant: the same rule the live
 * authorizer applies (role includes `read`, grant narrowing covers the secret's scope), evaluated
 * over the grants' validity intervals. `secret` is the secret's scope at `at`; null = it did not exist then.
 */
export function readersAt(secret: SecretSubject | null, grants: readonly GrantInterval[], at: string): Reader[] {
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
      },
    }));
  const ci: Reader = {
    principal: { type: 'ci-scope', projectId: secret.projectId, environment: secret.environment, branch: secret.branch, protectedOnly: secret.protectedOnly },
    via: { rule: CI_JOB_SCOPE },
  };
  return [...byGrant, ci];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
