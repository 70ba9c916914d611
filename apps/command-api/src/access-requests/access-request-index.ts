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
  /** Order of recording (the same on every replica: the global log's order). */
  seq: number;
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

/** base64url of the sequence number after which the next page starts. */
export const encodeRequestCursor = (seq: number) => Buffer.from(`r${seq}`, 'utf8').toString('base64url');
export function decodeRequestCursor(cursor: unknown): number | null {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]{1,24}$/.test(cursor)) return null;
  const m = /^r(\d{1,12})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : null;
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
  private seq = 0;
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
        seq: this.seq++,
        revision,
        claim: null,
        legacy: onPolicyStream,
      };
      this.byId.set(requestId, entry);
      const list = this.byProject.get(d.projectId) ?? [];
      list.push(entry);
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
  page(projectId: string, filter: { requesterId?: string; status?: AccessRequestStatus }, limit: number, afterSeq: number | null, now: string): RequestPage {
    const items: AccessRequest[] = [];
    let last: number | null = null;
    let more = false;
    for (const e of this.byProject.get(projectId) ?? []) {
      if (afterSeq !== null && e.seq <= afterSeq) continue;
      if (filter.requesterId !== undefined && e.request.requester.id !== filter.requesterId) continue;
      const v = this.view(e);
      if (filter.status !== undefined && accessRequestStatusAt(v, now) !== filter.status) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(v);
      last = e.seq;
    }
    return { items, nextCursor: more && last !== null ? encodeRequestCursor(last) : null };
  }

  /** The cursor that resumes a page after this request. */
  cursorOf(requestId: string): string {
    return encodeRequestCursor(this.byId.get(requestId)?.seq ?? -1);
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
