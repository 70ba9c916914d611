// Unauthenticated denials in bounded form (issue 18, item 4). A request with no token, or one
// OpenBao does not know, can be sent by anyone who reaches OpenBao, for any path: recorded one by
// one, it would let a stranger write without bound into the service's audit. So none is recorded
// alone: the ingester folds them per remote address and window into ONE summary event, the
// representation the API uses for folded denials (SecretAccessDenialsSuppressed), in a stream of
// no project (`access-*`, projectId `*`: only global auditors see it, and no stranger chooses
// which project's trail it lands in). Pure: windows are fixed slots of the entries' own times
// (floor(time / window)), and the summary's event id derives from the address and the slot, so
// re-reading any part of a window (a restart resumes at the first line of the earliest OPEN window,
// which may be in the middle of another address's closed one) yields the id already stored: a
// re-read never adds a second summary for a window, nor counts a line twice.
import { auditEventId } from './openbao-audit';
import type { OpenBaoUnauthenticatedDenial } from './openbao-audit';
import type { SecretAccessDenialsSuppressed } from '../access/denials-suppressed';

/** projectId of an unauthenticated summary: no project can have it (the same as drift events). */
export const OPENBAO_UNAUTHENTICATED_PROJECT = '*';
/** Principal id prefix of an unauthenticated summary: `openbao-unauthenticated:<remote address>`. */
export const OPENBAO_UNAUTHENTICATED_PRINCIPAL = 'openbao-unauthenticated:';
/** At most this many remote addresses are folded apart in one window; the rest share one fold (`*`). */
export const MAX_OPEN_FOLDS = 1_000;
const MAX_PROJECTS_TRACKED = 1000;

export interface UnauthenticatedFold<P> {
  remote: string;
  /** the window's slot: [startMs, startMs + window), startMs a multiple of the window */
  startMs: number;
  firstRequestId: string;
  /** where the first folded line is (the ingester's resume point while the fold is open) */
  firstPosition: P;
  count: number;
  projects: Set<string>;
  firstAt: string;
  lastAt: string;
}

/**
 * Open folds, one per remote address. `add` returns the folds a new entry closed (a later
 * window of the same address); `due` the ones whose window ended `graceMs` before the latest time
 * (an entry's or the clock's). Each closed fold becomes one event (summaryEvent).
 */
export class UnauthenticatedFolds<P> {
  private readonly open = new Map<string, UnauthenticatedFold<P>>();
  constructor(private readonly windowSeconds: number) {}

  get size(): number {
    return this.open.size;
  }

  /** Folds one denial read at `position`; returns any fold it closed. */
  add(d: OpenBaoUnauthenticatedDenial, position: P): UnauthenticatedFold<P>[] {
    const closed: UnauthenticatedFold<P>[] = [];
    const ms = this.windowSeconds * 1000;
    const slot = Math.floor(Date.parse(d.at) / ms) * ms;
    let remote = d.remoteAddress ?? 'unknown';
    if (!this.open.has(remote) && this.open.size >= MAX_OPEN_FOLDS) remote = '*';
    let f = this.open.get(remote);
    // A later window closes this one; an entry of an earlier one (written slightly out of order) joins the open one.
    if (f && slot > f.startMs) {
      closed.push(f);
      this.open.delete(remote);
      f = undefined;
    }
    if (!f) {
      f = { remote, startMs: slot, firstRequestId: d.requestId, firstPosition: position, count: 0, projects: new Set(), firstAt: d.at, lastAt: d.at };
      this.open.set(remote, f);
    }
    f.count++;
    if (f.projects.size < MAX_PROJECTS_TRACKED) f.projects.add(d.projectId);
    if (d.at > f.lastAt) f.lastAt = d.at;
    return closed;
  }

  /** Removes and returns the folds whose window closed by `nowMs - graceMs` (all of them with everything). */
  due(nowMs: number, graceMs: number, everything = false): UnauthenticatedFold<P>[] {
    const out: UnauthenticatedFold<P>[] = [];
    for (const [k, f] of this.open) {
      if (everything || f.startMs + this.windowSeconds * 1000 + graceMs <= nowMs) {
        out.push(f);
        this.open.delete(k);
      }
    }
    return out;
  }

  /** The positions of the open folds' first lines (what must be read again after a restart). */
  openPositions(): P[] {
    return [...this.open.values()].map((f) => f.firstPosition);
  }

  clear(): void {
    this.open.clear();
  }

  /** The summary event of a closed fold: one id per address and window, however much of it is read again. */
  summaryEvent(f: UnauthenticatedFold<unknown>): { eventId: string; type: 'SecretAccessDenialsSuppressed'; data: SecretAccessDenialsSuppressed['data']; occurredAt: string } {
    return {
      eventId: auditEventId(`${f.remote}\n${new Date(f.startMs).toISOString()}\n${this.windowSeconds}`, 'OpenBaoUnauthenticatedDenials'),
      type: 'SecretAccessDenialsSuppressed',
      data: {
        projectId: OPENBAO_UNAUTHENTICATED_PROJECT,
        principal: { type: 'user', id: `${OPENBAO_UNAUTHENTICATED_PRINCIPAL}${f.remote}` },
        reason: 'openbao-denied',
        count: f.count,
        rateLimited: 0,
        projects: f.projects.size,
        firstAt: f.firstAt,
        lastAt: f.lastAt,
        windowSeconds: this.windowSeconds,
      },
      occurredAt: f.lastAt,
    };
  }
}
