import { Test } from '@nestjs/testing';
import { GraphQLSchemaBuilderModule, GraphQLSchemaFactory } from '@nestjs/graphql';
import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { GRAPHQL_RESOLVERS } from './resolvers';

/** The code-first schema as Nest's schema factory builds it (its field resolvers, before the resolver classes are bound). */
export async function buildCodeFirstSchema(): Promise<GraphQLSchema> {
  const mod = await Test.createTestingModule({ imports: [GraphQLSchemaBuilderModule] }).compile();
  await mod.init();
  const schema = await mod.get(GraphQLSchemaFactory).create(GRAPHQL_RESOLVERS as never[], { numberScalarMode: 'integer' });
  await mod.close();
  return schema;
}

/** The code-first schema as SDL (what schema.graphql at the repository root must hold). */
export async function buildSchemaSdl(): Promise<string> {
  const schema = await buildCodeFirstSchema();
  return `# Generated from the code-first schema (apps/command-api/src/graphql); regenerate with\n# UPDATE_GRAPHQL_SCHEMA=1 npm run --silent jest -- apps/command-api/src/graphql/schema.unit.spec.ts\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
}
