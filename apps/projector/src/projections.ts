import { RenderOptions } from '@app/domain/openbao/policy-renderer';
import { AppConfig } from '@app/infra/config/config';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { membershipProjection } from '@app/infra/openbao/membership';
import { accessHistoryProjection, grantsProjection, projectGroupsProjection, secretHistoryProjection } from './compliance.projections';
import { Projection } from '@app/infra/projection/projection-runner';
import { secretsProjection } from './secrets.projection';

/** Every SQL read model the projector owns, each with its own checkpoint. */
export const PROJECTIONS: readonly Projection[] = [secretsProjection, grantsProjection, projectGroupsProjection, secretHistoryProjection, accessHistoryProjection, membershipProjection];

/** The reconciler's inputs: the secrets, and which group each project is in now (a move re-renders the moved project's policies). */
const RENDER_INPUTS: readonly Projection[] = [secretsProjection, membershipProjection];

/**
 * The same, with the policy reconciler run after each committed batch of a read model it renders
 * from: a `changes` run, which writes what the batch changed and reads nothing back (the full
 * comparison runs at start and every 60 s: projector.module.ts).
 */
export function projectionsWithReconciler(reconciler: PolicyReconciler): Projection[] {
  return PROJECTIONS.map((p) => (RENDER_INPUTS.includes(p) ? { ...p, afterCommit: () => reconciler.schedule(100, 'changes') } : p));
}

export function renderOptions(config: AppConfig): RenderOptions {
  return { kvMount: config.policies.kvMount, kvPrefix: config.policies.kvPrefix, audience: config.auth.audience, tokenTtlSeconds: config.policies.ciTokenTtlSeconds };
}
