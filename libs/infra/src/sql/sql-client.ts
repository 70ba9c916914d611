// One narrow SQL interface over `pg` (PostgreSQL) and PGlite, so every repository and the
// event store run the same SQL on both.

export interface SqlResult<R> {
  rows: R[];
  rowCount: number;
}

export interface SqlExecutor {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<SqlResult<R>>;
}

export interface SqlClient extends SqlExecutor {
  /** Runs fn in one transaction (BEGIN/COMMIT; ROLLBACK on throw). */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** 'postgres' or 'pglite' — for the rare statement that differs, and for logs. */
  readonly dialect: 'postgres' | 'pglite';
  /** LISTEN on a channel; returns an unlisten function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
