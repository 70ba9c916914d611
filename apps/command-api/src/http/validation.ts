import { ValidationError, ValidationPipe } from '@nestjs/common';
import { registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { codePointLength, isWellFormedText, parseRfc3339 } from '@app/domain/invariants';
import { FieldError, problems } from './problem';

function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    // Messages are ours or class-validator's defaults, which name the rule, never the value.
    for (const message of Object.values(e.constraints ?? {})) out.push({ field, message: message.replace(/^property /, '') });
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/** Whitelist, reject unknown fields, no implicit conversions; 400 problem naming each field. */
export function validationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) => {
      const fields = flatten(errors);
      return problems.badRequest(`invalid ${[...new Set(fields.map((f) => f.field))].join(', ')}`, fields);
    },
  });
}

/** At most `max` bytes once encoded as UTF-8 (API.md limits values in bytes, not characters). */
export function MaxUtf8Bytes(max: number, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'maxUtf8Bytes',
      target: object.constructor,
      propertyName,
      constraints: [max],
      options: { message: `${propertyName} must be at most ${max} bytes of UTF-8`, ...options },
      validator: { validate: (v: unknown) => typeof v === 'string' && Buffer.byteLength(v, 'utf8') <= max },
    });
}

/**
 * An optional field that, when present, is validated, null included: `@IsOptional()` lets null
 * through, and a null where the field is not nullable must be a 400, not an event.
 */
export const OptionalNotNull = () => ValidateIf((_o: object, v: unknown) => v !== undefined);

/** Well-formed Unicode (no lone UTF-16 surrogate): I-JSON, RFC 7493. Refused, never silently replaced. */
export function IsWellFormedText(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isWellFormedText',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be well-formed Unicode (no lone surrogates)`, ...options },
      validator: { validate: (v: unknown) => typeof v === 'string' && isWellFormedText(v) },
    });
}

/** At most `max` code points (the unit of every text limit in libs/domain/src/limits.ts). */
export function MaxCodePoints(max: number, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'maxCodePoints',
      target: object.constructor,
      propertyName,
      constraints: [max],
      options: { message: `${propertyName} must be at most ${max} characters`, ...options },
      validator: { validate: (v: unknown) => typeof v === 'string' && codePointLength(v) <= max },
    });
}

/** An RFC 3339 date-time with a time zone whose every field is in range (years 0001-9999). */
export function IsRfc3339Instant(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isRfc3339Instant',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be an RFC 3339 date-time with a time zone, such as 2026-01-31T12:00:00Z (years 0001-9999)`, ...options },
      validator: { validate: (v: unknown) => parseRfc3339(v) !== null },
    });
}
