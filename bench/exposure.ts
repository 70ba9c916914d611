/* Exposure report benchmark on PostgreSQL (scripts/stack), issue 22: a report over 1,000,000
 * access events, beside a plain `SELECT count(*)` over the same rows, in the same run.
 *
 *   eval "$(scripts/stack env)" && npm run bench:exposure
 *
 * In a scratch database it writes the read models directly (generate_series: BENCH_READS rows of
 * rm_access_history, default 1,000,000, over BENCH_SECRETS secrets, default 200, of one project in a
 * group, spread over 365 days, all by one user, a fifth of them by CI jobs of one pipeline each
 * hour), then times, BENCH_RUNS times each (default 3, median printed):
 *   - count: SELECT count(*) of the window's allowed reads of the project (the floor: one pass);
 *   - user: the report for that user over the 366-day window (load from the read models + compute);
 *   - ci-job: the report for the project's CI jobs;
 *   - secret: the report for one secret (every version, its readers, its pipelines).
 */
import { exposureReport, ExposureSubject } from '@app/domain';
import { ExposureQueries } from '@app/infra/read-models/exposure';
import { migrateReadModels } from '@app/infra/read-models/schema';
import { PgClient } from '@app/infra/sql/pg-client';
import { scratchDatabase } from '../test/support/scratch-database';

const READS = Number(process.env.BENCH_READS ?? 1_000_000);
const SECRETS = Number(process.env.BENCH_SECRETS ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const FROM = '2025-12-01T00:00:00.000Z';
const TO = '2026-12-01T00:00:00.000Z'; // 365 days

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (!url) throw new Error('set DATABASE_URL or TEST_DATABASE_URL (eval "$(scripts/stack env)")');
  const db = await scratchDatabase(url, 'bench_exposure');
  // Seeding a million rows takes longer than the service's statement bounds allow; the reports are
  // timed on a client with the service's own bounds (PG_STATEMENT_TIMEOUT_MS 10 s).
  const seed = await PgClient.connect(db.url, 2, { statement_timeout: 600_000, query_timeout: 610_000 });
  const sql = await PgClient.connect(db.url);
  try {
    await migrateReadModels(seed);
    let t = Date.now();
    await seed.query(`INSERT INTO rm_project_groups (project_id, revision, group_id, valid_from, valid_to) VALUES ('shop', 0, 'acme', '2025-06-01', NULL)`);
    await seed.query(
      `INSERT INTO rm_grants (project_id, grant_id, principal_type, principal_id, role, granted_by, granted_at, valid_from, valid_to)
       VALUES ('shop', 'g-alice', 'user', 'alice', 'developer', 'root', '2025-06-01', '2025-06-01', '2026-06-01'),
              ('group:acme', 'g-acme', 'user', 'alice', 'reporter', 'root', '2025-06-01', '2025-06-01', NULL),
              ('group:acme', 'g-team', 'group', 'team', 'developer', 'root', '2025-06-01', '2025-06-01', NULL)`,
    );
    await seed.query(
      `INSERT INTO rm_secret_versions (project_id, name, revision, version, value_ref, created_by, created_at)
       SELECT 'shop', 'S' || s, v, v + 1, 'ref-' || s || '-' || v, 'root', timestamptz '2025-06-01' + (v * interval '60 days')
         FROM generate_series(1, $1::int) s, generate_series(0, 5) v`,
      [SECRETS],
    );
    await seed.query(
      `INSERT INTO rm_secrets (project_id, name, protected_only, version, revision, created_at, updated_at)
       SELECT 'shop', 'S' || s, false, 6, 5, '2025-06-01', '2026-06-01' FROM generate_series(1, $1::int) s`,
      [SECRETS],
    );
    await seed.query(
      `INSERT INTO rm_secret_scopes (project_id, name, revision, environment, branch, protected_only, valid_from)
       SELECT 'shop', 'S' || s, 0, NULL, NULL, false, '2025-06-01' FROM generate_series(1, $1::int) s`,
      [SECRETS],
    );
    // In slices, so no statement runs into the client's statement timeout (PG_STATEMENT_TIMEOUT_MS).
    for (let lo = 1; lo <= READS; lo += 100_000) {
      await seed.query(
        `INSERT INTO rm_access_history (pos_commit, pos_prepare, event_id, project_id, secret_name, action, decision, version,
                                        principal_type, principal_id, pipeline_id, job_id, ref, channel, occurred_at)
         SELECT i, i, 'e' || i, 'shop', 'S' || (1 + i % $2::int), 'read', 'allowed', 1 + (i % 6),
                CASE WHEN i % 5 = 0 THEN 'ci-job' ELSE 'user' END, CASE WHEN i % 5 = 0 THEN 'job' ELSE 'alice' END,
                CASE WHEN i % 5 = 0 THEN 'p' || (i / 3600) END, CASE WHEN i % 5 = 0 THEN 'j' || i END, 'main',
                CASE WHEN i % 3 = 0 THEN 'openbao' ELSE 'api' END,
                timestamptz '${FROM}' + (i * (interval '365 days' / $1::int))
           FROM generate_series($3::int, $4::int) i`,
        [READS, SECRETS, lo, Math.min(READS, lo + 99_999)],
      );
      process.stdout.write(`\rseeding: ${Math.min(READS, lo + 99_999).toLocaleString('en')} access events`);
    }
    process.stdout.write('\n');
    await seed.query('ANALYZE');
    console.log(`seeded ${READS.toLocaleString('en')} access events over ${SECRETS} secrets in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const queries = new ExposureQueries(sql);
    const time = async (label: string, f: () => Promise<string>) => {
      const ms: number[] = [];
      let last = '';
      for (let i = 0; i < RUNS; i++) {
        t = performance.now();
        last = await f();
        ms.push(performance.now() - t);
      }
      console.log(`${label.padEnd(8)} ${median(ms).toFixed(0).padStart(6)} ms (median of ${RUNS}; runs ${ms.map((x) => x.toFixed(0)).join(', ')})  ${last}`);
      return median(ms);
    };
    const count = await time('count', async () => {
      const { rows } = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM rm_access_history WHERE project_id = 'shop' AND decision = 'allowed' AND occurred_at >= $1 AND occurred_at < $2`, [FROM, TO]);
      return `${Number(rows[0].n).toLocaleString('en')} rows`;
    });
    const report = (subject: ExposureSubject) => async () => {
      const data = await queries.load(subject, FROM, TO);
      const r = exposureReport({ subject, from: FROM, to: TO, ...data, covered: () => true });
      return `could ${r.could.length}, did ${r.did.length} listed of ${r.didTotal.toLocaleString('en')}, rotate ${r.rotate.length}, ${(JSON.stringify(r).length / 1e6).toFixed(1)} MB`;
    };
    const user = await time('user', report({ type: 'user', id: 'alice' }));
    const job = await time('ci-job', report({ type: 'ci-job', projectId: 'shop' }));
    const secret = await time('secret', report({ type: 'secret', placeKey: 'shop', name: 'S1' }));
    console.log(`report / count: user ${(user / count).toFixed(1)}×, ci-job ${(job / count).toFixed(1)}×, secret ${(secret / count).toFixed(1)}× (target: every report under 5,000 ms)`);
  } finally {
    await seed.close();
    await sql.close();
    await db.drop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
