import { randomUUID } from 'node:crypto';
import { Client } from 'pg';

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
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
