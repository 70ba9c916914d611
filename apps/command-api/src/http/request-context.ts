import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { Principal } from '@app/domain';
import { CommandContext } from '../application/event-envelope';

export interface AuthenticatedRequest extends Request {
  principal?: Principal;
  requestId?: string;
  /** The verified bearer token of a CI job (non-enumerable). */
  ciJobToken?: string;
  /** When the verified bearer token expires (ms since the epoch). */
  tokenExpiresAt?: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when well-formed (it becomes the correlation id), else a fresh one. */
export function requestIdOf(req: AuthenticatedRequest): string {
  if (!req.requestId) {
    const given = req.header('x-request-id');
    req.requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
  }
  return req.requestId;
}

export function commandContext(req: AuthenticatedRequest, principal: Principal, now = new Date()): CommandContext {
  const correlationId = requestIdOf(req);
  return {
    actor: { type: principal.kind, id: principal.id },
    now: now.toISOString(),
    correlationId,
    causationId: randomUUID(),
  };
}
