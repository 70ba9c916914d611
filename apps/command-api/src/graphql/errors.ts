import { GraphQLFormattedError } from 'graphql';
import { knownProblem } from '../http/problem.filter';
import { PROBLEM_BASE, ProblemException } from '../http/problem';
import { UserError } from './types';

/** The problem a REST call would answer with (the REST filter's own mapping), or undefined for an unexpected (server) error. */
export function problemOf(e: unknown): ProblemException | undefined {
  return knownProblem(e);
}

/** A client-caused refusal as mutation payload errors; anything else is rethrown (a server error, message hidden). */
export function userErrors(e: unknown): UserError[] {
  const p = problemOf(e);
  if (!p) throw e;
  const type = p.problem.type ?? `${PROBLEM_BASE}error`;
  if (p.problem.errors?.length) return p.problem.errors.map((fe) => ({ type, field: fe.field, message: fe.message }));
  return [{ type, field: null, message: p.problem.detail ?? p.problem.title }];
}

/** Query errors carry the REST problem type in extensions; unexpected errors never show their message. */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = (error as { originalError?: unknown })?.originalError;
  const p = problemOf(original);
  if (p) {
    return { message: p.problem.detail ?? p.problem.title, path: formatted.path, extensions: { type: p.problem.type, status: p.problem.status, errors: p.problem.errors ?? [] } };
  }
  const code = formatted.extensions?.code;
  // Parse/validation errors (depth, cost, unknown fields) are the client's: keep their message.
  if (code === 'GRAPHQL_PARSE_FAILED' || code === 'GRAPHQL_VALIDATION_FAILED' || code === 'BAD_USER_INPUT' || code === 'BAD_REQUEST' || code === 'PERSISTED_QUERY_NOT_SUPPORTED') {
    return { message: formatted.message, locations: formatted.locations, extensions: { type: `${PROBLEM_BASE}invalid-request`, code } };
  }
  return { message: 'internal error', path: formatted.path, extensions: { type: `${PROBLEM_BASE}error`, code: 'INTERNAL_SERVER_ERROR' } };
}
