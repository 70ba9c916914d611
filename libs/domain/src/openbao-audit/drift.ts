// Drift: a write to an object the projector owns (a ps-ci-* policy or JWT role, the JWT mount's
// config) by anyone but the service. Recorded when OpenBao's audit device shows it, then repaired
// by the reconciler; both are audit records (OCSF API Activity on OpenBao's API).
import { DomainEvent } from '../decider';

/** The stream of drift events: one for the whole OpenBao (its objects are not any one project's). */
export const OPENBAO_DRIFT_STREAM = 'openbao-drift';
/** `projectId` of drift events in the audit log: not a project id a project can have, so only global auditors see them. */
export const OPENBAO_DRIFT_PROJECT = '*';

export type OpenBaoDriftDetected = DomainEvent<
  'OpenBaoDriftDetected',
  {
    projectId: typeof OPENBAO_DRIFT_PROJECT;
    /** the writer as OpenBao names it: display name and policies (never a token or accessor) */
    who: { displayName: string; policies: string[] };
    path: string;
    operation: string;
    /** when OpenBao answered the write */
    at: string;
    /** OpenBao's request id, or null when the periodic diff found it (the audit stream could not show it) */
    requestId: string | null;
  }
>;

export type OpenBaoDriftRepaired = DomainEvent<
  'OpenBaoDriftRepaired',
  {
    projectId: typeof OPENBAO_DRIFT_PROJECT;
    /** the drift this repair answers (its request id), or null for a periodic repair */
    requestId: string | null;
    path: string | null;
    /** the objects the reconciler wrote back and the ones it removed */
    written: string[];
    removed: string[];
    at: string;
  }
>;

export type OpenBaoDriftEvent = OpenBaoDriftDetected | OpenBaoDriftRepaired;
