import { createHash } from 'node:crypto';
import { Client, Pool, PoolClient, types } from 'pg';
import { StoreUnavailableError } from '@app/domain';
import { CircuitBreaker } from '../resilience/circuit-breaker';
import { isUnavailable, mapSqlError } from './errors';
import { SqlClient, SqlExecutor, SqlResult } from './sql-client';

// int8 and xid8 stay strings (exact); callers convert to BigInt where they mean it.
types.setTypeParser(types.builtins.INT8, (v) => v);

// Statements with parameters run as named prepared statements (parsed and planned once per
// connection): our SQL is a small fixed set, so the names stay few.
const statementNames = new Map<string, string>();
function prepared(sql: string, params: unknown[]): { name?: string; text: string; values: unknown[] } {
  if (params.length === 0) return { text: sql, values: params };
  let name = statementNames.get(sql);
  if (!name) {
    name = `ps_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    if (statementNames.size < 500) statementNames.set(sql, name);
  }
  return { name, text: sql, values: params };
}

/**
 * Every database call is bounded (the request time bound in docs/architecture.md follows from these):
 * connecting 3 s, a statement 10 s on the server and 12 s on the client (a black-holed server never
 * answers, so the client-side query_timeout is what ends the wait), a transaction idle 15 s, and TCP
 * keepalive after 5 s so a dead peer is noticed. These are the defaults of PG_CONNECT_TIMEOUT_MS,
 * PG_STATEMENT_TIMEOUT_MS, PG_QUERY_TIMEOUT_MS and PG_IDLE_IN_TRANSACTION_TIMEOUT_MS (AppConfig.pgBounds).
 */
export const PG_BOUNDS = {
  connectionTimeoutMillis: 3000,
  statement_timeout: 10_000,
  query_timeout: 12_000,
  idle_in_transaction_session_timeout: 15_000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 5000,
} as const;

export type PgBounds = { connectionTimeoutMillis: number; statement_timeout: number; query_timeout: number; idle_in_transaction_session_timeout: number };

/** AppConfig.pgBounds (the PG_*_MS settings) as pg's pool options. */
export function pgBoundsOf(c: { connectTimeoutMs: number; statementTimeoutMs: number; queryTimeoutMs: number; idleInTransactionTimeoutMs: number }): PgBounds {
  return { connectionTimeoutMillis: c.connectTimeoutMs, statement_timeout: c.statementTimeoutMs, query_timeout: c.queryTimeoutMs, idle_in_transaction_session_timeout: c.idleInTransactionTimeoutMs };
}

/** SqlClient over a `pg` connection pool: the production profile's PostgreSQL. */
export class PgClient implements SqlClient {
  readonly dialect = 'postgres' as const;
  /** One LISTEN connection, created once even when several subscribers ask at the same moment. */
  private listener?: Promise<Client>;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();

  /**
   * Fails fast while the server is known to be down (issue 18, 15): a query that fails like an
   * outage, or is still running after 1 s, makes it probe the server on a connection of its own
   * (2 s bound); a failed probe answers every waiting and every new call with 503 at once until a
   * background probe (every 250 ms) succeeds. See libs/infra/src/resilience/circuit-breaker.ts.
   */
  private readonly breaker: CircuitBreaker;

  private constructor(private readonly pool: Pool, private readonly url: string, private readonly bounds: PgBounds) {
    this.breaker = new CircuitBreaker({
      name: 'PostgreSQL',
      probe: () => this.probe(),
      isOutage: (e) => e instanceof StoreUnavailableError || isUnavailable(e),
      unavailable: (detail) => new StoreUnavailableError(`database unavailable: ${detail}`),
    });
  }

  /** One connection of its own (never a pooled one: a full pool is not an outage), SELECT 1, closed. */
  private async probe(): Promise<void> {
    const c = new Client({ connectionString: this.url, connectionTimeoutMillis: 2000, query_timeout: 2000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
    } finally {
      // Never wait on a silent peer to close: drop the socket.
      void c.end().catch(() => undefined);
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
  }

  static async connect(url: string, max = 20, bounds: Partial<PgBounds> = {}): Promise<PgClient> {
    const b: PgBounds = { ...PG_BOUNDS, ...bounds };
    const pool = new Pool({ connectionString: url, max, idleTimeoutMillis: 30_000, ...PG_BOUNDS, ...b });
    // An idle client's error (server restart) must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    // A checked-out client (a transaction's) that loses its connection emits 'error' too: without a
    // listener that is an uncaught exception. The query in flight rejects and reports it instead.
    pool.on('connect', (c) => {
      c.on('error', () => undefined);
    });
    const client = new PgClient(pool, url, b);
    await client.query('SELECT 1');
    return client;
  }

  async query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<SqlResult<R>> {
    return this.breaker.run(() => this.queryNow<R>(sql, params));
  }

  private async queryNow<R>(sql: string, params: unknown[]): Promise<SqlResult<R>> {
    try {
      const r = await this.pool.query(prepared(sql, params));
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    } catch (e) {
      throw mapSqlError(e);
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.breaker.run(() => this.transactionNow(fn));
  }

  private async transactionNow<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw mapSqlError(e);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn({
        query: async <R>(sql: string, params: unknown[] = []) => {
          const r = await client.query(prepared(sql, params));
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
      });
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw mapSqlError(e);
    } finally {
      client.release(broken);
    }
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    let set = this.handlers.get(channel);
    const fresh = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(onNotify);
    const unlisten = async () => {
      set!.delete(onNotify);
    };
    if (fresh || !this.listener) {
      try {
        const listener = await this.connectListener();
        if (fresh) await listener.query(`LISTEN ${channel}`);
      } catch (e) {
        set.delete(onNotify);
        if (fresh && set.size === 0) this.handlers.delete(channel);
        throw mapSqlError(e);
      }
    } else await this.listener;
    return unlisten;
  }

  /** The one LISTEN connection; when it is lost, it is reconnected (250 ms doubling to 2 s, forever until close) and LISTENs again on every channel. */
  private connectListener(): Promise<Client> {
    if (this.listener) return this.listener;
    const l = new Client({ connectionString: this.url, connectionTimeoutMillis: this.bounds.connectionTimeoutMillis, keepAlive: true, keepAliveInitialDelayMillis: 5000 });
    const pending: Promise<Client> = l.connect().then(() => l);
    this.listener = pending;
    const lost = () => {
      if (this.listener !== pending) return;
      this.listener = undefined;
      l.end().catch(() => undefined);
      this.relisten(0);
    };
    l.on('error', lost);
    l.on('end', lost);
    l.on('notification', (n) => this.handlers.get(n.channel)?.forEach((h) => h(n.payload ?? '')));
    pending.catch(() => {
      if (this.listener === pending) this.listener = undefined;
    });
    return pending;
  }

  private closed = false;
  private relistenTimer?: NodeJS.Timeout;
  /** Reconnects the LISTEN connection; after success wakes every subscriber (they may have missed notifications). */
  private relisten(failures: number): void {
    if (this.closed || this.relistenTimer) return;
    const delay = Math.min(2000, 250 * 2 ** failures);
    this.relistenTimer = setTimeout(() => {
      this.relistenTimer = undefined;
      if (this.closed) return;
      this.connectListener()
        .then(async (l) => {
          for (const ch of this.handlers.keys()) await l.query(`LISTEN ${ch}`);
          this.handlers.forEach((set) => set.forEach((h) => h('')));
        })
        .catch(() => {
          this.listener = undefined;
          this.relisten(failures + 1);
        });
    }, delay);
    this.relistenTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.breaker.stop();
    if (this.relistenTimer) clearTimeout(this.relistenTimer);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await listener.then((l) => l.end()).catch(() => undefined);
    await this.pool.end();
  }
}
