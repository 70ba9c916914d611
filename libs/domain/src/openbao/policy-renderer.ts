import { GROUP_KEY_PREFIX, isGroupKey, placeOf } from '../group/place';
import { jobPlaceKeys } from '../group/tree';
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
//
// Group secrets (issue 20) have no roles of their own: a group secret of scope S reaches the role
// (P, S) of every project P whose jobs read the group (group/tree.ts jobPlaceKeys: P's group and
// each group above it, as the membership says now). So the role a job logs in to is always its own
// project's role of the secret's scope, whether the secret is the project's or inherited
// (jobRoleName), and a move or a group secret's change rewrites the affected projects' policies,
// which takes the paths away from tokens already issued too.

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
  // A group has no role (its secrets are in the roles of the projects below it): a group key here is a bug.
  if (isGroupKey(projectId)) throw new Error('a group has no OpenBao role: a job reads group secrets with its own project\'s role (jobRoleName)');
  return `${OWNED_PREFIX}${projectId}-${scopeHash(projectId, scope)}`;
}

/**
 * The role a CI job of `jobProjectId` logs in to for a secret of `scope`, wherever the secret lives
 * (`placeKey`: the job's project or a group above it): its own project's role of that scope, whose
 * policy holds the project's secrets of the scope and those of every group the project reads
 * (renderBaoState). The place does not enter the name, so one login covers both in a batch.
 */
export function jobRoleName(jobProjectId: string, placeKey: string, scope: SecretScope): string {
  void placeKey;
  return ciRoleName(jobProjectId, scope);
}

/**
 * The 16 hex digits naming (place, scope): the hash in a project's role name, and the first part of
 * the last segment of every value path written under that scope (a group's too: a group has no role,
 * but its values are laid out the same way, the hash taken over its place key).
 */
export function scopeHash(projectId: string, scope: SecretScope): string {
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

/** One secret a policy grants: where it lives (the project's own key or a group's) and its stanzas (the same text in every policy that grants it). */
interface PolicyEntry {
  placeKey: string;
  stanzas: string;
}

/**
 * The `path` stanzas granting one secret to the jobs of its scope: every value written under that
 * scope (a prefix glob), and its current value when that was written under another scope. They
 * depend only on the secret (place, name, scope, current value), so a group secret's are rendered
 * once and appear in the policy of every project below the group.
 */
function secretStanzas(opts: RenderOptions, s: ScopedSecret): string {
  const glob = scopeValueGlob(opts, s.projectId, s.name, s.scope);
  const lines = ['', `path "${glob}" {`, '  capabilities = ["read"]', '}'];
  const current = s.currentValuePath === undefined ? undefined : `${opts.kvMount}/data/${s.currentValuePath}`;
  // The current value was written under an earlier scope (or under the one-path layout of
  // earlier releases, whose every version it then grants until the next value update).
  if (current !== undefined && !current.startsWith(glob.slice(0, -1))) lines.push(`path "${current}" {`, '  capabilities = ["read"]', '}');
  return lines.join('\n');
}

/** `entries`: the project's own secrets first, then each group's, nearest first; by name within a place. */
function renderPolicy(projectId: string, scope: SecretScope, entries: readonly PolicyEntry[]): string {
  const lines = [
    '# Rendered by pipeline-secrets from the event store. Do not edit: the projector rewrites or removes it.',
    `# CI jobs with ${describeScope(projectId, scope)}.`,
    '# Each value version is its own KV path; a secret grants the values written under this scope',
    '# and its current value, never a value written while the secret had another scope.',
  ];
  let place = projectId;
  for (const { placeKey, stanzas } of entries) {
    if (placeKey !== place) {
      place = placeKey;
      lines.push('', `# Inherited from group ${placeOf(placeKey)?.id ?? placeKey}, which project ${projectId} is in or below.`);
    }
    lines.push(stanzas);
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

/**
 * Which group each project is in now; a project in no group is absent. The renderer reads the tree
 * only through jobPlaceKeys over it (the one resolver), never by a rule of its own.
 */
export type Membership = ReadonlyMap<string, string>;

const byName = (a: ScopedSecret, b: ScopedSecret) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const scopeKey = (s: SecretScope) => JSON.stringify([s.environment, s.branch, s.protectedOnly]);

/**
 * The whole desired state. Work: for each project (one with secrets of its own, or in a group),
 * the secrets of each place its jobs read (jobPlaceKeys: itself, its group, the groups above), so
 * O(sum over projects of the secrets on their chains): a group secret appears in the policy of its
 * scope of every project at or below its group (its stanzas rendered once, see secretStanzas), and
 * one role name is hashed per project and scope. `nameOf` is only for tests (to show that a
 * colliding naming is refused).
 */
export function renderBaoState(
  secrets: readonly ScopedSecret[],
  opts: RenderOptions,
  membership: Membership = new Map(),
  nameOf: (projectId: string, scope: SecretScope) => string = ciRoleName,
): DesiredBaoState {
  const atPlace = new Map<string, { secret: ScopedSecret; scope: string; stanzas: string }[]>();
  const projects = new Set<string>();
  for (const s of [...secrets].sort(byName)) {
    if (!directlyReadable(s.scope)) continue; // API only: OpenBao cannot enforce this scope exactly
    const entry = { secret: s, scope: scopeKey(s.scope), stanzas: secretStanzas(opts, s) };
    const here = atPlace.get(s.projectId);
    if (here) here.push(entry);
    else atPlace.set(s.projectId, [entry]);
    if (!isGroupKey(s.projectId)) projects.add(s.projectId);
  }
  for (const p of membership.keys()) projects.add(p);
  const groups = new Map<string, { projectId: string; scope: SecretScope; owner: string; entries: PolicyEntry[] }>();
  for (const projectId of projects) {
    // one role per distinct scope of the project; the places in shadowing order, each place's secrets by name
    const ofScope = new Map<string, { projectId: string; scope: SecretScope; owner: string; entries: PolicyEntry[] }>();
    for (const placeKey of jobPlaceKeys(projectId, membership.get(projectId) ?? null)) {
      for (const { secret: s, scope, stanzas } of atPlace.get(placeKey) ?? []) {
        let g = ofScope.get(scope);
        if (!g) {
          const role = nameOf(projectId, s.scope);
          const owner = ownerKey(projectId, s.scope);
          const other = groups.get(role);
          // Never merge two owners' grants into one object: refuse the whole state instead.
          if (other) throw new RoleNameCollisionError(role, [other.owner, owner].sort());
          g = { projectId, scope: s.scope, owner, entries: [] };
          ofScope.set(scope, g);
          groups.set(role, g);
        }
        g.entries.push({ placeKey, stanzas });
      }
    }
  }
  const policies = new Map<string, string>();
  const roles = new Map<string, JwtRole>();
  for (const role of [...groups.keys()].sort()) {
    const g = groups.get(role)!;
    policies.set(role, renderPolicy(g.projectId, g.scope, g.entries));
    roles.set(role, renderRole(opts, g.projectId, g.scope, role));
  }
  return { policies, roles };
}
