import type { ApolloServerPlugin } from '@apollo/server';
import depthLimit from 'graphql-depth-limit';
import { getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { DocumentNode, getNamedType, GraphQLError, isLeafType, ValidationContext } from 'graphql';

/** Bounds checked before any resolver runs. */
export const MAX_QUERY_DEPTH = 8;
export const MAX_QUERY_COST = 1000;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

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
