import { RenderOptions } from '@app/domain/openbao/policy-renderer';
import { AppConfig } from '@app/infra/config/config';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { accessHistoryProjection, grantsProjection, secretHistoryProjection } from './compliance.projections';
import { Projection } from '@app/infra/projection/projection-runner';
import { secretsProjection } from './secrets.projection';

/** Every SQL read model the projector owns, each with its own checkpoint. */
export const PROJECTIONS: readonly Projection[] = [secretsProjection, grantsProjection, secretHistoryProjection, accessHistoryProjection];

/** The same, with the policy reconciler run after each committed batch of the secrets read model (its input). */
export function projectionsWithReconciler(reconciler: PolicyReconciler): Projection[] {
  return PROJECTIONS.map((p) => (p === secretsProjection ? { ...p, afterCommit: () => reconciler.schedule() } : p));
}

export function renderOptions(config: AppConfig): RenderOptions {
  return { kvMount: config.policies.kvMount, kvPrefix: config.policies.kvPrefix, audience: config.auth.audience, tokenTtlSeconds: config.policies.ciTokenTtlSeconds };
}
