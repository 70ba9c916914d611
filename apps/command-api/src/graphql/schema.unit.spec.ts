import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, GraphQLObjectType, isObjectType, parse, validate } from 'graphql';
import { buildSchemaSdl } from './schema-sdl';

const FILE = join(__dirname, '../../../../schema.graphql');

describe('GraphQL schema', () => {
  let sdl: string;
  beforeAll(async () => {
    sdl = await buildSchemaSdl();
    if (process.env.UPDATE_GRAPHQL_SCHEMA === '1') writeFileSync(FILE, sdl);
  });

  it('schema.graphql at the repository root is the code-first schema', () => {
    expect(readFileSync(FILE, 'utf8')).toBe(sdl);
  });

  it("the README's GraphQL examples are valid against the schema", () => {
    const readme = readFileSync(join(__dirname, '../../../../README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const schema = buildSchema(sdl);
    for (const block of blocks) {
      // One operation per line in the mutation block; the query blocks are one operation each.
      const ops = block.trim().startsWith('mutation') ? block.trim().split('\n') : [block];
      for (const op of ops) expect([op.slice(0, 80), validate(schema, parse(op.replace(/"6f1c…"/g, '"6f1c"'))).map((e) => e.message)]).toEqual([op.slice(0, 80), []]);
    }
  });

  it('only SecretValue (the result of secretAccess) has a field that can hold a value', () => {
    const schema = buildSchema(sdl);
    const holders: string[] = [];
    for (const t of Object.values(schema.getTypeMap())) {
      if (t.name.startsWith('__') || !isObjectType(t)) continue;
      for (const f of Object.values((t as GraphQLObjectType).getFields())) {
        if (/value|secretData|plaintext/i.test(f.name)) holders.push(`${t.name}.${f.name}`);
      }
    }
    expect(holders).toEqual(['SecretValue.value']);
    const access = schema.getMutationType()!.getFields().secretAccess;
    expect(String(access.type)).toBe('SecretAccessPayload!');
    expect(String((schema.getType('SecretAccessPayload') as GraphQLObjectType).getFields().items.type)).toBe('[SecretValue!]!');
    // SecretValue is reachable from nowhere else.
    const users = Object.values(schema.getTypeMap())
      .filter((t) => isObjectType(t) && !t.name.startsWith('__'))
      .flatMap((t) => Object.values((t as GraphQLObjectType).getFields()).filter((f) => String(f.type).includes('SecretValue!') && !String(f.type).includes('Payload')).map((f) => `${t.name}.${f.name}`));
    expect(users).toEqual(['SecretAccessPayload.items']);
  });
});
