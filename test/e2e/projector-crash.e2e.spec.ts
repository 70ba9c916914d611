import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { FilePolicyTarget } from '@app/infra/openbao/policy-target';
import { dumpPolicies, dumpReadModels } from '@app/infra/read-models/dump';
import { migrateReadModels } from '@app/infra/read-models/schema';
import { PgClient } from '@app/infra/sql/pg-client';
import { rebuild } from '../../apps/projector/src/rebuild';
import { PROJECTIONS } from '../../apps/projector/src/projections';
import { scratchDatabase } from '../support/scratch-database';
import { seedHistory } from '../support/seed-events';
import { sleep } from '../support/eventually';

// kill -9 of the projector in the middle of a 10,000-event replay, against real PostgreSQL:
// after a restart the read models equal, byte for byte, those of an uninterrupted replay.
const DATABASE_URL = process.env.DATABASE_URL;
const ROOT = join(__dirname, '../..');
const TOTAL = 10_000;

function startProjector(url: string, dataDir: string): ChildProcess {
  return spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/projector/src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PROFILE: 'production', APPS: 'projector', DATABASE_URL: url, DATA_DIR: dataDir, PORT: '0', DEV_ISSUER: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

if (!DATABASE_URL) {
  console.warn('SKIPPED projector kill -9 test: DATABASE_URL not set (scripts/test-all sets it)');
  describe.skip('projector kill -9 during replay — SKIPPED, DATABASE_URL not set', () => it('needs DATABASE_URL', () => undefined));
} else {
  describe('projector: kill -9 in the middle of a 10,000-event replay (PostgreSQL)', () => {
    let db: { url: string; drop(): Promise<void> };
    let sql: PgClient;
    const dataDir = mkdtempSync(join(tmpdir(), 'ps-projector-crash-'));
    beforeAll(async () => {
      db = await scratchDatabase(DATABASE_URL, 'projector_crash');
      sql = await PgClient.connect(db.url);
    });
    afterAll(async () => {
      await sql?.close();
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('ends with exactly the read models of an uninterrupted replay: no missing, no doubled rows', async () => {
      const store = await PostgresEventStore.create(sql);
      await migrateReadModels(sql);
      const { accessEvents } = await seedHistory(store, 'crash-demo', TOTAL);
      const count = async () => Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM rm_access_history')).rows[0].n);

      // First run: killed with SIGKILL as soon as the replay is under way.
      const first = startProjector(db.url, dataDir);
      let stderr = '';
      first.stderr!.on('data', (d) => (stderr += d));
      const deadline = Date.now() + 60_000;
      while ((await count()) === 0 && Date.now() < deadline) await sleep(2);
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const atKill = await count();
      expect({ atKill, stderr: atKill === 0 ? stderr : '' }).toMatchObject({ stderr: '' });
      expect(atKill).toBeGreaterThan(0);
      expect(atKill).toBeLessThan(accessEvents); // it really died mid-replay

      // Restart; wait until every projection's checkpoint is the store's last position.
      const second = startProjector(db.url, dataDir);
      const caughtUp = async () => {
        const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM projection_checkpoints WHERE projection = ANY($1::text[])', [PROJECTIONS.map((p) => p.name)]);
        return Number(rows[0].n) === PROJECTIONS.length && (await count()) === accessEvents;
      };
      while (!(await caughtUp()) && Date.now() < deadline) await sleep(50);
      await sleep(300); // let the other projections' last batches land
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
      const afterRestart = await dumpReadModels(sql);
      const policiesAfterRestart = await dumpPolicies(new FilePolicyTarget(join(dataDir, 'policies')));
      expect(await count()).toBe(accessEvents);
      const dupes = await sql.query('SELECT event_id FROM rm_access_history GROUP BY event_id HAVING count(*) > 1');
      expect(dupes.rows).toEqual([]);

      // The uninterrupted run: drop everything and replay in one go.
      const target = new FilePolicyTarget(join(dataDir, 'policies'));
      await rebuild({ store, sql, target, render: { kvMount: 'secret', kvPrefix: 'pipeline-secrets', audience: 'pipeline-secrets', tokenTtlSeconds: 300 }, logger: new JsonLogger('error') });
      expect(await dumpReadModels(sql)).toBe(afterRestart);
      expect(await dumpPolicies(target)).toBe(policiesAfterRestart);
      expect(policiesAfterRestart).toContain('crash-demo/SECRET_1');
    }, 120_000);
  });
}
