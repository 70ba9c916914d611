import { execute, GraphQLError, GraphQLFormattedError, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, OperationDefinitionNode, parse } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { hasStringLiteral, jitExecutionPlugin } from './jit';

const MARKER = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d';
const g = globalThis as { __jitPwned?: number };

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      echo: { type: GraphQLString, args: { s: { type: GraphQLString } }, resolve: (_r, a: { s?: string }) => a.s ?? null },
      refused: {
        type: new GraphQLNonNull(GraphQLString),
        resolve: () => {
          throw new Error('refused by the resolver');
        },
      },
    },
  }),
});

async function runThroughPlugin(query: string, variables: Record<string, unknown> = {}, times = 3) {
  const executed: string[] = [];
  const plugin = jitExecutionPlugin((formatted) => ({ message: `formatted: ${formatted.message}`, path: formatted.path, extensions: { code: formatted.extensions?.code } }), (op, ex) => executed.push(`${op}:${ex}`));
  const document = parse(query);
  const operation = document.definitions[0] as OperationDefinitionNode;
  const answers: unknown[] = [];
  for (let i = 0; i < times; i++) {
    const listener = await plugin.requestDidStart!({} as never);
    const r = await (listener as { responseForOperation: (ctx: unknown) => Promise<unknown> }).responseForOperation({
      document,
      operation,
      operationName: null,
      schema,
      contextValue: {},
      request: { variables },
      response: { http: { status: undefined, headers: new Map() } },
    });
    answers.push(r);
  }
  return { executed, answers };
}

describe('jitExecutionPlugin', () => {
  afterEach(() => delete g.__jitPwned);

  it('graphql-jit writes literal arguments into its generated code: the date marker in a string literal runs the text after it (why the guard exists)', async () => {
    const c = compileQuery(schema, parse(`{ echo(s: "${MARKER}(globalThis.__jitPwned = 7)") }`));
    expect(isCompiledQuery(c)).toBe(true);
    if (isCompiledQuery(c)) await c.query({}, {}, {});
    // If this ever fails, graphql-jit no longer evaluates the marker's text; the string-literal guard could then be revisited.
    expect(g.__jitPwned).toBe(7);
  });

  it('never compiles a document with a string literal: the same query through the plugin stays on graphql-js and runs nothing', async () => {
    for (const q of [
      `{ echo(s: "${MARKER}(globalThis.__jitPwned = 1)") }`,
      `{ echo(s: """${MARKER}(globalThis.__jitPwned = 2)""") }`,
      `query Q($s: String = "${MARKER}(globalThis.__jitPwned = 3)") { echo(s: $s) }`,
    ]) {
      expect(hasStringLiteral(parse(q))).toBe(true);
      const { executed, answers } = await runThroughPlugin(q);
      expect(answers).toEqual([null, null, null]); // Apollo then executes with graphql-js
      expect(executed).toEqual(['query:interpreted', 'query:interpreted', 'query:interpreted']);
    }
    expect(g.__jitPwned).toBeUndefined();
  });

  it('compiles a variables-only query from its second execution and answers as graphql-js does, errors through formatError', async () => {
    const q = 'query Q($s: String) { echo(s: $s) a: echo(s: $s) }';
    expect(hasStringLiteral(parse(q))).toBe(false);
    const payload = `${MARKER}(globalThis.__jitPwned = 4)`;
    const { executed, answers } = await runThroughPlugin(q, { s: payload });
    expect(executed).toEqual(['query:interpreted', 'query:compiled', 'query:compiled']);
    const expected = await execute({ schema, document: parse(q), variableValues: { s: payload } });
    expect(answers[1]).toMatchObject({ body: { kind: 'single', singleResult: { data: expected.data } } });
    expect(answers[2]).toEqual(answers[1]);
    expect(g.__jitPwned).toBeUndefined(); // a variable's value is data

    const failing = await runThroughPlugin('query { refused }');
    const formatted = (failing.answers[1] as { body: { singleResult: { data: unknown; errors: GraphQLFormattedError[] } } }).body.singleResult;
    expect(formatted).toEqual({ data: null, errors: [{ message: 'formatted: refused by the resolver', path: ['refused'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    expect(new GraphQLError('x').extensions.code).toBeUndefined();
  });

  it('GRAPHQL_JIT=off: nothing is compiled, however often a document comes', async () => {
    const executed: string[] = [];
    const plugin = jitExecutionPlugin((f) => f, (op, ex) => executed.push(`${op}:${ex}`), false);
    const document = parse('query Q($s: String) { echo(s: $s) }');
    for (let i = 0; i < 3; i++) {
      const l = (await plugin.requestDidStart!({} as never)) as { responseForOperation: (ctx: unknown) => Promise<unknown> };
      expect(await l.responseForOperation({ document, operation: document.definitions[0], operationName: null, schema, contextValue: {}, request: { variables: { s: 'x' } }, response: { http: { headers: new Map() } } })).toBeNull();
    }
    expect(executed).toEqual(['query:interpreted', 'query:interpreted', 'query:interpreted']);
  });

  it('leaves mutations to graphql-js', async () => {
    const executed: string[] = [];
    const plugin = jitExecutionPlugin((f) => f, (op, ex) => executed.push(`${op}:${ex}`));
    const document = parse('mutation { x }');
    for (let i = 0; i < 3; i++) {
      const l = (await plugin.requestDidStart!({} as never)) as { responseForOperation: (ctx: unknown) => Promise<unknown> };
      expect(await l.responseForOperation({ document, operation: document.definitions[0], operationName: null, schema, contextValue: {}, request: {}, response: { http: { headers: new Map() } } })).toBeNull();
    }
    expect(executed).toEqual(['mutation:interpreted', 'mutation:interpreted', 'mutation:interpreted']);
  });
});
