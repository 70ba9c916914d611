import { createHash } from 'node:crypto';
import { Client, Pool, PoolClient, types } from 'pg';
import { mapSqlError } from './errors';
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

/** SqlClient over a `pg` connection pool: the production profile's PostgreSQL. */
export class PgClient implements SqlClient {
  readonly dialect = 'postgres' as const;
  /** One LISTEN connection, created once even when several subscribers ask at the same moment. */
  private listener?: Promise<Client>;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();

  private constructor(private readonly pool: Pool, private readonly url: string) {}

  static async connect(url: string, max = 20): Promise<PgClient> {
    const pool = new Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
    // An idle client's error (server restart) must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    const client = new PgClient(pool, url);
    await client.query('SELECT 1');
    return client;
  }

  async query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<SqlResult<R>> {
    try {
      const r = await this.pool.query(prepared(sql, params));
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    } catch (e) {
      throw mapSqlError(e);
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
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
    if (!this.listener) {
      const l = new Client({ connectionString: this.url });
      l.on('error', () => {
        // A lost LISTEN connection only costs latency: subscribers also poll.
        if (this.listener === pending) this.listener = undefined;
      });
      l.on('notification', (n) => this.handlers.get(n.channel)?.forEach((h) => h(n.payload ?? '')));
      const pending: Promise<Client> = l.connect().then(() => l);
      this.listener = pending;
      pending.catch(() => {
        if (this.listener === pending) this.listener = undefined;
      });
    }
    const listener = await this.listener;
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await listener.query(`LISTEN ${channel}`);
    }
    set.add(onNotify);
    return async () => {
      set!.delete(onNotify);
    };
  }

  async close(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await listener.then((l) => l.end()).catch(() => undefined);
    await this.pool.end();
  }
}
