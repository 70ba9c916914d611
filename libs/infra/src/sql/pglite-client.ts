import { PGlite, Transaction } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import { mapSqlError } from './errors';
import { SqlClient, SqlExecutor, SqlResult } from './sql-client';

/** A FIFO async mutex: PGlite is one connection, so a transaction must hold it exclusively. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** SqlClient over PGlite (embedded PostgreSQL in WebAssembly): the embedded profile's database. */
export class PgliteClient implements SqlClient {
  readonly dialect = 'pglite' as const;
  private readonly lock = new Mutex();

  private constructor(private readonly db: PGlite) {}

  /** dataDir undefined = in memory. */
  static async open(dataDir?: string): Promise<PgliteClient> {
    if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const db = dataDir ? new PGlite(dataDir) : new PGlite();
    await db.waitReady;
    return new PgliteClient(db);
  }

  query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<SqlResult<R>> {
    return this.lock.run(() => run<R>(this.db, sql, params));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      try {
        return await this.db.transaction(async (tx) => fn({ query: (sql, params = []) => run(tx, sql, params) }));
      } catch (e) {
        throw mapSqlError(e);
      }
    });
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    const unlisten = await this.db.listen(channel, onNotify);
    return () => unlisten();
  }

  async close(): Promise<void> {
    await this.lock.run(() => this.db.close());
  }
}

async function run<R>(db: PGlite | Transaction, sql: string, params: unknown[]): Promise<SqlResult<R>> {
  try {
    const r = await db.query<R>(sql, params);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  } catch (e) {
    throw mapSqlError(e);
  }
}
