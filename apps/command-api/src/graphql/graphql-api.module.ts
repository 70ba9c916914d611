import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { Metrics } from '@app/infra/observability/metrics';
import { CONFIG, METRICS } from '@app/infra/nest/tokens';
import { AppConfig } from '@app/infra/config/config';
import { formatGraphqlError } from './errors';
import { jitExecutionPlugin } from './jit';
import { dropPlainPropertyResolvers } from './plain-fields';
import { costLimitPlugin, limitRules, MAX_TOKENS } from './limits';
import { GqlContext } from './secrets.resolver';

export const GRAPHQL_PATH = '/graphql';

/**
 * No GraphQL answer is cacheable (secretAccess holds values; the rest is authorization-dependent).
 * And a rate-limited answer says when to retry, as REST's 429 does: `Retry-After` from the largest
 * `extensions.retryAfter` of its errors (formatGraphqlError puts the problem's there).
 */
function responseHeaders(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          response.http.headers.set('cache-control', 'no-store');
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const retry = Math.max(0, ...(errors ?? []).map((e) => Number(e.extensions?.retryAfter ?? 0)).filter(Number.isFinite));
          if (retry > 0) response.http.headers.set('retry-after', String(retry));
        },
      };
    },
  };
}

/**
 * POST /graphql (GET for queries). Apollo Server 5 via @nestjs/apollo on Nest's express platform:
 * chosen over graphql-yoga for its built-in CSRF prevention (on by default), mutations refused
 * over GET, batching off by default, and being Nest's first-party driver. Its interpreter's cost
 * is per field, so queries run compiled by graphql-jit once seen twice (./jit.ts; docs/benchmarks.md
 * "GraphQL vs REST").
 * Authentication: the app-wide BearerAuthGuard runs before each resolver on the same request.
 */
export const graphqlRoot = () =>
  GraphQLModule.forRootAsync<ApolloDriverConfig>({
    driver: ApolloDriver,
    inject: [METRICS, CONFIG],
    useFactory: (metrics: Metrics, config: AppConfig): ApolloDriverConfig => ({
      path: GRAPHQL_PATH,
      autoSchemaFile: true,
      sortSchema: true,
      introspection: true,
      playground: false,
      csrfPrevention: true,
      allowBatchedHttpRequests: false,
      // Queries come as text: no persisted-query store (an unknown hash was an internal error).
      persistedQueries: false,
      // Parsing stops past MAX_TOKENS: deeply chained fragments exhausted the depth and cost rules' stack.
      parseOptions: { maxTokens: MAX_TOKENS },
      includeStacktraceInErrorResponses: false,
      validationRules: limitRules() as never,
      // Apollo's cache-control plugin hooks every field's resolution (a per-row cost on 100-row pages) to
      // compute a cache policy nothing here may have: off, and every answer says no-store instead.
      // Queries reused by a tool run compiled (graphql-jit, after the cost limit): ./jit.ts.
      plugins: [
        ApolloServerPluginCacheControlDisabled(),
        responseHeaders(),
        costLimitPlugin(),
        jitExecutionPlugin(formatGraphqlError, (operation, executor) => metrics.graphqlOperations.inc({ operation, executor }), config.graphqlJit),
      ],
      formatError: formatGraphqlError,
      context: ({ req }: GqlContext) => ({ req }),
      buildSchemaOptions: { numberScalarMode: 'integer' },
      // A plain @Field reads its property without a resolver call per row (./plain-fields.ts).
      transformSchema: (schema) => (dropPlainPropertyResolvers(schema), schema),
    }),
  });
