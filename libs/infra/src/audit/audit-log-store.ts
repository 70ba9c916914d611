import { emptyRoot, leafHash, nodeHash, splitPoint } from '@app/domain/audit-log';
import { checkpoints } from '../read-models/checkpoints';
import { Migration, runMigrations } from '../sql/migrations';
import { SqlClient, SqlExecutor } from '../sql/sql-client';

// The tamper-evident audit log: an append-only list of canonical-JSON audit records, each a leaf
// of an RFC 6962 Merkle tree, with every complete (perfect, aligned) subtree hash stored so a
// root or a proof costs O(log n) lookups, and the signed checkpoints the auditor publishes.
// Stored hashes are a cache for serving proofs; verifiers recompute leaf hashes from the record
// bytes and check everything against a signed checkpoint, so a changed row cannot hide.

export const AUDIT_LOG_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'audit log, tree nodes, signed checkpoints',
    sql: `CREATE TABLE IF NOT EXISTS audit_log (
      idx            bigint PRIMARY KEY,
      event_id       text NOT NULL UNIQUE,
      event_type     text NOT NULL,
      project_id     text NOT NULL,
      secret_name    text,
      pipeline_id    text,
      kafka_key      text NOT NULL,
      schema_version integer NOT NULL,
      record         text NOT NULL,
      leaf_hash      bytea NOT NULL,
      logged_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS audit_log_project ON audit_log (project_id, idx);
    CREATE INDEX IF NOT EXISTS audit_log_pipeline ON audit_log (project_id, pipeline_id, idx) WHERE pipeline_id IS NOT NULL;
    CREATE TABLE IF NOT EXISTS audit_tree_nodes (
      level integer NOT NULL,
      pos   bigint NOT NULL,
      hash  bytea NOT NULL,
      PRIMARY KEY (level, pos)
    );
    CREATE TABLE IF NOT EXISTS audit_relay_offsets (
      relay      text PRIMARY KEY,
      last_index bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS audit_checkpoints (
      tree_size  bigint PRIMARY KEY,
      root_hash  bytea NOT NULL,
      note       text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
  {
    version: 2,
    // A CI job's decisions about its groups' secrets are logged under the group's place key
    // (project_id = 'group:<path>'); a pipeline's evidence finds them by pipeline id here, then by
    // the job's project named in the record (pipelineRecords).
    name: 'pipeline index over group places',
    sql: `CREATE INDEX IF NOT EXISTS audit_log_group_pipeline ON audit_log (pipeline_id, idx) WHERE pipeline_id IS NOT NULL AND project_id LIKE 'group:%'`,
  },
];

export function migrateAuditLog(sql: SqlClient): Promise<void> {
  return runMigrations(sql, 'audit-log', AUDIT_LOG_MIGRATIONS);
}

export interface AuditLogEntry {
  eventId: string;
  eventType: string;
  projectId: string;
  secretName: string | null;
  pipelineId: string | null;
  kafkaKey: string;
  schemaVersion: number;
  /** Canonical JSON of the audit record: the exact bytes of the Merkle leaf. */
  record: string;
}

export interface StoredAuditRecord extends AuditLogEntry {
  index: number;
  leafHash: Buffer;
  loggedAt: string;
}

export interface StoredCheckpoint {
  treeSize: number;
  rootHash: Buffer;
  note: string;
  createdAt: string;
}

/**
 * Leaf hashes made ahead of the append (the auditor makes them before the batch's transaction):
 * kept beside the entry, not on it, with the record they were made from — append() uses one only
 * for that very record, so no entry can carry a hash that is not its record's.
 */
const madeLeaves = new WeakMap<AuditLogEntry, { record: string; hash: Buffer }>();

/** Hashes the entries' leaves now, for a later append() of these same entries. Returns them. */
export function withLeafHashes(entries: AuditLogEntry[]): AuditLogEntry[] {
  for (const e of entries) madeLeaves.set(e, { record: e.record, hash: leafHash(e.record) });
  return entries;
}

function leafOf(e: AuditLogEntry): Buffer {
  const made = madeLeaves.get(e);
  return made !== undefined && made.record === e.record ? made.hash : leafHash(e.record);
}

const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));

function toRecord(r: Record<string, unknown>): StoredAuditRecord {
  return {
    index: Number(r.idx),
    eventId: String(r.event_id),
    eventType: String(r.event_type),
    projectId: String(r.project_id),
    secretName: (r.secret_name as string | null) ?? null,
    pipelineId: (r.pipeline_id as string | null) ?? null,
    kafkaKey: String(r.kafka_key),
    schemaVersion: Number(r.schema_version),
    record: String(r.record),
    leafHash: buf(r.leaf_hash),
    loggedAt: (r.logged_at instanceof Date ? r.logged_at : new Date(String(r.logged_at))).toISOString(),
  };
}

// A batch's leaves and the tree nodes they complete, in one statement: $1 the columns (jsonb
// rows: idx, event id, type, project, secret, pipeline, Kafka key, schema version, leaf hash in
// hex, and the record itself only when $2 is null), $2 the records joined by newlines, $3 the
// nodes. ROWS FROM pairs the i-th row with the i-th record (a count mismatch leaves a record
// NULL, and NOT NULL fails the batch).
const LEAVES = `nodes AS (
    INSERT INTO audit_tree_nodes (level, pos, hash)
    SELECT (n->>0)::int, (n->>1)::bigint, decode(n->>2, 'hex') FROM jsonb_array_elements($3::jsonb) AS n %WHERE%
  ), leaves AS (
    INSERT INTO audit_log (idx, event_id, event_type, project_id, secret_name, pipeline_id, kafka_key, schema_version, record, leaf_hash)
    SELECT (r->>0)::bigint, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, (r->>7)::int, COALESCE(rec, r->>9), decode(r->>8, 'hex')
      FROM ROWS FROM (jsonb_array_elements($1::jsonb), unnest(string_to_array($2::text, E'\\n'))) AS x(r, rec) %WHERE%
  )`;

/**
 * The same, unless an event of the batch is already in the log: then nothing is written and those
 * events' ids come back. One unique-index probe per id (LATERAL ... LIMIT 1): with
 * `event_id = ANY(...)` the planner chose a sequential scan of the whole log for a batch of 500
 * ids once the log had a few thousand rows (measured: 43 ms per batch at 20,000 rows).
 */
const APPEND_UNLESS_LOGGED = `WITH logged AS MATERIALIZED (
    SELECT a.event_id FROM jsonb_array_elements($1::jsonb) AS u(r)
      CROSS JOIN LATERAL (SELECT event_id FROM audit_log WHERE event_id = u.r->>1 LIMIT 1) AS a
  ), ${LEAVES.replaceAll('%WHERE%', 'WHERE NOT EXISTS (SELECT 1 FROM logged)')}
  SELECT event_id FROM logged`;

const APPEND = `WITH ${LEAVES.replaceAll('%WHERE%', '')} SELECT 1 WHERE false`;

/** APPEND_UNLESS_LOGGED and the subscription's checkpoint ($4 name, $5 position): both or neither, in one statement. */
const APPEND_WITH_CHECKPOINT = `WITH logged AS MATERIALIZED (
    SELECT a.event_id FROM jsonb_array_elements($1::jsonb) AS u(r)
      CROSS JOIN LATERAL (SELECT event_id FROM audit_log WHERE event_id = u.r->>1 LIMIT 1) AS a
  ), ${LEAVES.replaceAll('%WHERE%', 'WHERE NOT EXISTS (SELECT 1 FROM logged)')}, checkpoint AS (
    ${checkpoints.cte(4, 5, 'NOT EXISTS (SELECT 1 FROM logged)')}
  )
  SELECT event_id FROM logged`;

export class AuditLogStore {
  /** frontier[level] = hash of the last complete node at that level still waiting for its right sibling. */
  private frontier = new Map<number, Buffer>();
  private size = -1;

  constructor(private readonly sql: SqlClient) {}

  /** Number of records in the log (loads the frontier on first use). */
  async treeSize(): Promise<number> {
    if (this.size < 0) await this.load();
    return this.size;
  }

  /** Reads the size and frontier through `sql` — inside an append, the caller's transaction (PGlite has one connection). */
  private async load(sql: SqlExecutor = this.sql): Promise<void> {
    const { rows } = await sql.query<{ n: string | number | null }>('SELECT max(idx) AS n FROM audit_log');
    const size = rows[0].n === null ? 0 : Number(rows[0].n) + 1;
    this.frontier = new Map();
    for (let level = 0; 2 ** level <= size; level++) {
      const count = Math.floor(size / 2 ** level);
      if (count % 2 === 1) this.frontier.set(level, await this.node(sql, level, count - 1));
    }
    this.size = size;
  }

  private async node(sql: SqlExecutor, level: number, pos: number): Promise<Buffer> {
    const { rows } =
      level === 0
        ? await sql.query<{ hash: unknown }>('SELECT leaf_hash AS hash FROM audit_log WHERE idx = $1', [pos])
        : await sql.query<{ hash: unknown }>('SELECT hash FROM audit_tree_nodes WHERE level = $1 AND pos = $2', [level, pos]);
    if (!rows[0]) throw new Error(`audit log is missing tree node ${level}/${pos}`);
    return buf(rows[0].hash);
  }

  /**
   * Appends entries not already in the log (by event id) as the next leaves, in `tx` — the
   * caller's transaction, which also moves its subscription checkpoint. Returns the new records.
   * Only one writer may append (the auditor); the in-memory frontier is rolled back by
   * `forget()` if the transaction fails.
   */
  async append(tx: SqlExecutor, entries: AuditLogEntry[]): Promise<StoredAuditRecord[]> {
    if (this.size < 0) await this.load(tx);
    if (entries.length === 0) return [];
    // Optimistic: one statement writes the batch unless one of its events is already in the log,
    // and returns those (none, but for a batch delivered again after its checkpoint was lost).
    const frontier = new Map(this.frontier);
    const size = this.size;
    let batch = this.leaves(entries, new Set());
    const { rows } = await tx.query<{ event_id: string }>(APPEND_UNLESS_LOGGED, batch.params);
    if (rows.length === 0) return batch.out;
    // Nothing was written: again without the events already logged, at the next indexes.
    this.frontier = frontier;
    this.size = size;
    batch = this.leaves(entries, new Set(rows.map((r) => r.event_id)));
    if (batch.out.length > 0) await tx.query(APPEND, batch.params);
    return batch.out;
  }

  /**
   * append() and the caller's subscription checkpoint in ONE statement — atomic on its own, so no
   * BEGIN and COMMIT round trips (the auditor's batch, issue 23). Resolves undefined, having
   * written nothing, when an event of the batch is already in the log (a batch delivered again):
   * the caller then appends in a transaction, which skips those events.
   */
  async appendWithCheckpoint(sql: SqlExecutor, entries: AuditLogEntry[], checkpoint: { projection: string; position: string }): Promise<StoredAuditRecord[] | undefined> {
    if (this.size < 0) await this.load(sql);
    const frontier = new Map(this.frontier);
    const size = this.size;
    const batch = this.leaves(entries, new Set());
    const { rows } = await sql.query<{ event_id: string }>(APPEND_WITH_CHECKPOINT, [...batch.params, checkpoint.projection, checkpoint.position]);
    if (rows.length === 0) return batch.out;
    this.frontier = frontier;
    this.size = size;
    return undefined;
  }

  /** The batch's leaves (skipping `seen` ids and repeats), the nodes they complete, and the statement's parameters; moves the in-memory frontier. */
  private leaves(entries: AuditLogEntry[], seen: Set<string>): { out: StoredAuditRecord[]; params: unknown[] } {
    const out: StoredAuditRecord[] = [];
    // The columns but the record go as ONE jsonb parameter (short strings: serialising them is
    // cheap on both sides; jsonb is parsed once where json would be re-parsed by every ->>). The
    // records, ~1.2 KB each, go as ONE text parameter joined by newlines: a record is canonical
    // JSON, which never holds a raw newline, so nothing is escaped a second time (inside a JSON
    // array every quote of every record was, in JS, then parsed back in PostgreSQL).
    const fields: unknown[] = [];
    const records: string[] = [];
    let joinable = true;
    const nodes: unknown[] = [];
    // One time for the batch, as logged_at (now(): the transaction's start) is one for its rows.
    const loggedAt = new Date().toISOString();
    for (const e of entries) {
      if (seen.has(e.eventId)) continue;
      seen.add(e.eventId);
      const index = this.size;
      const leaf = leafOf(e);
      fields.push([index, e.eventId, e.eventType, e.projectId, e.secretName, e.pipelineId, e.kafkaKey, e.schemaVersion, leaf.toString('hex')]);
      records.push(e.record);
      if (joinable && (e.record.length === 0 || e.record.includes('\n'))) joinable = false;
      // Climb while this node is a right child: pair it with the waiting left sibling.
      let h = leaf;
      let level = 0;
      let count = index + 1;
      while (count % 2 === 0) {
        h = nodeHash(this.frontier.get(level)!, h);
        this.frontier.delete(level);
        level++;
        count /= 2;
        nodes.push([level, count - 1, h.toString('hex')]);
      }
      this.frontier.set(level, h);
      this.size++;
      // Spelled out, not spread: a spread copy cost ~5 µs a record (profiled, issue 23).
      out.push({
        eventId: e.eventId,
        eventType: e.eventType,
        projectId: e.projectId,
        secretName: e.secretName,
        pipelineId: e.pipelineId,
        kafkaKey: e.kafkaKey,
        schemaVersion: e.schemaVersion,
        record: e.record,
        index,
        leafHash: leaf,
        loggedAt,
      });
    }
    const params = joinable
      ? [JSON.stringify(fields), records.join('\n'), JSON.stringify(nodes)]
      : // A record with a newline (not canonical JSON, but stored as given): inside the jsonb.
        [JSON.stringify(fields.map((f, i) => [...(f as unknown[]), records[i]])), null, JSON.stringify(nodes)];
    return { out, params };
  }

  /** After a failed transaction: reload the frontier from what was committed. */
  forget(): void {
    this.size = -1;
  }

  /** MTH(D[start:end]) from stored nodes: O(log n) lookups (complete aligned subtrees are stored). */
  async subtreeHash(start: number, end: number, sql: SqlExecutor = this.sql): Promise<Buffer> {
    const n = end - start;
    if (n <= 0) throw new RangeError('empty range');
    if ((n & (n - 1)) === 0 && start % n === 0) return this.node(sql, Math.log2(n), start / n);
    const k = splitPoint(n);
    return nodeHash(await this.subtreeHash(start, start + k, sql), await this.subtreeHash(start + k, end, sql));
  }

  async rootAt(treeSize: number): Promise<Buffer> {
    if (treeSize === 0) return emptyRoot();
    return this.subtreeHash(0, treeSize);
  }

  /** RFC 6962 §2.1.1 PATH(m, D[0:n]). */
  async inclusionProof(index: number, treeSize: number): Promise<Buffer[]> {
    if (index < 0 || index >= treeSize) throw new RangeError('index outside the tree');
    const path = async (m: number, start: number, end: number): Promise<Buffer[]> => {
      const n = end - start;
      if (n === 1) return [];
      const k = splitPoint(n);
      if (m < k) return [...(await path(m, start, start + k)), await this.subtreeHash(start + k, end)];
      return [...(await path(m - k, start + k, end)), await this.subtreeHash(start, start + k)];
    };
    return path(index, 0, treeSize);
  }

  /** RFC 6962 §2.1.2 PROOF(m, D[0:n]). */
  async consistencyProof(m: number, n: number): Promise<Buffer[]> {
    if (m < 0 || m > n) throw new RangeError('need 0 <= from <= to');
    if (m === 0 || m === n) return [];
    const subproof = async (m: number, start: number, end: number, complete: boolean): Promise<Buffer[]> => {
      const n = end - start;
      if (m === n) return complete ? [] : [await this.subtreeHash(start, end)];
      const k = splitPoint(n);
      if (m <= k) return [...(await subproof(m, start, start + k, complete)), await this.subtreeHash(start + k, end)];
      return [...(await subproof(m - k, start + k, end, false)), await this.subtreeHash(start, start + k)];
    };
    return subproof(m, 0, n, true);
  }

  async record(index: number): Promise<StoredAuditRecord | undefined> {
    const { rows } = await this.sql.query('SELECT * FROM audit_log WHERE idx = $1', [index]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Records after `afterIndex` (exclusive), in order: for relays (Kafka, file) and live streams. */
  async recordsAfter(afterIndex: number, limit: number, projectIds?: string[]): Promise<StoredAuditRecord[]> {
    const { rows } = projectIds
      ? await this.sql.query('SELECT * FROM audit_log WHERE idx > $1 AND project_id = ANY($3::text[]) ORDER BY idx LIMIT $2', [afterIndex, limit, projectIds])
      : await this.sql.query('SELECT * FROM audit_log WHERE idx > $1 ORDER BY idx LIMIT $2', [afterIndex, limit]);
    return rows.map(toRecord);
  }

  /** A pipeline's access decisions, oldest first (SLSA evidence). */
  /**
   * The records of one pipeline of a project, in log order: those logged under the project, and
   * its jobs' decisions about its groups' secrets (logged under the group's place key, the job's
   * project among the record's `resources`: libs/domain/src/siem/ocsf/common.ts secretResources).
   * A job of another project with the same pipeline id never matches: its record names its own
   * project, and a group is never a `project` resource.
   */
  async pipelineRecords(projectId: string, pipelineId: string, limit = 10_000): Promise<StoredAuditRecord[]> {
    const jobProject = JSON.stringify([{ type: 'project', uid: projectId }]);
    const { rows } = await this.sql.query(
      `SELECT * FROM audit_log WHERE project_id = $1 AND pipeline_id = $2
       UNION ALL
       SELECT * FROM audit_log WHERE pipeline_id = $2 AND pipeline_id IS NOT NULL AND project_id LIKE 'group:%' AND (record::jsonb -> 'resources') @> $4::jsonb
       ORDER BY idx LIMIT $3`,
      [projectId, pipelineId, limit, jobProject],
    );
    return rows.map(toRecord);
  }

  /** Committed size (what a checkpoint may sign), as opposed to appends still in a transaction. */
  async committedSize(): Promise<number> {
    const { rows } = await this.sql.query<{ n: string | number | null }>('SELECT max(idx) AS n FROM audit_log');
    return rows[0].n === null ? 0 : Number(rows[0].n) + 1;
  }

  /** Index of the last record a relay (Kafka, file) has delivered; -1 = none. */
  async relayOffset(relay: string): Promise<number> {
    const { rows } = await this.sql.query<{ last_index: string | number }>('SELECT last_index FROM audit_relay_offsets WHERE relay = $1', [relay]);
    return rows[0] ? Number(rows[0].last_index) : -1;
  }

  async saveRelayOffset(relay: string, lastIndex: number): Promise<void> {
    await this.sql.query(
      `INSERT INTO audit_relay_offsets (relay, last_index, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (relay) DO UPDATE SET last_index = EXCLUDED.last_index, updated_at = now()`,
      [relay, lastIndex],
    );
  }

  async checkpointsAfter(treeSize: number, limit = 100): Promise<StoredCheckpoint[]> {
    const { rows } = await this.sql.query('SELECT * FROM audit_checkpoints WHERE tree_size > $1 ORDER BY tree_size LIMIT $2', [treeSize, limit]);
    return rows.map(toCheckpoint);
  }

  async saveCheckpoint(c: { treeSize: number; rootHash: Buffer; note: string }): Promise<void> {
    await this.sql.query('INSERT INTO audit_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3) ON CONFLICT (tree_size) DO NOTHING', [c.treeSize, c.rootHash, c.note]);
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const { rows } = await this.sql.query('SELECT * FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1');
    return rows[0] ? toCheckpoint(rows[0]) : undefined;
  }

  /** The smallest checkpoint that includes leaf `index`. */
  async checkpointCovering(index: number): Promise<StoredCheckpoint | undefined> {
    const { rows } = await this.sql.query('SELECT * FROM audit_checkpoints WHERE tree_size > $1 ORDER BY tree_size LIMIT 1', [index]);
    return rows[0] ? toCheckpoint(rows[0]) : undefined;
  }

  async checkpoint(treeSize: number): Promise<StoredCheckpoint | undefined> {
    const { rows } = await this.sql.query('SELECT * FROM audit_checkpoints WHERE tree_size = $1', [treeSize]);
    return rows[0] ? toCheckpoint(rows[0]) : undefined;
  }
}

function toCheckpoint(r: Record<string, unknown>): StoredCheckpoint {
  return {
    treeSize: Number(r.tree_size),
    rootHash: buf(r.root_hash),
    note: String(r.note),
    createdAt: (r.created_at instanceof Date ? r.created_at : new Date(String(r.created_at))).toISOString(),
  };
}
