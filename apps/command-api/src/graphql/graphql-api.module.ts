import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { formatGraphqlError } from './errors';
import { costLimitPlugin, limitRules } from './limits';
import { GqlContext } from './secrets.resolver';

export const GRAPHQL_PATH = '/graphql';

/** No GraphQL answer is cacheable (secretAccess holds values; the rest is authorization-dependent). */
function noStore(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          response.http.headers.set('cache-control', 'no-store');
        },
      };
    },
  };
}

/**
 * POST /graphql (GET for queries). Apollo Server 5 via @nestjs/apollo on Nest's express platform:
 * chosen over graphql-yoga for its built-in CSRF prevention (on by default), mutations refused
 * over GET, batching off by default, and being Nest's first-party driver. Its cost is per field
 * (docs/benchmarks.md "GraphQL vs REST": a 100-row page serves at about half REST's throughput in
 * the production profile).
 * Authentication: the app-wide BearerAuthGuard runs before each resolver on the same request.
 */
export const graphqlRoot = () =>
  GraphQLModule.forRoot<ApolloDriverConfig>({
    driver: ApolloDriver,
    path: GRAPHQL_PATH,
    autoSchemaFile: true,
    sortSchema: true,
    introspection: true,
    playground: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    validationRules: limitRules() as never,
    // Apollo's cache-control plugin hooks every field's resolution (a per-row cost on 100-row pages) to
    // compute a cache policy nothing here may have: off, and every answer says no-store instead.
    plugins: [ApolloServerPluginCacheControlDisabled(), noStore(), costLimitPlugin()],
    formatError: formatGraphqlError,
    context: ({ req }: GqlContext) => ({ req }),
    buildSchemaOptions: { numberScalarMode: 'integer' },
  });
