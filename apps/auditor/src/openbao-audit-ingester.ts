import { open, stat } from 'node:fs/promises';
import { EventStore, EventToAppend, StreamName } from '@app/domain';
import {
  auditEventId,
  interpretAuditLine,
  OPENBAO_DRIFT_PROJECT,
  OPENBAO_DRIFT_STREAM,
  OPENBAO_UNAUTHENTICATED_PROJECT,
  OpenBaoAuditFinding,
  OpenBaoAuditScope,
  OpenBaoKvAccess,
  OpenBaoOwnedWrite,
  TokenDenialFold,
  TokenDenialFolds,
  tokenDenialSlot,
  UnauthenticatedFold,
  UnauthenticatedFolds,
} from '@app/domain/openbao-audit';
import { Metrics } from '@app/infra/observability/metrics';
import { PolicyReconciler } from '@app/infra/openbao/policy-reconciler';
import { JsonLogger } from '@app/infra/logging/logger';
import { SqlClient } from '@app/infra/sql/sql-client';
import { formatBaoRef, isValuePath } from '@app/infra/value-store/openbao-value-store';

const PLAIN_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * A cheap look at a raw audit line before JSON.parse (issue 23, 3: an inline-auth read is four
 * lines, a login pair and a read pair, and parsing is most of the ingester's CPU). Only response
 * entries whose request path is under the KV prefix, under sys/ or on the JWT mount (the
 * projector's objects) can mean anything (interpretAuditLine); OpenBao's JSON writes those paths
 * literally when the mount and prefix names are plain ([A-Za-z0-9_-]: no character JSON would
 * escape), so a request line, or a response with none of those paths (the login pair of an
 * inline-auth read, other mounts, other prefixes), is null for interpretAuditLine too. With names
 * that are not plain, every line is parsed. (Unit test: every fixture line the filter drops
 * interprets to null.)
 */
export function auditLineFilter(scope: Pick<OpenBaoAuditScope, 'kvMount' | 'kvPrefix' | 'jwtMount'>): (line: string) => boolean {
  if (![scope.kvMount, scope.kvPrefix, scope.jwtMount].every((n) => PLAIN_NAME.test(n))) return () => true;
  // Broader than what interpretAuditLine keeps today (any sys/ path, anything on the JWT mount but
  // its login), so a path it comes to care about is not dropped here unseen.
  const kv = `"path":"${scope.kvMount}/data/${scope.kvPrefix}/`;
  const jwt = `"path":"auth/${scope.jwtMount}/`;
  const login = `"path":"auth/${scope.jwtMount}/login"`;
  const onJwtMountButLogin = (line: string): boolean => {
    for (let i = line.indexOf(jwt); i >= 0; i = line.indexOf(jwt, i + 1)) if (!line.startsWith(login, i)) return true;
    return false;
  };
  return (line) => line.includes('"type":"response"') && (line.includes(kv) || line.includes('"path":"sys/') || onJwtMountButLogin(line));
}

/** Where the ingester is in one device's file: the file's inode (rotation) and the byte after the last whole line it appended. */
interface Offset {
  inode: string;
  offset: number;
}

/** Poll interval right after a poll that read lines (OpenBao is writing); pollMs (100) when idle. */
const ACTIVE_POLL_MS = 10;

export interface OpenBaoIngestOptions {
  file: string;
  scope: OpenBaoAuditScope;
  /** poll interval; the device appends, it does not notify */
  pollMs?: number;
  /** called for every write by someone else to an object the projector owns (drift, item 5) */
  onOwnedWrite?: (w: OpenBaoOwnedWrite) => Promise<void>;
  /**
   * Where a first start (no stored offset for this device) begins: `beginning` reads the whole
   * file (its history becomes events, earlier unmarked writes to owned objects become drift);
   * `end` starts after the file's last whole line and logs what it skipped (BAO_AUDIT_START; the
   * app's default is `end`, docs/openbao.md). A file that does not exist yet at first start is all
   * new: it is read from its first byte either way. With a stored offset this is never consulted.
   */
  start?: 'beginning' | 'end';
  /**
   * Unauthenticated denials (no token, or one OpenBao does not know) are folded per remote address
   * into one summary per window of this many seconds (DENIAL_SUMMARY_WINDOW_SECONDS, 60 by default).
   */
  denialWindowSeconds?: number;
  /**
   * Denials by a token OpenBao knows: per token and 60 s slot, the first this many are recorded one
   * by one, the rest folded into one summary (DENIAL_RATE_PER_MINUTE, 60 by default; token-denial-fold.ts).
   */
  denialRatePerMinute?: number;
  metrics?: Pick<Metrics, 'openBaoAuditNotRecorded' | 'openBaoAuditSummaries'>;
  /**
   * Memory bounds of the brokered-read check (tests set them small): the newest SecretAccessed ids
   * kept per access stream (20,000) and in all (200,000; past it the cache starts afresh). A marker
   * naming an id a stream no longer holds is looked up in that stream again, read whole.
   */
  accessIds?: { perStream: number; total: number };
}

/** SecretAccessed ids the brokered-read check keeps (OpenBaoIngestOptions.accessIds). */
const ACCESS_IDS = { perStream: 20_000, total: 200_000 };

interface AccessedIds {
  /** the next revision to read */
  next: number;
  /** SecretAccessed id → the secret it names, the newest last */
  ids: Map<string, string>;
  /** older ids were let go (the window was full) */
  trimmed: boolean;
}

/** A window is closed this long after its end (by the entries' times or the clock): room for entries written slightly out of order. */
const FOLD_GRACE_MS = 2_000;

const CHUNK = 4 << 20;
/** The stored "inode" of a device whose file did not exist at first start. */
const ABSENT = 'absent';

/** The byte after the last newline in the first `size` bytes of `file` (0 when none). */
async function lastLineEnd(file: string, size: number): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const step = 64 << 10;
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - step);
      const buf = Buffer.allocUnsafe(end - start);
      const { bytesRead } = await fh.read(buf, 0, end - start, start);
      const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl >= 0) return start + nl + 1;
      end = start;
    }
    return 0;
  } finally {
    await fh.close();
  }
}

/**
 * Tails OpenBao's file audit device from a stored offset and turns each response entry on the
 * service's KV data paths into a SecretAccessed / SecretAccessDenied event. Exactly once per
 * OpenBao request id whatever is re-read: the event id is derived from the request id, and the
 * store treats re-appending an event id as success. The offset is only a resume hint (saved after
 * the events of a batch are appended), so a crash, a truncation or a rotation (inode changed or
 * file shorter than the offset: start again at 0) re-reads, and re-reading adds nothing.
 */
export class OpenBaoAuditIngester {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;
  private readonly device: string;
  /** entries appended by this process (tests, metrics) */
  appended = 0;
  /** lines read by this process */
  lines = 0;
  /** Where this process has read to; the stored offset may be behind it while unauthenticated denials are folded (null: read it from the table). */
  private pos: Offset | null = null;
  private readonly folds: UnauthenticatedFolds<Offset>;
  private readonly tokenFolds: TokenDenialFolds<Offset>;
  /** (token, slot) folds known to have closed with a summary (a cache of openbao_denial_folds). */
  private readonly closedTokenFolds = new Set<string>();
  /** auditLineFilter: false for a line interpretAuditLine would answer null anyway. */
  private readonly mayMatter: (line: string) => boolean;

  constructor(
    private readonly store: EventStore,
    private readonly sql: SqlClient,
    private readonly opts: OpenBaoIngestOptions,
    private readonly logger: JsonLogger,
  ) {
    this.device = opts.file;
    this.folds = new UnauthenticatedFolds<Offset>(opts.denialWindowSeconds ?? 60);
    this.tokenFolds = new TokenDenialFolds<Offset>(opts.denialRatePerMinute ?? 60);
    this.mayMatter = auditLineFilter(opts.scope);
  }

  async start(): Promise<void> {
    await this.sql.query(
      `CREATE TABLE IF NOT EXISTS openbao_audit_offsets (device text PRIMARY KEY, inode text NOT NULL, byte_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    // Which OpenBao request first used a broker marker id (per outcome: a brokered read whose job
    // login was refused has one refused and one answered request under the same id). A second
    // request id under the same (id, use) is a replay: recorded, never trusted.
    await this.sql.query(
      `CREATE TABLE IF NOT EXISTS openbao_broker_markers (marker_id text NOT NULL, use text NOT NULL, request_id text NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (marker_id, use))`,
    );
    // Token denial folds (per token and 60 s slot) that closed with a summary: a re-read starting in
    // the middle of one (the resume point is the earliest OPEN fold's first line) skips its lines
    // instead of recording the ones the summary already counts.
    await this.sql.query(`CREATE TABLE IF NOT EXISTS openbao_denial_folds (fold_id text PRIMARY KEY, closed_at timestamptz NOT NULL DEFAULT now())`);
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      let next = this.opts.pollMs ?? 100;
      this.running = this.pollOnce()
        // While OpenBao is writing, look again soon (issue 23: the delay from OpenBao's answer to the
        // event was mostly the 100 ms wait); idle, every pollMs.
        .then((read) => void (read > 0 && (next = Math.min(next, ACTIVE_POLL_MS))))
        .catch((e) => this.logger.warn('openbao audit ingestion failed; will retry', { file: this.device, error: String((e as Error).message ?? e) }))
        .finally(() => this.schedule(next));
    }, ms);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    // Open folds are not lost: the stored offset is at their first line, so the next start reads them again.
    this.pos = null;
    this.folds.clear();
    this.tokenFolds.clear();
  }

  private async loadOffset(): Promise<Offset | null> {
    const { rows } = await this.sql.query<{ inode: string; byte_offset: string }>('SELECT inode, byte_offset::text AS byte_offset FROM openbao_audit_offsets WHERE device = $1', [this.device]);
    return rows[0] ? { inode: rows[0].inode, offset: Number(rows[0].byte_offset) } : null;
  }

  private async saveOffset(o: Offset): Promise<void> {
    await this.sql.query(
      `INSERT INTO openbao_audit_offsets (device, inode, byte_offset) VALUES ($1, $2, $3)
       ON CONFLICT (device) DO UPDATE SET inode = EXCLUDED.inode, byte_offset = EXCLUDED.byte_offset, updated_at = now()`,
      [this.device, o.inode, o.offset],
    );
  }

  /** Forget the stored offset (tests: a re-read from 0 must add nothing). */
  async resetOffset(): Promise<void> {
    await this.sql.query('DELETE FROM openbao_audit_offsets WHERE device = $1', [this.device]);
    this.pos = null;
    this.folds.clear();
    this.tokenFolds.clear();
  }

  /**
   * The offset a restart must resume from: where this process has read to, or the first line of
   * the earliest fold still open in this file, whichever is earlier (an open fold is only in memory;
   * re-reading its lines rebuilds it, and everything else re-read adds nothing).
   */
  private durable(at: Offset): Offset {
    let offset = at.offset;
    for (const p of [...this.folds.openPositions(), ...this.tokenFolds.openPositions()]) if (p.inode === at.inode && p.offset < offset) offset = p.offset;
    return { inode: at.inode, offset };
  }

  /** Appends the summary event of each closed fold (one per remote address and window; re-appending one adds nothing). */
  /** Summarises the folds whose window ended by the clock, then stores the offset they held back. */
  private async emitDueFolds(inode: string, offset: number): Promise<void> {
    const due = this.folds.due(Date.now(), FOLD_GRACE_MS);
    const tokenDue = this.tokenFolds.due(Date.now(), FOLD_GRACE_MS);
    if (due.length === 0 && tokenDue.length === 0) return;
    await this.emitFolds(due);
    await this.emitTokenFolds(tokenDue);
    await this.saveOffset(this.durable({ inode, offset }));
  }

  private async emitFolds(closed: UnauthenticatedFold<Offset>[]): Promise<void> {
    if (closed.length === 0) return;
    const events: EventToAppend[] = closed.map((f) => {
      const s = this.folds.summaryEvent(f);
      return {
        eventId: s.eventId,
        type: s.type,
        schemaVersion: 1,
        data: s.data,
        metadata: { correlationId: f.firstRequestId, causationId: f.firstRequestId, actor: { type: 'system', id: 'openbao-audit' }, occurredAt: s.occurredAt, source: 'openbao-audit' },
      };
    });
    await this.appendOnce(StreamName.access(OPENBAO_UNAUTHENTICATED_PROJECT), events);
    this.appended += events.length;
    this.opts.metrics?.openBaoAuditSummaries.inc(events.length);
    for (const f of closed) this.logger.warn('unauthenticated OpenBao reads on the service\'s KV paths, folded into one summary', { remoteAddress: f.remote, count: f.count, projects: f.projects.size, firstAt: f.firstAt, lastAt: f.lastAt });
  }

  /** Appends the summary of each closed token fold that folded anything, then marks it closed (openbao_denial_folds). */
  private async emitTokenFolds(closed: TokenDenialFold<Offset>[]): Promise<void> {
    for (const f of closed) {
      const s = this.tokenFolds.summaryEvent(f);
      if (!s) continue;
      await this.appendOnce(StreamName.access(OPENBAO_UNAUTHENTICATED_PROJECT), [
        {
          eventId: s.eventId,
          type: s.type,
          schemaVersion: 1,
          data: s.data,
          metadata: { correlationId: s.eventId, causationId: s.eventId, actor: { type: 'system', id: 'openbao-audit' }, occurredAt: s.occurredAt, source: 'openbao-audit' },
        },
      ]);
      await this.sql.query('INSERT INTO openbao_denial_folds (fold_id) VALUES ($1) ON CONFLICT DO NOTHING', [s.eventId]);
      this.rememberClosed(s.eventId);
      this.appended++;
      this.logger.warn('OpenBao denials of one token over the denial rate, folded into one summary', { principal: f.principal.id, count: f.folded, projects: f.projects.size, firstAt: f.firstAt, lastAt: f.lastAt });
    }
  }

  private rememberClosed(id: string): void {
    if (this.closedTokenFolds.size >= 10_000) this.closedTokenFolds.clear();
    this.closedTokenFolds.add(id);
  }

  /** Whether the (token, slot) fold already closed with a summary (its lines were all decided). */
  private async tokenFoldClosed(key: string, slot: number): Promise<boolean> {
    const id = TokenDenialFolds.foldId(key, slot);
    if (this.closedTokenFolds.has(id)) return true;
    const { rows } = await this.sql.query('SELECT 1 FROM openbao_denial_folds WHERE fold_id = $1', [id]);
    if (rows.length) this.rememberClosed(id);
    return rows.length > 0;
  }

  /** Reads everything the file holds now, appends its events, saves the offset; returns the lines read. */
  async pollOnce(): Promise<number> {
    let st;
    try {
      st = await stat(this.device, { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // Not created yet. On a first start with `end`, remember that there was no history: the
      // file that appears later (another inode than this marker) is then read from byte 0.
      if (this.opts.start === 'end' && !(await this.loadOffset())) await this.saveOffset({ inode: ABSENT, offset: 0 });
      return 0;
    }
    const inode = `${st.dev}:${st.ino}`;
    const size = Number(st.size);
    let stored = this.pos ?? (await this.loadOffset());
    if (!stored && this.opts.start === 'end') stored = await this.startAtEnd(inode, size);
    let offset = stored && stored.inode === inode && stored.offset <= size ? stored.offset : 0;
    if (stored && offset === 0 && stored.offset !== 0) {
      this.logger.info('openbao audit file rotated or truncated; reading it from the start', { file: this.device });
      await this.emitFolds(this.folds.due(0, 0, true)); // the old file's open windows end here
      await this.emitTokenFolds(this.tokenFolds.due(0, 0, true));
    }
    if (offset >= size) {
      // Nothing new: windows that ended by the clock are summarised now.
      await this.emitDueFolds(inode, offset);
      this.pos = { inode, offset };
      return 0;
    }
    const fh = await open(this.device, 'r');
    let read = 0;
    try {
      let carry = Buffer.alloc(0);
      while (offset + carry.length < size) {
        const want = Math.min(CHUNK, size - offset - carry.length);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, offset + carry.length);
        if (bytesRead === 0) break;
        const data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        const lastNl = data.lastIndexOf(0x0a);
        if (lastNl < 0) {
          carry = data; // a line longer than a chunk, or one being written: wait for its end
          continue;
        }
        const whole = data.subarray(0, lastNl + 1);
        carry = data.subarray(lastNl + 1);
        const lines = whole.toString('utf8').split('\n');
        lines.pop();
        await this.ingest(lines, inode, offset);
        read += lines.length;
        offset += whole.length;
        this.pos = { inode, offset };
        await this.saveOffset(this.durable(this.pos));
        carry = Buffer.from(carry);
      }
    } finally {
      await fh.close();
    }
    await this.emitDueFolds(inode, offset);
    this.lines += read;
    return read;
  }

  /**
   * First start with BAO_AUDIT_START=end: the offset becomes the byte after the file's last whole
   * line (a line OpenBao is still writing is read once it ends), saved before anything is read,
   * so a crash right after still resumes there; said loudly, since what is before it is not ingested.
   */
  private async startAtEnd(inode: string, size: number): Promise<Offset> {
    const offset = await lastLineEnd(this.device, size);
    await this.saveOffset({ inode, offset });
    this.logger.warn('openbao audit ingester first start (no stored offset) with BAO_AUDIT_START=end: starting at the end of the audit file; the entries already in it are NOT ingested (OpenBao\'s other audit devices still hold them; set BAO_AUDIT_START=beginning before a first start to ingest them)', {
      file: this.device,
      skippedBytes: offset,
      fileBytes: size,
    });
    return { inode, offset };
  }

  /** `lines` start at byte `offset` of the file `inode`. */
  private async ingest(lines: string[], inode: string, offset: number): Promise<void> {
    // Events grouped by stream, in file order, deduplicated by id: one append per stream per batch.
    const byStream = new Map<string, Map<string, EventToAppend>>();
    const drift: OpenBaoOwnedWrite[] = [];
    const closed: UnauthenticatedFold<Offset>[] = [];
    const tokenClosed: TokenDenialFold<Offset>[] = [];
    const escalations: OpenBaoKvAccess[] = [];
    let tokenFolded = 0;
    let latest = 0;
    let at = offset;
    let invalid = 0;
    let folded = 0;
    const findings: { f: OpenBaoAuditFinding; lineAt: number }[] = [];
    for (const line of lines) {
      const lineAt = at;
      at += Buffer.byteLength(line) + 1;
      if (line.length === 0 || !this.mayMatter(line)) continue;
      const f = interpretAuditLine(line, this.opts.scope);
      if (f) findings.push({ f, lineAt });
    }
    const brokered = await this.brokeredReads(findings.map((x) => x.f));
    for (const { f, lineAt } of findings) {
      if (f.kind === 'dropped') {
        invalid++;
      } else if (f.kind === 'unauthenticated-denial') {
        folded++;
        latest = Math.max(latest, Date.parse(f.at));
        closed.push(...this.folds.add(f, { inode, offset: lineAt }));
      } else if (f.kind === 'kv-read') {
        if (f.identityEscalation) escalations.push(f);
        if (brokered.has(f)) continue; // the command API recorded this decision itself
        if (!f.allowed && f.token !== null) {
          // A denial by a known token: within the rate it is recorded, above it folded (token-denial-fold.ts).
          latest = Math.max(latest, Date.parse(f.at));
          const key = this.tokenFolds.keyOf(f.token);
          const slot = tokenDenialSlot(f.at);
          if (!this.tokenFolds.isOpen(key, slot) && (await this.tokenFoldClosed(key, slot))) continue; // decided and summarised before
          const r = this.tokenFolds.add(f, key, principalOf(f.accessor), { inode, offset: lineAt });
          tokenClosed.push(...r.closed);
          if (!r.record) {
            tokenFolded++;
            continue;
          }
        }
        const { stream, event } = accessEvent({ ...f, version: f.allowed ? await this.valueVersion(f) : null });
        let m = byStream.get(stream);
        if (!m) byStream.set(stream, (m = new Map()));
        m.set(event.eventId, event);
      } else if (f.succeeded && this.opts.onOwnedWrite && !(f.markerId !== null && (await this.firstUse(f.markerId, 'write', f.requestId)))) {
        drift.push(f);
      }
    }
    const streams = [...byStream.entries()];
    const worker = async () => {
      for (let next = streams.shift(); next; next = streams.shift()) {
        const [stream, events] = next;
        const n = await this.appendOnce(stream, [...events.values()]);
        this.appended += n;
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, streams.length) }, worker));
    // Windows closed by a later entry of the same address, or that ended before the latest entry read.
    await this.emitFolds([...closed, ...this.folds.due(latest, FOLD_GRACE_MS)]);
    await this.emitTokenFolds([...tokenClosed, ...this.tokenFolds.due(latest, FOLD_GRACE_MS)]);
    if (tokenFolded) this.opts.metrics?.openBaoAuditNotRecorded.inc({ reason: 'token-folded' }, tokenFolded);
    if (invalid) this.opts.metrics?.openBaoAuditNotRecorded.inc({ reason: 'invalid-path' }, invalid);
    if (folded) this.opts.metrics?.openBaoAuditNotRecorded.inc({ reason: 'unauthenticated-folded' }, folded);
    for (const w of drift) await this.opts.onOwnedWrite!(w);
    for (const f of escalations) await this.recordEscalation(f);
  }

  /**
   * A job token from the service's JWT roles that carries identity policies besides its role (an
   * identity group or entity policy on the job's entity): OpenBao grants those on top of the
   * rendered role, so the token may read what no grant allows. The read itself is recorded as
   * unattributed; this records the escalation as drift a SOC sees: OpenBaoDriftDetected with path
   * `identity/entity/id/<entity id>`, operation `identity-policy`, who = the job's display name and
   * the extra policies. One event per entity, policy set and hour (the id derives from them), so a
   * token reading in a loop makes one record. Not repaired: identity objects are not the service's.
   */
  private async recordEscalation(f: OpenBaoKvAccess): Promise<void> {
    const e = f.identityEscalation!;
    const hour = new Date(Math.floor(Date.parse(f.at) / 3_600_000) * 3_600_000).toISOString();
    const path = `identity/entity/id/${e.entityId}`;
    const eventId = auditEventId(`${e.entityId}\n${e.policies.join(',')}\n${hour}`, 'OpenBaoIdentityPolicyDrift');
    const who = { displayName: f.accessor.id, policies: e.policies };
    await this.store.appendToStream(OPENBAO_DRIFT_STREAM, 'any', [
      {
        eventId,
        type: 'OpenBaoDriftDetected',
        schemaVersion: 1,
        data: { projectId: OPENBAO_DRIFT_PROJECT, who, path, operation: 'identity-policy', at: f.at, requestId: f.requestId },
        metadata: { correlationId: f.requestId, causationId: f.requestId, actor: { type: 'user', id: `openbao-token:${who.displayName}` }, occurredAt: f.at, source: 'openbao-audit' },
      },
    ]);
    this.logger.warn('a CI job token from the service\'s JWT roles carries identity policies besides its role: its read is recorded as unattributed; remove the identity group/entity policy', { entityId: e.entityId, policies: e.policies, projectId: f.projectId, name: f.name, requestId: f.requestId });
  }

  /**
   * A KV read is the service's own only when its marker's MAC is valid for the path (the parser
   * checked), its id names a SecretAccessed event of that secret's access stream, and no other
   * OpenBao request used that id for the same outcome. Anything else is a direct read, recorded.
   *
   * Decided for a chunk of lines at once (issue 23): the access streams the chunk's markers name
   * are caught up in one statement, and the markers' first uses are recorded in file order in one
   * statement, with the same answers as one read at a time.
   */
  private async brokeredReads(findings: OpenBaoAuditFinding[]): Promise<Set<OpenBaoAuditFinding>> {
    const candidates = findings.filter((f): f is OpenBaoKvAccess => f.kind === 'kv-read' && f.brokered && f.markerId !== null);
    const out = new Set<OpenBaoAuditFinding>();
    if (candidates.length === 0) return out;
    // A single access is in the secret's access log, a batch access in the place's: the secret's own,
    // or (a CI job's batch through its project reading a group's secret) the one the marker names.
    const logsOf = (f: OpenBaoKvAccess) => [StreamName.access(f.projectId, f.name), ...(f.markerPlace !== null && f.markerPlace !== f.projectId ? [StreamName.access(f.markerPlace)] : []), StreamName.access(f.projectId)];
    const logs = [...new Set(candidates.flatMap(logsOf))];
    // Each stream's own record as caught up (the cache may be cleared while the chunk's reads run).
    const records = await Promise.all(logs.map((log) => this.catchUpAccessed(log)));
    const seen = new Map(logs.map((log, i) => [log, records[i]]));
    // A marker no window holds, where a stream's window let older ids go: that stream is read again.
    const older = new Map<string, Set<string>>();
    for (const f of candidates) {
      if (logsOf(f).some((log) => seen.get(log)!.ids.has(f.markerId!))) continue;
      for (const log of logsOf(f)) if (seen.get(log)!.trimmed) older.set(log, (older.get(log) ?? new Set()).add(f.markerId!));
    }
    const olderIds = new Map<string, Map<string, string>>();
    for (const [log, ids] of older) olderIds.set(log, await this.lookUpAccessed(log, ids));
    const names = (log: string, id: string) => seen.get(log)!.ids.get(id) ?? olderIds.get(log)?.get(id);
    const found: OpenBaoKvAccess[] = [];
    for (const f of candidates) {
      if (logsOf(f).some((log) => names(log, f.markerId!) === f.name)) found.push(f);
      else this.logger.warn('OpenBao read with a valid broker marker naming no SecretAccessed of this secret; recorded as a direct read', { requestId: f.requestId, projectId: f.projectId, name: f.name });
    }
    const first = await this.firstUses(found.map((f) => ({ markerId: f.markerId!, use: f.allowed ? 'read' : f.notFound ? 'read-not-found' : 'read-refused', requestId: f.requestId })));
    found.forEach((f, i) => {
      if (first[i]) out.add(f);
      else this.logger.warn('OpenBao read replaying a broker marker another request used; recorded as a direct read', { requestId: f.requestId, projectId: f.projectId, name: f.name });
    });
    return out;
  }

  /**
   * SecretAccessed event ids (→ the secret they name) per access stream, read forward from where
   * this process left off: the newest `perStream` of each (`trimmed` once older ones were let go),
   * at most 10,000 streams and `total` ids added since the cache last started afresh.
   */
  private readonly accessed = new Map<string, AccessedIds>();
  private accessedTotal = 0;

  /**
   * Reads `stream`'s new SecretAccessed ids. A stream seen before is read from where it was left
   * without a page limit, so the catch-ups of a chunk's streams, asked together, share one
   * statement (the event store combines them); a stream seen for the first time is read in pages.
   */
  private async catchUpAccessed(stream: string): Promise<AccessedIds> {
    const bounds = this.opts.accessIds ?? ACCESS_IDS;
    let seen = this.accessed.get(stream);
    const known = seen !== undefined;
    if (!seen) {
      if (this.accessed.size >= 10_000 || this.accessedTotal >= bounds.total) {
        this.accessed.clear();
        this.accessedTotal = 0;
      }
      this.accessed.set(stream, (seen = { next: 0, ids: new Map(), trimmed: false }));
    }
    for (;;) {
      const events = await this.store.readStream(stream, known ? { fromRevision: seen.next } : { fromRevision: seen.next, maxCount: 1000 });
      for (const e of events) {
        if (e.type !== 'SecretAccessed') continue;
        seen.ids.set(e.eventId, String(e.data.name));
        this.accessedTotal++;
        if (seen.ids.size > bounds.perStream) {
          seen.ids.delete(seen.ids.keys().next().value as string);
          seen.trimmed = true;
        }
      }
      if (events.length > 0) seen.next = Math.max(seen.next, events[events.length - 1].revision + 1);
      if (known || events.length < 1000) break;
    }
    return seen;
  }

  /** The secret each of `ids` names among `stream`'s SecretAccessed events, read whole (nothing cached): for ids older than the stream's window. */
  private async lookUpAccessed(stream: string, ids: Set<string>): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let from = 0; found.size < ids.size; ) {
      const events = await this.store.readStream(stream, { fromRevision: from, maxCount: 1000 });
      for (const e of events) if (e.type === 'SecretAccessed' && ids.has(e.eventId)) found.set(e.eventId, String(e.data.name));
      if (events.length < 1000) break;
      from = events[events.length - 1].revision + 1;
    }
    return found;
  }

  /** Value version behind a KV path of the per-version layout (immutable: a path holds one value forever). */
  private readonly versionsByPath = new Map<string, number>();

  /**
   * The secret's value version a direct read got. With one KV path per value version, OpenBao's
   * KV version is always 1: the version is the one of the event that named this path. The
   * one-path layout of earlier releases numbered KV versions like value versions. Unknown (a path
   * no event names, e.g. an orphan): 0.
   */
  private async valueVersion(f: OpenBaoKvAccess): Promise<number | null> {
    if (!isValuePath(f.kvPath)) return f.version;
    const known = this.versionsByPath.get(f.kvPath);
    if (known !== undefined) return known;
    const ref = formatBaoRef({ mount: this.opts.scope.kvMount, path: f.kvPath, version: 1 });
    const named = (await this.store.readStream(StreamName.secret(f.projectId, f.name))).find((e) => e.data.valueRef === ref);
    const version = named && typeof named.data.version === 'number' ? named.data.version : named?.type === 'SecretCreated' ? 1 : 0;
    if (named) {
      if (this.versionsByPath.size >= 100_000) this.versionsByPath.clear();
      this.versionsByPath.set(f.kvPath, version);
    }
    return version;
  }

  /**
   * firstUse for several requests in one statement, in the given (file) order: a marker used twice
   * in the list counts for the first request only, as one call at a time would decide.
   */
  private async firstUses(uses: { markerId: string; use: string; requestId: string }[]): Promise<boolean[]> {
    if (uses.length === 0) return [];
    const { rows } = await this.sql.query<{ ord: string | number; winner: string | null }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(marker_id, use, request_id, ord)
       ), ins AS (
         INSERT INTO openbao_broker_markers (marker_id, use, request_id)
         SELECT marker_id, use, request_id FROM input ORDER BY ord
         ON CONFLICT (marker_id, use) DO NOTHING RETURNING marker_id, use, request_id
       )
       SELECT i.ord, COALESCE(ins.request_id, m.request_id) AS winner
         FROM input i
         LEFT JOIN ins ON ins.marker_id = i.marker_id AND ins.use = i.use
         LEFT JOIN openbao_broker_markers m ON m.marker_id = i.marker_id AND m.use = i.use`,
      [uses.map((u) => u.markerId), uses.map((u) => u.use), uses.map((u) => u.requestId)],
    );
    const winners = new Map<number, string | null>(rows.map((r) => [Number(r.ord), r.winner]));
    const out: boolean[] = [];
    for (let i = 0; i < uses.length; i++) {
      const w = winners.get(i + 1);
      // No row either way: committed by another session after this statement's snapshot; ask again.
      out.push(w ? w === uses[i].requestId : await this.firstUse(uses[i].markerId, uses[i].use, uses[i].requestId));
    }
    return out;
  }

  /** True when `requestId` is the first (or only) OpenBao request seen using this marker id for this use; idempotent across re-reads. */
  private async firstUse(markerId: string, use: string, requestId: string): Promise<boolean> {
    // One round trip (issue 23): the insert's own row, or the row already there. A row committed by
    // another session after this statement's snapshot conflicts but is not visible to it: no row
    // comes back, and a second read (a new snapshot) sees it.
    const { rows } = await this.sql.query<{ request_id: string }>(
      `WITH ins AS (INSERT INTO openbao_broker_markers (marker_id, use, request_id) VALUES ($1, $2, $3) ON CONFLICT (marker_id, use) DO NOTHING RETURNING request_id)
       SELECT request_id FROM ins UNION ALL SELECT request_id FROM openbao_broker_markers WHERE marker_id = $1 AND use = $2 LIMIT 1`,
      [markerId, use, requestId],
    );
    if (rows.length > 0) return rows[0].request_id === requestId;
    const again = await this.sql.query<{ request_id: string }>('SELECT request_id FROM openbao_broker_markers WHERE marker_id = $1 AND use = $2', [markerId, use]);
    return again.rows[0]?.request_id === requestId;
  }

  /**
   * Appends events whose ids derive from OpenBao request ids. Usually none is stored yet: one
   * append. When some are (a crash before the offset was saved, a re-read, a rotation), the store
   * refuses the mixed batch and each is appended alone: stored ids succeed without a duplicate.
   */
  private async appendOnce(stream: string, events: EventToAppend[]): Promise<number> {
    try {
      await this.store.appendToStream(stream, 'any', events);
      return events.length;
    } catch (e) {
      if (events.length === 1) throw e;
      for (const ev of events) await this.store.appendToStream(stream, 'any', [ev]);
      return events.length;
    }
  }
}

/** Principal id prefix of a direct read by a token the entry does not show came from the service's JWT roles: never a pipeline's job. */
export const OPENBAO_UNATTRIBUTED_PRINCIPAL = 'openbao-unattributed:';

/** The principal a direct read is recorded under: the job for a token from the service's JWT roles, else unattributed. */
export function principalOf(a: OpenBaoKvAccess['accessor']) {
  return a.type === 'ci-job'
    ? { type: 'ci-job' as const, id: a.id, ...(a.pipelineId ? { pipelineId: a.pipelineId } : {}), ...(a.jobId ? { jobId: a.jobId } : {}), ...(a.ref ? { ref: a.ref } : {}) }
    : { type: 'user' as const, id: `${OPENBAO_UNATTRIBUTED_PRINCIPAL}${a.id}` };
}

/**
 * The event one direct read (or refused read) becomes. No field of OpenBao's data is copied.
 * A read of a path that holds no value (404) is a SecretAccessDenied with reason
 * `secret-not-found`, as the API records a read of a secret that does not exist: no value left.
 */
export function accessEvent(f: OpenBaoKvAccess): { stream: string; event: EventToAppend } {
  const principal = principalOf(f.accessor);
  const via = { channel: 'openbao' as const, requestId: f.requestId, policy: f.policy };
  // A job's read of another place's secret (a group's) names the job's project too, as the API's
  // decisions do (access-decision.ts withJobProject); only a token from the service's own JWT roles is a job.
  const job = f.accessor.type === 'ci-job' && f.accessor.projectId !== undefined && f.accessor.projectId !== f.projectId ? { jobProjectId: f.accessor.projectId } : {};
  const data = f.allowed
    ? { projectId: f.projectId, name: f.name, version: f.version ?? 0, principal, via, purpose: null, ...job }
    : { projectId: f.projectId, name: f.name, action: 'read', principal, reason: f.notFound ? 'secret-not-found' : 'openbao-denied', purpose: null, via, ...job };
  return {
    stream: StreamName.access(f.projectId, f.name),
    event: {
      eventId: auditEventId(f.requestId, f.allowed ? 'SecretAccessed' : 'SecretAccessDenied'),
      type: f.allowed ? 'SecretAccessed' : 'SecretAccessDenied',
      schemaVersion: 1,
      data,
      metadata: { correlationId: f.requestId, causationId: f.requestId, actor: { type: principal.type, id: principal.id }, occurredAt: f.at, source: 'openbao-audit' },
    },
  };
}

/**
 * A write by someone else to an object the projector owns: OpenBaoDriftDetected, the reconciler
 * puts the desired state back at once, OpenBaoDriftRepaired. Both ids derive from OpenBao's request
 * id, so a re-read of the entry records nothing new (the second reconcile writes nothing).
 */
export async function repairDrift(store: EventStore, reconciler: Pick<PolicyReconciler, 'reconcileOnce'>, w: OpenBaoOwnedWrite, logger: JsonLogger): Promise<void> {
  const who = { displayName: w.who.displayName, policies: w.who.policies };
  await store.appendToStream(OPENBAO_DRIFT_STREAM, 'any', [
    {
      eventId: auditEventId(w.requestId, 'OpenBaoDriftDetected'),
      type: 'OpenBaoDriftDetected',
      schemaVersion: 1,
      data: { projectId: OPENBAO_DRIFT_PROJECT, who, path: w.path, operation: w.operation, at: w.at, requestId: w.requestId },
      metadata: { correlationId: w.requestId, causationId: w.requestId, actor: { type: 'user', id: `openbao-token:${who.displayName}` }, occurredAt: w.at, source: 'openbao-audit' },
    },
  ]);
  logger.warn('OpenBao object changed outside the service; putting it back', { path: w.path, operation: w.operation, who: who.displayName, requestId: w.requestId });
  const result = await reconciler.reconcileOnce();
  const at = new Date().toISOString();
  await store.appendToStream(OPENBAO_DRIFT_STREAM, 'any', [
    {
      eventId: auditEventId(w.requestId, 'OpenBaoDriftRepaired'),
      type: 'OpenBaoDriftRepaired',
      schemaVersion: 1,
      data: { projectId: OPENBAO_DRIFT_PROJECT, requestId: w.requestId, path: w.path, written: result.written, removed: result.removed, at },
      metadata: { correlationId: w.requestId, causationId: auditEventId(w.requestId, 'OpenBaoDriftDetected'), actor: { type: 'system', id: 'openbao-drift-repair' }, occurredAt: at, source: 'openbao-audit' },
    },
  ]);
}
