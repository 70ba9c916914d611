import { DenialReason } from '../authorization/ability';
import { DomainEvent } from '../decider';
import { PrincipalRecord } from '../principal';

/**
 * Repeated denials in bounded form. The first denial of a principal × project × reason in a
 * window is recorded as a SecretAccessDenied like any other; the identical ones after it in
 * that window are counted, and folded into ONE of these when the window closes. Denials refused
 * with 429 because the principal exceeded its denial rate, and that match no open window, are
 * folded into one per principal and window, with reason `rate-limited` (projectId: the first
 * project they named, `projects`: how many distinct projects they named).
 */
export type SecretAccessDenialsSuppressed = DomainEvent<
  'SecretAccessDenialsSuppressed',
  {
    projectId: string;
    principal: PrincipalRecord;
    reason: DenialReason | 'rate-limited';
    /** Denials folded into this summary, none of them recorded one by one. */
    count: number;
    /** Of those, how many were answered 429 (the principal was over its denial rate). */
    rateLimited: number;
    /** Distinct projects the folded denials named (1 unless reason is `rate-limited`). */
    projects: number;
    /** The first and last folded denial (RFC 3339). */
    firstAt: string;
    lastAt: string;
    /** The window, in seconds, the summary covers. */
    windowSeconds: number;
  }
>;

export type AbuseEvent = SecretAccessDenialsSuppressed;
