import { Inject, Injectable } from '@nestjs/common';
import {
  AccessRequest,
  accessRequestDecider,
  AccessRequestStatus,
  AccessRequestStreamEvent,
  AccessRequestStreamState,
  accessRequestStatusAt,
  ApprovalClaim,
  EventStore,
  Position,
  StreamCategory,
} from '@app/domain';
import { EVENT_STORE } from '@app/infra/nest/tokens';
import { StreamStateCache } from '../application/stream-state-cache';

const PAGE = 1000;

interface Entry {
  request: AccessRequest;
  /** Revision of the last event of the request's own stream applied (-1 for a legacy request of the policy stream). */
  revision: number;
  claim: ApprovalClaim | null;
  legacy: boolean;
}

export interface RequestPage {
  items: AccessRequest[];
  /** Opaque: pass back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/**
 * Where a page resumes: the request it ended with, by (requestedAt, requestId). The same order on
 * every replica (whatever order each learnt the requests in), so a cursor works across them.
 */
export interface RequestKey {
  at: string;
  id: string;
}
const compareKeys = (a: RequestKey, b: RequestKey) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const keyOf = (r: Pick<AccessRequest, 'requestedAt' | 'requestId'>): RequestKey => ({ at: r.requestedAt, id: r.requestId });
export const encodeRequestCursor = (k: RequestKey) => Buffer.from(`${k.at} ${k.id}`, 'utf8').toString('base64url');
export function decodeRequestCursor(cursor: unknown): RequestKey | null {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]{1,160}$/.test(cursor)) return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z) ([A-Za-z0-9-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? { at: m[1], id: m[2] } : null;
}

/**
 * Every access request, read forward from the event store (the requests' own streams, and the
 * policy streams for the approvals and the requests recorded there before issue 18). Each use
 * first catches up with everything committed, so a bound counts and a list shows every request the
 * store holds; what this process appends is applied at once too (readAll may hold back an event
 * while an older transaction is still open). In memory: a few hundred bytes a request.
 */
@Injectable()
export class AccessRequestIndex {
  private after?: Position;
  private readonly byId = new Map<string, Entry>();
  private readonly byProject = new Map<string, Entry[]>();
  private readonly byRequester = new Map<string, Entry[]>();
  private readonly approvals = new Map<string, { grantId: string; approvedBy: string; approvedAt: string; comment: string | null; grantExpiresAt: string }>();
  private catching: Promise<void> | null = null;

  /** The requests' own streams, folded for command handling (the policy is handed in per decision). */
  readonly streams: StreamStateCache<AccessRequestStreamState, AccessRequestStreamEvent>;

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {
    this.streams = new StreamStateCache(store, { initialState: accessRequestDecider.initialState, evolve: (s, e) => accessRequestDecider.evolve(s, e) });
  }

  /** Reads what was committed since the last call (one reader at a time; callers share it). */
  catchUp(): Promise<void> {
    if (!this.catching) {
      this.catching = this.readForward().finally(() => {
        this.catching = null;
      });
    }
    return this.catching;
  }

  private async readForward(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll({ after: this.after, maxCount: PAGE, streamPrefixes: [`${StreamCategory.accessRequest}-`, `${StreamCategory.project}-`] });
      for (const e of page) this.apply(e.streamName.startsWith(`${StreamCategory.project}-`), e.type, e.data, e.revision);
      if (page.length > 0) this.after = page[page.length - 1].position;
      if (page.length < PAGE) return;
    }
  }

  /** An event this process has just appended (revision: of the request's own stream). */
  applyOwn(type: string, data: Record<string, unknown>, revision: number): void {
    this.apply(false, type, data, revision);
  }

  /** An approval this process has just appended on the policy stream. */
  applyApproval(data: Record<string, unknown>): void {
    this.apply(true, 'AccessRequestApproved', data, -1);
  }

  private apply(onPolicyStream: boolean, type: string, data: Record<string, unknown>, revision: number): void {
    const requestId = typeof data.requestId === 'string' ? data.requestId : null;
    if (!requestId) return;
    if (type === 'AccessRequestApproved') {
      const d = data as { grantId: string; approvedBy: string; approvedAt: string; comment: string | null; grantExpiresAt: string };
      this.approvals.set(requestId, { grantId: d.grantId, approvedBy: d.approvedBy, approvedAt: d.approvedAt, comment: d.comment, grantExpiresAt: d.grantExpiresAt });
      return;
    }
    const known = this.byId.get(requestId);
    if (onPolicyStream) {
      // Legacy requests of the policy stream: folded in the stream's order (catch-up only).
      if (type !== 'AccessRequested' && !known?.legacy) return;
    } else if (known && !known.legacy && revision <= known.revision) {
      return; // seen already (applied by this process, then read back)
    }
    if (type === 'AccessRequested') {
      if (known) return;
      const d = data as unknown as Omit<AccessRequest, 'status' | 'decidedBy' | 'decidedAt' | 'comment' | 'grantId' | 'grantExpiresAt'>;
      const entry: Entry = {
        // The requester's groups stay on the stream (four-eyes reads them there), not in this index.
        request: { ...d, requesterGroups: [], status: 'pending', decidedBy: null, decidedAt: null, comment: null, grantId: null, grantExpiresAt: null },
        revision,
        claim: null,
        legacy: onPolicyStream,
      };
      this.byId.set(requestId, entry);
      const list = this.byProject.get(d.projectId) ?? [];
      // Kept in key order; new requests almost always go last.
      let at = list.length;
      while (at > 0 && compareKeys(keyOf(list[at - 1].request), keyOf(entry.request)) > 0) at--;
      list.splice(at, 0, entry);
      this.byProject.set(d.projectId, list);
      const mine = this.byRequester.get(d.requester.id) ?? [];
      mine.push(entry);
      this.byRequester.set(d.requester.id, mine);
      return;
    }
    if (!known) return;
    if (!known.legacy) known.revision = revision;
    const r = known.request;
    switch (type) {
      case 'AccessRequestApprovalClaimed':
        known.claim = { claimId: String(data.claimId), claimedBy: String(data.claimedBy), claimedAt: String(data.claimedAt) };
        return;
      case 'AccessRequestApprovalReleased':
        if (known.claim?.claimId === data.claimId) known.claim = null;
        return;
      case 'AccessRequestDenied':
        known.request = { ...r, status: 'denied', decidedBy: String(data.deniedBy), decidedAt: String(data.deniedAt), comment: String(data.comment) };
        return;
      case 'AccessRequestCancelled':
        known.request = { ...r, status: 'cancelled', decidedBy: r.requester.id, decidedAt: String(data.cancelledAt) };
        return;
      case 'AccessRequestExpired':
        known.request = { ...r, status: 'expired', decidedAt: String(data.recordedAt) };
        return;
    }
  }

  /** The request as it stands: approved when its approval is on the policy stream. */
  private view(e: Entry): AccessRequest {
    const a = this.approvals.get(e.request.requestId);
    if (!a) return e.request;
    return { ...e.request, status: 'approved', decidedBy: a.approvedBy, decidedAt: a.approvedAt, comment: a.comment, grantId: a.grantId, grantExpiresAt: a.grantExpiresAt };
  }

  private isPending(e: Entry, now: string): boolean {
    return accessRequestStatusAt(this.view(e), now) === 'pending';
  }

  /** Pending requests of one requester (every project) and of one project, at `now`. */
  pendingCounts(requesterId: string, projectId: string, now: string): { ofRequester: number; inProject: number } {
    let ofRequester = 0;
    for (const e of this.byRequester.get(requesterId) ?? []) if (this.isPending(e, now)) ofRequester++;
    let inProject = 0;
    for (const e of this.byProject.get(projectId) ?? []) if (this.isPending(e, now)) inProject++;
    return { ofRequester, inProject };
  }

  /** A page of a project's requests in the order they were made, optionally only one requester's, of one status. */
  page(projectId: string, filter: { requesterId?: string; status?: AccessRequestStatus }, limit: number, after: RequestKey | null, now: string): RequestPage {
    const list = this.byProject.get(projectId) ?? [];
    // First entry after the cursor (binary search: the list is in key order).
    let lo = 0;
    let hi = list.length;
    while (after !== null && lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(keyOf(list[mid].request), after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const items: AccessRequest[] = [];
    let more = false;
    for (let i = lo; i < list.length; i++) {
      const e = list[i];
      if (filter.requesterId !== undefined && e.request.requester.id !== filter.requesterId) continue;
      const v = this.view(e);
      if (filter.status !== undefined && accessRequestStatusAt(v, now) !== filter.status) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(v);
    }
    return { items, nextCursor: more && items.length > 0 ? encodeRequestCursor(keyOf(items[items.length - 1])) : null };
  }

  /** The cursor that resumes a page after this request. */
  cursorOf(r: Pick<AccessRequest, 'requestedAt' | 'requestId'>): string {
    return encodeRequestCursor(keyOf(r));
  }

  /** Pending requests whose time has run out, and claims older than `claimsBefore` that no approval followed. */
  due(now: string, claimsBefore: string): { expired: Array<{ projectId: string; requestId: string; legacy: boolean }>; staleClaims: Array<{ projectId: string; requestId: string; claimId: string }> } {
    const expired: Array<{ projectId: string; requestId: string; legacy: boolean }> = [];
    const staleClaims: Array<{ projectId: string; requestId: string; claimId: string }> = [];
    const nowMs = Date.parse(now);
    for (const e of this.byId.values()) {
      const v = this.view(e);
      if (v.status !== 'pending') continue;
      if (e.claim !== null) {
        if (Date.parse(e.claim.claimedAt) < Date.parse(claimsBefore)) staleClaims.push({ projectId: v.projectId, requestId: v.requestId, claimId: e.claim.claimId });
      } else if (Date.parse(v.expiresAt) <= nowMs) {
        expired.push({ projectId: v.projectId, requestId: v.requestId, legacy: e.legacy });
      }
    }
    return { expired, staleClaims };
  }
}
