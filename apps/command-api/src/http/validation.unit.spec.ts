import { BODY_LIMITS, bodyShapeProblem } from './validation';

describe('bodyShapeProblem: bounds checked before class-validator', () => {
  it('accepts every body the API takes, the largest evidence request included', () => {
    const subjects = Array.from({ length: 256 }, (_, i) => ({ name: `artifact-${i}`, digest: { sha256: 'a'.repeat(64) } }));
    expect(bodyShapeProblem({ subjects })).toBeNull();
    expect(bodyShapeProblem({ name: 'A', value: 'v', description: 'd', environment: 'e', branch: 'b', protectedOnly: true })).toBeNull();
    expect(bodyShapeProblem(undefined)).toBeNull();
    expect(bodyShapeProblem('text')).toBeNull();
  });

  it('refuses too many keys in one object, in all, and too deep a nesting', () => {
    expect(bodyShapeProblem(Object.fromEntries(Array.from({ length: BODY_LIMITS.keysPerObject + 1 }, (_, i) => [`k${i}`, i])))).toMatch(/64 keys/);
    expect(bodyShapeProblem({ a: Array.from({ length: 40 }, () => Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, i]))) })).toMatch(/2048 keys and items/);
    let deep: unknown = 1;
    for (let i = 0; i < BODY_LIMITS.depth; i++) deep = [deep];
    expect(bodyShapeProblem(deep)).toBeNull();
    expect(bodyShapeProblem({ deep })).toMatch(/deeper than 8/);
  });

  it('walks a million-deep nesting without recursion', () => {
    let deep: unknown = [];
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    expect(bodyShapeProblem(deep)).toMatch(/deeper/);
  });
});
