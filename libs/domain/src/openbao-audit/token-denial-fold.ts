// Denials by a token OpenBao knows, in bounded form (round-3 review of issue 18, item 1). A CI job
// token (or any token) reading other projects' paths or missing paths directly from OpenBao gets
// one refusal per request; recorded one by one, a job could write hundreds of permanent audit
// records a second. The API bounds a principal's denials to DENIAL_RATE_PER_MINUTE; the ingester
// does the same per identity (the token's entity, so re-logins get no fresh allowance; else the token): in each fixed 60 s slot of the entries' own times, the first `rate`
// denials of a token are recorded as SecretAccessDenied like any other, the rest are counted and
// folded into ONE SecretAccessDenialsSuppressed (reason `rate-limited`, projectId `*`) when the
// slot closes. The token is OpenBao's HMAC of its accessor (or of the token itself when the entry
// has no accessor, as for an inline-auth read): stable per token, never the token.
// Pure. Which denials are recorded depends only on the file's order from the slot's first line, so
// a re-read from that line decides the same; the summary's id derives from the token and the slot.
// A fold that already closed with a summary is never rebuilt from its middle: the ingester keeps
// the closed (token, slot) pairs (openbao_denial_folds) and skips their lines on a re-read.
import { auditEventId } from './openbao-audit';
import type { OpenBaoKvAccess } from './openbao-audit';
import type { SecretAccessDenialsSuppressed } from '../access/denials-suppressed';
import type { PrincipalRecord } from '../principal';
import { MAX_OPEN_FOLDS } from './unauthenticated-fold';

/** The rate slot of token denials: the API's rate is per minute. */
export const TOKEN_DENIAL_WINDOW_SECONDS = 60;
const MAX_PROJECTS_TRACKED = 1000;

export interface TokenDenialFold<P> {
  /** the token's HMAC'd accessor (or client token), or `*` once MAX_OPEN_FOLDS tokens are open */
  token: string;
  startMs: number;
  firstPosition: P;
  principal: PrincipalRecord;
  recorded: number;
  /** denials over the rate: not recorded one by one */
  folded: number;
  projects: Set<string>;
  firstAt: string | null;
  lastAt: string | null;
}

/** The slot (ms) an instant falls in. */
export function tokenDenialSlot(at: string): number {
  const ms = TOKEN_DENIAL_WINDOW_SECONDS * 1000;
  return Math.floor(Date.parse(at) / ms) * ms;
}

export class TokenDenialFolds<P> {
  private readonly open = new Map<string, TokenDenialFold<P>>();
  constructor(private readonly ratePerMinute: number) {}

  get size(): number {
    return this.open.size;
  }

  /** The open fold key a denial by `token` lands in (`*` when too many tokens are open). */
  keyOf(token: string): string {
    return this.open.has(token) || this.open.size < MAX_OPEN_FOLDS ? token : '*';
  }

  /** Whether a fold of this key and slot is open now. */
  isOpen(key: string, slot: number): boolean {
    return this.open.get(key)?.startMs === slot;
  }

  /**
   * Folds one denial read at `position`: `record` says whether it is recorded one by one (within
   * the rate); `closed` the folds it closed (an earlier slot of the same key).
   */
  add(d: OpenBaoKvAccess, key: string, principal: PrincipalRecord, position: P): { record: boolean; closed: TokenDenialFold<P>[] } {
    const closed: TokenDenialFold<P>[] = [];
    const slot = tokenDenialSlot(d.at);
    let f = this.open.get(key);
    if (f && slot > f.startMs) {
      closed.push(f);
      this.open.delete(key);
      f = undefined;
    }
    if (!f) {
      f = { token: key, startMs: slot, firstPosition: position, principal, recorded: 0, folded: 0, projects: new Set(), firstAt: null, lastAt: null };
      this.open.set(key, f);
    }
    if (f.recorded < this.ratePerMinute) {
      f.recorded++;
      return { record: true, closed };
    }
    f.folded++;
    if (f.projects.size < MAX_PROJECTS_TRACKED) f.projects.add(d.projectId);
    if (f.firstAt === null || d.at < f.firstAt) f.firstAt = d.at;
    if (f.lastAt === null || d.at > f.lastAt) f.lastAt = d.at;
    return { record: false, closed };
  }

  /** Removes and returns the folds whose slot closed by `nowMs - graceMs` (all of them with everything). */
  due(nowMs: number, graceMs: number, everything = false): TokenDenialFold<P>[] {
    const out: TokenDenialFold<P>[] = [];
    for (const [k, f] of this.open) {
      if (everything || f.startMs + TOKEN_DENIAL_WINDOW_SECONDS * 1000 + graceMs <= nowMs) {
        out.push(f);
        this.open.delete(k);
      }
    }
    return out;
  }

  openPositions(): P[] {
    return [...this.open.values()].map((f) => f.firstPosition);
  }

  clear(): void {
    this.open.clear();
  }

  /** The id of a (token, slot)'s summary, and of its closed marker. */
  static foldId(token: string, startMs: number): string {
    return auditEventId(`${token}\n${new Date(startMs).toISOString()}\n${TOKEN_DENIAL_WINDOW_SECONDS}`, 'OpenBaoTokenDenials');
  }

  /** The summary of a closed fold, or null when nothing was folded (every denial was recorded). */
  summaryEvent(f: TokenDenialFold<unknown>): { eventId: string; type: 'SecretAccessDenialsSuppressed'; data: SecretAccessDenialsSuppressed['data']; occurredAt: string } | null {
    if (f.folded === 0 || f.firstAt === null || f.lastAt === null) return null;
    return {
      eventId: TokenDenialFolds.foldId(f.token, f.startMs),
      type: 'SecretAccessDenialsSuppressed',
      data: {
        projectId: '*',
        principal: f.principal,
        reason: 'rate-limited',
        count: f.folded,
        rateLimited: f.folded,
        projects: f.projects.size,
        firstAt: f.firstAt,
        lastAt: f.lastAt,
        windowSeconds: TOKEN_DENIAL_WINDOW_SECONDS,
      },
      occurredAt: f.lastAt,
    };
  }
}
