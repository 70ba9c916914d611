import { Client } from 'pg';

const DATABASE_URL = process.env.DATABASE_URL;

if (!DATABASE_URL) {
  console.warn('SKIPPED PostgreSQL smoke: DATABASE_URL is not set (scripts/test-all sets it; or eval "$(scripts/stack env)")');
  describe.skip('PostgreSQL smoke — SKIPPED, DATABASE_URL not set', () => it('needs DATABASE_URL', () => undefined));
} else {
  describe('PostgreSQL smoke (real server from scripts/stack)', () => {
    let c: Client;
    beforeAll(async () => {
      c = new Client({ connectionString: DATABASE_URL });
      await c.connect();
    });
    afterAll(() => c?.end());

    it('is a real PostgreSQL with what the event store needs (xid8 snapshots)', async () => {
      const { rows } = await c.query('SELECT version() AS v, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
      expect(rows[0].v).toMatch(/^PostgreSQL 1[3-9]/);
      expect(BigInt(rows[0].xmin)).toBeGreaterThan(0n);
    });

    it('commits and rolls back transactions', async () => {
      await c.query('CREATE TEMP TABLE smoke (n int)');
      await c.query('BEGIN');
      await c.query('INSERT INTO smoke VALUES (1)');
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      await c.query('INSERT INTO smoke VALUES (2)');
      await c.query('COMMIT');
      expect((await c.query('SELECT n FROM smoke')).rows).toEqual([{ n: 2 }]);
    });
  });
}
