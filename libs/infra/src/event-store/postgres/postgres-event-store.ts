import {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreUnavailableError,
  SubscribeOptions,
  SubscriptionHandle,
  WrongExpectedRevisionError,
} from '@app/domain';
import { runMigrations } from '../../sql/migrations';
import { SqlClient, SqlExecutor } from '../../sql/sql-client';
import { runSubscription, ScanResult } from '../subscription';
import { EVENT_STORE_MIGRATIONS } from './schema';

const NOTIFY_CHANNEL = 'es_events_appended';
const MAX_BATCH = 1000;

/**
 * An event as the database hands it over: ONE json array per row (issue 23), which the driver
 * parses with one JSON.parse, instead of ten columns each through its own type parser (two of them
 * jsonb, each parsed alone, and a timestamptz parsed into a Date to be printed again): 11.5 -> 6.2
 * µs of CPU per row read (20,000 rows, pg). seq is text (a bigint may pass 2^53); recorded_at is
 * printed in UTC with milliseconds, truncated as a Date would truncate it.
 */
type EventJson = [seq: string, txid: string, streamName: string, revision: number, eventId: string, type: string, schemaVersion: number, data: Record<string, unknown>, metadata: RecordedEvent['metadata'], recordedAt: string];

/** The json array of an event of table alias `e` (see EventJson), selected as `ev`. */
const eventJson = (e: string) =>
  `json_build_array(${e}.seq::text, ${e}.txid::text, ${e}.stream_name, ${e}.revision, ${e}.event_id, ${e}.type, ${e}.schema_version, ${e}.data, ${e}.metadata, to_char(${e}.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/** Stream reads combined into one statement at most (a larger burst takes several). */
const MAX_READS_PER_STATEMENT = 200;

/** Appends with expected revision 'any' combined into one statement at most. */
const MAX_APPENDS_PER_STATEMENT = 64;

interface PendingAppend {
  streamName: string;
  payload: string;
  events: EventToAppend[];
  resolve(result: AppendResult): void;
  reject(e: unknown): void;
}

type AppendRow = { outcome: string; revision: number; last_seq: string | null; last_txid: string | null };

/** The result of an append es_append answered 'ok' (revision, txid and seq are then set). */
const appended = (row: AppendRow): AppendResult => ({ nextExpectedRevision: Number(row.revision), position: { commit: BigInt(row.last_txid!), prepare: BigInt(row.last_seq!) } });

interface PendingRead {
  streamName: string;
  from: number;
  resolve(events: RecordedEvent[]): void;
  reject(e: unknown): void;
}

function toRecorded({ ev }: { ev: EventJson }): RecordedEvent {
  return {
    eventId: ev[4],
    type: ev[5],
    schemaVersion: ev[6],
    data: ev[7],
    metadata: ev[8],
    streamName: ev[2],
    revision: ev[3],
    position: { commit: BigInt(ev[1]), prepare: BigInt(ev[0]) },
    recordedAt: ev[9],
  };
}

/**
 * Live subscriptions are woken at most this often (issue 23): under steady appends, the events of
 * 20 ms are read by one shared scan and applied in one transaction per projection (the auditor's
 * go to Kafka in one send) instead of one wake-up each. The first append after a quiet spell wakes
 * them at once; a subscription still busy reads again as soon as it is done; a catch-up is never
 * slowed. At most 20 ms more lag.
 */
const LIVE_READ_INTERVAL_MS = 20;

/** Events a subscription examines per read (those of its streams are delivered, the rest skipped). */
const SCAN_ROWS = 2000;

function positionKey(p: Position | undefined): string {
  return p ? `${p.commit}/${p.prepare}` : '';
}

/** True when a scan of `have` streams (undefined: all) returns every event a reader of `want` needs. */
function covers(have: string[] | undefined, want: string[] | undefined): boolean {
  if (!have) return true;
  if (!want) return false;
  return want.every((p) => have.includes(p));
}

/** The streams a shared scan reads: every listed prefix once, or all streams if any reader wants all. */
function unionOf(lists: (string[] | undefined)[]): string[] | undefined {
  const out = new Set<string>();
  for (const l of lists) {
    if (!l) return undefined;
    for (const p of l) out.add(p);
  }
  return [...out].sort();
}

function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
}

/**
 * The event store on PostgreSQL (production) and PGlite (embedded), same SQL. An append takes
 * a transaction-scoped advisory lock on its stream BEFORE its first write, so the append's
 * transaction id is assigned after the previous appender to that stream committed: per-stream
 * order equals global (txid, seq) order.
 */
export class PostgresEventStore implements EventStore {
  private constructor(private readonly sql: SqlClient, private readonly beforeCommit?: () => Promise<void>) {}

  /** `beforeCommit` (tests only) holds each append's transaction open before COMMIT, to force out-of-order commits. */
  static async create(sql: SqlClient, options: { beforeCommit?: () => Promise<void> } = {}): Promise<PostgresEventStore> {
    await runMigrations(sql, 'event-store', EVENT_STORE_MIGRATIONS);
    return new PostgresEventStore(sql, options.beforeCommit);
  }

  async appendToStream(streamName: string, expected: ExpectedRevision, events: EventToAppend[]): Promise<AppendResult> {
    if (events.length === 0) throw new Error('nothing to append');
    const payload = JSON.stringify(events.map((e) => ({ eventId: e.eventId, type: e.type, schemaVersion: e.schemaVersion, data: e.data, metadata: e.metadata })));
    if (expected === 'any' && !this.beforeCommit) {
      return new Promise((resolve, reject) => {
        if (!this.pendingAppends) {
          this.pendingAppends = [];
          setImmediate(() => void this.flushAppends());
        }
        this.pendingAppends.push({ streamName, payload, events, resolve, reject });
      });
    }
    return this.appendAlone(streamName, expected, events, payload);
  }

  private pendingAppends: PendingAppend[] | null = null;

  /**
   * Appends with expected revision 'any' asked for in the same turn of the event loop — CI jobs'
   * access decisions arriving together (their reads were one statement too) — go out as ONE
   * statement (es_append_many: one transaction), one round trip and one commit for all, each
   * caller answered only once that commit is durable, exactly as alone. es_append_many locks every
   * stream of the group before its first write, so per-stream order stays global (txid, seq)
   * order, as for one append. If the statement fails (an event id already stored, say), each
   * append is made again alone and gets its own outcome: a group never answers for one of its
   * members. Chunks of a large burst, and the appends made again alone, keep the order asked per
   * stream: they go one after the other.
   */
  private async flushAppends(): Promise<void> {
    const appends = this.pendingAppends ?? [];
    this.pendingAppends = null;
    for (let i = 0; i < appends.length; i += MAX_APPENDS_PER_STATEMENT) {
      const chunk = appends.slice(i, i + MAX_APPENDS_PER_STATEMENT);
      if (chunk.length === 1) await this.settleAlone(chunk[0]);
      else await this.appendMany(chunk);
    }
  }

  private async appendMany(chunk: PendingAppend[]): Promise<void> {
    let rows: (AppendRow & { k: number })[];
    try {
      ({ rows } = await this.sql.query<AppendRow & { k: number }>('SELECT k, outcome, revision, last_seq, last_txid FROM es_append_many($1::text[], $2::text[])', [
        chunk.map((a) => a.streamName),
        chunk.map((a) => a.payload),
      ]));
    } catch {
      // Each alone, in the order asked: its own error (or its idempotent replay), as if never grouped.
      for (const a of chunk) await this.settleAlone(a);
      return;
    }
    // One row per append ('any' never conflicts), by its place in the statement.
    const byPlace = new Map(rows.map((r) => [Number(r.k), r]));
    chunk.forEach((a, i) => {
      const row = byPlace.get(i + 1);
      if (row?.outcome === 'ok') a.resolve(appended(row));
      else a.reject(new Error(`grouped append to ${a.streamName}: no outcome`));
    });
  }

  /** A queued append made alone, its caller answered with its own outcome. */
  private settleAlone(a: PendingAppend): Promise<void> {
    return this.appendAlone(a.streamName, 'any', a.events, a.payload).then(a.resolve, a.reject);
  }

  private async appendAlone(streamName: string, expected: ExpectedRevision, events: EventToAppend[], payload: string): Promise<AppendResult> {
    let row: AppendRow;
    try {
      // One autocommitted statement does lock, check, insert and notify (es_append): one round trip.
      const params = [streamName, String(expected), payload];
      const append = 'SELECT * FROM es_append($1, $2, $3::jsonb)';
      const hold = this.beforeCommit;
      row = hold
        ? await this.sql.transaction(async (tx) => {
            const { rows } = await tx.query<typeof row>(append, params);
            await hold();
            return rows[0];
          })
        : (await this.sql.query<typeof row>(append, params)).rows[0];
    } catch (e) {
      if ((e as { code?: string }).code !== '23505') throw e;
      // An event id already stored: an idempotent retry, or a reuse (an error).
      const replay = await this.alreadyAppended(this.sql, streamName, events);
      if (replay) return replay;
      throw new Error(`an event id is already used elsewhere (appending to ${streamName})`);
    }
    if (row.outcome === 'conflict') {
      const replay = await this.alreadyAppended(this.sql, streamName, events);
      if (replay) return replay;
      throw new WrongExpectedRevisionError(streamName, expected, Number(row.revision));
    }
    return appended(row);
  }

  /** Idempotent retry: the same event ids already stored, in order, in this stream. */
  private async alreadyAppended(tx: SqlExecutor, streamName: string, events: EventToAppend[]): Promise<AppendResult | null> {
    const { rows } = await tx.query<{ event_id: string; stream_name: string; revision: number; seq: string; txid: string }>(
      'SELECT event_id::text AS event_id, stream_name, revision, seq, txid::text AS txid FROM es_events WHERE event_id = ANY($1::uuid[]) ORDER BY revision',
      [events.map((e) => e.eventId)],
    );
    if (rows.length === 0) return null;
    const sameStream = rows.every((r) => r.stream_name === streamName);
    const inOrder = rows.length === events.length && rows.every((r, i) => r.event_id === events[i].eventId && Number(r.revision) === Number(rows[0].revision) + i);
    if (!sameStream || !inOrder) throw new Error(`event ids already used differently (appending to ${streamName})`);
    const last = rows[rows.length - 1];
    return { nextExpectedRevision: Number(last.revision), position: { commit: BigInt(last.txid), prepare: BigInt(last.seq) } };
  }

  /**
   * Reads of whole stream tails (no maxCount) asked for in the same turn of the event loop — a
   * command's policy and secret streams, and those of other requests arriving together — go out
   * as ONE statement: one round trip and one snapshot for all of them. Each read is still sent
   * after it was asked for, so it sees every event committed before the call (a revocation
   * applies to the very next request); an unchanged stream costs an index probe returning nothing.
   */
  readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    if (options.maxCount !== undefined) return this.readStreamAlone(streamName, options);
    return new Promise((resolve, reject) => {
      if (!this.pendingReads) {
        this.pendingReads = [];
        setImmediate(() => void this.flushReads());
      }
      this.pendingReads.push({ streamName, from: options.fromRevision ?? 0, resolve, reject });
    });
  }

  private pendingReads: PendingRead[] | null = null;

  private async flushReads(): Promise<void> {
    const reads = this.pendingReads ?? [];
    this.pendingReads = null;
    if (reads.length === 1) {
      const r = reads[0];
      return this.readStreamAlone(r.streamName, { fromRevision: r.from }).then(r.resolve, r.reject);
    }
    const chunks: PendingRead[][] = [];
    for (let i = 0; i < reads.length; i += MAX_READS_PER_STATEMENT) chunks.push(reads.slice(i, i + MAX_READS_PER_STATEMENT));
    await Promise.all(chunks.map((chunk) => this.readMany(chunk)));
  }

  private async readMany(chunk: PendingRead[]): Promise<void> {
    try {
      const { rows } = await this.sql.query<{ ev: EventJson; q: string | number }>(
        `SELECT q.i AS q, ${eventJson('e')} AS ev
           FROM unnest($1::text[], $2::integer[]) WITH ORDINALITY AS q(stream_name, from_revision, i)
           JOIN es_events e ON e.stream_name = q.stream_name AND e.revision >= q.from_revision
          ORDER BY q.i, e.revision`,
        [chunk.map((r) => r.streamName), chunk.map((r) => Math.max(0, Math.min(r.from, 2_147_483_647)))],
      );
      const out: RecordedEvent[][] = chunk.map(() => []);
      for (const row of rows) out[Number(row.q) - 1].push(toRecorded(row));
      chunk.forEach((r, k) => r.resolve(out[k]));
    } catch (e) {
      for (const r of chunk) r.reject(e);
    }
  }

  private async readStreamAlone(streamName: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    const { rows } = await this.sql.query<{ ev: EventJson }>(
      `SELECT ${eventJson('es_events')} AS ev FROM es_events WHERE stream_name = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
      [streamName, options.fromRevision ?? 0, options.maxCount ?? 2_147_483_647],
    );
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions & { streamPrefixes?: string[] } = {}): Promise<RecordedEvent[]> {
    const after = options.after ?? { commit: 0n, prepare: 0n };
    const params: unknown[] = [after.commit.toString(), after.prepare.toString(), Math.min(options.maxCount ?? MAX_BATCH, 10_000)];
    let filter = '';
    if (options.streamPrefixes?.length) {
      params.push(options.streamPrefixes.map(likePrefix));
      filter = `AND stream_name LIKE ANY($4::text[])`;
    }
    const { rows } = await this.sql.query<{ ev: EventJson }>(
      `SELECT ${eventJson('es_events')} AS ev FROM es_events
       WHERE (txid, seq) > ($1::text::xid8, $2::bigint)
         AND txid < pg_snapshot_xmin(pg_current_snapshot())
         ${filter}
       ORDER BY es_events.txid, es_events.seq LIMIT $3`,
      params,
    );
    return rows.map(toRecorded);
  }

  /**
   * Examines at most `limit` events after `after` in global order (an index range scan, whatever
   * the prefixes), returns those of the given streams in full, and where the scan ended. One
   * statement, so one snapshot: `scannedTo` never passes an event the scan did not see.
   */
  private async scan(after: Position | undefined, limit: number, prefixes?: string[]): Promise<ScanResult> {
    const from = after ?? { commit: 0n, prepare: 0n };
    const { rows } = await this.sql.query<{ ev: EventJson | null; last_txid: string; last_seq: string | number; examined: string | number }>(
      `WITH scanned AS MATERIALIZED (
         SELECT seq, txid, stream_name FROM es_events
          WHERE (txid, seq) > ($1::text::xid8, $2::bigint) AND txid < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY txid, seq LIMIT $3
       ), tail AS (
         SELECT txid::text AS last_txid, seq AS last_seq, (SELECT count(*) FROM scanned) AS examined
           FROM scanned ORDER BY txid DESC, seq DESC LIMIT 1
       )
       SELECT tail.last_txid, tail.last_seq, tail.examined, CASE WHEN e.seq IS NULL THEN NULL ELSE ${eventJson('e')} END AS ev
         FROM tail
         LEFT JOIN (scanned s JOIN es_events e ON e.seq = s.seq AND ($4::text[] IS NULL OR s.stream_name LIKE ANY($4::text[]))) ON true
        ORDER BY e.txid, e.seq`,
      [from.commit.toString(), from.prepare.toString(), limit, prefixes?.length ? prefixes.map(likePrefix) : null],
    );
    if (rows.length === 0) return { events: [], full: false };
    const head = rows[0];
    return {
      events: rows.filter((r): r is typeof r & { ev: EventJson } => r.ev !== null).map(toRecorded),
      scannedTo: { commit: BigInt(head.last_txid), prepare: BigInt(head.last_seq) },
      full: Number(head.examined) >= limit,
    };
  }

  subscribeToAll(options: SubscribeOptions, handler: (event: RecordedEvent) => Promise<void>): SubscriptionHandle {
    // Catching up (a read that stopped at its limit), the next page is read while this one is
    // handled and committed. It starts where this scan ended, which is exactly where the next
    // read asks (the subscription moves to scannedTo); anything else reads afresh. A prefetched
    // page is as good as a later read of it: a scan only returns events below its snapshot's
    // oldest running transaction, a set no later commit can change.
    let ahead: { from: string; page: Promise<ScanResult> } | undefined;
    const prefixes = options.streamPrefixes?.length ? [...new Set(options.streamPrefixes)] : undefined;
    const member = { prefixes };
    this.subscribers.add(member);
    const scan = (after: Position | undefined) => this.sharedScan(after, prefixes);
    const readAhead = async (after: Position | undefined): Promise<ScanResult> => {
      const page = ahead && ahead.from === positionKey(after) ? ahead.page : scan(after);
      ahead = undefined;
      const result = await page;
      if (result.full && result.scannedTo) {
        const next = scan(result.scannedTo);
        next.catch(() => undefined); // a failed read ahead fails the read that takes it, as that read would have
        ahead = { from: positionKey(result.scannedTo), page: next };
      }
      return result;
    };
    const handle = runSubscription({
      after: options.after,
      onCaughtUp: options.onCaughtUp,
      onBatchEnd: options.onBatchEnd,
      onProgress: options.onProgress,
      readBatch: (after: Position | undefined) => readAhead(after),
      wakeups: (wake) => this.addWaker(wake),
      handler,
    });
    void handle.done.finally(() => this.subscribers.delete(member)).catch(() => undefined);
    return handle;
  }

  /** Wake-up callbacks of this store's subscriptions, called together (one LISTEN registration for all). */
  private readonly wakers = new Set<() => void>();
  private listening?: Promise<unknown>;
  private fanOutTimer?: NodeJS.Timeout;
  private lastFanOut = 0;

  private async addWaker(wake: () => void): Promise<() => Promise<void>> {
    if (!this.listening) {
      const registered = this.sql.listen(NOTIFY_CHANNEL, () => this.notified());
      this.listening = registered;
      registered.catch(() => {
        if (this.listening === registered) this.listening = undefined; // the next subscriber (a retry) listens again
      });
    }
    await this.listening;
    this.wakers.add(wake);
    return async () => void this.wakers.delete(wake);
  }

  /**
   * An append was notified: every subscription is woken at once (so their reads share one scan),
   * at most every LIVE_READ_INTERVAL_MS; the first notification after a quiet spell at once.
   */
  private notified(): void {
    if (this.fanOutTimer) return;
    const fire = () => {
      this.fanOutTimer = undefined;
      this.lastFanOut = Date.now();
      this.wakeups++;
      for (const w of this.wakers) w();
    };
    const wait = this.lastFanOut + LIVE_READ_INTERVAL_MS - Date.now();
    if (wait <= 0) fire();
    else {
      this.fanOutTimer = setTimeout(fire, wait);
      this.fanOutTimer.unref();
    }
  }

  /** Subscriptions of this store (their stream prefixes), for the union a shared scan reads. */
  private readonly subscribers = new Set<{ prefixes?: string[] }>();
  /** Wake-ups of this store's subscriptions so far (each after one or more append notifications). */
  private wakeups = 0;
  /** Scans in flight, by start position: subscriptions asking from the same position share one. */
  private readonly scansInFlight = new Map<string, { wakeups: number; prefixes?: string[]; page: Promise<ScanResult> }>();

  /**
   * One statement for every subscription of this store reading from the same position at the
   * same time — live subscriptions all wait at the end of the store, so one append's wake-up
   * used to cost one scan per subscription. A read joins a scan in flight only if that scan
   * started after the store's latest wake-up (which follows every append notification seen so
   * far, so the scan cannot miss the event that woke the reader) and reads every stream the
   * reader wants; the scan reads the union of all subscriptions' streams and each reader keeps
   * its own (same prefix rule as the SQL). Readers share the event objects: a handler must never
   * change an event it is given (none does).
   */
  private sharedScan(after: Position | undefined, prefixes: string[] | undefined): Promise<ScanResult> {
    const key = positionKey(after);
    let entry = this.scansInFlight.get(key);
    if (!entry || entry.wakeups < this.wakeups || !covers(entry.prefixes, prefixes)) {
      const union = unionOf([...this.subscribers].map((m) => m.prefixes).concat([prefixes]));
      const page = this.scan(after, SCAN_ROWS, union);
      const started = { wakeups: this.wakeups, prefixes: union, page };
      entry = started;
      this.scansInFlight.set(key, started);
      const forget = () => {
        if (this.scansInFlight.get(key) === started) this.scansInFlight.delete(key);
      };
      page.then(forget, forget);
    }
    // The scan read exactly the reader's streams (or the reader wants all): nothing to filter.
    if (!prefixes || covers(prefixes, entry.prefixes)) return entry.page;
    return entry.page.then((r) => ({ ...r, events: r.events.filter((e) => prefixes.some((p) => e.streamName.startsWith(p))) }));
  }

  async ping(): Promise<void> {
    try {
      await this.sql.query('SELECT 1');
    } catch (e) {
      throw e instanceof StoreUnavailableError ? e : new StoreUnavailableError('event store unreachable', e);
    }
  }

  async close(): Promise<void> {
    // The SqlClient is shared with read models and closed by its owner.
  }
}
