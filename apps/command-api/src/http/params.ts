import { Injectable, PipeTransform } from '@nestjs/common';
import { GROUP_ID_PATTERN, groupKey, isGroupId, MAX_GROUP_DEPTH, PROJECT_ID_PATTERN, SECRET_NAME_PATTERN } from '@app/domain';
import { FieldError, problems } from './problem';

export function patternPipe(field: string, pattern: RegExp) {
  @Injectable()
  class PatternPipe implements PipeTransform<string, string> {
    transform(value: string): string {
      if (typeof value !== 'string' || !pattern.test(value)) {
        throw problems.badRequest(`invalid ${field}`, [{ field, message: `${field} must match ${pattern.source}` }]);
      }
      return value;
    }
  }
  return PatternPipe;
}

/** A CI pipeline id, as in tokens' `pipeline_id` claim. */
export const PIPELINE_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

export const ProjectIdPipe = patternPipe('projectId', PROJECT_ID_PATTERN);
export const SecretNamePipe = patternPipe('name', SECRET_NAME_PATTERN);
export const GrantIdPipe = patternPipe('grantId', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

/**
 * A group in a REST path: one URL-encoded segment (`acme%2Fpayments`), decoded once by the router.
 * Returns the group's place key (`group:acme/payments`), what the commands and read models take.
 * Twice-encoded (`%252F`), `..`, an empty segment, upper case or depth 9 are a 400 naming `groupId`.
 */
@Injectable()
export class GroupKeyPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isGroupId(value)) {
      throw problems.badRequest('invalid groupId', [{ field: 'groupId', message: `groupId must be 1-${MAX_GROUP_DEPTH} segments of ${PROJECT_ID_PATTERN.source} joined by / (URL-encoded as %2F)` }]);
    }
    return groupKey(value);
  }
}
export { GROUP_ID_PATTERN };

/** If-Match: "<revision>" (strong or weak form). Absent or `*` → no precondition. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"(-?\d{1,15})"\s*$/.exec(header) ?? /^\s*(-?\d{1,15})\s*$/.exec(header);
  if (!m) throw problems.badRequest('invalid If-Match', [{ field: 'If-Match', message: 'If-Match must be a quoted stream revision such as "3"' }]);
  return Number(m[1]);
}

export const etagOf = (revision: number) => `"${revision}"`;

/** Names every query parameter not in `allowed` (an unknown one is a mistake the caller should hear about). */
export function rejectUnknownParams(query: Record<string, unknown>, allowed: readonly string[], errors: FieldError[]): void {
  for (const k of Object.keys(query)) if (!allowed.includes(k)) errors.push({ field: k, message: `unknown query parameter; allowed: ${allowed.join(', ') || 'none'}` });
}
