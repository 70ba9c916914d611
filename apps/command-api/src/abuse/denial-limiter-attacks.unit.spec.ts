import { DenialReason, PrincipalRecord } from '@app/domain';
import { DenialLimiter } from './denial-limiter';

// Round-3 adversarial review of 54364b2 (issue 18, 3): a principal tries to cause more denial records
// than DENIAL_RATE_PER_MINUTE plus one rate-limited summary per window by mixing what makes a denial
// distinct (project, reason, name), repeating some to open identical-denial folds, batching, and
// timing calls around the windows. Records = recorded SecretAccessDenied + every summary.
const RATE = 20;
const T0 = Date.parse('2026-12-06T00:00:00Z');
const REASONS: DenialReason[] = ['no-grant', 'scope-mismatch', 'grant-expired', 'role-lacks-action'];

/** A deterministic pseudo-random sequence (mulberry32). */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function attack(seed: number, windowSeconds: number, durationMs: number, principal: PrincipalRecord) {
  const r = rng(seed);
  const l = new DenialLimiter(RATE, windowSeconds);
  const perMinute = new Map<number, number>();
  const count = (at: number, n = 1) => perMinute.set(Math.floor((at - T0) / 60_000), (perMinute.get(Math.floor((at - T0) / 60_000)) ?? 0) + n);
  let denials = 0;
  let counted = 0;
  let recorded = 0;
  for (let now = T0; now < T0 + durationMs; now += 1 + Math.floor(r() * 400)) {
    for (const s of l.flushDue(now)) (count(now), (counted += s.count));
    const batch = r() < 0.3 ? 1 + Math.floor(r() * 100) : 1;
    for (let k = 0; k < batch; k++) {
      denials++;
      // a few distinct keys, often repeated: every identical-denial fold that can open, opens
      const v = l.observe(principal, `p${Math.floor(r() * 3)}`, REASONS[Math.floor(r() * REASONS.length)], now, { name: `N${Math.floor(r() * 4)}`, mayRefuse: k === 0 });
      if (v.record) (count(now), recorded++);
    }
  }
  const end = T0 + durationMs;
  for (const s of l.flushDue(end + 3_600_000)) (count(end), (counted += s.count));
  return { perMinute, denials, counted, recorded };
}

describe('round-3 attack: mixing projects, reasons, names, repeats and batches', () => {
  it.each([
    [1, 60],
    [2, 10],
    [3, 1],
    [4, 60],
  ])('seed %i, summary window %i s: every denial is recorded or counted once, and per rate window at most the rate plus the rate-limited summaries of that minute', (seed, windowSeconds) => {
    const { perMinute, denials, counted, recorded } = attack(seed, windowSeconds, 10 * 60_000, { type: 'user', id: 'eve' } as PrincipalRecord);
    expect(denials).toBeGreaterThan(5_000);
    expect(recorded + counted).toBe(denials);
    // Rate windows are fixed minutes from the first denial (here T0): per minute, at most RATE units
    // (each recorded denial and each identical-fold summary paid by one) + one rate-limited summary
    // per summary window that ends in it; a summary flushed at the start of the next minute may
    // carry over, so check two consecutive minutes together.
    const perMinuteBound = RATE + Math.ceil(60 / windowSeconds) + 1;
    const minutes = [...perMinute.keys()].sort((a, b) => a - b);
    for (const m of minutes) expect((perMinute.get(m) ?? 0) + (perMinute.get(m + 1) ?? 0)).toBeLessThanOrEqual(2 * perMinuteBound);
  });

  it('the jobs of one pipeline each have their own budget (documented: a job is keyed by pipeline and job): N jobs, N times the rate', () => {
    const l = new DenialLimiter(RATE, 60);
    let recorded = 0;
    for (let job = 0; job < 50; job++) {
      const p = { type: 'ci-job', id: 'project_path:g/p:ref_type:branch:ref:main', pipelineId: '7', jobId: String(job) } as PrincipalRecord;
      for (let i = 0; i < 100; i++) if (l.observe(p, 'victim', 'no-grant' as DenialReason, T0 + i, { name: `N_${i}` }).record) recorded++;
    }
    expect(recorded).toBe(50 * RATE);
  });

  it('the rate window is fixed, not sliding: the rate at the end of one minute and again at the start of the next (2x in under a second)', () => {
    const l = new DenialLimiter(RATE, 60);
    const eve = { type: 'user', id: 'eve' } as PrincipalRecord;
    l.observe(eve, 'p', 'no-grant' as DenialReason, T0, { name: 'FIRST' });
    let recorded = 1;
    for (let i = 1; i < RATE; i++) if (l.observe(eve, 'p', 'no-grant' as DenialReason, T0 + 59_600, { name: `A_${i}` }).record) recorded++;
    for (let i = 0; i < RATE; i++) if (l.observe(eve, 'p', 'no-grant' as DenialReason, T0 + 60_000, { name: `B_${i}` }).record) recorded++;
    expect(recorded).toBe(2 * RATE);
  });
});
