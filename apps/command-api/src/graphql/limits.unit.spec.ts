import { buildSchema, parse, validate } from 'graphql';
import { limitRules, MAX_QUERY_DEPTH } from './limits';

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
