import type { ApolloServerPlugin, GraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { BREAK, DocumentNode, GraphQLError, GraphQLFormattedError, GraphQLSchema, Kind, visit } from 'graphql';
import { compileQuery, CompiledQuery, isCompiledQuery } from 'graphql-jit';

/** Whether the document holds a string literal anywhere (argument, list, input object, directive, variable default). */
export function hasStringLiteral(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.STRING]() {
      found = true;
      return BREAK;
    },
  });
  return found;
}

/** A document is compiled on its second execution: a query sent once (a fuzzer, a one-off) costs no compilation. */
export const JIT_AFTER_EXECUTIONS = 1;

type Entry = { schema: GraphQLSchema; seen: number; compiled?: CompiledQuery | null };

/**
 * Queries run through graphql-jit (the compiled executor Mercurius uses, kept by Zalando): it turns
 * a validated document into one function per (schema, operation), so the per-field work of
 * graphql-js's interpreter (argument coercion, completeValue, null-prototype result objects) is done
 * once at compile time instead of on every row of a 100-row page (docs/benchmarks.md "GraphQL vs
 * REST"). It runs in Apollo's responseForOperation hook, i.e. after parsing, validation, the depth
 * rule and the cost limit (didResolveOperation), with the same context, so the same resolvers,
 * guards, loaders and authorization run; only the walk over the result differs.
 *
 * Mutations are never compiled (each runs once, and graphql-js's serial execution of mutation
 * fields stays as it is), nor is a document graphql-jit cannot compile (it falls back to graphql-js).
 * Errors are formatted as Apollo formats them (the same `formatError`), so answers are the same.
 *
 * **Never a document with a string literal.** graphql-jit generates JavaScript, and it writes the
 * literal argument values of the document into that code: `JSON.stringify` of the values, then a
 * textual replacement of marker strings — one of which turns `"<date marker>…"` into `new Date(…)`
 * with whatever text followed the marker. A client that puts the (public, fixed) marker in a string
 * argument gets its text executed on the server (a unit test runs that query: jit.unit.spec.ts).
 * So only documents whose every value is a variable, a number, a boolean, null, an enum or a
 * list/object of those are compiled: names in a document are GraphQL Names ([_A-Za-z][_0-9A-Za-z]*),
 * numbers are checked by the lexer, variables' runtime values are data the compiled code reads, and
 * this schema has no custom scalar whose parseLiteral could produce a string. Tools that pass their
 * inputs as variables (as they should, and as the examples in the README do) get the compiled path.
 */
export function jitExecutionPlugin(
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
  executed: (operation: string, executor: 'compiled' | 'interpreted') => void = () => undefined,
): ApolloServerPlugin {
  // Keyed by Apollo's parsed document (its document store hands the same object for the same text), per operation name.
  const cache = new WeakMap<DocumentNode, Map<string, Entry>>();
  const entryOf = (document: DocumentNode, operationName: string, schema: GraphQLSchema): Entry => {
    let byOp = cache.get(document);
    if (!byOp) cache.set(document, (byOp = new Map()));
    let entry = byOp.get(operationName);
    if (!entry || entry.schema !== schema) byOp.set(operationName, (entry = { schema, seen: 0 }));
    return entry;
  };
  return {
    async requestDidStart() {
      return {
        async responseForOperation({ document, operation, operationName, schema, contextValue, request, response }): Promise<GraphQLResponse | null> {
          const interpreted = () => (executed(operation.operation, 'interpreted'), null);
          if (operation.operation !== 'query') return interpreted();
          const entry = entryOf(document, operationName ?? '', schema);
          if (entry.compiled === undefined) {
            if (entry.seen++ < JIT_AFTER_EXECUTIONS) return interpreted();
            if (hasStringLiteral(document)) entry.compiled = null;
            else {
              const c = compileQuery(schema, document, operationName ?? undefined);
              entry.compiled = isCompiledQuery(c) ? c : null;
            }
          }
          if (!entry.compiled) return interpreted();
          executed('query', 'compiled');
          const result = await entry.compiled.query(undefined, contextValue, request.variables ?? {});
          const http = { status: response.http.status, headers: new HeaderMap() };
          const errors = result.errors?.map((e) => formatError(enrich(e, http), e));
          return { http, body: { kind: 'single', singleResult: { data: result.data as Record<string, unknown> | null | undefined, ...(errors ? { errors } : {}) } } };
        },
      };
    },
  };
}

/** What Apollo does to an execution error before formatError: a default code, and `extensions.http` applied to the response, not shown. */
function enrich(e: GraphQLError, http: { status?: number; headers: HeaderMap }): GraphQLFormattedError {
  const { http: wanted, ...extensions } = { ...e.extensions, code: e.extensions?.code ?? 'INTERNAL_SERVER_ERROR' } as Record<string, unknown>;
  const w = wanted as { status?: number; headers?: Map<string, string> } | undefined;
  if (w?.status) http.status = w.status;
  if (w?.headers) for (const [k, v] of w.headers) http.headers.set(k, v);
  return { ...e.toJSON(), extensions };
}
