import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, StoreUnavailableError } from '@app/domain';
import { BaoError } from '@app/infra/openbao/bao-client';
import { describeError, JsonLogger } from '@app/infra/logging/logger';
import { AuthenticationError } from '@app/infra/auth/token-verifier';
import { ConcurrencyConflictError, PreconditionFailedError } from '../application/handle-command';
import { PROBLEM_BASE, ProblemDetails, ProblemException, problems } from './problem';

const STATUS_FOR_DOMAIN: Record<DomainError['kind'], number> = { 'not-found': 404, 'already-exists': 409, conflict: 409, invalid: 400, forbidden: 403 };

// OpenBao unreachable, a 5xx, or an answer that means "not set up yet" (a mount missing after a restart): 503 (BaoError.unavailable).
const isUnavailable = (e: unknown) => e instanceof StoreUnavailableError || (e instanceof BaoError && e.unavailable);

/** The problem an application error stands for (REST here, GraphQL in graphql/errors.ts); undefined for anything else. */
export function knownProblem(e: unknown): ProblemException | undefined {
  if (e instanceof ProblemException) return e;
  if (e instanceof DomainError) {
    const status = STATUS_FOR_DOMAIN[e.kind];
    if (status === 403) return problems.forbidden(e.code);
    const p = status === 400 ? problems.badRequest(e.message, e.field ? [{ field: e.field, message: e.message }] : undefined) : status === 404 ? problems.notFound(e.message) : problems.conflict(e.message, e.code);
    p.problem.reason = e.code;
    return p;
  }
  if (e instanceof AuthenticationError) return problems.unauthorized(e.reason);
  if (e instanceof PreconditionFailedError) return problems.preconditionFailed(e.message);
  if (e instanceof ConcurrencyConflictError) return problems.conflict('concurrent change; retry', 'concurrent-change');
  if (isUnavailable(e)) return problems.unavailable('a dependency is unavailable; retry later');
  return undefined;
}

/**
 * Every error leaves as application/problem+json. Messages of unexpected errors are never
 * sent to the client (they may hold internals); they are logged with a correlation id.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: JsonLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    // GraphQL resolvers' errors are formatted by graphql/errors.ts (same problem types).
    if (host.getType<string>() === 'graphql') throw exception;
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const { problem, headers } = this.toProblem(exception, req);
    problem.instance = req.originalUrl?.split('?')[0];
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }

  private toProblem(e: unknown, req: Request): { problem: ProblemDetails; headers: Record<string, string> } {
    const known = knownProblem(e);
    if (known) {
      if (isUnavailable(e)) this.logger.warn('dependency unavailable', { ...describeError(e), path: req.route?.path });
      return { problem: { type: `${PROBLEM_BASE}error`, ...known.problem } as ProblemDetails, headers: known.headers };
    }
    if (e instanceof HttpException) {
      const status = e.getStatus();
      // Nest/express errors the client caused (bad JSON, too large, unknown route): keep the status, replace the text.
      // The body parser's errors arrive here as a 400 whose message is the JSON parser's; say so without echoing it.
      // apps/bootstrap.ts's JSON reviver refuses keys that reach object prototypes: say that, not "not valid JSON".
      if (status === 400 && /forbidden key/.test(e.message)) {
        return this.toProblem(problems.badRequest('malformed request body', [{ field: 'body', message: 'keys named __proto__, constructor or prototype are not accepted' }]), req);
      }
      const aboutBody = status === 400 && /JSON|Unexpected/.test(e.message);
      const detail =
        status === 413 ? 'request body too large' : status === 404 ? 'no such resource' : aboutBody ? 'malformed request body (JSON expected)' : status === 400 ? 'malformed request' : 'request refused';
      const title = status === 413 ? 'Payload too large' : status === 404 ? 'Not found' : status === 400 ? 'Invalid request' : 'Error';
      const errors = status === 400 ? [aboutBody ? { field: 'body', message: 'not valid JSON' } : { field: 'request', message: 'malformed path, query or body' }] : undefined;
      return { problem: { type: `${PROBLEM_BASE}${status}`, title, status, detail, errors }, headers: {} };
    }
    const err = e as { type?: string; status?: number; statusCode?: number };
    if (err && (err.type === 'entity.too.large' || err.status === 413)) {
      return { problem: { type: `${PROBLEM_BASE}too-large`, title: 'Payload too large', status: 413, detail: 'request body too large' }, headers: {} };
    }
    if (err && (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported')) {
      const p = problems.badRequest('unsupported Content-Encoding or charset: send UTF-8 JSON, identity, gzip, deflate or br', [{ field: 'Content-Encoding', message: 'identity, gzip, deflate or br; charset utf-8' }]);
      return { problem: { ...(p.problem as ProblemDetails), type: `${PROBLEM_BASE}unsupported-media-type`, title: 'Unsupported media type', status: 415 }, headers: {} };
    }
    // zlib's errors (a body that is not the gzip, deflate or br its Content-Encoding claims) carry codes such as Z_DATA_ERROR.
    if (err && typeof (err as { code?: unknown }).code === 'string' && String((err as { code?: unknown }).code).startsWith('Z_') && (err.status === 400 || err.statusCode === 400)) {
      return this.toProblem(problems.badRequest('request body is not encoded as its Content-Encoding says', [{ field: 'Content-Encoding', message: 'body does not decompress' }]), req);
    }
    if (err && err.type === 'entity.parse.failed') {
      return this.toProblem(problems.badRequest('malformed request body (JSON expected)', [{ field: 'body', message: 'not valid JSON' }]), req);
    }
    this.logger.error('unhandled error', { ...describeError(e), path: req.route?.path, correlationId: req.header('x-request-id') });
    return { problem: { type: `${PROBLEM_BASE}internal`, title: 'Internal error', status: 500, detail: 'an unexpected error occurred' }, headers: {} };
  }
}
