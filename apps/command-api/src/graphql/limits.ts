import type { ApolloServerPlugin } from '@apollo/server';
import depthLimit from 'graphql-depth-limit';
import { getComplexity, simpleEstimator } from 'graphql-query-complexity';
import {
  coerceInputValue,
  DocumentNode,
  FragmentDefinitionNode,
  getNamedType,
  GraphQLError,
  GraphQLInputType,
  GraphQLSchema,
  isInputType,
  isLeafType,
  isNonNullType,
  Kind,
  OperationDefinitionNode,
  SelectionSetNode,
  typeFromAST,
  ValidationContext,
  ValueNode,
} from 'graphql';
import { MAX_BATCH_NAMES } from '../secrets/secret-batch-access.controller';

/** Bounds checked before any resolver runs. */
export const MAX_QUERY_DEPTH = 8;
export const MAX_QUERY_COST = 1000;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;
/**
 * Root fields per operation. Each root field is its own read or command (aliases repeat them), so
 * the cost bound alone let one request be 1000 database queries or 200 secret reads; 20 is more
 * than any tool's query needs (the README's reviewer query has 2).
 */
export const MAX_ROOT_FIELDS = 20;
/** Lexer tokens per document: parsing stops there (deeply chained fragments exhausted the stack of the depth and cost rules). */
export const MAX_TOKENS = 5000;

/** graphql-depth-limit: a well-kept validation rule rather than a hand-made AST walk. */
export function limitRules(): Array<(ctx: ValidationContext) => unknown> {
  return [depthLimit(MAX_QUERY_DEPTH)];
}

/**
 * graphql-query-complexity, once the operation and its variables are known (Apollo's
 * didResolveOperation: after validation, before execution). A scalar field costs nothing, every
 * object field 1 (each is a resolver and may be a load); a field with `first` (default page size
 * when absent) or `names` multiplies its children's cost. So a 100-row page of access history
 * costs a few hundred, a page nested inside a page of 100 is refused.
 */
export function costLimitPlugin(): ApolloServerPlugin {
  // Apollo hands the same parsed document for the same query text (its document store): the cost
  // of (document, operation, variables) is computed once (~0.5 ms for a 100-row page query).
  const costs = new WeakMap<DocumentNode, Map<string, number>>();
  const cached = (document: DocumentNode, operationName: string | null | undefined, variables: unknown, compute: () => number): number => {
    let byVars = costs.get(document);
    if (!byVars) costs.set(document, (byVars = new Map()));
    const key = JSON.stringify([operationName ?? null, variables ?? {}]);
    let cost = byVars.get(key);
    if (cost === undefined) {
      cost = compute();
      if (byVars.size >= 256) byVars.clear();
      if (key.length <= 4096) byVars.set(key, cost);
    }
    return cost;
  };
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema, operationName, operation }) {
          const refuse = (message: string) => new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });
          // No subscription type: graphql-js would fail it at execution, as a server error.
          if (operation?.operation === 'subscription') throw refuse('subscriptions are not supported');
          if (!operation) return; // Apollo answers the missing or ambiguous operation itself (a client error)
          const invalid = variableErrors(schema, operation, request.variables ?? {});
          if (invalid.length) throw refuse(invalid.join(' '));
          const shape = operationShapeError(document, operation, request.variables ?? {});
          if (shape) throw refuse(shape);
          let cost: number;
          try {
            cost = cached(document, operationName, request.variables, complexity);
          } catch (e) {
            // The library coerces the variables first: a wrong or missing variable is the client's error, not a 500.
            throw refuse(e instanceof Error ? e.message : 'invalid request');
          }
          if (cost > MAX_QUERY_COST) throw refuse(`query cost ${cost} exceeds the maximum ${MAX_QUERY_COST}`);
          function complexity(): number {
            return getComplexity({
              schema,
              query: document,
              operationName: operationName ?? undefined,
              variables: request.variables ?? {},
              estimators: [
                ({ args, childComplexity, field }) =>
                  'first' in (field.args?.reduce((o, a) => ({ ...o, [a.name]: 1 }), {} as Record<string, number>) ?? {})
                    ? (typeof args.first === 'number' ? Math.max(1, args.first) : DEFAULT_PAGE_SIZE) * Math.max(1, childComplexity)
                    : undefined,
                ({ args, childComplexity }) => (Array.isArray(args.names) ? Math.max(1, args.names.length) * Math.max(1, childComplexity) : undefined),
                ({ field }) => (isLeafType(getNamedType(field.type)) ? 0 : undefined),
                simpleEstimator({ defaultComplexity: 1 }),
              ],
              });
          }
        },
      };
    },
  };
}

/** Messages of coerceInputValue that never hold the input (only type and field names): kept; any other becomes generic. */
const VALUE_FREE = [/^Expected type "[^"]+" to be an object\.$/, /^Field "[^"]+" is not defined by type "[^"]+"\./, /^Field "[^"]+" of required type "[^"]+" was not provided\.$/, /^Expected non-nullable type "[^"]+" not to be null\.$/];

/**
 * The operation's variables checked as graphql-js will coerce them, but with messages that never
 * quote the value: graphql-js's own ("Variable "$input" got invalid value { …, value: "<the secret>" }")
 * would echo a secret's value into the error. At most 10 messages.
 */
export function variableErrors(schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const def of operation.variableDefinitions ?? []) {
    if (out.length >= 10) break;
    const name = def.variable.name.value;
    const type = typeFromAST(schema, def.type as never) as GraphQLInputType | undefined;
    if (!type || !isInputType(type)) continue; // validation already refused it
    const given = Object.prototype.hasOwnProperty.call(variables, name);
    const value = given ? variables[name] : undefined;
    if (!given || value === undefined) {
      if (isNonNullType(type) && !def.defaultValue) out.push(`Variable "$${name}" of required type "${String(type)}" was not provided.`);
      continue;
    }
    if (value === null) {
      if (isNonNullType(type)) out.push(`Variable "$${name}" of non-null type "${String(type)}" must not be null.`);
      continue;
    }
    coerceInputValue(value, type, (path, _invalid, error) => {
      if (out.length >= 10) return;
      const where = path.length ? ` at "${name}${path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}"` : '';
      const why = VALUE_FREE.some((re) => re.test(error.message)) ? error.message : `not a value of type "${String(type)}" (the value is not repeated here).`;
      out.push(`Variable "$${name}" has an invalid value${where}: ${why}`);
    });
  }
  return out;
}

/**
 * Refuses an operation with more than MAX_ROOT_FIELDS root fields (fragments at the root
 * expanded), or whose several secretAccess fields name more than MAX_BATCH_NAMES secrets in all
 * (literals, variables and the document's variable defaults applied): one request decides at most
 * what one REST batch call does, however it is aliased; and has at most one exposureReport.
 */
export function operationShapeError(document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): string | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let roots = 0;
  let names = 0;
  let accesses = 0;
  let reports = 0;
  const seen = new Set<string>();
  // Counted as graphql-js coerces the argument: a variable not sent takes its default from the document
  // (10 aliases of `$n: [String!]! = [100 names]` were counted as 10 names), a single name is a list of one.
  const defaults = new Map((operation.variableDefinitions ?? []).map((d) => [d.variable.name.value, d.defaultValue]));
  const listLength = (v: ValueNode | undefined): number => {
    if (!v || v.kind === Kind.NULL) return 0;
    if (v.kind === Kind.LIST) return v.values.length;
    if (v.kind === Kind.VARIABLE) {
      const name = v.name.value;
      const x = Object.prototype.hasOwnProperty.call(variables, name) ? variables[name] : undefined;
      if (x === undefined) return listLength(defaults.get(name));
      return Array.isArray(x) ? x.length : x === null ? 0 : 1;
    }
    return 1;
  };
  const walk = (set: SelectionSetNode): void => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value.startsWith('__')) continue;
        roots++;
        if (s.name.value === 'exposureReport') reports++;
        if (s.name.value === 'secretAccess') {
          accesses++;
          names += listLength(s.arguments?.find((a) => a.name.value === 'names')?.value);
        }
      } else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const f = fragments.get(s.name.value);
        if (f) walk(f.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  if (roots > MAX_ROOT_FIELDS) return `the operation has ${roots} root fields; at most ${MAX_ROOT_FIELDS} (each is its own read or command: send several requests)`;
  // One secretAccess field over the bound is refused by its own validation, as REST does (a payload error naming `names`).
  if (accesses > 1 && names > MAX_BATCH_NAMES) return `the operation's secretAccess fields name ${names} secrets; at most ${MAX_BATCH_NAMES} per request, as POST …/secrets/access`;
  // An exposure report reads a whole window of history (seconds over a million events): one per request, as REST.
  if (reports > 1) return `the operation has ${reports} exposureReport fields; at most 1 per request, as POST /v1/exposure-reports`;
  return undefined;
}
