import type { Request } from 'express';
import { createHash, randomUUID } from 'node:crypto';
import { Principal } from '@app/domain';
import { CommandContext } from '../application/event-envelope';
import { problems } from './problem';

export interface AuthenticatedRequest extends Request {
  principal?: Principal;
  requestId?: string;
  /** Whether requestId came from the caller's X-Request-Id (else the service made it). */
  requestIdSupplied?: boolean;
  /** The verified bearer token of a CI job (non-enumerable). */
  ciJobToken?: string;
  /** When the verified bearer token expires (ms since the epoch). */
  tokenExpiresAt?: number;
}

export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id, or a fresh one when none is sent. A malformed one is a 400 naming the header. */
export function requestIdOf(req: AuthenticatedRequest): string {
  if (!req.requestId) {
    const given = req.header('x-request-id');
    if (given !== undefined) {
      if (!REQUEST_ID_PATTERN.test(given)) {
        throw problems.badRequest('invalid X-Request-Id', [{ field: 'X-Request-Id', message: `X-Request-Id must match ${REQUEST_ID_PATTERN.source}` }]);
      }
      req.requestId = given;
      req.requestIdSupplied = true;
    } else {
      req.requestId = randomUUID();
      req.requestIdSupplied = false;
    }
  }
  return req.requestId;
}

/** A short, stable tag of who acts: the same principal always gets the same one, two principals (almost surely) never. */
export function principalTag(principal: Principal): string {
  return createHash('sha256').update(`${principal.kind}\0${principal.id}`).digest('base64url').slice(0, 16);
}

/**
 * The correlation id of a request's events. A caller-supplied X-Request-Id is scoped to the caller
 * (`<X-Request-Id>.<principal tag>`): it still finds the caller's own events by prefix, but no one
 * can make their events share another principal's correlation id by sending the same header.
 */
export function correlationIdOf(req: AuthenticatedRequest, principal: Principal): string {
  const id = requestIdOf(req);
  return req.requestIdSupplied ? `${id}.${principalTag(principal)}` : id;
}

export function commandContext(req: AuthenticatedRequest, principal: Principal, now = new Date()): CommandContext {
  return {
    actor: { type: principal.kind, id: principal.id },
    now: now.toISOString(),
    correlationId: correlationIdOf(req, principal),
    causationId: randomUUID(),
  };
}
