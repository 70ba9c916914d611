import { isDeepStrictEqual } from 'node:util';
import { DesiredBaoState, JwtRole, renderBaoState, RenderOptions, RoleNameCollisionError, ScopedSecret } from '@app/domain/openbao/policy-renderer';
import { describeError, JsonLogger } from '../logging/logger';
import { SqlClient, SqlExecutor } from '../sql/sql-client';
import { Metrics } from '../observability/metrics';
import { PolicyTarget } from './policy-target';
import { parseBaoRef } from '../value-store/openbao-value-store';
import { loadMembership, migrateMemberships } from './membership';

export interface ReconcileResult {
  written: string[];
  removed: string[];
}

/**
 * Active secrets' scopes and current value references from the projected read models: the
 * reconciler's whole input. The current value is the secret's newest version row (versions only
 * grow within a secret's life, and a re-created secret's rows come after its earlier life's).
 */
export async function loadScopedSecrets(sql: SqlExecutor, kvMount: string): Promise<ScopedSecret[]> {
  const { rows } = await sql.query<{ project_id: string; name: string; environment: string | null; branch: string | null; protected_only: boolean; value_ref: string | null }>(
    `SELECT s.project_id, s.name, s.environment, s.branch, s.protected_only, v.value_ref
       FROM rm_secrets s
       LEFT JOIN LATERAL (SELECT value_ref FROM rm_secret_versions v
                           WHERE v.project_id = s.project_id AND v.name = s.name AND v.version = s.version
                           ORDER BY v.revision DESC LIMIT 1) v ON true
      ORDER BY s.project_id, s.name`,
  );
  return rows.map((r) => {
    const ref = r.value_ref === null ? undefined : parseBaoRef(r.value_ref);
    // Only a reference into the service's own mount names a path a policy may grant (an embedded-profile ref names none).
    const currentValuePath = ref && ref.mount === kvMount ? ref.path : undefined;
    return { projectId: r.project_id, name: r.name, scope: { environment: r.environment, branch: r.branch, protectedOnly: r.protected_only }, currentValuePath };
  });
}

/** OpenBao echoes many defaults; a role is up to date when every field we set reads back equal. */
function roleMatches(actual: Partial<JwtRole> | undefined, desired: JwtRole): boolean {
  if (!actual) return false;
  return (Object.keys(desired) as (keyof JwtRole)[]).every((k) => isDeepStrictEqual(actual[k], desired[k]));
}

/**
 * Makes the target hold exactly the desired policies and roles: writes what differs, removes
 * what no secret justifies, leaves the rest untouched (so a reconcile with nothing to do makes no
 * writes). Runs are serialised and coalesced: a request during a run triggers one more run.
 */
export class PolicyReconciler {
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private prepared = false;
  private watchTimer?: NodeJS.Timeout;
  lastResult?: ReconcileResult;

  constructor(
    private readonly target: PolicyTarget,
    private readonly sql: SqlClient,
    private readonly render: RenderOptions,
    private readonly logger: JsonLogger,
    private readonly metrics?: Metrics,
  ) {}

  private schema?: Promise<void>;

  /** The state the read models imply: the active secrets and which group each project is in now (a group secret is in the policies of every project below its group). */
  async desired(): Promise<DesiredBaoState> {
    // The membership table is the projector's; an auditor (drift repair) may start first.
    await (this.schema ??= migrateMemberships(this.sql).catch((e: unknown) => {
      this.schema = undefined;
      throw e;
    }));
    const [secrets, membership] = await Promise.all([loadScopedSecrets(this.sql, this.render.kvMount), loadMembership(this.sql)]);
    return renderBaoState(secrets, this.render, membership);
  }

  async reconcileOnce(): Promise<ReconcileResult> {
    // Checked every run, not once: an OpenBao restarted empty (dev mode, an old backup) has lost
    // the JWT mount, its config and every role, and must be prepared again.
    if (this.prepared && !(await this.target.isPrepared())) {
      this.prepared = false;
      this.metrics?.openBaoStateLost.inc({ what: 'jwt-mount' });
      this.logger.error('OpenBao lost the JWT auth mount or its config (restarted empty or restored from an old backup?); preparing it again and rewriting every role and policy', { target: this.target.kind });
    }
    if (!this.prepared) {
      await this.target.prepare();
      this.prepared = true;
    }
    let want: DesiredBaoState;
    try {
      want = await this.desired();
      this.metrics?.policyNameCollision.set(0);
    } catch (e) {
      if (e instanceof RoleNameCollisionError) {
        // Applying it would merge two owners' grants into one role: apply nothing, say so loudly.
        this.metrics?.policyNameCollision.set(1);
        this.logger.error('policy reconcile refused: two owners map to one OpenBao name; nothing applied', { target: this.target.kind, name: e.roleName, owners: e.owners });
      }
      throw e;
    }
    const written: string[] = [];
    const removed: string[] = [];
    // Policies before the roles that name them; roles removed before their policies.
    for (const [name, hcl] of want.policies) {
      if ((await this.target.readPolicy(name)) !== hcl) {
        await this.target.writePolicy(name, hcl);
        written.push(`policy/${name}`);
      }
    }
    for (const [name, role] of want.roles) {
      if (!roleMatches(await this.target.readRole(name), role)) {
        await this.target.writeRole(name, role);
        written.push(`role/${name}`);
      }
    }
    for (const name of await this.target.listRoles()) {
      if (!want.roles.has(name)) {
        await this.target.deleteRole(name);
        removed.push(`role/${name}`);
      }
    }
    for (const name of await this.target.listPolicies()) {
      if (!want.policies.has(name)) {
        await this.target.deletePolicy(name);
        removed.push(`policy/${name}`);
      }
    }
    if (written.length) this.metrics?.policyReconciles.inc({ change: 'written' }, written.length);
    if (removed.length) this.metrics?.policyReconciles.inc({ change: 'removed' }, removed.length);
    if (written.length || removed.length) this.logger.info('policies reconciled', { target: this.target.kind, written: written.length, removed: removed.length });
    this.lastResult = { written, removed };
    return this.lastResult;
  }

  /** Requests a reconcile soon; never throws (failures are logged and retried with backoff). */
  schedule(delayMs = 100): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.reconcileOnce()
        .then(() => {
          this.failures = 0;
        })
        .catch((e) => {
          this.failures++;
          this.again = true;
          this.logger.warn('policy reconcile failed; will retry', { target: this.target.kind, attempt: this.failures, ...describeError(e) });
        })
        .finally(() => {
          this.running = undefined;
          if (this.again) {
            this.again = false;
            this.schedule(this.failures ? Math.min(2000, 250 * 2 ** Math.min(this.failures - 1, 3)) : 50);
          }
        });
    }, delayMs);
  }

  /**
   * Every `everyMs`, one cheap read asks the target whether it still holds what prepare() made (the
   * JWT mount's config): when an OpenBao restarted empty has lost it, the reconciler prepares again
   * and rewrites every role and policy at once, instead of at the next periodic run (60 s) or the
   * next event. A failing read (OpenBao down) is left to the runs' own retries.
   */
  watchPrepared(everyMs: number): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = setInterval(() => {
      if (!this.prepared || this.running || this.timer) return;
      void this.target.isPrepared().then(
        (ok) => {
          if (!ok) this.schedule(0);
        },
        () => undefined,
      );
    }, everyMs).unref();
  }

  /** Waits for any run in progress or scheduled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.timer) {
      await (this.running ?? new Promise((r) => setTimeout(r, 20)));
    }
  }

  stop(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
  }
}
