import { PrincipalRecord } from '@app/domain';
import { DenialLimiter } from './denial-limiter';

// The records a principal can cause (recorded SecretAccessDenied + SecretAccessDenialsSuppressed summaries) stay within the
// denial rate per minute plus one rate-limited summary per summary window, whatever the batch size (issue 18, 3).
const RATE = 60;
const WINDOW_S = 10;
const eve: PrincipalRecord = { type: 'user', id: 'eve' } as PrincipalRecord;

/** Sends `calls` batch calls of `size` denied names each, one every `everyMs`, as SecretAccess.read does (the first denial of a call may refuse it). */
function run(size: number, calls: number, everyMs: number, distinct = true) {
  const l = new DenialLimiter(RATE, WINDOW_S);
  const t0 = Date.parse('2026-12-06T00:00:00Z');
  let recorded = 0;
  let summaries = 0;
  let folded = 0;
  let refused = 0;
  let denials = 0;
  for (let c = 0; c < calls; c++) {
    const now = t0 + c * everyMs;
    for (const s of l.flushDue(now)) (summaries++, (folded += s.count));
    for (let k = 0; k < size; k++) {
      denials++;
      const v = l.observe(eve, 'p', 'no-grant', now, { name: distinct ? `N_${c}_${k}` : `N_${k}`, mayRefuse: k === 0 });
      if (v.record) recorded++;
      if (v.retryAfterSeconds !== null) refused++;
    }
  }
  const end = t0 + calls * everyMs;
  for (const s of l.flushDue(end, true)) (summaries++, (folded += s.count));
  return { recorded, summaries, folded, refused, denials, minutes: Math.max(1, Math.ceil((end - t0) / 60_000)), windows: Math.ceil((end - t0) / 1000 / WINDOW_S) + 1 };
}

describe('DenialLimiter: the records a principal causes stay within the rate, whatever the batch size', () => {
  it.each([
    [1, 600, 100],
    [10, 600, 100],
    [100, 600, 100],
    [100, 60, 1000],
    [100, 3, 0],
  ])('batches of %i names, %i calls every %i ms', (size, calls, everyMs) => {
    for (const distinct of [true, false]) {
      const r = run(size, calls, everyMs, distinct);
      // Nothing lost: every denial is recorded or counted in a summary.
      expect(r.recorded + r.folded).toBe(r.denials);
      // Before the fix a batch of 100 spent one unit and recorded 100: 100 calls a minute were 6000 records.
      expect(r.recorded).toBeLessThanOrEqual(RATE * r.minutes);
      expect(r.recorded + r.summaries).toBeLessThanOrEqual(RATE * r.minutes + r.windows);
    }
  });

  it("a batch's own denials never refuse it: only a call whose first denial is over the rate is refused", () => {
    const l = new DenialLimiter(RATE, WINDOW_S);
    const now = Date.parse('2026-12-06T00:00:00Z');
    const first = Array.from({ length: 100 }, (_, k) => l.observe(eve, 'p', 'no-grant', now, { name: `A_${k}`, mayRefuse: k === 0 }));
    expect(first.filter((v) => v.retryAfterSeconds !== null)).toEqual([]);
    expect(first.filter((v) => v.record)).toHaveLength(RATE);
    const next = l.observe(eve, 'p', 'no-grant', now + 1000, { name: 'B', mayRefuse: true });
    expect(next).toEqual({ record: false, retryAfterSeconds: 59 });
    // A minute later the budget is back.
    expect(l.observe(eve, 'p', 'no-grant', now + 60_000, { name: 'C' })).toEqual({ record: true, retryAfterSeconds: null });
  });
});
