import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PgClient } from '@app/infra/sql/pg-client';

/** A fresh PostgreSQL database next to the one in `url` (the stack's role has CREATEDB); drop() removes it. */
export async function scratchDatabase(url: string, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `scratch_${label.replace(/[^a-z0-9_]/g, '_')}_${randomUUID().slice(0, 8)}`;
  const admin = new Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        // FORCE cannot end an autovacuum worker (it belongs to no role the stack's role may
        // signal: 42501), and one often runs right after a test wrote a lot: wait for it to end.
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            return;
          } catch (e) {
            if ((e as { code?: string }).code !== '42501' || attempt >= 30) throw e;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

/** A PgClient on a fresh scratch database; close() ends the pool and drops the database. */
export async function scratchPgClient(url: string, label: string): Promise<{ sql: PgClient; close(): Promise<void> }> {
  const db = await scratchDatabase(url, label);
  const sql = await PgClient.connect(db.url);
  return {
    sql,
    close: async () => {
      await sql.close();
      await db.drop();
    },
  };
}
