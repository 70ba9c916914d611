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
 * How a run compares: `full` reads every desired object back from the target, lists the owned ones
 * and repairs any difference (the start, every 60 s, drift repair, rebuild); `changes` compares the
 * new rendering with the one this process last applied in full or in part and only writes and
 * removes what the events changed, reading nothing (the runs after each projection batch). With a
 * group of N projects a full run reads ~2 objects per project and scope whatever changed, so a move
 * or a new secret would wait for N reads: a `changes` run writes only the moved project's objects
 * (or the N policies a new group secret is in). Without an earlier applied state it is a full run.
 */
export type ReconcileMode = 'full' | 'changes';

/** Requests in flight to the target at once during a run (reads and writes; writes of policies before roles, as the order needs). */
const CONCURRENCY = 8;

/** `fn` over `items`, CONCURRENCY at a time; after a failure no new item starts, and it rejects once every started one has ended (no write outlives its run). */
async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/**
 * Makes the target hold exactly the desired policies and roles: writes what differs, removes
 * what no secret justifies, leaves the rest untouched (so a reconcile with nothing to do makes no
 * writes). Runs are serialised and coalesced: a request during a run triggers one more run (a
 * full one if any of the requests asked for full).
 */
export class PolicyReconciler {
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private prepared = false;
  private watchTimer?: NodeJS.Timeout;
  /** The mode of the next run: `changes` only while every request since the last run asked for it. */
  private nextMode: ReconcileMode | undefined;
  /** What the target holds as far as this process knows: the last rendering it applied (undefined: unknown, the next run is full). */
  private applied?: DesiredBaoState;
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

  async reconcileOnce(mode: ReconcileMode = 'full'): Promise<ReconcileResult> {
    // Checked every run, not once: an OpenBao restarted empty (dev mode, an old backup) has lost
    // the JWT mount, its config and every role, and must be prepared again.
    if (this.prepared && !(await this.target.isPrepared())) {
      this.prepared = false;
      this.metrics?.openBaoStateLost.inc({ what: 'jwt-mount' });
      this.logger.error('OpenBao lost the JWT auth mount or its config (restarted empty or restored from an old backup?); preparing it again and rewriting every role and policy', { target: this.target.kind });
    }
    if (!this.prepared) {
      this.applied = undefined; // whatever was applied may be gone with it
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
    const before = mode === 'changes' ? this.applied : undefined;
    // Until this run ends well, what the target holds is not known: a failed run makes the next one full.
    this.applied = undefined;
    const result = before ? await this.applyChanges(before, want) : await this.applyFull(want);
    this.applied = want;
    const { written, removed } = result;
    if (written.length) this.metrics?.policyReconciles.inc({ change: 'written' }, written.length);
    if (removed.length) this.metrics?.policyReconciles.inc({ change: 'removed' }, removed.length);
    if (written.length || removed.length) this.logger.info('policies reconciled', { target: this.target.kind, mode: before ? 'changes' : 'full', written: written.length, removed: removed.length });
    this.lastResult = result;
    return result;
  }

  /** Reads every desired object back, writes what differs, deletes every owned object not desired. */
  private async applyFull(want: DesiredBaoState): Promise<ReconcileResult> {
    const written: string[] = [];
    const removed: string[] = [];
    // Policies before the roles that name them; roles removed before their policies.
    await eachLimited([...want.policies], async ([name, hcl]) => {
      if ((await this.target.readPolicy(name)) !== hcl) {
        await this.target.writePolicy(name, hcl);
        written.push(`policy/${name}`);
      }
    });
    await eachLimited([...want.roles], async ([name, role]) => {
      if (!roleMatches(await this.target.readRole(name), role)) {
        await this.target.writeRole(name, role);
        written.push(`role/${name}`);
      }
    });
    await eachLimited((await this.target.listRoles()).filter((name) => !want.roles.has(name)), async (name) => {
      await this.target.deleteRole(name);
      removed.push(`role/${name}`);
    });
    await eachLimited((await this.target.listPolicies()).filter((name) => !want.policies.has(name)), async (name) => {
      await this.target.deletePolicy(name);
      removed.push(`policy/${name}`);
    });
    return { written: written.sort(), removed: removed.sort() };
  }

  /** Writes and removes only what differs between the last applied rendering and this one; reads nothing. */
  private async applyChanges(before: DesiredBaoState, want: DesiredBaoState): Promise<ReconcileResult> {
    const written: string[] = [];
    const removed: string[] = [];
    await eachLimited([...want.policies].filter(([name, hcl]) => before.policies.get(name) !== hcl), async ([name, hcl]) => {
      await this.target.writePolicy(name, hcl);
      written.push(`policy/${name}`);
    });
    await eachLimited([...want.roles].filter(([name, role]) => !isDeepStrictEqual(before.roles.get(name), role)), async ([name, role]) => {
      await this.target.writeRole(name, role);
      written.push(`role/${name}`);
    });
    await eachLimited([...before.roles.keys()].filter((name) => !want.roles.has(name)), async (name) => {
      await this.target.deleteRole(name);
      removed.push(`role/${name}`);
    });
    await eachLimited([...before.policies.keys()].filter((name) => !want.policies.has(name)), async (name) => {
      await this.target.deletePolicy(name);
      removed.push(`policy/${name}`);
    });
    return { written: written.sort(), removed: removed.sort() };
  }

  /**
   * Requests a reconcile soon; never throws (failures are logged and retried with backoff, and a
   * retry is a full run). `changes`: the caller knows only the read models changed (a projection
   * batch); anything else asks for a full run.
   */
  schedule(delayMs = 100, mode: ReconcileMode = 'full'): void {
    this.nextMode = this.nextMode === 'full' || mode === 'full' ? 'full' : 'changes';
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const runMode = this.nextMode ?? 'full';
      this.nextMode = undefined;
      this.running = this.reconcileOnce(runMode)
        .then(() => {
          this.failures = 0;
        })
        .catch((e) => {
          this.failures++;
          this.again = true;
          this.nextMode = 'full';
          this.logger.warn('policy reconcile failed; will retry', { target: this.target.kind, attempt: this.failures, ...describeError(e) });
        })
        .finally(() => {
          this.running = undefined;
          if (this.again) {
            this.again = false;
            this.schedule(this.failures ? Math.min(2000, 250 * 2 ** Math.min(this.failures - 1, 3)) : 50, this.nextMode ?? 'full');
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
