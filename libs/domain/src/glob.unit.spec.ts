import { globCovers, globCoversUncached, globMatches, MAX_COVER_STATES, wildcardCount } from './glob';
import { GLOB_PATTERN, MAX_GLOB_LENGTH, MAX_GLOB_WILDCARDS } from './limits';

// Scope globs mean only `*` (within one path segment), `**` (across segments) and `?`.
describe('globMatches', () => {
  it.each([
    ['main', 'main', true],
    ['main', 'main2', false],
    ['release/*', 'release/1.2', true],
    ['release/*', 'release/1/2', false],
    ['release/**', 'release/1/2', true],
    ['release/**', 'release/', true],
    ['release/**', 'release', false],
    ['**/x', 'a/b/x', true],
    ['**/x', '/x', true],
    ['**/x', 'x', false],
    ['release/', 'release/', true],
    ['release/', 'release', false],
    ['*', '', true],
    ['?', '', false],
    ['**', '', true],
    ['**', 'a/b/c', true],
    ['***', 'a/b', true],
    ['*', 'a/b', false],
    ['*/', 'a/', true],
    ['prod*', 'production', true],
    ['prod*', 'preprod', false],
    ['review/?', 'review/a', true],
    ['review/?', 'review/ab', false],
    ['review/?', 'review//', false],
    ['*', 'anything', true],
    ['*', '.hidden', true],
    ['.', 'a', false],
    ['a?c', 'a\u{1F600}c', true], // one code point
    ['a?c', 'a\uD800c', true], // a lone surrogate is one character, not an error
    ['a*', 'a\uDFFF\uD800', true],
    ['a\uD800', 'a\uD800', true],
    // Brace, extglob and negation syntax is not special: the validators refuse those characters
    // anyway, and here they never widen a scope.
    ['{main,dev}', 'main', false],
    ['!main', 'dev', false],
    ['[ab]', 'a', false],
    ['+(a)', 'a', false],
  ])('%s vs %s → %s', (glob, value, expected) => {
    expect(globMatches(glob, value)).toBe(expected);
  });

  it('the empty glob matches only the empty string', () => {
    expect(globMatches('', '')).toBe(true);
    expect(globMatches('', 'a')).toBe(false);
  });

  // A reference matcher written straight from the documented semantics (exponential, fine at
  // these sizes), against the engine on random globs and every short string.
  it('agrees with a by-the-definition reference matcher', () => {
    const ref = (g: string, v: string): boolean => {
      if (g === '') return v === '';
      if (g.startsWith('**')) {
        const rest = g.replace(/^\*+/, '');
        for (let i = 0; i <= v.length; i++) if (ref(rest, v.slice(i))) return true;
        return false;
      }
      if (g[0] === '*') {
        for (let i = 0; i <= v.length; i++) {
          if (ref(g.slice(1), v.slice(i))) return true;
          if (v[i] === '/') return false;
        }
        return false;
      }
      if (v === '') return false;
      if (g[0] === '?') return v[0] !== '/' && ref(g.slice(1), v.slice(1));
      return g[0] === v[0] && ref(g.slice(1), v.slice(1));
    };
    const alphabet = ['a', 'b', '/'];
    const words = [''];
    for (let len = 1, f = ['']; len <= 5; len++) words.push(...(f = f.flatMap((w) => alphabet.map((c) => w + c))));
    let seed = 3;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >>> 0) % n;
    const pieces = ['a', 'b', '/', '*', '**', '?'];
    for (let i = 0; i < 300; i++) {
      const g = Array.from({ length: 1 + rand(5) }, () => pieces[rand(pieces.length)]).join('');
      for (const w of words) if (globMatches(g, w) !== ref(g, w)) throw new Error(`globMatches(${g}, ${w}) = ${globMatches(g, w)}`);
    }
  });

  it('is linear: the issue example and the worst shape at the maximum lengths stay far under 1 ms each', () => {
    expect(globMatches('*a*a*a*a*a*a*b', 'a'.repeat(60))).toBe(false); // picomatch: 12.5 s
    const g = ('*a'.repeat(MAX_GLOB_WILDCARDS - 1) + '*b').padStart(MAX_GLOB_LENGTH, 'a');
    expect(GLOB_PATTERN.test(g)).toBe(true);
    const input = 'a'.repeat(MAX_GLOB_LENGTH);
    const t = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) expect(globMatches(g, input)).toBe(false);
    const perCall = Number(process.hrtime.bigint() - t) / 1e6 / 100;
    expect(perCall).toBeLessThan(20); // generous for a shared CI box; bench:glob gives the figure
  });
});

describe('GLOB_PATTERN bounds wildcards', () => {
  it('accepts up to MAX_GLOB_WILDCARDS wildcard characters and refuses more, without backtracking', () => {
    expect(GLOB_PATTERN.test('*'.repeat(MAX_GLOB_WILDCARDS))).toBe(true);
    expect(GLOB_PATTERN.test('?'.repeat(MAX_GLOB_WILDCARDS + 1))).toBe(false);
    expect(GLOB_PATTERN.test('a*'.repeat(MAX_GLOB_WILDCARDS / 2) + 'b?'.repeat(MAX_GLOB_WILDCARDS / 2))).toBe(true);
    expect(GLOB_PATTERN.test('a'.repeat(MAX_GLOB_LENGTH))).toBe(true);
    expect(GLOB_PATTERN.test('a'.repeat(MAX_GLOB_LENGTH + 1))).toBe(false);
    expect(GLOB_PATTERN.test('')).toBe(false);
    expect(wildcardCount('release/**')).toBe(2);
    const t = Date.now();
    GLOB_PATTERN.test('*a'.repeat(127) + '!');
    expect(Date.now() - t).toBeLessThan(50);
  });
});

describe('globCovers (grant glob ⊇ secret glob)', () => {
  it.each([
    ['prod?', 'prod*', false], // the issue: prod* also means production
    ['prod*', 'prod?', true],
    ['prod*', 'production', true],
    ['release/*', 'release/**', false], // the issue: release/** also means release/a/b
    ['release/**', 'release/*', true],
    ['release/**', 'release/**', true],
    ['release/*', 'release/v?', true],
    ['release/*', 'release/*/x', false],
    ['**', 'anything/**', true],
    ['*', '**', false],
    ['*', '*/*', false],
    ['**/x', '*/x', true],
    ['*/x', '**/x', false],
    ['main', 'main', true],
    ['main', 'mai?', false],
    ['ma*', 'mai?', true],
    ['*a*', '*aa*', true],
    ['*aa*', '*a*', false],
    ['a*b*c', 'a*b*b*c', true],
    ['a?', 'a*', false],
  ])('%s covers %s → %s', (grant, secret, expected) => {
    expect(globCovers(grant, secret)).toBe(expected);
  });

  // Brute force: every string up to length 5 over {a, b, /} (plus a character neither glob
  // names), against random globs over that alphabet and the wildcards.
  it('agrees with enumeration over a small alphabet', () => {
    const alphabet = ['a', 'b', '/', 'z'];
    const words: string[] = [''];
    for (let len = 1, frontier = ['']; len <= 5; len++) {
      frontier = frontier.flatMap((w) => alphabet.map((c) => w + c));
      words.push(...frontier);
    }
    let seed = 9;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >>> 0) % n;
    const pieces = ['a', 'b', '/', '*', '**', '?'];
    const randomGlob = () => Array.from({ length: 1 + rand(4) }, () => pieces[rand(pieces.length)]).join('');
    let disagreements = 0, covered = 0;
    for (let i = 0; i < 1500; i++) {
      const g = randomGlob(), s = i % 5 === 0 ? g.replace('?', '*') : randomGlob();
      // Globs of at most 4 tokens: a shortest counterexample is short, so strings up to length 5 find it.
      const brute = words.every((w) => !globMatches(s, w) || globMatches(g, w));
      const got = globCovers(g, s);
      expect(globCoversUncached(g, s)).toBe(got);
      if (got) covered++;
      if (got !== brute) disagreements++;
      if (got !== brute) throw new Error(`globCovers(${g}, ${s}) = ${got}, enumeration says ${brute}`);
    }
    expect(disagreements).toBe(0);
    expect(covered).toBeGreaterThan(50); // the sample has both answers
  });

  it('answers within its state bound at the maximum lengths, and fails closed past it', () => {
    const worst = ('*a'.repeat(MAX_GLOB_WILDCARDS - 1) + '*b').padStart(MAX_GLOB_LENGTH, 'a');
    const t = process.hrtime.bigint();
    expect(globCovers('**', worst)).toBe(true);
    expect(globCovers(worst, worst.slice(0, -1) + 'c')).toBe(false);
    const subset = ('*a' + '?'.repeat(MAX_GLOB_WILDCARDS - 1)).padEnd(MAX_GLOB_LENGTH, 'b');
    expect(globCovers(subset, '*')).toBe(false);
    expect(Number(process.hrtime.bigint() - t) / 1e6).toBeLessThan(500);
    expect(MAX_COVER_STATES).toBeGreaterThan(1000);
  });
});
