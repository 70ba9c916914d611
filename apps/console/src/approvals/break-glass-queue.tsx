import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { Ctx, ErrorNote } from '../app';
import { fmtTime } from '../format';

/** Break-glasses awaiting review; reviewing is for manage-grants holders other than the breaker. */
export function BreakGlassQueue({ ctx, project, canReview }: { ctx: Ctx; project: string; canReview: boolean }) {
  const [items, setItems] = useState<api.BreakGlass[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api.breakGlasses(project, false).then((r) => setItems(r.items), setError);
  }, [project, tick]);
  const review = async (b: api.BreakGlass, outcome: 'justified' | 'unjustified', comment: string) => {
    try {
      await api.reviewBreakGlass(project, b.grantId, outcome, comment);
      setTick((t) => t + 1);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="bg-title">
      <h2 id="bg-title">Break-glass to review</h2>
      <ErrorNote error={error} />
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
                <label>Outcome <select name="outcome"><option value="justified">justified</option><option value="unjustified">unjustified</option></select></label>
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
