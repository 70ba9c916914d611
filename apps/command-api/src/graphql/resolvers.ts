import { GrantsResolver } from './grants.resolver';
import { SecretsResolver } from './secrets.resolver';

/** Every resolver of the GraphQL API (command-api.module.ts provides them; schema-sdl.ts prints them). */
export const GRAPHQL_RESOLVERS = [SecretsResolver, GrantsResolver];
