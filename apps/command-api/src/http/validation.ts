import { ValidationError, ValidationPipe } from '@nestjs/common';
import { registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { codePointLength, isWellFormedText, parseRfc3339 } from '@app/domain/invariants';
import { FieldError, problems } from './problem';

/** At most this many field errors in one answer, each field name and message cut to a short length. */
export const MAX_FIELD_ERRORS = 10;
const MAX_FIELD_NAME = 64;
const MAX_MESSAGE = 200;

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

function flatten(errors: ValidationError[], prefix = '', out: FieldError[] = []): FieldError[] {
  for (const e of errors) {
    if (out.length >= MAX_FIELD_ERRORS) break;
    const field = cut(prefix ? `${prefix}.${e.property}` : e.property, MAX_FIELD_NAME);
    // Messages are ours or class-validator's defaults, which name the rule, never the value (an unknown key's name is echoed, cut short).
    for (const message of Object.values(e.constraints ?? {})) {
      if (out.length >= MAX_FIELD_ERRORS) break;
      out.push({ field, message: cut(message.replace(/^property /, ''), MAX_MESSAGE) });
    }
    if (e.children?.length) flatten(e.children, field, out);
  }
  return out;
}

/** Bounds on the shape of a JSON body, checked before class-validator sees it (its cost grows with every key). */
export const BODY_LIMITS = {
  /** Keys in any one object: the widest body of the API has 7 fields. */
  keysPerObject: 64,
  /** Object keys and array items in the whole body: 256 evidence subjects (1,025 keys and items) fit. */
  nodes: 2048,
  /** Nesting depth of objects and arrays, the body itself being 1: the deepest body of the API (evidence) has 4. */
  depth: 8,
} as const;

/** Why a parsed JSON body is refused (null: it is within BODY_LIMITS). Iterative, and stops at the first excess. */
export function bodyShapeProblem(body: unknown, limits: typeof BODY_LIMITS = BODY_LIMITS): string | null {
  if (body === null || typeof body !== 'object') return null;
  let nodes = 0;
  const stack: Array<[unknown, number]> = [[body, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > limits.depth) return `nested deeper than ${limits.depth} levels`;
    const children = Array.isArray(v) ? v : Object.values(v as object);
    if (!Array.isArray(v) && children.length > limits.keysPerObject) return `an object has more than ${limits.keysPerObject} keys`;
    nodes += children.length;
    if (nodes > limits.nodes) return `more than ${limits.nodes} keys and items in all`;
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, depth + 1]);
  }
  return null;
}

function countErrors(errors: ValidationError[], max = MAX_FIELD_ERRORS + 1): number {
  let n = 0;
  const stack = [...errors];
  while (stack.length > 0 && n < max) {
    const e = stack.pop()!;
    n += Object.keys(e.constraints ?? {}).length;
    if (e.children) stack.push(...e.children);
  }
  return n;
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
      const names = [...new Set(fields.map((f) => f.field))];
      return problems.badRequest(`invalid ${names.join(', ')}${countErrors(errors) > fields.length ? ' (and more; only the first are listed)' : ''}`, fields);
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
