import { runMigrations } from '../sql/migrations';
import { PgliteClient } from '../sql/pglite-client';
import { READ_MODEL_MIGRATIONS } from './schema';
import { SqlSecretCatalog } from './secret-catalog';

// Read-model migration 8 on rows projected before it: last_rotated_at is the current version's
// write time (rm_secret_versions.created_at, the same occurredAt a rebuild projects), not the
// last metadata change, so a migrated read model equals a rebuilt one.
describe('read-model migration 8 (rotation columns) on rows projected before it', () => {
  it('backfills last_rotated_at from the current version, leaves the interval unset, and the catalog reads it', async () => {
    const sql = await PgliteClient.open();
    try {
      await runMigrations(sql, 'read-models', READ_MODEL_MIGRATIONS.filter((m) => m.version < 8));
      const insertSecret = (name: string, version: number, revision: number, created: string, updated: string) =>
        sql.query(
          `INSERT INTO rm_secrets (project_id, name, description, environment, branch, protected_only, version, revision, created_at, updated_at)
           VALUES ('p', $1, NULL, NULL, NULL, false, $2, $3, $4, $5)`,
          [name, version, revision, created, updated],
        );
      const insertVersion = (name: string, revision: number, version: number, at: string) =>
        sql.query(`INSERT INTO rm_secret_versions (project_id, name, revision, version, value_ref, created_by, created_at) VALUES ('p', $1, $2, $3, $4, 'a', $5)`, [
          name,
          revision,
          version,
          `ref-${name}-${revision}`,
          at,
        ]);
      // A: v1 at 01-01, v2 at 02-01, then a metadata change at 03-01 (updated_at).
      await insertSecret('A', 2, 2, '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z');
      await insertVersion('A', 0, 1, '2026-01-01T00:00:00Z');
      await insertVersion('A', 1, 2, '2026-02-01T00:00:00Z');
      // B: deleted and created again; the new generation's v1 (revision 3) counts, not the old one's.
      await insertSecret('B', 1, 3, '2026-04-01T00:00:00Z', '2026-04-01T00:00:00Z');
      await insertVersion('B', 0, 1, '2025-12-01T00:00:00Z');
      await insertVersion('B', 3, 1, '2026-04-01T00:00:00Z');
      // C: no version row (cannot happen after migration 2; falls back to updated_at).
      await insertSecret('C', 1, 0, '2026-05-01T00:00:00Z', '2026-05-02T00:00:00Z');

      await runMigrations(sql, 'read-models', READ_MODEL_MIGRATIONS);
      const { rows } = await sql.query<{ name: string; last_rotated_at: Date; rotation_interval_days: number | null; rotation_overdue_version: number | null }>(
        'SELECT name, last_rotated_at, rotation_interval_days, rotation_overdue_version FROM rm_secrets ORDER BY name',
      );
      expect(rows.map((r) => [r.name, new Date(r.last_rotated_at).toISOString(), r.rotation_interval_days, r.rotation_overdue_version])).toEqual([
        ['A', '2026-02-01T00:00:00.000Z', null, null],
        ['B', '2026-04-01T00:00:00.000Z', null, null],
        ['C', '2026-05-02T00:00:00.000Z', null, null],
      ]);
      const listed = await new SqlSecretCatalog(sql).list('p');
      expect(listed.map((s) => [s.name, s.rotationIntervalDays, s.lastRotatedAt])).toEqual([
        ['A', null, '2026-02-01T00:00:00.000Z'],
        ['B', null, '2026-04-01T00:00:00.000Z'],
        ['C', null, '2026-05-02T00:00:00.000Z'],
      ]);
    } finally {
      await sql.close();
    }
  });
});
