import { SqlClient } from './sql-client';

// Forward-only migrations, one numbered list per component (event store, value store, read
// models). Each runs in a transaction under an advisory lock, so two processes starting at
// once apply each migration exactly once.

export interface Migration {
  version: number;
  name: string;
  /** One string of `;`-separated plain statements, or a list of statements (for bodies that hold `;`). */
  sql: string | string[];
}

export async function runMigrations(client: SqlClient, component: string, migrations: Migration[]): Promise<void> {
  await client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['schema_migrations']);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component  text NOT NULL,
      version    integer NOT NULL,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version)
    )`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1', [component]);
    const applied = new Set(rows.map((r) => Number(r.version)));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      for (const statement of Array.isArray(m.sql) ? m.sql : splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)', [component, m.version, m.name]);
    }
  });
}

/** Our migrations hold no semicolons inside literals or bodies, so splitting on `;` is exact. */
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
