import { accessHistoryProjection, grantsProjection, secretHistoryProjection } from './compliance.projections';
import { Projection } from './projection-runner';
import { secretsProjection } from './secrets.projection';

/** Every SQL read model the projector owns, each with its own checkpoint. */
export const PROJECTIONS: readonly Projection[] = [secretsProjection, grantsProjection, secretHistoryProjection, accessHistoryProjection];
