import {
  buildSecretAccessStatement,
  IN_TOTO_STATEMENT_TYPE,
  SECRET_ACCESS_PREDICATE_TYPE,
  SecretAccessEntry,
  SecretAccessStatementInput,
  validateSubjects,
} from './in-toto';

const DIGEST = 'ab'.repeat(32);

function access(logIndex: number, overrides: Partial<SecretAccessEntry> = {}): SecretAccessEntry {
  return {
    secret: `db/password-${logIndex}`,
    version: 3,
    job: 'deploy',
    principal: 'pipeline:42',
    time: '2025-01-02T03:04:05.000Z',
    decision: 'allowed',
    reason: null,
    logIndex,
    eventId: `evt-${logIndex}`,
    ...overrides,
  };
}

function input(overrides: Partial<SecretAccessStatementInput> = {}): SecretAccessStatementInput {
  return {
    subjects: [{ name: 'app.tar.gz', digest: { sha256: DIGEST } }],
    projectId: 'proj-1',
    pipelineId: 'pipe-9',
    requestedBy: { type: 'ci-job', id: 'project_path:proj-1:ref:main', jobId: '77', ref: 'main', refProtected: true },
    accesses: [access(7), access(2, { decision: 'denied', reason: 'outside scope', version: null, job: null })],
    log: { origin: 'audit.example.com/log', keyId: 'abcd1234', checkpoint: 'audit.example.com/log\n8\nroot\n\n\u2014 sig\n', treeSize: 8 },
    generatedAt: '2025-01-02T03:05:00.000Z',
    ...overrides,
  };
}

describe('buildSecretAccessStatement', () => {
  it('names who asked for it, field by field', () => {
    const s = buildSecretAccessStatement(input({ requestedBy: { type: 'user', id: 'audrey', extra: 'x' } as never }));
    expect(s.predicate.requestedBy).toEqual({ type: 'user', id: 'audrey' });
  });

  it('produces an in-toto v1 statement with the secret-access predicate', () => {
    const st = buildSecretAccessStatement(input());
    expect(st).toEqual({
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: [{ name: 'app.tar.gz', digest: { sha256: DIGEST } }],
      predicateType: SECRET_ACCESS_PREDICATE_TYPE,
      predicate: {
        projectId: 'proj-1',
        pipelineId: 'pipe-9',
        requestedBy: { type: 'ci-job', id: 'project_path:proj-1:ref:main', jobId: '77', ref: 'main', refProtected: true },
        generatedAt: '2025-01-02T03:05:00.000Z',
        accesses: [access(2, { decision: 'denied', reason: 'outside scope', version: null, job: null }), access(7)],
        auditLog: {
          origin: 'audit.example.com/log',
          keyId: 'abcd1234',
          treeSize: 8,
          checkpoint: 'audit.example.com/log\n8\nroot\n\n\u2014 sig\n',
        },
      },
    });
    expect(IN_TOTO_STATEMENT_TYPE).toBe('https://in-toto.io/Statement/v1');
  });

  it('is deterministic for equal input regardless of access order', () => {
    const a = buildSecretAccessStatement(input());
    const b = buildSecretAccessStatement(input({ accesses: [...input().accesses].reverse() }));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('copies only the known access fields, so nothing extra leaks into the evidence', () => {
    const leaky = { ...access(1), value: 'hunter2' } as SecretAccessEntry;
    const st = buildSecretAccessStatement(input({ accesses: [leaky] }));
    expect(JSON.stringify(st)).not.toContain('hunter2');
  });

  it("names each access's source (project or group), copied field by field; anything else is dropped", () => {
    const st = buildSecretAccessStatement(
      input({
        accesses: [
          access(1, { source: { type: 'project', id: 'proj-1' } }),
          access(2, { secret: 'REGISTRY_TOKEN', source: { type: 'group', id: 'acme/payments', value: 'hunter2' } as never }),
          access(3, { source: { type: 'secret-store', id: 'x' } as never }),
        ],
      }),
    );
    expect(st.predicate.accesses.map((a) => a.source)).toEqual([{ type: 'project', id: 'proj-1' }, { type: 'group', id: 'acme/payments' }, undefined]);
    expect(st.predicate.accesses[2]).not.toHaveProperty('source');
    expect(JSON.stringify(st)).not.toContain('hunter2');
  });

  it('allows an audit log with no checkpoint yet', () => {
    const st = buildSecretAccessStatement(input({ log: { origin: 'o', checkpoint: null, treeSize: null } }));
    expect(st.predicate.auditLog).toEqual({ origin: 'o', checkpoint: null, treeSize: null });
  });

  it.each([
    ['a checkpoint that does not cover every access', { log: { origin: 'o', checkpoint: 'c', treeSize: 7 } }],
    ['a checkpoint without a tree size', { log: { origin: 'o', checkpoint: 'c', treeSize: null } }],
    ['duplicate log indexes', { accesses: [access(1), access(1)] }],
    ['a negative log index', { accesses: [access(-1)] }],
    ['no subjects', { subjects: [] }],
  ])('rejects %s', (_, overrides) => {
    expect(() => buildSecretAccessStatement(input(overrides as Partial<SecretAccessStatementInput>))).toThrow(RangeError);
  });
});

describe('validateSubjects', () => {
  const ok = { name: 'a', digest: { sha256: DIGEST } };

  it('accepts valid subjects and lowercases hex digests', () => {
    expect(validateSubjects([ok, { name: 'b', digest: { sha256: DIGEST.toUpperCase(), md5: 'x' } }])).toEqual([
      ok,
      { name: 'b', digest: { sha256: DIGEST } },
    ]);
    expect(validateSubjects(Array.from({ length: 256 }, () => ok))).toHaveLength(256);
    expect(validateSubjects([{ ...ok, name: 'x'.repeat(1024) }])).toHaveLength(1);
  });

  it.each([
    ['not an array', { subjects: ok }, /^subjects: /],
    ['empty', [], /^subjects: /],
    ['too many', Array.from({ length: 257 }, () => ok), /^subjects: /],
    ['entry not an object', [ok, 'x'], /^subjects\[1\]: /],
    ['missing name', [ok, ok, { digest: ok.digest }], /^subjects\[2\]\.name: /],
    ['empty name', [{ ...ok, name: '' }], /^subjects\[0\]\.name: /],
    ['long name', [{ ...ok, name: 'x'.repeat(1025) }], /^subjects\[0\]\.name: /],
    ['control character in name', [{ ...ok, name: 'a\nb' }], /^subjects\[0\]\.name: /],
    ['missing digest', [{ name: 'a' }], /^subjects\[0\]\.digest: /],
    ['missing sha256', [ok, ok, { name: 'a', digest: {} }], /^subjects\[2\]\.digest\.sha256: /],
    ['short sha256', [{ name: 'a', digest: { sha256: DIGEST.slice(1) } }], /^subjects\[0\]\.digest\.sha256: /],
    ['non-hex sha256', [{ name: 'a', digest: { sha256: 'g'.repeat(64) } }], /^subjects\[0\]\.digest\.sha256: /],
  ])('rejects %s, naming the field', (_, subjects, message) => {
    expect(() => validateSubjects(subjects)).toThrow(RangeError);
    expect(() => validateSubjects(subjects)).toThrow(message);
  });
});
