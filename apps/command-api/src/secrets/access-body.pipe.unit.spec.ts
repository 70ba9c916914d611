import 'reflect-metadata';
import { validationPipe } from '../http/validation';
import { AccessSecretBodyPipe } from './access-body.pipe';
import { AccessSecretDto } from './secret.dto';

/** What a pipe makes of a body: the DTO's own fields, or the problem it throws. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    const v = await run();
    return { ok: v instanceof AccessSecretDto, value: JSON.parse(JSON.stringify(v)) };
  } catch (e) {
    const p = e as { getStatus?: () => number; problem?: unknown };
    return { status: p.getStatus?.(), problem: p.problem };
  }
}

describe('AccessSecretBodyPipe: AccessSecretDto without class-validator on the hot path (issue 23)', () => {
  const fast = new AccessSecretBodyPipe();
  const full = validationPipe();
  const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  const bodies: Array<[string, unknown]> = [
    ['no body', undefined],
    ['null', null],
    ['{}', {}],
    ['a purpose', { purpose: 'deploy to production' }],
    ['an empty purpose', { purpose: '' }],
    ['a purpose too long (the decision refuses it, not the pipe)', { purpose: 'x'.repeat(600) }],
    ['a purpose with control characters (the decision refuses it)', { purpose: 'a\u0000b' }],
    ['a null purpose', { purpose: null }],
    ['a number purpose', { purpose: 1 }],
    ['an object purpose', { purpose: { a: 1 } }],
    ['an array purpose', { purpose: ['a'] }],
    ['a boolean purpose', { purpose: true }],
    ['an unknown key', { reason: 'x' }],
    ['an unknown key beside a purpose', { purpose: 'x', reason: 'y' }],
    ['unknown keys and a bad purpose', { z: 1, purpose: 2, a: 3 }],
    ['an empty key', { '': 1 }],
    ['a key longer than 64 characters', { ['k'.repeat(100)]: 1 }],
    ['11 unknown keys (only the first 10 listed)', keys(11)],
    ['64 unknown keys and a bad purpose', { ...keys(64), purpose: 5 }],
    ['an empty array', []],
    ['an array of one object', [{}]],
    ['an array of strings', ['a', 'b']],
    ['a string', 'purpose'],
    ['a number', 5],
    ['false', false],
  ];

  it.each(bodies)('%s: the same answer as the global ValidationPipe', async (_name, body) => {
    const expected = await outcome(() => full.transform(structuredClone(body), { type: 'body', metatype: AccessSecretDto, data: undefined }));
    expect(await outcome(() => fast.transform(structuredClone(body)))).toEqual(expected);
  });

  it('accepts the bodies a CI job sends without class-transformer or class-validator', async () => {
    const spy = jest.spyOn(validationPipe().constructor.prototype, 'transform');
    try {
      for (const body of [undefined, {}, { purpose: 'deploy' }]) expect(await fast.transform(body)).toBeInstanceOf(AccessSecretDto);
      expect(spy).not.toHaveBeenCalled();
      await expect(fast.transform({ purpose: 1 })).rejects.toMatchObject({ problem: { status: 400, errors: [{ field: 'purpose', message: 'purpose must be a string' }] } });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});
