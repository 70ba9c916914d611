import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIT_PRODUCT, auditLogProjection } from '../../apps/auditor/src/audit-log.projection';
import { AuditLogStore, migrateAuditLog } from '@app/infra/audit/audit-log-store';
import { Checkpointer } from '@app/infra/audit/checkpointer';
import { AuditSigningKey, loadAuditSigningKey } from '@app/infra/audit/signing-key';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { ProjectionRunner } from '@app/infra/projection/projection-runner';
import { migrateReadModels } from '@app/infra/read-models/schema';
import { PgClient } from '@app/infra/sql/pg-client';
import { scratchDatabase } from '../support/scratch-database';
import { seedHistory } from '../support/seed-events';

// `cli verify log` against the audit log in real PostgreSQL: untouched it passes; altering,
// dropping or reordering one row — as a database administrator could — makes it fail.
const DATABASE_URL = process.env.DATABASE_URL;
const ROOT = join(__dirname, '../..');

if (!DATABASE_URL) {
  console.warn('SKIPPED audit tamper tests: DATABASE_URL not set (scripts/test-all sets it)');
  describe.skip('audit log tamper tests — SKIPPED, DATABASE_URL not set', () => it('needs DATABASE_URL', () => undefined));
} else {
  describe('cli verify log: the Merkle log against a signed checkpoint (PostgreSQL)', () => {
    let db: { url: string; drop(): Promise<void> };
    let sql: PgClient;
    let key: AuditSigningKey;
    const dir = mkdtempSync(join(tmpdir(), 'ps-tamper-'));
    const files = { checkpoint: join(dir, 'checkpoint.txt'), publicKey: join(dir, 'audit.pub'), signingKey: join(dir, 'audit.key') };
    let pristine: Record<string, unknown>[];

    function verify(): { status: number | null; out: { ok: boolean; error?: string } } {
      const r = spawnSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/cli/src/main.ts'), 'verify', 'log', '--checkpoint', files.checkpoint, '--public-key', files.publicKey], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, PROFILE: 'production', DATABASE_URL: db.url, DATA_DIR: dir, LOG_LEVEL: 'error' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { status: r.status, out: JSON.parse(r.stdout.trim().split('\n').at(-1) || `{"ok":false,"error":${JSON.stringify(r.stderr)}}`) };
    }

    async function restore() {
      await sql.transaction(async (tx) => {
        await tx.query('DELETE FROM audit_log');
        for (const r of pristine) {
          await tx.query('INSERT INTO audit_log (idx, event_id, event_type, project_id, secret_name, pipeline_id, kafka_key, schema_version, record, leaf_hash, logged_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)', [
            r.idx, r.event_id, r.event_type, r.project_id, r.secret_name, r.pipeline_id, r.kafka_key, r.schema_version, r.record, r.leaf_hash, r.logged_at,
          ]);
        }
      });
    }

    beforeAll(async () => {
      db = await scratchDatabase(DATABASE_URL, 'audit_tamper');
      sql = await PgClient.connect(db.url);
      await migrateReadModels(sql); // projection checkpoints
      await migrateAuditLog(sql);
      const store = await PostgresEventStore.create(sql);
      await seedHistory(store, 'tamper-demo', 300);
      const log = new AuditLogStore(sql);
      const logger = new JsonLogger('error');
      await new ProjectionRunner(store, sql, auditLogProjection(log, AUDIT_PRODUCT, () => undefined), logger, new Metrics()).catchUp();
      key = loadAuditSigningKey(files.signingKey, true);
      const cp = await new Checkpointer(log, key, 'tamper-test.example/audit', { everyRecords: 1, everySeconds: 60 }, logger).checkpoint();
      expect(cp?.treeSize).toBe(300);
      writeFileSync(files.checkpoint, cp!.note);
      writeFileSync(files.publicKey, key.publicKeyPem);
      pristine = (await sql.query('SELECT * FROM audit_log ORDER BY idx')).rows;
    }, 60_000);
    afterEach(restore);
    afterAll(async () => {
      await sql?.close();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('passes on the untouched log', () => {
      const r = verify();
      expect(r).toMatchObject({ status: 0, out: { ok: true } });
    }, 60_000);

    it('fails when one record is altered (a denial turned into a success)', async () => {
      const { rowCount } = await sql.query(`UPDATE audit_log SET record = replace(record, '"status_id":2', '"status_id":1') WHERE idx = (SELECT min(idx) FROM audit_log WHERE event_type = 'SecretAccessDenied')`);
      expect(rowCount).toBe(1);
      expect(verify()).toMatchObject({ status: 1, out: { ok: false, error: expect.stringMatching(/altered/) } });
    }, 60_000);

    it('fails when one record is dropped', async () => {
      await sql.query('DELETE FROM audit_log WHERE idx = 150');
      expect(verify()).toMatchObject({ status: 1, out: { ok: false, error: expect.stringMatching(/missing|out of order/) } });
    }, 60_000);

    it('fails when the last record is dropped (truncation)', async () => {
      await sql.query('DELETE FROM audit_log WHERE idx = 299');
      expect(verify()).toMatchObject({ status: 1, out: { ok: false, error: expect.stringMatching(/records are missing/) } });
    }, 60_000);

    it('fails when two records swap places', async () => {
      await sql.transaction(async (tx) => {
        await tx.query('UPDATE audit_log SET idx = -1 WHERE idx = 40');
        await tx.query('UPDATE audit_log SET idx = 40 WHERE idx = 41');
        await tx.query('UPDATE audit_log SET idx = 41 WHERE idx = -1');
      });
      expect(verify()).toMatchObject({ status: 1, out: { ok: false, error: expect.stringMatching(/altered/) } });
    }, 60_000);

    it('fails against a checkpoint whose signature was forged', async () => {
      // Same signature line, another size: the signature no longer covers the text.
      writeFileSync(files.checkpoint, readFileSync(files.checkpoint, 'utf8').replace(/\n300\n/, '\n299\n'));
      try {
        expect(verify()).toMatchObject({ status: 1, out: { ok: false, error: expect.stringMatching(/signature/) } });
      } finally {
        const { rows } = await sql.query<{ note: string }>('SELECT note FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1');
        writeFileSync(files.checkpoint, rows[0].note);
      }
    }, 60_000);
  });
}
