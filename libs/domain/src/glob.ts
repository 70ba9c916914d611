import picomatch from 'picomatch';

// Glob matching for scopes (environment, branch). picomatch: a maintained matcher, used with
// brace/extglob/negation off so a glob means only `*`, `?` and `**`.
const OPTIONS: picomatch.PicomatchOptions = { nobrace: true, noextglob: true, nonegate: true, dot: true };
const cache = new Map<string, (s: string) => boolean>();

export function globMatches(glob: string, value: string): boolean {
  let m = cache.get(glob);
  if (!m) {
    m = picomatch(glob, OPTIONS);
    if (cache.size > 10_000) cache.clear();
    cache.set(glob, m);
  }
  return m(value);
}
