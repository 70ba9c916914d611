import { AccessRequestsResolver } from './access-requests.resolver';
import { AccessViaResolver, ComplianceResolver, ProjectSecretFieldsResolver, ReaderViaResolver } from './compliance.resolver';
import { GrantsResolver } from './grants.resolver';
import { GroupsResolver } from './groups.resolver';
import { ExposureResolver } from './exposure.resolver';
import { SecretsResolver } from './secrets.resolver';

/** Every resolver of the GraphQL API (command-api.module.ts provides them; schema-sdl.ts prints them). */
export const GRAPHQL_RESOLVERS = [SecretsResolver, GrantsResolver, ComplianceResolver, ProjectSecretFieldsResolver, AccessViaResolver, ReaderViaResolver, AccessRequestsResolver, GroupsResolver, ExposureResolver];
