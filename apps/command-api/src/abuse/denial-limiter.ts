import { DenialReason, PrincipalRecord, SecretAccessDenialsSuppressed } from '@app/domain';

// Bounded denials. A small fixed-window counter of our own rather than a library: it needs the
// per-key fold state (first/last/count) anyway, and is ~80 lines with an injectable clock.

export type DenialVerdict = { record: boolean; retryAfterSeconds: number | null };

/** What a closed window becomes: exactly the data of the summary event. */
export type DenialSummary = SecretAccessDenialsSuppressed['data'];

interface Fold {
  closesAt: number;
  projectId: string;
  principal: PrincipalRecord;
  reason: DenialReason | 'rate-limited';
  count: number;
  rateLimited: number;
  projects: Set<string>;
  firstAt: string;
  lastAt: string;
}

const MAX_PROJECTS_TRACKED = 1000;

/**
 * Whose denial budget a denial spends. A CI job's `sub` names only its project and ref (every job
 * on `main` shares it), so a job is keyed by its pipeline and job ids too: one noisy job cannot
 * spend the budget of every other job on the same ref.
 */
function budgetKey(p: PrincipalRecord): string {
  return p.type === 'ci-job' ? `ci-job:${p.id}\u0000${p.pipelineId ?? ''}\u0000${p.jobId ?? ''}` : `${p.type}:${p.id}`;
}

export class DenialLimiter {
  private readonly rate = new Map<string, { resetAt: number; used: number }>();
  private readonly folds = new Map<string, Fold>();

  constructor(private readonly ratePerMinute: number, private readonly windowSeconds: number) {}

  /**
   * One denial. record: append it as a SecretAccessDenied (the first of its window);
   * retryAfterSeconds: the principal is over its rate (answer 429). Not recorded denials are
   * folded into a summary that flushDue hands out once its window closes.
   *
   * Every denial spends one unit of the principal's rate, each denied name of a batch included, and
   * only denials within the rate are recorded or folded into their own summary; past it, they all
   * fold into the principal's one rate-limited summary of the window. So the records a principal
   * causes per rate window are at most the rate (each recorded denial and each summary of identical
   * ones is paid for by a unit), plus one rate-limited summary per summary window, whatever the
   * batch size. `mayRefuse: false` (the later names of one batch call): over the rate, the denial is
   * folded but never answered with a 429, so a batch's own denials never refuse its allowed names.
   */
  observe(principal: PrincipalRecord, projectId: string, reason: DenialReason, nowMs: number, opts: { name?: string | null; mayRefuse?: boolean } = {}): DenialVerdict {
    const who = budgetKey(principal);
    let r = this.rate.get(who);
    if (!r || r.resetAt <= nowMs) this.rate.set(who, (r = { resetAt: nowMs + 60_000, used: 0 }));
    r.used++;
    const over = r.used > this.ratePerMinute;
    const at = new Date(nowMs).toISOString();
    if (over) {
      // Over the rate: one fold per principal and window, whatever the project, reason or name.
      const overflowKey = `${who}\u0000*`;
      let o = this.folds.get(overflowKey);
      if (!o || o.closesAt <= nowMs) {
        o = this.newFold(nowMs, projectId, principal, 'rate-limited', at);
        this.folds.set(overflowKey, o);
      }
      this.fold(o, projectId, at, true);
      return { record: false, retryAfterSeconds: opts.mayRefuse === false ? null : Math.max(1, Math.ceil((r.resetAt - nowMs) / 1000)) };
    }
    // Identical = same principal, project, reason AND secret: denials of different secrets are each recorded.
    const key = `${who}\u0000${projectId}\u0000${reason}\u0000${opts.name ?? ''}`;
    const open = this.folds.get(key);
    if (open && open.closesAt > nowMs) {
      this.fold(open, projectId, at, false);
      return { record: false, retryAfterSeconds: null };
    }
    // The first of its window: recorded as today; later identical ones fold into this entry.
    this.folds.set(key, this.newFold(nowMs, projectId, principal, reason, at));
    return { record: true, retryAfterSeconds: null };
  }

  /** Summaries of the windows closed by nowMs (all of them with everything = true, at shutdown). */
  flushDue(nowMs: number, everything = false): DenialSummary[] {
    const out: DenialSummary[] = [];
    for (const [key, f] of this.folds) {
      if (!everything && f.closesAt > nowMs) continue;
      this.folds.delete(key);
      if (f.count === 0) continue;
      out.push({ projectId: f.projectId, principal: f.principal, reason: f.reason, count: f.count, rateLimited: f.rateLimited, projects: f.projects.size, firstAt: f.firstAt, lastAt: f.lastAt, windowSeconds: this.windowSeconds });
    }
    for (const [who, r] of this.rate) if (r.resetAt <= nowMs) this.rate.delete(who);
    return out;
  }

  private newFold(nowMs: number, projectId: string, principal: PrincipalRecord, reason: DenialReason | 'rate-limited', at: string): Fold {
    return { closesAt: nowMs + this.windowSeconds * 1000, projectId, principal, reason, count: 0, rateLimited: 0, projects: new Set(), firstAt: at, lastAt: at };
  }

  private fold(f: Fold, projectId: string, at: string, rateLimited: boolean) {
    if (f.count === 0) f.firstAt = at;
    f.count++;
    if (rateLimited) f.rateLimited++;
    if (f.projects.size < MAX_PROJECTS_TRACKED) f.projects.add(projectId);
    f.lastAt = at;
  }
}
