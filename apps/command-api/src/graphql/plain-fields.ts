import { GraphQLFieldResolver, GraphQLSchema, isObjectType } from 'graphql';

/** What a Nest property resolver reads, and answers when the property is absent. */
const probe = (resolve: GraphQLFieldResolver<unknown, unknown>): { read: PropertyKey[]; absent: unknown } => {
  const read: PropertyKey[] = [];
  const source = new Proxy(Object.create(null) as object, {
    get: (_t, key) => {
      read.push(key);
      return undefined;
    },
  });
  let absent: unknown;
  try {
    absent = resolve(source, {}, undefined, undefined as never);
  } catch {
    absent = probe; // not a plain property read
  }
  return { read, absent };
};

/**
 * @nestjs/graphql gives every `@Field` of an object type its own resolver, `(root) => root[name]`
 * (with the field's `defaultValue` when absent). graphql-js and graphql-jit then call a function per
 * field per row instead of reading the property (graphql-jit inlines a field without a resolver
 * into its compiled code): on a 100-row page that is thousands of calls. This replaces such a
 * resolver by none — graphql's default, which reads `source[fieldName]` — where that is provably
 * the same: a probe shows it reads exactly the field's own name and yields `undefined` when the
 * property is absent. Resolvers of `@ResolveField`, field middleware, renamed properties and
 * default values are left as they are. Returns the number of resolvers removed.
 */
export function dropPlainPropertyResolvers(schema: GraphQLSchema): number {
  let dropped = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (!field.resolve || field.resolve.name !== 'rootFieldResolver') continue;
      const { read, absent } = probe(field.resolve);
      if (read.length === 1 && read[0] === field.name && absent === undefined) {
        field.resolve = undefined;
        dropped++;
      }
    }
  }
  return dropped;
}
