import { ValidationError, ValidationPipe } from '@nestjs/common';
import { registerDecorator, ValidationOptions } from 'class-validator';
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
