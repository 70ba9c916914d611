import { buildSchema, OperationDefinitionNode, parse, validate } from 'graphql';
import { formatGraphqlError, withoutInputValues } from './errors';
import { costLimitPlugin, limitRules, MAX_QUERY_DEPTH, operationShapeError, variableErrors } from './limits';
import { buildCodeFirstSchema } from './schema-sdl';

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

describe('GraphQL cost of the group fields (the real schema): priced as the project ones', () => {
  let schema: import('graphql').GraphQLSchema;
  beforeAll(async () => {
    schema = await buildCodeFirstSchema();
  });
  async function cost(query: string, variables: Record<string, unknown> = { g: 'acme/payments', p: 'pay-a' }): Promise<string | null> {
    const hooks = await costLimitPlugin().requestDidStart!({} as never);
    const document = parse(query);
    expect(validate(schema, document)).toEqual([]);
    const operation = document.definitions[0] as never;
    try {
      await (hooks as { didResolveOperation: (x: unknown) => Promise<void> }).didResolveOperation({ request: { variables }, document, schema, operationName: null, operation });
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }
  // first x (edges 1 + node 1 + rotation 1 + pageInfo 1): a page of 100 costs 400.
  const page = (alias: string, field: 'groupSecrets(groupId: $g' | 'projectSecrets(projectId: $p', first?: number) =>
    `${alias}: ${field}${first === undefined ? '' : `, first: ${first}`}) { edges { cursor node { name rotation { status } } } pageInfo { hasNextPage } }`;
  const Q = (...fields: string[]) => {
    const body = fields.join(' ');
    const defs = [body.includes('$g') ? '$g: String!' : '', body.includes('$p') ? '$p: String!' : ''].filter(Boolean).join(', ');
    return `query(${defs}) { ${body} }`;
  };

  it('groupSecrets: first multiplies its rows (a page of 100 costs 400; three cost 1200, refused before any resolver)', async () => {
    expect(await cost(Q(page('a', 'groupSecrets(groupId: $g', 100), page('b', 'groupSecrets(groupId: $g', 100)))).toBeNull();
    expect(await cost(Q(page('a', 'groupSecrets(groupId: $g', 100), page('b', 'groupSecrets(groupId: $g', 100), page('c', 'groupSecrets(groupId: $g', 100)))).toBe('query cost 1200 exceeds the maximum 1000');
    // The same as projectSecrets, row for row.
    expect(await cost(Q(page('a', 'projectSecrets(projectId: $p', 100), page('b', 'projectSecrets(projectId: $p', 100), page('c', 'groupSecrets(groupId: $g', 100)))).toBe('query cost 1200 exceeds the maximum 1000');
  });

  it('groupSecrets without first is priced as the default page (50 rows); with first as a variable, as its value', async () => {
    expect(await cost(Q(...['a', 'b', 'c', 'd', 'e', 'f'].map((x) => page(x, 'groupSecrets(groupId: $g'))))).toBe('query cost 1200 exceeds the maximum 1000');
    const byVar = 'query($g: String!, $n: Int) { a: groupSecrets(groupId: $g, first: $n) { edges { node { name } } } b: groupSecrets(groupId: $g, first: $n) { edges { node { name } } } c: groupSecrets(groupId: $g, first: $n) { edges { node { name } } } d: groupSecrets(groupId: $g, first: $n) { edges { node { name } } } e: groupSecrets(groupId: $g, first: $n) { edges { node { name } } } f: groupSecrets(groupId: $g, first: $n) { edges { node { name } } } }';
    expect(await cost(byVar, { g: 'acme', n: 100 })).toBe('query cost 1200 exceeds the maximum 1000');
    expect(await cost(byVar, { g: 'acme', n: 5 })).toBeNull();
  });

  it('groupSecret and groupGrants cost 1 plus their object fields, as projectSecret and projectGrants', async () => {
    const three = [page('a', 'groupSecrets(groupId: $g', 100), page('b', 'groupSecrets(groupId: $g', 100), page('c', 'groupSecrets(groupId: $g', 100)];
    expect(await cost(Q(...three, 'd: groupSecret(groupId: $g, name: "X") { name rotation { status } }', 'e: groupGrants(groupId: $g) { grantId principal { id } }'))).toBe('query cost 1204 exceeds the maximum 1000');
    expect(await cost(Q(...three, 'd: projectSecret(projectId: $p, name: "X") { name rotation { status } }', 'e: projectGrants(projectId: $p) { grantId principal { id } }'))).toBe('query cost 1204 exceeds the maximum 1000');
  });

  it('the group mutations are single commands (cost 1 plus their payload objects) and count toward the root-field bound', async () => {
    const m = (n: number) => `mutation($g: String!) { ${Array.from({ length: n }, (_, i) => `m${i}: groupSecretDelete(groupId: $g, name: "X${i}") { deleted errors { field } }`).join(' ')} }`;
    expect(await cost(m(20), { g: 'acme' })).toBeNull();
    expect(await cost(m(21), { g: 'acme' })).toMatch(/the operation has 21 root fields; at most 20/);
  });
});

describe('GraphQL error messages never repeat an input value (withoutInputValues, variableErrors)', () => {
  const SECRET = 'hunter2-value';
  it.each([
    [`Variable "$input" got invalid value { projectId: "p", value: "${SECRET}" }; Field "name" of required type "String!" was not provided.`, undefined, 'Variable "$input" has an invalid value.'],
    [`String cannot represent a non string value: { v: "${SECRET}" }`, 'GRAPHQL_VALIDATION_FAILED', 'String cannot represent the value given.'],
    [`Syntax Error: Expected Name, found String "${SECRET}".`, 'GRAPHQL_PARSE_FAILED', 'Syntax Error: the document is not valid GraphQL (its text is not repeated here).'],
    [`Syntax Error: Expected Name, found BlockString "${SECRET}".`, 'GRAPHQL_PARSE_FAILED', 'Syntax Error: the document is not valid GraphQL (its text is not repeated here).'],
    // Issue 18, 10: a value sent inline unquoted is a Name token, echoed as such.
    ['Syntax Error: Expected ":", found Name "hunter2".', 'GRAPHQL_PARSE_FAILED', 'Syntax Error: the document is not valid GraphQL (its text is not repeated here).'],
    ['Syntax Error: Unexpected Name "hunter2".', 'GRAPHQL_PARSE_FAILED', 'Syntax Error: the document is not valid GraphQL (its text is not repeated here).'],
    ['Syntax Error: Invalid number, expected digit but got: "h".', 'GRAPHQL_PARSE_FAILED', 'Syntax Error: the document is not valid GraphQL (its text is not repeated here).'],
    // graphql-js's own wording ("more that"): no document text, kept.
    ['Syntax Error: Document contains more that 5000 tokens. Parsing aborted.', 'GRAPHQL_PARSE_FAILED', 'Syntax Error: Document contains more that 5000 tokens. Parsing aborted.'],
    // round-3 review item 5: validation messages quote document names; they become generic, the rule stays
    ['Cannot query field "nope" on type "Query".', 'GRAPHQL_VALIDATION_FAILED', 'Cannot query field "…" on type "…".'],
    ['Cannot query field "canaryhunter2value" on type "Query". Did you mean "canary"?', 'GRAPHQL_VALIDATION_FAILED', 'Cannot query field "…" on type "…".'],
    [`Expected value of type "Int", found "${SECRET}"; reason`, 'GRAPHQL_VALIDATION_FAILED', 'Expected value of type "…", found a value of another type.'],
  ])('%s', (message, code, expected) => {
    expect(withoutInputValues(message, code)).toBe(expected);
  });

  it('round-3 review item 5: graphql-js validation errors of a real schema never repeat a name from the document; the rule and the locations stay', () => {
    const schema = buildSchema('type Query { canary(n: Int): Int }');
    const doc = parse('query Q($hunter2var: Int) { canaryhunter2value canary(hunter2arg: 1) @hunter2dir ...hunter2frag ... on Hunter2Type { canary } } fragment unused2hunter on Query { canary }');
    const errs = validate(schema, doc);
    expect(errs.length).toBeGreaterThanOrEqual(6);
    for (const e of errs) {
      const f = formatGraphqlError({ message: e.message, locations: e.locations, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, e);
      expect(f.message.toLowerCase()).not.toContain('hunter2');
      expect(f.message).not.toContain('Did you mean');
      expect(f.locations).toEqual(e.locations);
      expect(f.message.split(/"/)[0]).toBe(e.message.split(/"/)[0]); // the rule's wording
    }
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

describe('secretAccess names per operation are counted after variable defaults and literals (operationShapeError)', () => {
  const shape = (query: string, variables: Record<string, unknown> = {}) => {
    const document = parse(query);
    return operationShapeError(document, document.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode, variables);
  };
  const list = (n: number, prefix = 'N') => `[${Array.from({ length: n }, (_, i) => `"${prefix}_${i}"`).join(', ')}]`;
  const aliases = (n: number, arg: string) => Array.from({ length: n }, (_, i) => `a${i}: secretAccess(projectId: $p, names: ${arg}) { denied { name } }`).join(' ');

  it('a variable default in the document counts as the list it holds: 10 aliases of a 100-name default are 1000 names, refused', () => {
    // The review's finding: only request.variables were read, so an unprovided $n counted as 1 name per alias.
    expect(shape(`mutation($p: String!, $n: [String!]! = ${list(100)}) { ${aliases(10, '$n')} }`, { p: 'x' })).toMatch(/name 1000 secrets; at most 100/);
    expect(shape(`mutation($p: String!, $n: [String!] = ${list(60)}) { ${aliases(2, '$n')} }`, { p: 'x' })).toMatch(/name 120 secrets/);
    // A provided variable wins over its default; an explicit null names nothing.
    expect(shape(`mutation($p: String!, $n: [String!] = ${list(100)}) { ${aliases(10, '$n')} }`, { p: 'x', n: ['A'] })).toBeUndefined();
    expect(shape(`mutation($p: String!, $n: [String!] = ${list(100)}) { ${aliases(2, '$n')} }`, { p: 'x', n: null })).toBeUndefined();
  });

  it('literal lists, lists of variables and a single name (coerced to a list of one) are counted as graphql-js coerces them', () => {
    expect(shape(`mutation($p: String!) { ${aliases(2, list(51))} }`, { p: 'x' })).toMatch(/name 102 secrets/);
    expect(shape(`mutation($p: String!) { ${aliases(2, list(50))} }`, { p: 'x' })).toBeUndefined();
    expect(shape(`mutation($p: String!, $a: String! = "A") { ${aliases(20, '[$a, $a, $a, $a, $a, $a]')} }`, { p: 'x' })).toMatch(/name 120 secrets/);
    expect(shape(`mutation($p: String!, $a: String = "A") { ${aliases(20, '$a')} }`, { p: 'x' })).toBeUndefined();
  });

  it('a variable named after an Object.prototype member is not read from the prototype', () => {
    expect(shape(`mutation($p: String!, $toString: [String!] = ${list(100)}) { ${aliases(2, '$toString')} }`, { p: 'x' })).toMatch(/name 200 secrets/);
    expect(shape(`mutation($p: String!, $constructor: [String!]) { ${aliases(2, '$constructor')} }`, { p: 'x' })).toBeUndefined();
  });
});

describe('syntax errors never repeat the document (formatGraphqlError on what graphql-js parse throws)', () => {
  const WORD = 'canaryhunter2value';
  it.each([
    `mutation { projectSecretCreate(input: { value ${WORD} }) { name } }`,
    `mutation { projectSecretCreate(input: { value: ${WORD} ${WORD} ) { name } }`,
    `{ __typename } ${WORD}`,
    `{ a(x: 12${WORD}) }`,
    `{ a(x: "${WORD}) }`,
    `{ a(x: """${WORD}`,
    `{ a(x: ${WORD}\u00ff) }`,
    `query ${WORD} { a(x: [${WORD}, }`,
  ])('%s', (document) => {
    let error: unknown;
    try {
      parse(document);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const g = error as import('graphql').GraphQLError;
    const out = formatGraphqlError({ message: g.message, locations: g.locations, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }, g);
    expect(JSON.stringify(out)).not.toContain(WORD);
    expect(JSON.stringify(out)).not.toMatch(/canary|hunter/);
    expect(out.message).toBe(`Syntax Error at line ${g.locations![0].line}, column ${g.locations![0].column}: the document is not valid GraphQL (its text is not repeated here).`);
    expect(out.locations).toEqual(g.locations);
  });
});
