import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote } from '../app';
import { fmtTime } from '../format';
import { SignIn } from '../signin/sign-in';

/** Break-glasses awaiting review; reviewing is for manage-grants holders other than the breaker. */
export function BreakGlassQueue({ ctx, project, canReview }: { ctx: Ctx; project: string; canReview: boolean }) {
  const [items, setItems] = useState<api.BreakGlass[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const [reauth, setReauth] = useState<null | (() => Promise<void>)>(null);
  const [done, setDone] = useState('');
  useEffect(() => {
    api.breakGlasses(project, false).then((r) => setItems(r.items), setError);
  }, [project, tick]);
  const review = async (b: api.BreakGlass, outcome: 'justified' | 'unjustified', comment: string) => {
    setError(null);
    const run = async () => {
      await api.reviewBreakGlass(project, b.grantId, outcome, comment);
      setDone(`Reviewed ${b.principal.id}'s break-glass: ${outcome}`);
      setTick((t) => t + 1);
    };
    try {
      await run();
    } catch (e) {
      // Reviewing needs a sign-in younger than 10 minutes, as approving does.
      if (e instanceof api.ApiError && e.needsRecentSignIn) setReauth(() => run);
      else setError(e);
    }
  };
  return (
    <section aria-labelledby="bg-title">
      <h2 id="bg-title">Break-glass to review</h2>
      <ErrorNote error={error} />
      <p role="status">{done}</p>
      {reauth && (
        <div role="alert" class="reauth">
          <p>Your sign-in is older than 10 minutes: sign in again to review.</p>
          <SignIn
            methods={ctx.session.methods}
            reauthFor={ctx.me.principal.id}
            onDone={async () => {
              const again = reauth;
              setReauth(null);
              await ctx.refreshSession();
              await again().catch(setError);
            }}
          />
        </div>
      )}
      {items?.length === 0 && <p>None.</p>}
      <ul>
        {items?.map((b) => (
          <li key={b.grantId}>
            {b.principal.id} broke the glass {fmtTime(b.invokedAt)}: {b.reason}
            {canReview && b.principal.id !== ctx.me.principal.id && (
              <form
                class="inline"
                onSubmit={(e) => {
                  e.preventDefault();
                  const f = new FormData(e.currentTarget as HTMLFormElement);
                  void review(b, f.get('outcome') === 'unjustified' ? 'unjustified' : 'justified', String(f.get('comment') ?? ''));
                }}
              >
                <label>Outcome of {b.principal.id}'s break-glass <select name="outcome"><option value="justified">justified</option><option value="unjustified">unjustified</option></select></label>
                <label>Comment <input name="comment" required /></label>
                <button type="submit">Record review</button>
              </form>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
