import { HttpException } from '@nestjs/common';

// RFC 9457 problem details. `errors` lists the offending fields for 400s.
export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  /** A short machine-readable reason (e.g. `no-grant`, `token expired`). */
  reason?: string;
}

export const PROBLEM_BASE = 'urn:pipeline-secrets:problem:';

export class ProblemException extends HttpException {
  constructor(readonly problem: Omit<ProblemDetails, 'type'> & { type?: string }, readonly headers: Record<string, string> = {}) {
    super(problem, problem.status);
  }
}

export const problems = {
  badRequest: (detail: string, errors?: FieldError[]) =>
    new ProblemException({ type: `${PROBLEM_BASE}invalid-request`, title: 'Invalid request', status: 400, detail, errors }),
  unauthorized: (reason: string) =>
    new ProblemException(
      { type: `${PROBLEM_BASE}unauthenticated`, title: 'Authentication required', status: 401, detail: reason, reason },
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    ),
  forbidden: (reason: string) => new ProblemException({ type: `${PROBLEM_BASE}forbidden`, title: 'Forbidden', status: 403, detail: `denied: ${reason}`, reason }),
  notFound: (detail: string) => new ProblemException({ type: `${PROBLEM_BASE}not-found`, title: 'Not found', status: 404, detail }),
  conflict: (detail: string, reason?: string) => new ProblemException({ type: `${PROBLEM_BASE}conflict`, title: 'Conflict', status: 409, detail, reason }),
  preconditionFailed: (detail: string) => new ProblemException({ type: `${PROBLEM_BASE}precondition-failed`, title: 'Precondition failed', status: 412, detail }),
  unavailable: (detail: string) => new ProblemException({ type: `${PROBLEM_BASE}unavailable`, title: 'Service unavailable', status: 503, detail }, { 'Retry-After': '5' }),
};
