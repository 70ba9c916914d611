import { globMatches } from './glob';

// Scope globs mean only `*` (within one path segment), `**` (across segments) and `?`.
describe('globMatches', () => {
  it.each([
    ['main', 'main', true],
    ['main', 'main2', false],
    ['release/*', 'release/1.2', true],
    ['release/*', 'release/1/2', false],
    ['release/**', 'release/1/2', true],
    ['prod*', 'production', true],
    ['prod*', 'preprod', false],
    ['review/?', 'review/a', true],
    ['review/?', 'review/ab', false],
    ['*', 'anything', true],
    ['*', '.hidden', true],
    // Brace, extglob and negation syntax is not special: the validators refuse those characters
    // anyway, and here they never widen a scope.
    ['{main,dev}', 'main', false],
    ['!main', 'dev', false],
  ])('%s vs %s → %s', (glob, value, expected) => {
    expect(globMatches(glob, value)).toBe(expected);
  });
});
