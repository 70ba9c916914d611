import { inclusionProofFromLeaves, leafHash, rootFromLeafHashes } from '@app/domain/audit-log';
import { scratchPgClient } from '../../../../test/support/scratch-database';
import { PgliteClient } from '../sql/pglite-client';
import { SqlClient, SqlExecutor } from '../sql/sql-client';
import { checkpoints } from '../read-models/checkpoints';
import { migrateReadModels } from '../read-models/schema';
import { AuditLogEntry, AuditLogStore, migrateAuditLog, withLeafHashes } from './audit-log-store';

// How append writes a batch (issue 23, 4): the records travel as they are — the exact bytes of
// each Merkle leaf are what the row holds, whatever characters they contain — and a batch is ONE
// statement whatever its size: the already-logged check, the leaves and the tree nodes they
// complete (before: a probe, then an insert of the leaves, then one of the nodes). A batch with
// events already logged takes a second statement, and only the others are appended.

const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;

const awkward = [
  JSON.stringify({ a: 'quote " backslash \\ slash / tab \t cr \r nl \n', b: '\u2028\u2029', c: 'é日本😀', d: '\u0000\u001f', e: null }),
  '{"already":"escaped \\n and \\" and \\\\"}',
  '{}',
  ' {"leading":"space"} ',
  '{"tail":"backslash at the end\\\\"}',
];

const entry = (i: number, record: string, extra: Partial<AuditLogEntry> = {}): AuditLogEntry => ({
  eventId: `ev-${i}`,
  eventType: 'SecretAccessed',
  projectId: i % 2 ? 'p' : 'group:acme/payments',
  secretName: i % 3 ? 'S' : null,
  pipelineId: i % 5 ? null : `pl-${i}`,
  kafkaKey: 'p/S',
  schemaVersion: 1 + (i % 2),
  record,
  ...extra,
});

function backends(): [string, () => Promise<{ sql: SqlClient; close(): Promise<void> }>][] {
  const list: [string, () => Promise<{ sql: SqlClient; close(): Promise<void> }>][] = [
    [
      'PGlite (embedded)',
      async () => {
        const sql = await PgliteClient.open();
        return { sql, close: () => sql.close() };
      },
    ],
  ];
  if (url) {
    list.push([
      'PostgreSQL',
      () => scratchPgClient(url, 'audit_append'),
    ]);
  } else console.warn('audit-log-append: PostgreSQL case SKIPPED (TEST_DATABASE_URL or DATABASE_URL not set)');
  return list;
}

describe.each(backends())('AuditLogStore.append on %s', (_name, open) => {
  let db: { sql: SqlClient; close(): Promise<void> };
  beforeAll(async () => {
    db = await open();
    await migrateAuditLog(db.sql);
    await migrateReadModels(db.sql); // projection_checkpoints, for appendWithCheckpoint
  }, 60_000);
  afterAll(() => db?.close());

  it('stores every record byte for byte, with its columns, in one insert per batch; roots and proofs match the leaves', async () => {
    const log = new AuditLogStore(db.sql);
    const all: AuditLogEntry[] = [];
    const statements: string[] = [];
    const counting = (tx: SqlExecutor): SqlExecutor => ({
      query: (text: string, params?: unknown[]) => {
        statements.push(text.trim().split(/\s+/)[0]);
        return tx.query(text, params);
      },
    }) as SqlExecutor;
    // Batches of assorted sizes: awkward records (one with a raw newline: not canonical JSON, stored as given), then many plain ones.
    const batches: AuditLogEntry[][] = [
      awkward.map((r, k) => entry(k, r)),
      [entry(10, '{"x":1}'), entry(11, 'line one\nline two'), entry(12, '{"x":2}')],
      Array.from({ length: 700 }, (_, k) => entry(100 + k, JSON.stringify({ k, s: 'ü"\\' + 'x'.repeat(k % 50) }))),
      [entry(900, '{"only":1}')],
    ];
    await log.treeSize(); // loads the (empty) frontier outside the count
    for (const b of batches) {
      statements.length = 0;
      const added = await db.sql.transaction((tx) => log.append(counting(tx), b));
      expect(added.map((r) => r.eventId)).toEqual(b.map((e) => e.eventId));
      // One statement: the check for events already logged, the leaves and the nodes.
      expect(statements).toEqual(['WITH']);
      all.push(...b);
    }
    expect(await log.committedSize()).toBe(all.length);
    const stored = await log.recordsAfter(-1, 10_000);
    expect(stored).toHaveLength(all.length);
    stored.forEach((r, i) => {
      const e = all[i];
      expect(r.index).toBe(i);
      expect({ eventId: r.eventId, eventType: r.eventType, projectId: r.projectId, secretName: r.secretName, pipelineId: r.pipelineId, kafkaKey: r.kafkaKey, schemaVersion: r.schemaVersion }).toEqual({
        eventId: e.eventId,
        eventType: e.eventType,
        projectId: e.projectId,
        secretName: e.secretName,
        pipelineId: e.pipelineId,
        kafkaKey: e.kafkaKey,
        schemaVersion: e.schemaVersion,
      });
      expect(Buffer.from(r.record, 'utf8').equals(Buffer.from(e.record, 'utf8'))).toBe(true);
      expect(r.leafHash.equals(leafHash(Buffer.from(e.record, 'utf8')))).toBe(true);
    });
    const leaves = all.map((e) => leafHash(Buffer.from(e.record, 'utf8')));
    for (const size of [1, 5, 8, 9, 300, all.length]) expect((await log.rootAt(size)).equals(rootFromLeafHashes(leaves.slice(0, size)))).toBe(true);
    for (const [index, size] of [
      [0, all.length],
      [6, 9],
      [511, 700],
      [all.length - 1, all.length],
    ]) {
      const proof = await log.inclusionProof(index, size);
      expect(proof.map((b) => b.toString('hex'))).toEqual(inclusionProofFromLeaves(index, leaves.slice(0, size)).map((b) => b.toString('hex')));
    }
  }, 60_000);

  it('a batch with events already logged: nothing written by the first statement, then only the new ones at the next indexes, with the right root', async () => {
    const log = new AuditLogStore(db.sql);
    const before = await log.committedSize();
    const statements: string[] = [];
    const counting = (tx: SqlExecutor): SqlExecutor => ({
      query: (text: string, params?: unknown[]) => {
        statements.push(text.trim().split(/\s+/)[0]);
        return tx.query(text, params);
      },
    }) as SqlExecutor;
    await log.treeSize(); // loads the frontier outside the count
    const fresh = Array.from({ length: 7 }, (_, k) => entry(7000 + k, `{"n":${k}}`));
    // Two already logged (from the first test), five new, one new twice.
    const added = await db.sql.transaction((tx) => log.append(counting(tx), [entry(1, awkward[1]), fresh[0], fresh[1], entry(150, '{"ignored":true}'), fresh[2], fresh[3], fresh[4], fresh[2]]));
    expect(statements).toEqual(['WITH', 'WITH']);
    expect(added.map((r) => [r.eventId, r.index])).toEqual(fresh.slice(0, 5).map((e, k) => [e.eventId, before + k]));
    statements.length = 0;
    expect(await db.sql.transaction((tx) => log.append(counting(tx), [fresh[0], fresh[4]]))).toEqual([]);
    expect(statements).toEqual(['WITH']); // all logged: nothing to write again
    const stored = await log.recordsAfter(-1, 10_000);
    expect(stored).toHaveLength(before + 5);
    expect(stored.find((r) => r.eventId === 'ev-150')!.record).not.toContain('ignored');
    const leaves = stored.map((r) => leafHash(Buffer.from(r.record, 'utf8')));
    expect((await log.rootAt(stored.length)).equals(rootFromLeafHashes(leaves))).toBe(true);
  }, 60_000);

  it('appendWithCheckpoint: leaves, nodes and the checkpoint in ONE statement, no transaction; a batch holding a logged event writes nothing, not even the checkpoint; a failing one neither', async () => {
    const log = new AuditLogStore(db.sql);
    const statements: string[] = [];
    const counting: SqlExecutor = {
      query: (text: string, params?: unknown[]) => {
        statements.push(text.trim().split(/\s+/)[0]);
        return db.sql.query(text, params);
      },
    } as SqlExecutor;
    await log.treeSize();
    const before = await log.committedSize();
    const batch = Array.from({ length: 40 }, (_, k) => entry(8000 + k, JSON.stringify({ k, s: 'nl \n "q" \\' })));
    const added = await log.appendWithCheckpoint(counting, batch, { projection: 'audit-cp-test', position: '7/7' });
    expect(statements).toEqual(['WITH']); // no BEGIN, no COMMIT, no separate checkpoint write
    expect(added!.map((r) => [r.eventId, r.index])).toEqual(batch.map((e, k) => [e.eventId, before + k]));
    expect(await checkpoints.load(db.sql, 'audit-cp-test')).toEqual({ commit: 7n, prepare: 7n });
    expect(await log.committedSize()).toBe(before + 40);

    // One event already logged: nothing written, the checkpoint stays where it was.
    statements.length = 0;
    const again = [entry(9000, '{"new":1}'), batch[3], entry(9001, '{"new":2}')];
    expect(await log.appendWithCheckpoint(counting, again, { projection: 'audit-cp-test', position: '8/8' })).toBeUndefined();
    expect(statements).toEqual(['WITH']);
    expect(await checkpoints.load(db.sql, 'audit-cp-test')).toEqual({ commit: 7n, prepare: 7n });
    expect(await log.committedSize()).toBe(before + 40);

    // A statement that fails (no checkpoint name: NOT NULL) leaves neither leaves nor nodes.
    await expect(log.appendWithCheckpoint(db.sql, [entry(9002, '{"new":3}')], { projection: null as unknown as string, position: '9/9' })).rejects.toThrow();
    log.forget();
    expect(await log.committedSize()).toBe(before + 40);

    // The transaction way then skips the logged event and goes on at the next index.
    const rest = await db.sql.transaction((tx) => log.append(tx, [...again, entry(9002, '{"new":3}')]));
    expect(rest.map((r) => [r.eventId, r.index])).toEqual([
      ['ev-9000', before + 40],
      ['ev-9001', before + 41],
      ['ev-9002', before + 42],
    ]);
    const stored = await log.recordsAfter(-1, 10_000);
    const leaves = stored.map((r) => leafHash(Buffer.from(r.record, 'utf8')));
    expect((await log.rootAt(stored.length)).equals(rootFromLeafHashes(leaves))).toBe(true);
  }, 60_000);

  it('a leaf hash made ahead (withLeafHashes) serves only the record it was made from', async () => {
    const log = new AuditLogStore(db.sql);
    const made = withLeafHashes([entry(9100, '{"a":1}'), entry(9101, '{"b":2}')]);
    made[1].record = '{"b":"changed after hashing"}';
    const added = await db.sql.transaction((tx) => log.append(tx, made));
    expect(added[0].leafHash.equals(leafHash(Buffer.from('{"a":1}')))).toBe(true);
    expect(added[1].leafHash.equals(leafHash(Buffer.from('{"b":"changed after hashing"}')))).toBe(true);
    const stored = await log.recordsAfter(-1, 10_000);
    const leaves = stored.map((r) => leafHash(Buffer.from(r.record, 'utf8')));
    expect(stored.map((r) => r.leafHash.toString('hex'))).toEqual(leaves.map((l) => l.toString('hex')));
    expect((await log.rootAt(stored.length)).equals(rootFromLeafHashes(leaves))).toBe(true);
  }, 60_000);

  it('a batch that fails rolls back leaves and nodes together; the log goes on from what was committed', async () => {
    const log = new AuditLogStore(db.sql);
    const before = await log.committedSize();
    await expect(
      db.sql.transaction(async (tx) => {
        await log.append(tx, Array.from({ length: 9 }, (_, k) => entry(5000 + k, `{"k":${k}}`)));
        throw new Error('the checkpoint write failed');
      }),
    ).rejects.toThrow('the checkpoint write failed');
    log.forget();
    expect(await log.committedSize()).toBe(before);
    const added = await db.sql.transaction((tx) => log.append(tx, Array.from({ length: 9 }, (_, k) => entry(5000 + k, `{"k":${k}}`))));
    expect(added.map((r) => r.index)).toEqual(Array.from({ length: 9 }, (_, k) => before + k));
    const stored = await log.recordsAfter(-1, 10_000);
    const leaves = stored.map((r) => leafHash(Buffer.from(r.record, 'utf8')));
    expect((await log.rootAt(stored.length)).equals(rootFromLeafHashes(leaves))).toBe(true);
  }, 60_000);
});
