// Scope globs (environment, branch), matched and compared by this module's own engine: no
// regular expression is ever built from a glob, and no step backtracks.
//
// Semantics (README, Roles):
//   `*`   any run of characters within one segment (no `/`), possibly empty
//   `**`  (two or more `*` in a row) any run of characters, `/` included, possibly empty
//   `?`   exactly one character that is not `/` (a code point: a lone surrogate counts as one)
//   else  itself, literally (`.` is not special: `*` matches `.hidden`)
// So `release/*` is `release/1.2` but not `release/1/2`; `release/**` is both (and `release/`),
// not `release`.
//
// A glob compiles to a Thompson NFA over its tokens: position i means "tokens 0..i-1 matched".
// The set of live positions is a bitset (bigint), so a match costs O(|glob| × |input|) bit
// operations, whatever the glob. Containment (`globCovers`) explores the product of one glob's
// NFA with the other's subset construction over a finite symbolic alphabet (see below).

export type GlobToken = { kind: 'lit'; ch: string } | { kind: 'one' } | { kind: 'star' } | { kind: 'globstar' };

interface Compiled {
  tokens: GlobToken[];
  /** Bit n (= tokens.length): the accepting position. */
  accept: bigint;
  /** Positions whose token is `*` or `**`: they may be skipped (ε) and they loop. */
  skip: bigint;
  star: bigint;
  globstar: bigint;
  one: bigint;
  lit: Map<string, bigint>;
  start: bigint;
}

export function tokenize(glob: string): GlobToken[] {
  const out: GlobToken[] = [];
  const chars = Array.from(glob);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') {
      let j = i;
      while (j + 1 < chars.length && chars[j + 1] === '*') j++;
      out.push(j > i ? { kind: 'globstar' } : { kind: 'star' });
      i = j;
    } else if (c === '?') out.push({ kind: 'one' });
    else out.push({ kind: 'lit', ch: c });
  }
  return out;
}

/** Wildcard characters (`*` and `?`) in a glob: the count MAX_GLOB_WILDCARDS bounds. */
export function wildcardCount(glob: string): number {
  let n = 0;
  for (let i = 0; i < glob.length; i++) if (glob[i] === '*' || glob[i] === '?') n++;
  return n;
}

const bit = (i: number) => 1n << BigInt(i);

function compile(glob: string): Compiled {
  const tokens = tokenize(glob);
  let skip = 0n, star = 0n, globstar = 0n, one = 0n;
  const lit = new Map<string, bigint>();
  tokens.forEach((t, i) => {
    if (t.kind === 'star') { star |= bit(i); skip |= bit(i); }
    else if (t.kind === 'globstar') { globstar |= bit(i); skip |= bit(i); }
    else if (t.kind === 'one') one |= bit(i);
    else lit.set(t.ch, (lit.get(t.ch) ?? 0n) | bit(i));
  });
  const c: Compiled = { tokens, accept: bit(tokens.length), skip, star, globstar, one, lit, start: 0n };
  c.start = closure(c, 1n);
  return c;
}

// Two `*`/`**` tokens are never adjacent (a run of `*` is one token), so the positions one
// shift adds are never skippable themselves: one shift closes the set.
function closure(c: Compiled, s: bigint): bigint {
  return s | ((s & c.skip) << 1n);
}

/** One input character (a code point, or '/' / a literal / OTHER for the symbolic alphabet). */
function step(c: Compiled, s: bigint, ch: string | typeof OTHER): bigint {
  const slash = ch === '/';
  let advance = s & (slash ? 0n : c.one);
  if (ch !== OTHER) advance |= s & (c.lit.get(ch) ?? 0n);
  const stay = s & (c.globstar | (slash ? 0n : c.star));
  return closure(c, (advance << 1n) | stay);
}

const cache = new Map<string, Compiled>();
function compiled(glob: string): Compiled {
  let c = cache.get(glob);
  if (!c) {
    c = compile(glob);
    if (cache.size > 10_000) cache.clear();
    cache.set(glob, c);
  }
  return c;
}

/** Does `value` match `glob`? O(|glob| × |value|); any string is a valid input (lone surrogates too). */
export function globMatches(glob: string, value: string): boolean {
  const c = compiled(glob);
  let s = c.start;
  for (const ch of value) {
    s = step(c, s, ch);
    if (s === 0n) return false;
  }
  return (s & c.accept) !== 0n;
}

/** "Some character that is not `/` and is no literal of either glob." */
const OTHER: unique symbol = Symbol('other');

/**
 * Upper bound on the product states `globCovers` explores. Globs are bounded (MAX_GLOB_LENGTH,
 * MAX_GLOB_WILDCARDS); the bound is a second fence: past it the answer is `false` (not covered,
 * the fail-closed answer: a grant never widens because the computation was cut short).
 */
export const MAX_COVER_STATES = 20_000;

/**
 * Does `grant` cover `secret`: is every string `secret` matches also matched by `grant`?
 * Exact: a string the secret's glob matches can only be told apart from another by the grant's
 * glob through its characters being `/`, one of the two globs' literals, or something else, so
 * the alphabet {literals of both} ∪ {'/'} ∪ {OTHER} is complete. We walk the secret's NFA
 * (single positions) paired with the grant's deterministic subset; a pair where the secret
 * accepts and the grant does not is a counterexample.
 */
export function globCovers(grant: string, secret: string): boolean {
  if (grant === secret) return true;
  // The list filter asks the same (grant, secret) pairs over and over: remember the answers.
  const key = `${grant}\u0000${secret}`; // NUL is no glob character: the key is unambiguous
  let answer = coverCache.get(key);
  if (answer === undefined) {
    answer = globCoversUncached(grant, secret);
    if (coverCache.size > 10_000) coverCache.clear();
    coverCache.set(key, answer);
  }
  return answer;
}
const coverCache = new Map<string, boolean>();

/** `globCovers` without its answer cache (the benchmark times this). */
export function globCoversUncached(grant: string, secret: string): boolean {
  if (grant === secret) return true;
  const g = compiled(grant);
  const s = compiled(secret);
  const literals = new Set<string>([...g.lit.keys(), ...s.lit.keys()]);
  literals.delete('/');
  const anyNonSlash: (string | typeof OTHER)[] = [...literals, OTHER];
  const anything = [...anyNonSlash, '/'];
  const n = s.tokens.length;

  const seen = new Map<number, Set<bigint>>();
  const queue: [number, bigint][] = [];
  let states = 0;
  const visit = (p: number, d: bigint): boolean => {
    // ε: a `*`/`**` of the secret may match nothing.
    for (;;) {
      let set = seen.get(p);
      if (!set) seen.set(p, (set = new Set()));
      if (set.has(d)) return true;
      set.add(d);
      if (++states > MAX_COVER_STATES) return false;
      // Every position of a glob can still reach acceptance, so a dead grant subset (0n) is a
      // counterexample already, as is an accepting secret position where the grant does not accept.
      if (d === 0n || (p === n && (d & g.accept) === 0n)) return false;
      queue.push([p, d]);
      const t = s.tokens[p];
      if (p < n && (t.kind === 'star' || t.kind === 'globstar')) p = p + 1;
      else return true;
    }
  };
  if (!visit(0, g.start)) return false;
  while (queue.length > 0) {
    const [p, d] = queue.pop()!;
    if (p === n) continue;
    const t = s.tokens[p];
    if (t.kind === 'lit') {
      if (!visit(p + 1, step(g, d, t.ch))) return false;
      continue;
    }
    const q = t.kind === 'one' ? p + 1 : p;
    for (const sym of t.kind === 'globstar' ? anything : anyNonSlash) {
      if (!visit(q, step(g, d, sym))) return false;
    }
  }
  return true;
}
