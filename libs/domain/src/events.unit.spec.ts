import { upcast } from './events';

describe('upcast', () => {
  const registry = { Thing: { 1: (d: Record<string, unknown>) => ({ ...d, b: 2 }), 2: (d: Record<string, unknown>) => ({ ...d, c: 3 }) } };
  const current = { Thing: 3 };

  it('applies each step from the stored version to the current one', () => {
    expect(upcast('Thing', 1, { a: 1 }, registry, current)).toEqual({ a: 1, b: 2, c: 3 });
    expect(upcast('Thing', 3, { a: 1 }, registry, current)).toEqual({ a: 1 });
  });

  it('refuses unknown types, versions from the future and missing steps', () => {
    expect(() => upcast('Other', 1, {}, registry, current)).toThrow(/unknown event type/);
    expect(() => upcast('Thing', 4, {}, registry, current)).toThrow(/newer than this code/);
    expect(() => upcast('Thing', 1, {}, { Thing: { 2: registry.Thing[2] } }, current)).toThrow(/no upcaster/);
  });

  it('passes current events of the real registry through unchanged', () => {
    expect(upcast('SecretCreated', 1, { x: 1 })).toEqual({ x: 1 });
  });
});
