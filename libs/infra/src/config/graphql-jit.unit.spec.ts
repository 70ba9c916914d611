import { ConfigError, loadConfig } from './config';

// GRAPHQL_JIT: whether repeated GraphQL query documents run compiled by graphql-jit.
describe('GRAPHQL_JIT', () => {
  it('defaults to on', () => {
    expect(loadConfig({}).graphqlJit).toBe(true);
  });

  it('takes on or off', () => {
    expect(loadConfig({ GRAPHQL_JIT: 'on' }).graphqlJit).toBe(true);
    expect(loadConfig({ GRAPHQL_JIT: 'off' }).graphqlJit).toBe(false);
  });

  it.each(['true', 'false', '0', 'OFF', 'off '])('refuses %p, naming the setting', (v) => {
    expect(() => loadConfig({ GRAPHQL_JIT: v })).toThrow(ConfigError);
    expect(() => loadConfig({ GRAPHQL_JIT: v })).toThrow(/GRAPHQL_JIT must be on or off/);
  });
});
