import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { requireGlob } from '@app/domain/invariants';
import { CreateGrantDto } from '../grants/grant.dto';
import { CreateSecretDto, PatchSecretDto } from '../secrets/secret.dto';

// Issue 9 item 2: a glob has at most MAX_GLOB_WILDCARDS (8) wildcard characters; more is a 400
// naming the field, at the DTO and again at the decider.
const fieldsWithErrors = (cls: new () => object, body: object) =>
  validateSync(plainToInstance(cls, body) as object).map((e) => e.property);

describe('glob validation bounds wildcards', () => {
  const ok = 'a*b*c*d*e?f?g?h?';
  const tooMany = 'a*b*c*d*e?f?g?h?*';

  it('the grant DTO names environment / branch', () => {
    const grant = { principal: { type: 'user', id: 'bob' }, role: 'developer' };
    expect(fieldsWithErrors(CreateGrantDto, { ...grant, environment: ok, branch: ok })).toEqual([]);
    expect(fieldsWithErrors(CreateGrantDto, { ...grant, environment: tooMany })).toEqual(['environment']);
    expect(fieldsWithErrors(CreateGrantDto, { ...grant, branch: '*'.repeat(9) })).toEqual(['branch']);
  });

  it('the secret DTOs name environment / branch', () => {
    expect(fieldsWithErrors(CreateSecretDto, { name: 'A', value: 'v', environment: tooMany })).toEqual(['environment']);
    expect(fieldsWithErrors(PatchSecretDto, { branch: tooMany })).toEqual(['branch']);
    expect(fieldsWithErrors(PatchSecretDto, { branch: ok })).toEqual([]);
  });

  it('the decider refuses it too', () => {
    expect(requireGlob('environment', ok)).toBe(ok);
    expect(() => requireGlob('environment', tooMany)).toThrow(expect.objectContaining({ kind: 'invalid', field: 'environment' }));
  });
});
