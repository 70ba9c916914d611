import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { formatGraphqlError } from './errors';
import { costLimitPlugin, limitRules } from './limits';
import { GqlContext } from './secrets.resolver';

export const GRAPHQL_PATH = '/graphql';

/**
 * POST /graphql (GET for queries). Apollo Server 5 via @nestjs/apollo on Nest's express platform:
 * chosen over graphql-yoga for its built-in CSRF prevention (on by default), mutations refused
 * over GET, batching off by default, and being Nest's first-party driver; per-request overhead is
 * small next to the event-store round-trips each operation makes.
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
    plugins: [costLimitPlugin()],
    formatError: formatGraphqlError,
    context: ({ req }: GqlContext) => ({ req }),
    buildSchemaOptions: { numberScalarMode: 'integer' },
  });
