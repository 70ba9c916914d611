import { GROUP_KEY_PREFIX, isGroupKey } from '../group/place';
import { createHash } from 'node:crypto';
import { tokenize } from '../glob';
import { SecretScope } from '../secret/secret';

// Pure: the OpenBao objects that enforce CI jobs' access, rendered from the secrets' scopes.
// Same input → same bytes (sorted, no timestamps), so a rebuild can be compared byte for byte
// and the reconciler writes only what differs.
//
// One JWT role (with a policy of the same name) per project and distinct secret scope: the
// role's bound claims ARE the scope (project_id, environment glob, ref glob, ref_protected),
// and its policy grants `read` on exactly the KV paths of the secrets with that scope. A job
// logs in to the role of the secret it wants; OpenBao refuses the login when its claims do not
// match, and the policy refuses every other path.

export interface ScopedSecret {
  projectId: string;
  name: string;
  scope: SecretScope;
  /**
   * The KV path (under the mount) of the secret's current value, from its value reference; the
   * policy of its scope grants it exactly (it may have been written under an earlier scope).
   * Absent: only versions written under the current scope are granted.
   */
  currentValuePath?: string;
}

export interface RenderOptions {
  /** KV v2 mount, e.g. `secret`. */
  kvMount: string;
  /** Folder under the mount that this service owns, e.g. `pipeline-secrets`. */
  kvPrefix: string;
  /** `aud` the CI tokens carry. */
  audience: string;
  tokenTtlSeconds: number;
}

export interface JwtRole {
  role_type: 'jwt';
  user_claim: 'sub';
  bound_audiences: string[];
  bound_claims_type: 'glob';
  bound_claims: Record<string, string>;
  claim_mappings: Record<string, string>;
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  token_no_default_policy: boolean;
  token_type: 'service';
}

export interface DesiredBaoState {
  /** policy name → HCL text */
  policies: Map<string, string>;
  /** role name → role configuration */
  roles: Map<string, JwtRole>;
}

/** Every object this service creates in OpenBao starts with this; anything else there is not ours and is never touched. */
export const OWNED_PREFIX = 'ps-ci-';

export function kvPath(opts: Pick<RenderOptions, 'kvPrefix'>, projectId: string, name: string): string {
  // A group's values live under `_groups/<path>`: a project id starts with [a-z0-9], so no project's path can be a group's.
  return isGroupKey(projectId) ? `${opts.kvPrefix}/${GROUP_KV_SEGMENT}/${projectId.slice(GROUP_KEY_PREFIX.length)}/${name}` : `${opts.kvPrefix}/${projectId}/${name}`;
}

/** The KV segment under the service's prefix that holds group secrets' values. */
export const GROUP_KV_SEGMENT = '_groups';

/** Hex digits of the owner hash in every role and policy name, and of both parts of a value's path segment (64 bits each). */
export const NAME_HASH_HEX = 16;

/**
 * Where one value version lives: `<prefix>/<project>/<NAME>/<scope hash>-<nonce>`, its own KV
 * secret (written once, as KV version 1). The scope hash is the one in the role name of the scope
 * the secret had when the value was written, so a policy can grant "every value written under
 * this scope" with one prefix glob and nothing written under another scope; the nonce (16 random
 * hex digits, chosen by the writer) makes every path new, so a lost race or an OpenBao restarted
 * empty can never reuse one.
 */
export function kvValuePath(opts: Pick<RenderOptions, 'kvPrefix'>, projectId: string, name: string, scope: SecretScope, nonce: string): string {
  if (!/^[0-9a-f]{16}$/.test(nonce)) throw new Error('value path nonce must be 16 hex digits');
  return `${kvPath(opts, projectId, name)}/${scopeHash(projectId, scope)}-${nonce}`;
}

/** KV v2 API path (under the mount) of every value of this secret written under this scope. */
function scopeValueGlob(opts: Pick<RenderOptions, 'kvMount' | 'kvPrefix'>, projectId: string, name: string, scope: SecretScope): string {
  return `${opts.kvMount}/data/${kvPath(opts, projectId, name)}/${scopeHash(projectId, scope)}-*`;
}

/**
 * The owner of a name, encoded injectively: JSON of an array, so no project id, glob or flag can
 * run into the next field (JSON escapes every quote and separator inside a string).
 */
function ownerKey(projectId: string, s: SecretScope): string {
  return JSON.stringify([projectId, s.environment, s.branch, s.protectedOnly]);
}

/**
 * The role (and policy) name for CI jobs reading secrets of this scope in this project:
 * `ps-ci-<project>-<16 hex>`, the hex the first digits of the SHA-256 of (project, scope), for
 * every scope including the unscoped one. The readable project is only a prefix and the hash has
 * a fixed length, so the project is recovered from the name by cutting the hash off: project
 * `P`'s scoped name can never equal project `P-<hex>`'s name. Two scopes of one project meeting
 * on one name need a SHA-256 prefix collision, and the reconciler refuses such a state
 * (`renderBaoState` throws {@link RoleNameCollisionError}).
 */
export function ciRoleName(projectId: string, scope: SecretScope): string {
  return `${OWNED_PREFIX}${projectId}-${scopeHash(projectId, scope)}`;
}

function scopeHash(projectId: string, scope: SecretScope): string {
  return createHash('sha256').update(ownerKey(projectId, scope)).digest('hex').slice(0, NAME_HASH_HEX);
}

/** Two different (project, scope) owners render to one role name: applying it would merge their grants. */
export class RoleNameCollisionError extends Error {
  constructor(
    readonly roleName: string,
    readonly owners: string[],
  ) {
    super(`two owners map to the OpenBao role name ${roleName}: ${owners.join(' and ')}`);
    this.name = 'RoleNameCollisionError';
  }
}

function describeScope(projectId: string, s: SecretScope): string {
  return [
    `project_id = ${projectId}`,
    `environment ${s.environment === null ? 'any' : `matches ${s.environment}`}`,
    `ref ${s.branch === null ? 'any' : `matches ${s.branch}`}`,
    s.protectedOnly ? 'protected refs only' : 'protected or not',
  ].join(', ');
}

function renderPolicy(opts: RenderOptions, projectId: string, scope: SecretScope, secrets: { name: string; currentValuePath?: string }[]): string {
  const lines = [
    '# Rendered by pipeline-secrets from the event store. Do not edit: the projector rewrites or removes it.',
    `# CI jobs with ${describeScope(projectId, scope)}.`,
    '# Each value version is its own KV path; a secret grants the values written under this scope',
    '# and its current value, never a value written while the secret had another scope.',
  ];
  for (const { name, currentValuePath } of secrets) {
    const glob = scopeValueGlob(opts, projectId, name, scope);
    lines.push('', `path "${glob}" {`, '  capabilities = ["read"]', '}');
    const current = currentValuePath === undefined ? undefined : `${opts.kvMount}/data/${currentValuePath}`;
    // The current value was written under an earlier scope (or under the one-path layout of
    // earlier releases, whose every version it then grants until the next value update).
    if (current !== undefined && !current.startsWith(glob.slice(0, -1))) lines.push(`path "${current}" {`, '  capabilities = ["read"]', '}');
  }
  // Roles set token_no_default_policy, so a job's token may otherwise not even revoke itself;
  // the service revokes the token it brokered a read with as soon as the read is done.
  lines.push('', '# Lets the job end its own token early.', 'path "auth/token/revoke-self" {', '  capabilities = ["update"]', '}');
  return lines.join('\n') + '\n';
}

/**
 * The scope glob in OpenBao's `glob` bound-claim syntax, or null when OpenBao cannot say exactly
 * what it means. OpenBao's glob knows only `*`, which also matches `/`: that is this service's
 * `**`. A single `*` (not across `/`) or a `?` has no equivalent: written as is, `release/*`
 * would let a job on `release/1/2` log in, which the API refuses.
 */
export function openBaoGlob(glob: string): string | null {
  let out = '';
  for (const t of tokenize(glob)) {
    if (t.kind === 'lit') out += t.ch;
    else if (t.kind === 'globstar') out += '*';
    else return null;
  }
  return out;
}

/**
 * Whether OpenBao can enforce this scope exactly, so that a role may be rendered for it. A scope it
 * cannot (a `*` within one segment, a `?`) gets no role and no policy: its secrets are read only
 * through the API (the service reads them with its own token after its own decision), never by a
 * job logging in to OpenBao, which would be broader than the scope.
 */
export function directlyReadable(scope: SecretScope): boolean {
  return (scope.environment === null || openBaoGlob(scope.environment) !== null) && (scope.branch === null || openBaoGlob(scope.branch) !== null);
}

function renderRole(opts: RenderOptions, projectId: string, scope: SecretScope, policy: string): JwtRole {
  const bound: Record<string, string> = { project_id: projectId };
  if (scope.environment !== null) bound.environment = openBaoGlob(scope.environment)!;
  if (scope.branch !== null) {
    bound.ref = openBaoGlob(scope.branch)!;
    // A branch glob is about branches: a tag job whose tag happens to match it must not log in
    // (the API's access decision applies the same rule).
    bound.ref_type = 'branch';
  }
  if (scope.protectedOnly) bound.ref_protected = 'true';
  return {
    role_type: 'jwt',
    user_claim: 'sub',
    bound_audiences: [opts.audience],
    bound_claims_type: 'glob',
    bound_claims: bound,
    // Carried into the token's metadata, so OpenBao's own audit log names the pipeline, the job
    // and the ref it ran on (OpenBao skips a mapped claim the token does not carry).
    claim_mappings: {
      environment: 'environment',
      job_id: 'job_id',
      pipeline_id: 'pipeline_id',
      project_id: 'project_id',
      ref: 'ref',
      ref_protected: 'ref_protected',
      ref_type: 'ref_type',
      user_id: 'user_id',
    },
    token_policies: [policy],
    token_ttl: opts.tokenTtlSeconds,
    token_max_ttl: opts.tokenTtlSeconds,
    token_no_default_policy: true,
    token_type: 'service',
  };
}

/** `nameOf` is only for tests (to show that a colliding naming is refused). */
export function renderBaoState(secrets: readonly ScopedSecret[], opts: RenderOptions, nameOf: (projectId: string, scope: SecretScope) => string = ciRoleName): DesiredBaoState {
  const groups = new Map<string, { projectId: string; scope: SecretScope; secrets: { name: string; currentValuePath?: string }[] }>();
  for (const s of secrets) {
    if (!directlyReadable(s.scope)) continue; // API only: OpenBao cannot enforce this scope exactly
    // Group secrets are not rendered yet (issue 20, item 5): no role reads them, the service reads them after its own decision.
    if (isGroupKey(s.projectId)) continue;
    const role = nameOf(s.projectId, s.scope);
    const g = groups.get(role) ?? { projectId: s.projectId, scope: s.scope, secrets: [] };
    // Never merge two owners' grants into one object: refuse the whole state instead.
    if (ownerKey(g.projectId, g.scope) !== ownerKey(s.projectId, s.scope)) {
      throw new RoleNameCollisionError(role, [ownerKey(g.projectId, g.scope), ownerKey(s.projectId, s.scope)].sort());
    }
    g.secrets.push({ name: s.name, currentValuePath: s.currentValuePath });
    groups.set(role, g);
  }
  const policies = new Map<string, string>();
  const roles = new Map<string, JwtRole>();
  for (const role of [...groups.keys()].sort()) {
    const g = groups.get(role)!;
    policies.set(role, renderPolicy(opts, g.projectId, g.scope, [...g.secrets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))));
    roles.set(role, renderRole(opts, g.projectId, g.scope, role));
  }
  return { policies, roles };
}
