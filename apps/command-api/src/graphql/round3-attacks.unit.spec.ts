import { buildSchema, OperationDefinitionNode, parse, validate } from 'graphql';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatGraphqlError } from './errors';
import { operationShapeError } from './limits';

// Round-3 adversarial review of c6df3c1 (issue 18, 8 and 10): ways to spread more than 100 names
// over one operation that the first fix did not name (fragments, inline fragments, directives, a
// chosen operation among several), and validation errors that could repeat an inline value.
const shape = (query: string, variables: Record<string, unknown> = {}, operationName?: string) => {
  const document = parse(query);
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  return operationShapeError(document, operationName ? ops.find((o) => o.name?.value === operationName)! : ops[0], variables);
};
const list = (n: number) => `[${Array.from({ length: n }, (_, i) => `"N_${i}"`).join(', ')}]`;
const field = (alias: string, arg: string) => `${alias}: secretAccess(projectId: "p", names: ${arg}) { denied { name } }`;

describe('round-3 attack: 100 names per operation, however the fields are spread', () => {
  it('names in fragments, nested fragments and inline fragments count as if written at the root', () => {
    expect(shape(`mutation { ...A ...B } fragment A on Mutation { ${field('a', list(60))} } fragment B on Mutation { ...C } fragment C on Mutation { ${field('c', list(60))} }`)).toMatch(/name 120 secrets/);
    expect(shape(`mutation { ... on Mutation { ${field('a', list(60))} } ... { ${field('b', list(60))} } }`)).toMatch(/name 120 secrets/);
  });

  it('a directive that may skip a field at run time does not make its names free (@skip/@include counted anyway)', () => {
    expect(shape(`mutation($s: Boolean = false, $n: [String!]! = ${list(60)}) { ${field('a', '$n')} b: secretAccess(projectId: "p", names: $n) @skip(if: $s) { denied { name } } }`)).toMatch(/name 120 secrets/);
  });

  it('the operation that runs is the one counted: a small decoy operation does not hide the big one', () => {
    const doc = `mutation Small { ${field('a', '["A"]')} } mutation Big($n: [String!]! = ${list(60)}) { ${field('a', '$n')} ${field('b', '$n')} }`;
    expect(shape(doc, {}, 'Big')).toMatch(/name 120 secrets/);
    expect(shape(doc, {}, 'Small')).toBeUndefined();
  });

  it('the same fragment spread twice runs once (graphql-js merges the fields), and is counted once', () => {
    expect(shape(`mutation { ...A ...A ...A } fragment A on Mutation { ${field('a', list(60))} }`)).toBeUndefined();
  });
});

describe('round-3 attack: validation errors with an inline value', () => {
  const schema = buildSchema(readFileSync(join(__dirname, '..', '..', '..', '..', 'schema.graphql'), 'utf8'));
  const WORD = 'canaryhunter2value';
  it.each([
    `mutation { secretAccess(projectId: ${WORD}, names: ["A"]) { denied { name } } }`,
    `mutation { secretAccess(projectId: "p", names: [${WORD}]) { denied { name } } }`,
    `mutation { secretAccess(projectId: {a: "${WORD}"}, names: ["A"]) { denied { name } } }`,
    `mutation { secretAccess(projectId: 1${WORD.length}, names: ["A"]) { denied { name } } }`,
    `mutation { secretAccess(projectId: "p", names: ["A"], purpose: ["${WORD}"]) { denied { name } } }`,
  ])('a value in the wrong place is never repeated: %s', (document) => {
    const errors = validate(schema, parse(document));
    expect(errors.length).toBeGreaterThan(0);
    for (const g of errors) {
      const out = formatGraphqlError({ message: g.message, locations: g.locations, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, g);
      expect(JSON.stringify(out)).not.toContain(WORD);
      expect(JSON.stringify(out)).not.toMatch(/canary|hunter|\b1\d\d?\b/);
    }
  });
});
