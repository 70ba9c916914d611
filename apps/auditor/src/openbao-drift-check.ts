import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { EventStore } from '@app/domain';
import { OPENBAO_DRIFT_PROJECT, OPENBAO_DRIFT_STREAM } from '@app/domain/openbao-audit';
import { OWNED_PREFIX } from '@app/domain/openbao/policy-renderer';
import { JsonLogger } from '@app/infra/logging/logger';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { PolicyTarget } from '@app/infra/openbao/policy-target';

/**
 * The objects whose state in OpenBao differs from the desired state, read only: policies whose
 * text differs, roles where a field the service sets reads back different, and owned objects no
 * secret justifies. `policy/<name>` and `role/<name>`, like the reconciler's result.
 */
export async function diffOwnedObjects(reconciler: Pick<PolicyReconciler, 'desired'>, target: PolicyTarget): Promise<string[]> {
  const want = await reconciler.desired();
  const out: string[] = [];
  for (const [name, hcl] of want.policies) if ((await target.readPolicy(name)) !== hcl) out.push(`policy/${name}`);
  for (const [name, role] of want.roles) {
    const actual = (await target.readRole(name)) as Record<string, unknown> | undefined;
    if (!actual || !Object.entries(role).every(([k, v]) => isDeepStrictEqual(actual[k], v))) out.push(`role/${name}`);
  }
  for (const name of await target.listPolicies()) if (name.startsWith(OWNED_PREFIX) && !want.policies.has(name)) out.push(`policy/${name}`);
  // every role on the service's JWT mount is the service's, whatever its name (round-3 review of issue 18, item 3)
  for (const name of await target.listRoles()) if (!want.roles.has(name)) out.push(`role/${name}`);
  return out.sort();
}

/**
 * The periodic full diff: catches what the audit stream cannot show (drift made while the auditor
 * was down, a write that carried the service's marker header). An object counts as drift only if
 * it still differs a few seconds later (a change the projector is about to apply is not drift).
 * Then OpenBaoDriftDetected (requestId null) per object, one reconcile, OpenBaoDriftRepaired.
 */
export class OpenBaoDriftCheck {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly store: EventStore,
    private readonly reconciler: Pick<PolicyReconciler, 'desired' | 'reconcileOnce'>,
    private readonly target: PolicyTarget,
    private readonly logger: JsonLogger,
    private readonly opts: { jwtMount: string; everyMs?: number; settleMs?: number },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.checkOnce()
        .catch((e) => this.logger.warn('periodic OpenBao drift check failed; will retry', { error: String((e as Error).message ?? e) }))
        .finally(() => (this.running = undefined));
    }, this.opts.everyMs ?? 60_000).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Returns the objects recorded as drift (empty when OpenBao matches the desired state). */
  async checkOnce(): Promise<string[]> {
    const first = await diffOwnedObjects(this.reconciler, this.target);
    if (first.length === 0) return [];
    await new Promise((r) => setTimeout(r, this.opts.settleMs ?? 3_000));
    const still = new Set(await diffOwnedObjects(this.reconciler, this.target));
    const drifted = first.filter((o) => still.has(o));
    if (drifted.length === 0) return [];
    const at = new Date().toISOString();
    const correlationId = randomUUID();
    const actor = { type: 'system' as const, id: 'openbao-drift-check' };
    await this.store.appendToStream(
      OPENBAO_DRIFT_STREAM,
      'any',
      drifted.map((o) => ({
        eventId: randomUUID(),
        type: 'OpenBaoDriftDetected',
        schemaVersion: 1,
        data: { projectId: OPENBAO_DRIFT_PROJECT, who: { displayName: 'unknown (periodic diff)', policies: [] }, path: objectPath(o, this.opts.jwtMount), operation: 'update', at, requestId: null },
        metadata: { correlationId, causationId: correlationId, actor, occurredAt: at, source: 'openbao-drift-check' },
      })),
    );
    this.logger.warn('OpenBao objects differ from the desired state (periodic diff); putting them back', { objects: drifted });
    const result = await this.reconciler.reconcileOnce();
    const done = new Date().toISOString();
    await this.store.appendToStream(OPENBAO_DRIFT_STREAM, 'any', [
      {
        eventId: randomUUID(),
        type: 'OpenBaoDriftRepaired',
        schemaVersion: 1,
        data: { projectId: OPENBAO_DRIFT_PROJECT, requestId: null, path: null, written: result.written, removed: result.removed, at: done },
        metadata: { correlationId, causationId: correlationId, actor, occurredAt: done, source: 'openbao-drift-check' },
      },
    ]);
    return drifted;
  }
}

/** `policy/<name>` / `role/<name>` → the OpenBao path it lives at. */
function objectPath(o: string, jwtMount: string): string {
  return o.startsWith('policy/') ? `sys/policies/acl/${o.slice('policy/'.length)}` : `auth/${jwtMount}/role/${o.slice('role/'.length)}`;
}
