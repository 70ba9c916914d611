import { buildSchema, OperationDefinitionNode, parse, validate } from 'graphql';
import { withoutInputValues } from './errors';
import { costLimitPlugin, limitRules, MAX_QUERY_DEPTH, variableErrors } from './limits';

// A recursive schema: the first slice's own types are all shallower than the bound.
const schema = buildSchema('type Node { name: String, child: Node } type Query { root: Node }');
const nested = (levels: number) => `{ root { ${'child { '.repeat(levels - 2)}name${' }'.repeat(levels - 2)} } }`;

describe('GraphQL depth limit (graphql-depth-limit)', () => {
  it(`accepts a query ${MAX_QUERY_DEPTH} fields deep and refuses one nested two levels deeper (the library counts the root field as depth 0), during validation`, () => {
    expect(validate(schema, parse(nested(MAX_QUERY_DEPTH)), limitRules() as never)).toEqual([]);
    const errs = validate(schema, parse(nested(MAX_QUERY_DEPTH + 2)), limitRules() as never);
    expect(errs.map((e) => e.message)).toEqual([expect.stringMatching(/exceeds maximum operation depth of 8/)]);
  });
});

describe('GraphQL cost (graphql-query-complexity, through the plugin)', () => {
  const sdl = `
    type Row { a: String, b: Int, c: Boolean, child: Child }
    type Child { x: String }
    type Page { edges: [Edge!]! }
    type Edge { node: Row! page(first: Int): Page }
    type Query { rows(first: Int): Page }
  `;
  const s = buildSchema(sdl);
  async function run(query: string, variables: Record<string, unknown> = {}): Promise<string | null> {
    const hooks = await costLimitPlugin().requestDidStart!({} as never);
    const document = parse(query);
    const operation = document.definitions[0] as never;
    try {
      await (hooks as { didResolveOperation: (x: unknown) => Promise<void> }).didResolveOperation({ request: { variables }, document, schema: s, operationName: null, operation });
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  it('scalar fields are free: a 100-row page with many scalars and one object per row fits', async () => {
    // rows(100) x (edges 1 + node 1 + child 1) = 300
    expect(await run('{ rows(first: 100) { edges { node { a b c child { x } } } } }')).toBeNull();
  });

  it('a page of 100 inside a page of 100 is refused before execution, with variables too', async () => {
    expect(await run('{ rows(first: 100) { edges { page(first: 100) { edges { node { a } } } } } }')).toMatch(/query cost \d+ exceeds the maximum 1000/);
    expect(await run('query Q($n: Int) { rows(first: $n) { edges { page(first: $n) { edges { node { a } } } } } }', { n: 100 })).toMatch(/exceeds the maximum/);
    expect(await run('query Q($n: Int) { rows(first: $n) { edges { page(first: $n) { edges { node { a } } } } } }', { n: 5 })).toBeNull();
  });

  it('a variable of the wrong type or a subscription is a client error (400), not a server error', async () => {
    expect(await run('query Q($n: Int) { rows(first: $n) { edges { node { a } } } }', { n: 'many' })).toBe('Variable "$n" has an invalid value: not a value of type "Int" (the value is not repeated here).');
    expect(await run('subscription { rows { edges { node { a } } } }')).toBe('subscriptions are not supported');
  });
});

describe('GraphQL error messages never repeat an input value (withoutInputValues, variableErrors)', () => {
  const SECRET = 'hunter2-value';
  it.each([
    [`Variable "$input" got invalid value { projectId: "p", value: "${SECRET}" }; Field "name" of required type "String!" was not provided.`, undefined, 'Variable "$input" has an invalid value.'],
    [`String cannot represent a non string value: { v: "${SECRET}" }`, 'GRAPHQL_VALIDATION_FAILED', 'String cannot represent the value given.'],
    [`Expected value of type "Int", found "${SECRET}"; reason`, 'GRAPHQL_VALIDATION_FAILED', 'Expected value of type "Int", found a value of another type.'],
    [`Syntax Error: Expected Name, found String "${SECRET}".`, 'GRAPHQL_PARSE_FAILED', 'Syntax Error: Expected Name, found a string.'],
    [`Syntax Error: Expected Name, found BlockString "${SECRET}".`, 'GRAPHQL_PARSE_FAILED', 'Syntax Error: Expected Name, found a string.'],
    ['Cannot query field "nope" on type "Query".', 'GRAPHQL_VALIDATION_FAILED', 'Cannot query field "nope" on type "Query".'],
  ])('%s', (message, code, expected) => {
    expect(withoutInputValues(message, code)).toBe(expected);
  });

  it('variables: missing, null, unknown field, wrong type — messages with paths and types, never the value', () => {
    const schema = buildSchema('input In { name: String!, value: String! } type Query { x(i: In!, n: Int): Int }');
    const op = parse('query Q($i: In!, $n: Int) { x(i: $i, n: $n) }').definitions[0] as OperationDefinitionNode;
    expect(variableErrors(schema, op, {})).toEqual(['Variable "$i" of required type "In!" was not provided.']);
    expect(variableErrors(schema, op, { i: null })).toEqual(['Variable "$i" of non-null type "In!" must not be null.']);
    const msgs = variableErrors(schema, op, { i: { value: SECRET, bogus: SECRET }, n: SECRET });
    expect(msgs.join(' ')).not.toContain(SECRET);
    expect(msgs).toEqual([
      'Variable "$i" has an invalid value: Field "name" of required type "String!" was not provided.',
      'Variable "$i" has an invalid value: Field "bogus" is not defined by type "In".',
      'Variable "$n" has an invalid value: not a value of type "Int" (the value is not repeated here).',
    ]);
  });
});
