import { Injectable, PipeTransform } from '@nestjs/common';
import { validationPipe } from '../http/validation';
import { AccessSecretDto } from './secret.dto';

/**
 * The body of a single access as the controller sees it. A type alias on purpose: its design type
 * is `Object`, which the global ValidationPipe passes through untouched, so the body is checked
 * once, by AccessSecretBodyPipe, not by class-transformer and class-validator first.
 */
export type AccessSecretBody = Pick<AccessSecretDto, 'purpose'>;

/**
 * AccessSecretDto's rules on the hot path of a CI job's access (issue 23: class-transformer and
 * class-validator were the costliest part of the request's Nest layer). The bodies a job sends
 * (none, `{}`, `{ "purpose": "<text>" }`) are accepted here at once; every other body (an unknown
 * key, a purpose that is not a string or is null, an array, a scalar) goes to the very
 * ValidationPipe every other route uses, so its 400 problem names the same fields in the same
 * words as before. Only the type of purpose is checked, as AccessSecretDto does: its length and
 * characters are the access decision's, so a probe with a bad purpose is still a recorded denial.
 */
@Injectable()
export class AccessSecretBodyPipe implements PipeTransform<unknown, Promise<AccessSecretDto>> {
  private readonly full = validationPipe();

  async transform(value: unknown): Promise<AccessSecretDto> {
    if (value === undefined || value === null) return new AccessSecretDto();
    if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const keys = Object.keys(value);
      const purpose = (value as { purpose?: unknown }).purpose;
      if (keys.length === 0 || (keys.length === 1 && keys[0] === 'purpose' && typeof purpose === 'string')) {
        const dto = new AccessSecretDto();
        if (keys.length === 1) dto.purpose = purpose as string;
        return dto;
      }
    }
    return this.full.transform(value, { type: 'body', metatype: AccessSecretDto, data: undefined }) as Promise<AccessSecretDto>;
  }
}
