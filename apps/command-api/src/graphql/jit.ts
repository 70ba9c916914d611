import type { ApolloServerPlugin, GraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { BREAK, DocumentNode, FragmentDefinitionNode, GraphQLError, GraphQLFormattedError, GraphQLSchema, Kind, OperationDefinitionNode, SelectionSetNode, visit } from 'graphql';
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

/** At most this many selections (fragments expanded, @include/@skip ignored: graphql-jit compiles them all) are compiled. */
export const MAX_COMPILED_SELECTIONS = 500;

/**
 * What graphql-jit can compile as graphql-js executes it: no string literal (code injection), no `_` in an alias, a field
 * name (but __typename) or a variable name (`$__proto__` is dropped: graphql-jit's variables are a plain object; an alias
 * `__proto__` becomes an object-literal key; resolve infos are named by the response path joined with `_`), no @include/@skip
 * on a fragment (graphql-jit keeps include-conditions on the shared fragment's nodes), and a bounded compiled size.
 */
export function compilable(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  if (hasStringLiteral(document)) return false;
  let ok = true;
  const fragmentDirective = (node: { directives?: readonly { name: { value: string } }[] }) => node.directives?.some((d) => d.name.value === 'include' || d.name.value === 'skip');
  visit(document, {
    [Kind.FIELD](node) {
      if (node.alias?.value.includes('_') || (node.name.value !== '__typename' && node.name.value.includes('_'))) return (ok = false), BREAK;
    },
    [Kind.VARIABLE_DEFINITION](node) {
      if (node.variable.name.value.includes('_')) return (ok = false), BREAK;
    },
    [Kind.INLINE_FRAGMENT](node) {
      if (fragmentDirective(node)) return (ok = false), BREAK;
    },
    [Kind.FRAGMENT_SPREAD](node) {
      if (fragmentDirective(node)) return (ok = false), BREAK;
    },
  });
  if (!ok) return false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let selections = 0;
  const walk = (set: SelectionSetNode): boolean => {
    for (const s of set.selections) {
      if (++selections > MAX_COMPILED_SELECTIONS) return false;
      const next = s.kind === Kind.FRAGMENT_SPREAD ? fragments.get(s.name.value)?.selectionSet : s.selectionSet;
      if (next && !walk(next)) return false;
    }
    return true;
  };
  return walk(operation.selectionSet);
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
 *
 * **Only what compiles to the same behaviour** ({@link compilable}; an adversarial review found each,
 * jit-attacks.unit.spec.ts runs them): graphql-jit compiles subtrees under `@include(if: false)` that
 * the cost rule rightly prices at nothing, so a 1 KB document of nested fragments cost 11 s and
 * 0.9 GB to compile before any authentication ran — the compiled size is bounded; its variables are a
 * plain object, so `$__proto__` was dropped (the cost limit priced `first: 1`, the resolver paged 50)
 * — no `_` in variable names, aliases or field names but `__typename` (introspection runs
 * interpreted); it names resolve infos by the response path joined with `_` (collisions) — same rule;
 * and it keeps `@include`/`@skip` of a fragment spread on the shared fragment's nodes — no such
 * directive on a fragment; it reads each variable as `variables[name]`, so an unsent `$toString` was
 * Object.prototype's — the variables are handed over in a prototype-free object. Everything else
 * runs on graphql-js, as before.
 */
export function jitExecutionPlugin(
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError,
  executed: (operation: string, executor: 'compiled' | 'interpreted') => void = () => undefined,
  /** GRAPHQL_JIT: off runs every operation on graphql-js (still counted). */
  enabled = true,
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
          if (!operation) return null; // no (or an ambiguous) operation: Apollo answers it as a client error
          const interpreted = () => (executed(operation.operation, 'interpreted'), null);
          if (!enabled || operation.operation !== 'query') return interpreted();
          const entry = entryOf(document, operationName ?? '', schema);
          if (entry.compiled === undefined) {
            if (entry.seen++ < JIT_AFTER_EXECUTIONS) return interpreted();
            if (!compilable(document, operation)) entry.compiled = null;
            else {
              const c = compileQuery(schema, document, operationName ?? undefined);
              entry.compiled = isCompiledQuery(c) ? c : null;
            }
          }
          if (!entry.compiled) return interpreted();
          executed('query', 'compiled');
          // A prototype-free copy: graphql-jit reads a variable as `input[name] == null`, so from a plain object an unsent
          // `$toString` (or any Object.prototype member) was the inherited function and the compiled run answered an
          // internal error where graphql-js leaves the argument out (issue 18, 9; jit-attacks.unit.spec.ts).
          const variables = Object.assign(Object.create(null) as Record<string, unknown>, request.variables);
          const result = await entry.compiled.query(undefined, contextValue, variables);
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
