import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadAuditSigningKey } from '@app/infra/audit/signing-key';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { PgClient } from '@app/infra/sql/pg-client';
import { scratchDatabase } from '../support/scratch-database';
import { seedHistory } from '../support/seed-events';
import { sleep } from '../support/eventually';
import { STACK } from '../support/kafka';

// Issue 10, item 6: "The auditor stays ready through a 74 s Kafka outage". A private Kafka
// (scripts/stack with its own STACK_HOME and ports; the shared broker is never touched) is stopped
// under a running auditor (a child process, production profile): /readyz goes 503 naming Kafka
// while the relay has nothing to send (an idle relay cannot notice an outage), records made
// during the outage wait in the log, and after Kafka is started again /readyz is 200 and they are
// on the topic. The private broker reuses the shared stack's Kafka jars (a symlink), so it needs
// no download.
const { DATABASE_URL } = process.env;
const ROOT = join(__dirname, '../..');
const SHARED_STACK_HOME = process.env.STACK_HOME ?? join(homedir(), '.cache/pipeline-secrets-stack');
const kafkaJars = existsSync(SHARED_STACK_HOME) ? readdirSync(SHARED_STACK_HOME).find((d) => d.startsWith('kafka-') && existsSync(join(SHARED_STACK_HOME, d, '.complete'))) : undefined;
const OUTAGE_MS = 15_000;

if (!DATABASE_URL || !kafkaJars) {
  console.warn(`SKIPPED Kafka outage readiness e2e: ${!DATABASE_URL ? 'DATABASE_URL not set' : `no Kafka jars under ${SHARED_STACK_HOME} (scripts/stack up kafka once)`}`);
  describe.skip('Kafka outage readiness — SKIPPED', () => it('needs PostgreSQL and the stack Kafka jars', () => undefined));
} else {
  describe('auditor readiness through a Kafka outage (private broker stopped and started)', () => {
    const base = 19500 + Math.floor(Math.random() * 400);
    const kafkaPort = base + 1000;
    const stackEnv = { ...process.env, STACK_HOME: mkdtempSync(join(tmpdir(), 'ps-kafka-outage-stack-')), STACK_KAFKA_PORT: String(kafkaPort), STACK_KAFKA_CONTROLLER_PORT: String(kafkaPort + 1) };
    const stack = (...args: string[]) => execFileSync('bash', [STACK, ...args], { env: stackEnv, stdio: ['ignore', 'ignore', 'inherit'], timeout: 240_000 });
    const brokers = `127.0.0.1:${kafkaPort}`;
    const appPort = base;
    const dataDir = mkdtempSync(join(tmpdir(), 'ps-kafka-outage-'));
    const topic = `audit-outage-${base}`;
    let db: { url: string; drop(): Promise<void> };
    let sql: PgClient;
    let auditor: ChildProcess | undefined;
    let stderr = '';
    let kafkaUp = false;

    const readyz = async (): Promise<{ status: number; checks: Record<string, string> }> => {
      try {
        const r = await fetch(`http://127.0.0.1:${appPort}/readyz`, { signal: AbortSignal.timeout(5000) });
        return { status: r.status, checks: ((await r.json()) as { checks: Record<string, string> }).checks };
      } catch {
        return { status: 0, checks: {} };
      }
    };
    async function until<T>(what: string, ms: number, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<{ value: T; ms: number }> {
      const start = Date.now();
      for (;;) {
        const value = await probe();
        if (ok(value)) return { value, ms: Date.now() - start };
        if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what} (last: ${JSON.stringify(value)}; auditor stderr: ${stderr.slice(-2000)})`);
        await sleep(100);
      }
    }
    const relayed = async () => Number((await sql.query<{ n: string }>(`SELECT coalesce(max(last_index), -1) + 1 AS n FROM audit_relay_offsets WHERE relay = 'kafka-records'`)).rows[0].n);
    const logged = async () => Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM audit_log')).rows[0].n);

    beforeAll(async () => {
      mkdirSync(stackEnv.STACK_HOME, { recursive: true });
      symlinkSync(join(SHARED_STACK_HOME, kafkaJars), join(stackEnv.STACK_HOME, kafkaJars));
      stack('up', 'kafka');
      kafkaUp = true;
      db = await scratchDatabase(DATABASE_URL, 'kafka_outage');
      sql = await PgClient.connect(db.url);
      const keyFile = join(dataDir, 'keys', 'audit-signing.key');
      loadAuditSigningKey(keyFile, true);
      auditor = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/auditor/src/main.ts')], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          PROFILE: 'production',
          APPS: 'auditor',
          DATABASE_URL: db.url,
          DATA_DIR: dataDir,
          PORT: String(appPort),
          LOG_LEVEL: 'error',
          KAFKA_BROKERS: brokers,
          AUDIT_TOPIC: topic,
          AUDIT_CHECKPOINT_TOPIC: `${topic}-cp`,
          AUDIT_TOPIC_PARTITIONS: '1',
          AUDIT_SIGNING_KEY_FILE: keyFile,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      auditor.stderr!.on('data', (d) => (stderr += d));
    }, 300_000);

    afterAll(async () => {
      if (auditor && auditor.exitCode === null) {
        auditor.kill('SIGKILL');
        await new Promise((r) => auditor!.once('exit', r));
      }
      // the private broker only, by its own STACK_HOME
      if (kafkaUp || existsSync(join(stackEnv.STACK_HOME, 'run'))) stack('down', 'kafka');
      await sql?.close();
      await db?.drop();
      rmSync(stackEnv.STACK_HOME, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }, 180_000);

    it(`/readyz is 503 naming Kafka within seconds of the broker stopping (relay idle), records made meanwhile wait in the log, and it is 200 again once Kafka is back`, async () => {
      const store = await PostgresEventStore.create(sql);
      await seedHistory(store, 'kafka-outage-a', 50);
      const up = await until('the auditor ready with Kafka up', 120_000, readyz, (r) => r.status === 200);
      expect(up.value.checks.kafka).toBe('up');
      const before = await until('the first records on Kafka', 60_000, relayed, (n) => n > 0 && n === 50);
      expect(before.value).toBe(50);

      // Kafka stops while the relay has nothing to deliver: only the readiness check can notice.
      const stoppedAt = Date.now();
      stack('stop', 'kafka');
      kafkaUp = false;
      const stopReturnedAt = Date.now();
      const down = await until('/readyz 503 with kafka down', 15_000, readyz, (r) => r.status === 503 && r.checks.kafka === 'down');
      const detectMs = Date.now() - stoppedAt;
      const detectAfterExitMs = Date.now() - stopReturnedAt;
      // Kafka is named; the other dependencies still answer
      expect(down.value.checks['event-store']).toBe('up');

      // Records made during the outage are logged (the log does not wait for Kafka), not relayed.
      await seedHistory(store, 'kafka-outage-b', 50);
      await until('the outage records in the log', 30_000, logged, (n) => n >= 100);
      const remaining = OUTAGE_MS - (Date.now() - stoppedAt);
      if (remaining > 0) await sleep(remaining);
      const during = await readyz();
      expect(during.status).toBe(503);
      expect(during.checks.kafka).toBe('down');
      expect(await relayed()).toBe(50);

      const restart = Date.now();
      stack('up', 'kafka');
      kafkaUp = true;
      const brokerUpMs = Date.now() - restart;
      const back = await until('/readyz 200 after Kafka is back', 30_000, readyz, (r) => r.status === 200);
      expect(back.value.checks.kafka).toBe('up');
      const caughtUp = await until('the outage records on Kafka', 30_000, relayed, (n) => n === 100);
      const readyAfterBrokerMs = Date.now() - restart - brokerUpMs;
      // and they are on the topic, read back by a consumer's view of the offsets
      const kafka = new Kafka({ clientId: 'outage-test', brokers: [brokers], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      const high = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
      await admin.disconnect();
      expect(high).toBeGreaterThanOrEqual(100);
      expect(auditor!.exitCode).toBeNull(); // it never crashed
      // Issue 18, 15: ready within 5 s of the broker's return (was 7.7 s once: a send begun during the
      // outage slept in kafkajs's up-to-10 s retry waits; now 100 ms → 1 s inside a send, measured ~1 s).
      expect(back.ms).toBeLessThan(5_000);
      console.log(
        `Kafka outage: /readyz 503 naming kafka ${detectMs} ms after the stop began (${detectAfterExitMs} ms after the broker exited); broker restart took ${brokerUpMs} ms; /readyz 200 ${back.ms} ms and the outage records on Kafka ${caughtUp.ms + back.ms} ms after the broker was healthy (${readyAfterBrokerMs} ms)`,
      );
    }, 300_000);
  });
}
