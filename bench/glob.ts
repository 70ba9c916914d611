// Worst-case cost of the scope-glob engine at the API's maximum lengths (255-character globs with
// MAX_GLOB_WILDCARDS wildcards, 255-character inputs), beside picomatch on the example
// when picomatch is installed. Run: npm run bench:glob
import { globCoversUncached as globCovers, globMatches } from '@app/domain/glob';
import { MAX_GLOB_LENGTH, MAX_GLOB_WILDCARDS, GLOB_PATTERN } from '@app/domain/limits';

/** Per-call times over `iterations` calls: median, p99 and the single slowest (which, on a shared box, includes GC and scheduling). */
let worstP99 = 0;
function time(label: string, f: () => unknown, iterations = 400): number {
  for (let i = 0; i < 20; i++) f();
  const ms: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const a = process.hrtime.bigint();
    f();
    ms.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(`${label.padEnd(58)} p50 ${p(0.5).toFixed(4)}  mean ${mean.toFixed(4)}  p99 ${p(0.99).toFixed(4)}  max ${ms[ms.length - 1].toFixed(4)} ms`);
  worstP99 = Math.max(worstP99, p(0.99));
  return mean;
}
const pad = (s: string, ch = 'a') => s + ch.repeat(MAX_GLOB_LENGTH - s.length);
const check = (g: string) => {
  if (!GLOB_PATTERN.test(g)) throw new Error(`not a valid glob: ${g.slice(0, 40)}…`);
  return g;
};

const W = MAX_GLOB_WILDCARDS;
// Matching: the shape, stretched to the limits.
const redos = check(('*a'.repeat(W - 1) + '*b').padStart(MAX_GLOB_LENGTH, 'a'));
const input = 'a'.repeat(MAX_GLOB_LENGTH);
const globs: [string, string][] = [
  [`*a*a…*b (${W} stars) vs 255 × a`, redos],
  [`?×${W} then literals vs 255 × a`, check(pad('?'.repeat(W)))],
  [`**/ × ${W / 2} vs 255 × a`, check(pad('**/'.repeat(W / 2), 'a'))],
];
let worstMatch = 0;
for (const [label, g] of globs) worstMatch = Math.max(worstMatch, time(`match ${label}`, () => globMatches(g, input)));
worstMatch = Math.max(worstMatch, time('match *a*a*a*a*a*a*b vs 60 × a (issue example)', () => globMatches('*a*a*a*a*a*a*b', 'a'.repeat(60))));

// Containment: the subset construction's known bad shapes (a `*` followed by `?`s).
const covers: [string, string, string][] = [
  [`*a?…(${W - 1} ?) covers **`, check(pad('*a' + '?'.repeat(W - 1), 'b')), '**'],
  ['** covers *a*a…*b', '**', redos],
  ['*a*a…*b covers *a*a…*b′', redos, check(redos.slice(0, -1) + 'c')],
  ['*?*?… covers **?**?…', check(pad('*?'.repeat(W / 2))), check(pad('**?'.repeat(2)))],
  [`*a?…(${W - 1} ?) covers *a*b (2^${W - 1} grant subsets)`, check(('*a' + '?'.repeat(W - 1)).padStart(MAX_GLOB_LENGTH, 'a')), check(('*a*b').padStart(MAX_GLOB_LENGTH, 'a'))],
  [`*a?…(${W - 1} ?) covers *`, check('*a' + '?'.repeat(W - 1)), '*'],
  ['??…? covers *', check(pad('?'.repeat(W))), '*'],
  [`a*a*…(${W} *) covers a**a**…(${W / 2} **)`, check(pad('a*'.repeat(W))), check(pad('a**'.repeat(W / 2)))],
];
let worstCover = 0;
for (const [label, g, s] of covers) worstCover = Math.max(worstCover, time(`covers ${label}`, () => globCovers(g, s)));

console.log(`\nworst shape, mean per call: match ${worstMatch.toFixed(3)} ms, containment ${worstCover.toFixed(3)} ms (target < 1 ms); worst p99 ${worstP99.toFixed(3)} ms`);

try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const picomatch = require('picomatch');
  const m = picomatch('*a*a*a*a*a*a*b', { nobrace: true, noextglob: true, nonegate: true, dot: true });
  const t = process.hrtime.bigint();
  m('a'.repeat(30));
  console.log(`picomatch, issue example at 30 × a (60 takes ~12 s): ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`);
} catch {
  console.log('picomatch is not installed: no comparison');
}
