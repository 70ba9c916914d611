import { execute, GraphQLObjectType, GraphQLSchema, GraphQLString, isObjectType, parse } from 'graphql';
import { dropPlainPropertyResolvers } from './plain-fields';
import { buildCodeFirstSchema } from './schema-sdl';

// Nest's own shape: (root) => root[name], with the field's defaultValue when absent.
const nestResolver = (name: string, defaultValue?: unknown) => {
  const rootFieldResolver = (root: Record<string, unknown>) => (typeof root[name] === 'undefined' ? defaultValue : root[name]);
  return rootFieldResolver;
};

describe('dropPlainPropertyResolvers', () => {
  const build = () =>
    new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: {
          plain: { type: GraphQLString, resolve: nestResolver('plain') },
          renamed: { type: GraphQLString, resolve: nestResolver('storedAs') },
          defaulted: { type: GraphQLString, resolve: nestResolver('defaulted', 'fallback') },
          computed: { type: GraphQLString, resolve: () => 'computed' },
          throws: {
            type: GraphQLString,
            resolve: function rootFieldResolver() {
              throw new Error('not a property read');
            },
          },
        },
      }),
    });

  it('removes only a resolver that reads exactly its own property and answers undefined when it is absent', async () => {
    const schema = build();
    const source = { plain: 'p', storedAs: 'r', renamed: 'wrong', defaulted: undefined };
    const query = parse('{ plain renamed defaulted computed }');
    const before = await execute({ schema, document: query, rootValue: source });
    expect(dropPlainPropertyResolvers(schema)).toBe(1);
    const fields = schema.getQueryType()!.getFields();
    expect(Object.entries(fields).filter(([, f]) => !f.resolve).map(([n]) => n)).toEqual(['plain']);
    // The same answers as before: the renamed property, the default value and the computed field untouched.
    expect(await execute({ schema, document: query, rootValue: source })).toEqual(before);
    expect(before.data).toEqual({ plain: 'p', renamed: 'r', defaulted: 'fallback', computed: 'computed' });
  });

  it('on the code-first schema: every plain @Field loses its per-row resolver', async () => {
    const schema = await buildCodeFirstSchema();
    const nestResolvers = () =>
      Object.values(schema.getTypeMap())
        .filter((t) => isObjectType(t) && !t.name.startsWith('__'))
        .flatMap((t) => Object.values((t as GraphQLObjectType).getFields()).filter((f) => f.resolve?.name === 'rootFieldResolver').map((f) => `${t.name}.${f.name}`));
    const before = nestResolvers().length;
    expect(before).toBeGreaterThan(100);
    expect(dropPlainPropertyResolvers(schema)).toBe(before);
    expect(nestResolvers()).toEqual([]);
  });
});
