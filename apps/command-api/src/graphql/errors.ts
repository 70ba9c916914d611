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

/** Apollo codes of errors the client caused (parse, validation, depth, cost, variables, operation selection, persisted queries). */
const CLIENT_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE', 'PERSISTED_QUERY_NOT_SUPPORTED', 'PERSISTED_QUERY_NOT_FOUND']);

/**
 * graphql-js writes the offending input into some messages ("Variable "$input" got invalid value
 * { …, value: "…" }", "String cannot represent a non string value: …", "… found …"): a secret's
 * value must never come back in an error, so such a message loses everything from the value on.
 * (Variables are checked first by the cost plugin with messages built without values: limits.ts;
 * this is the backstop for the rest, e.g. literals in the document.)
 */
export function withoutInputValues(message: string, code?: string, where?: { line: number; column: number }): string {
  // A syntax error names the token or character it stopped at (`found Name "battery"`): part of a value sent inline.
  // So it says where, never what: only the line and column (and the token limit, which holds no document text).
  if (code === 'GRAPHQL_PARSE_FAILED') {
    if (TOKEN_LIMIT.test(message)) return message;
    return `Syntax Error${where ? ` at line ${where.line}, column ${where.column}` : ''}: the document is not valid GraphQL (its text is not repeated here).`;
  }
  for (const [marker, instead] of VALUE_MARKERS) {
    const at = message.indexOf(marker);
    if (at >= 0) return quotedNamesGeneric(`${message.slice(0, at)}${instead}`, code);
  }
  return quotedNamesGeneric(message, code);
}

/**
 * Validation messages quote names from the document (`Cannot query field "canaryhunter2value" on
 * type "Query". Did you mean ...?`, `Unknown argument "x"`, `Unknown type "X"`, `Variable "$x" is
 * never used`): a name is document text, and part of a value sent inline can come back as one
 * (round-3 review of issue 18, item 5; issue 18 item 10: never repeat document text). So every
 * quoted part of a validation message becomes `"…"` and suggestions ("Did you mean …?") go; the
 * rule's wording and the error's locations stay.
 */
function quotedNamesGeneric(message: string, code?: string): string {
  if (code !== 'GRAPHQL_VALIDATION_FAILED') return message;
  return message.replace(/\s*Did you mean [\s\S]*$/, '').replace(/"(?:[^"\\]|\\.)*"/g, '"…"');
}

/** graphql-js's message past parseOptions.maxTokens (limits.ts MAX_TOKENS), its own wording. */
const TOKEN_LIMIT = /^Syntax Error: Document contains more (?:that|than) \d+ tokens\. Parsing aborted\.$/;

/** Where graphql-js starts quoting an input in a message, and what replaces the rest of the message. */
const VALUE_MARKERS: readonly [string, string][] = [
  [' got invalid value', ' has an invalid value.'],
  [' cannot represent', ' cannot represent the value given.'],
  [', found ', ', found a value of another type.'],
  ['Value "', 'A value given is not allowed here.'],
];

/** Query errors carry the REST problem type in extensions; unexpected errors never show their message. */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = (error as { originalError?: unknown })?.originalError;
  const p = problemOf(original);
  if (p) {
    const retryAfter = p.headers['Retry-After'];
    return {
      message: p.problem.detail ?? p.problem.title,
      path: formatted.path,
      extensions: { type: p.problem.type, status: p.problem.status, errors: p.problem.errors ?? [], ...(retryAfter ? { retryAfter: Number(retryAfter) } : {}) },
    };
  }
  const code = formatted.extensions?.code;
  // Parse/validation errors (depth, cost, unknown fields) are the client's: keep their message (never an input value).
  if (typeof code === 'string' && CLIENT_CODES.has(code)) {
    return { message: withoutInputValues(formatted.message, code, formatted.locations?.[0]), locations: formatted.locations, extensions: { type: `${PROBLEM_BASE}invalid-request`, code } };
  }
  return { message: 'internal error', path: formatted.path, extensions: { type: `${PROBLEM_BASE}error`, code: 'INTERNAL_SERVER_ERROR' } };
}
