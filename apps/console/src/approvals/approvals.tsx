import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote, ProjectPicker } from '../app';
import { fmtTime } from '../format';
import { SignIn } from '../signin/sign-in';
import { BreakGlassQueue } from './break-glass-queue';

/** Pending and closed requests; the impact of approving; approve / deny with a comment (re-sign-in after 10 minutes). */
export function Approvals({ ctx }: { ctx: Ctx }) {
  const project = ctx.project!;
  const mine = ctx.me.projects.find((p) => p.projectId === project);
  const canDecide = mine?.actions.includes('manage-grants') ?? false;
  const [pendingItems, setPending] = useState<api.AccessRequest[] | null>(null);
  // Closed requests page by page (the API's cursor over every request, pending ones left out here).
  const [closed, setClosed] = useState<api.AccessRequest[]>([]);
  const [closedCursor, setClosedCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  // Outcomes live here, not in the card: a decided request leaves the pending list at once.
  const [outcome, setOutcome] = useState('');
  const loadClosed = (cursor?: string) =>
    api.accessRequests(project, undefined, cursor).then((r) => {
      setClosed((c) => [...(cursor ? c : []), ...r.items.filter((i) => i.status !== 'pending')]);
      setClosedCursor(r.nextCursor);
    }, setError);
  useEffect(() => {
    // Every pending request (bounded by the API), not only a first page.
    api.allPendingRequests(project).then(setPending, setError);
    void loadClosed();
  }, [project, tick]);

  const items = pendingItems;
  const pending = pendingItems ?? [];
  return (
    <>
      <h1>Approvals</h1>
      <ProjectPicker ctx={ctx} screen="approvals" />
      <ErrorNote error={error} />
      <p role="status">{outcome}</p>
      <h2>Pending requests</h2>
      {items && pending.length === 0 && <p>No request waits.</p>}
      {pending.map((r) => (
        <RequestCard key={r.requestId} ctx={ctx} project={project} r={r} canDecide={canDecide} onDone={(m) => {
          setOutcome(m);
          setTick((t) => t + 1);
        }} />
      ))}
      <h2>Closed requests</h2>
      {closed.length === 0 ? (
        <p>None.</p>
      ) : (
        <table>
          <caption>Decided, cancelled and expired requests</caption>
          <thead>
            <tr><th scope="col">Requester</th><th scope="col">Role</th><th scope="col">Reason</th><th scope="col">Status</th><th scope="col">Decided by</th><th scope="col">Comment</th></tr>
          </thead>
          <tbody>
            {closed.map((r) => (
              <tr key={r.requestId}><td>{r.requester.id}</td><td>{r.role}</td><td>{r.reason}</td><td>{r.status}</td><td>{r.decidedBy ?? '—'}</td><td>{r.comment ?? '—'}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {closedCursor && (
        <button type="button" onClick={() => void loadClosed(closedCursor)}>
          Load older requests
        </button>
      )}
      {(canDecide || mine?.actions.includes('read-audit')) && <BreakGlassQueue ctx={ctx} project={project} canReview={canDecide} />}
    </>
  );
}

function RequestCard({ ctx, project, r, canDecide, onDone }: { ctx: Ctx; project: string; r: api.AccessRequest; canDecide: boolean; onDone: (outcome: string) => void }) {
  const [impact, setImpact] = useState<Awaited<ReturnType<typeof api.impact>> | null>(null);
  const [comment, setComment] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [reauth, setReauth] = useState<null | (() => Promise<void>)>(null);
  const own = r.requester.id === ctx.me.principal.id;
  const viaGroup = !own && ctx.session.principal?.groups.some((g) => g === r.requester.id);
  useEffect(() => {
    api.impact(project, r.requestId).then(setImpact, setError);
  }, [r.requestId]);

  const decide = async (what: 'approve' | 'deny') => {
    setError(null);
    const run = async () => {
      if (what === 'approve') {
        const g = await api.approve(project, r.requestId, comment);
        onDone(`Approved ${r.requester.id}'s request: grant ${g.grantId} until ${fmtTime(g.expiresAt)}`);
      } else {
        await api.deny(project, r.requestId, comment);
        onDone(`Denied ${r.requester.id}'s request`);
      }
    };
    try {
      await run();
    } catch (e) {
      if (e instanceof api.ApiError && e.needsRecentSignIn) setReauth(() => run);
      else setError(e);
    }
  };

  const id = `req-${r.requestId}`;
  return (
    <article class="card" aria-labelledby={id}>
      <h3 id={id}>
        {r.requester.id} asks for {r.role}
        {r.environment ? ` (environment ${r.environment})` : ''}
        {r.branch ? ` (branch ${r.branch})` : ''} for {Math.round(r.durationSeconds / 60)} min
      </h3>
      <p>Reason: {r.reason}</p>
      <p>Asked {fmtTime(r.requestedAt)}</p>
      <section aria-label={`Impact of approving ${r.requester.id}'s request`}>
        <h4>If you approve</h4>
        {impact ? (
          <p>
            {r.requester.id} could read {impact.wouldRead.length === 0 ? 'no secret' : impact.wouldRead.map((s) => s.name).join(', ')}
            {impact.wouldManage ? ' and would manage grants (owner powers)' : ''}.
          </p>
        ) : (
          <p>Computing…</p>
        )}
      </section>
      {own && <p class="warning">This is your own request: someone else must decide it (four eyes).</p>}
      {viaGroup && <p class="warning">You may be refused: four eyes needs an owner grant of your own, not one through a group the requester is in.</p>}
      {!canDecide && !own && <p>You cannot decide requests on this project (no manage-grants).</p>}
      {canDecide && !own && (
        <div class="decide">
          <label>
            Comment
            <textarea value={comment} onInput={(e) => setComment((e.currentTarget as HTMLTextAreaElement).value)} rows={2} />
          </label>
          <button type="button" onClick={() => void decide('approve')}>Approve {r.requester.id}'s request</button>
          <button type="button" onClick={() => void decide('deny')} disabled={comment.trim() === ''} aria-describedby={`${id}-deny-help`}>
            Deny {r.requester.id}'s request
          </button>
          <span id={`${id}-deny-help`} class="note"> A denial needs a comment.</span>
        </div>
      )}
      {reauth && (
        <div role="alert" class="reauth">
          <p>Your sign-in is older than 10 minutes: sign in again to decide.</p>
          <SignIn
            methods={ctx.session.methods}
            reauthFor={ctx.me.principal.id}
            onDone={async () => {
              const again = reauth;
              setReauth(null);
              await ctx.refreshSession();
              try {
                await again();
              } catch (e) {
                setError(e);
              }
            }}
          />
        </div>
      )}
      <ErrorNote error={error} />
    </article>
  );
}
