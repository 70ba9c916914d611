/* Auditor benchmark on PostgreSQL and Kafka (scripts/stack): audit records/s from the event
 * store to Kafka acknowledgement, beside the raw kafkajs producer rate for records of the same
 * size, measured in the same run.
 *
 *   eval "$(scripts/stack env)" && npm run bench:auditor
 *
 * In a scratch database it seeds BENCH_EVENTS (default 20,000) events (grants, secrets, access
 * decisions: all audit-relevant), then:
 *   - raw: one kafkajs producer with the auditor's settings (idempotent, acks=all, one request in
 *     flight) sends the very OCSF records the auditor will produce (same keys, same bytes, same
 *     headers), BENCH_BATCH (default 500) per send, one send after another, to a fresh topic with
 *     the auditor's partition count: records/s;
 *   - auditor: the real pipeline from an empty checkpoint — catch-up subscription → OCSF mapping
 *     → Merkle log rows and checkpoint in one PostgreSQL transaction per batch → relay from the
 *     log to Kafka, offset saved after each acknowledged send — timed until Kafka acknowledged
 *     the last record: records/s, and the ratio to raw.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Session } from 'node:inspector/promises';
import { Kafka, logLevel } from 'kafkajs';
import { AUDIT_PRODUCT, auditEntry, auditLogProjection } from '../apps/auditor/src/audit-log.projection';
import { LogRelay } from '../apps/auditor/src/relay';
import { Position, RecordedEvent } from '@app/domain';
import { DenialBurstDetector } from '@app/domain/siem';
import { AuditLogStore, migrateAuditLog, StoredAuditRecord } from '@app/infra/audit/audit-log-store';
import { AUDIT_HEADERS, KafkaAuditSink } from '@app/infra/audit/kafka-audit-sink';
import { PostgresEventStore } from '@app/infra/event-store/postgres/postgres-event-store';
import { JsonLogger } from '@app/infra/logging/logger';
import { Metrics } from '@app/infra/observability/metrics';
import { ProjectionRunner } from '@app/infra/projection/projection-runner';
import { migrateReadModels } from '@app/infra/read-models/schema';
import { PgClient } from '@app/infra/sql/pg-client';
import { SqlExecutor } from '@app/infra/sql/sql-client';
import { scratchDatabase } from '../test/support/scratch-database';
import { seedHistory } from '../test/support/seed-events';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const PARTITIONS = 6;
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const brokers = process.env.KAFKA_BROKERS?.split(',');
/** BENCH_PROFILE=dir: a CPU profile of each timed phase of the pipeline alone (log, live, relay, auditor), for `node /tmp/profsum.js`. */
const PROFILE_DIR = process.env.BENCH_PROFILE;

let session: Session | undefined;
async function profileStart(): Promise<void> {
  if (!PROFILE_DIR) return;
  session ??= new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
}
async function profileStop(phase: string): Promise<void> {
  if (!PROFILE_DIR || !session) return;
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(`${PROFILE_DIR}/${phase}.cpuprofile`, JSON.stringify(profile));
  session.disconnect();
}

async function main() {
  if (!url || !brokers) throw new Error('set DATABASE_URL (or TEST_DATABASE_URL) and KAFKA_BROKERS: eval "$(scripts/stack env)"');
  JsonLogger.setSink(() => undefined);
  const logger = new JsonLogger('error');
  const db = await scratchDatabase(url, 'bench_auditor');
  const sql = await PgClient.connect(db.url);
  const run = randomUUID().slice(0, 8);
  try {
    const store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
    await migrateAuditLog(sql);
    let t = Date.now();
    await seedHistory(store, 'bench', EVENTS);
    console.log(`seeded ${EVENTS} events in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    // A live database has planner statistics (autovacuum); a just-filled scratch one has none yet.
    await sql.query('ANALYZE es_events');

    // The records the auditor will produce, for the raw baseline: same keys, bytes and headers.
    const events: RecordedEvent[] = [];
    for (let after: Position | undefined; ; ) {
      const page = await store.readAll({ after, maxCount: 2000 });
      if (page.length === 0) break;
      events.push(...page);
      after = page[page.length - 1].position;
    }
    const detector = new DenialBurstDetector();
    const records = events.map((e, i) => ({ ...auditEntry(e, detector, AUDIT_PRODUCT)!, index: i }));
    const avgBytes = records.reduce((n, r) => n + Buffer.byteLength(r.record), 0) / records.length;
    console.log(`records: ${records.length}, average value ${avgBytes.toFixed(0)} bytes`);

    // Raw kafkajs.
    const kafka = new Kafka({ clientId: 'bench-raw', brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const rawTopic = `bench-raw-${run}`;
    await admin.createTopics({ topics: [{ topic: rawTopic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    let cpu = process.cpuUsage();
    // The whole machine's busy cores over the same span (/proc/stat): this process, PostgreSQL and
    // the broker share two cores, so a stage near 2.0 is bound by the machine, not by waiting.
    const machine = () => {
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
    };
    let machineAt = machine();
    let busyCores = 0;
    const cpuMs = () => {
      const d = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      const m = machine();
      const total = m.total - machineAt.total;
      busyCores = total > 0 ? ((total - (m.idle - machineAt.idle)) / total) * cpus().length : 0;
      machineAt = m;
      return (d.user + d.system) / 1000;
    };
    // Timed twice, at the start and right after the auditor, against the mean of the two: on a
    // shared machine the raw rate itself moves 2-3x between minutes.
    const rawRun = async () => {
      t = performance.now();
      cpuMs();
      for (let i = 0; i < records.length; i += BATCH) {
        await producer.send({
          topic: rawTopic,
          acks: -1,
          messages: records.slice(i, i + BATCH).map((r) => ({
            key: r.kafkaKey,
            value: r.record,
            headers: { [AUDIT_HEADERS.eventId]: r.eventId, [AUDIT_HEADERS.eventType]: r.eventType, [AUDIT_HEADERS.schemaVersion]: String(r.schemaVersion), [AUDIT_HEADERS.logIndex]: String(r.index) },
          })),
        });
      }
      const seconds = (performance.now() - t) / 1000;
      return { seconds, cpu: cpuMs(), cores: busyCores };
    };
    const raw1 = await rawRun();
    const rawSeconds = raw1.seconds;
    const rawCpu = raw1.cpu;

    // Where the time goes: each stage alone — events → Merkle log (no Kafka), then log → Kafka.
    const metrics = new Metrics();
    const log = new AuditLogStore(sql);
    const sinkFor = (name: string) =>
      new KafkaAuditSink({ brokers, clientId: `bench-${name}`, auditTopic: `bench-${name}-${run}`, checkpointTopic: `bench-${name}-cp-${run}`, partitions: PARTITIONS, replicationFactor: 1 }, logger);
    // The end of a relay phase is Kafka's acknowledgement of the last record, seen as the relay's
    // delivery returns (no polling of the database while the phase runs: that would load it).
    const acked = new Map<string, () => void>();
    const relayFor = (name: string, sink: KafkaAuditSink) =>
      new LogRelay(
        name,
        log,
        { fetch: (after, limit) => log.recordsAfter(after, limit), positionOf: (r: StoredAuditRecord) => r.index, end: async () => (await log.committedSize()) - 1 },
        async (rs) => {
          await sink.publishRecords(rs);
          if (rs.length > 0 && rs[rs.length - 1].index >= records.length - 1) acked.get(name)?.();
        },
        logger,
        metrics,
        BATCH,
      );
    const relayed = (name: string) => new Promise<void>((resolve) => acked.set(name, resolve));
    await profileStart();
    t = performance.now();
    cpuMs();
    await new ProjectionRunner(store, sql, auditLogProjection(log, AUDIT_PRODUCT, () => undefined), logger, metrics).catchUp();
    const logOnlySeconds = (performance.now() - t) / 1000;
    const logOnlyCpu = cpuMs();
    const logOnlyCores = busyCores;
    await profileStop('log');
    // The same stage as the live auditor runs it (runner.start(): 500 events per transaction,
    // as delivered) rather than as a replay (2,000 per transaction): tells the batch size's share
    // of the pipeline's time from the overlap's.
    await sql.query(`TRUNCATE audit_log, audit_tree_nodes; DELETE FROM projection_checkpoints WHERE projection = 'audit-log'`);
    log.forget();
    // Where that stage's time goes: wall time of each statement (and of whole transactions) while it runs.
    const statements = new Map<string, { n: number; ms: number }>();
    const timed = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
      const s0 = performance.now();
      try {
        return await run();
      } finally {
        const s = statements.get(label) ?? { n: 0, ms: 0 };
        s.n++;
        s.ms += performance.now() - s0;
        statements.set(label, s);
      }
    };
    const short = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 70);
    const plainQuery = sql.query.bind(sql);
    const plainTransaction = sql.transaction.bind(sql);
    sql.query = ((text: string, params?: unknown[]) => timed(`query: ${short(text)}`, () => plainQuery(text, params))) as typeof sql.query;
    sql.transaction = ((fn: (tx: SqlExecutor) => Promise<unknown>) =>
      timed('transaction (BEGIN … COMMIT, with the JS mapping inside)', () =>
        plainTransaction((tx) => fn({ query: (text: string, params?: unknown[]) => timed(`in tx: ${short(text)}`, () => tx.query(text, params)) } as SqlExecutor)),
      )) as typeof sql.transaction;
    await profileStart();
    let logged!: () => void;
    const allLogged = new Promise<void>((r) => (logged = r));
    const liveLog = new ProjectionRunner(store, sql, auditLogProjection(log, AUDIT_PRODUCT, (appended) => appended.length > 0 && appended[appended.length - 1].index >= records.length - 1 && logged()), logger, metrics);
    t = performance.now();
    cpuMs();
    await liveLog.start();
    await allLogged;
    const liveLogSeconds = (performance.now() - t) / 1000;
    const liveLogCpu = cpuMs();
    const liveLogCores = busyCores;
    await liveLog.stop();
    await profileStop('live');
    sql.query = plainQuery;
    sql.transaction = plainTransaction;
    const stageSink = sinkFor('stage');
    await stageSink.ensureTopics();
    await stageSink.connect(); // connected before timing, as the raw producer is
    const stageRelay = relayFor('stage', stageSink);
    await profileStart();
    t = performance.now();
    cpuMs();
    const stageAcked = relayed('stage');
    stageRelay.start(50);
    await stageAcked;
    const relayOnlySeconds = (performance.now() - t) / 1000;
    const relayOnlyCpu = cpuMs();
    const relayOnlyCores = busyCores;
    await profileStop('relay');
    stageRelay.stop();
    await stageSink.close();
    await sql.query(`TRUNCATE audit_log, audit_tree_nodes, audit_relay_offsets; DELETE FROM projection_checkpoints WHERE projection = 'audit-log'`);
    log.forget();

    // The auditor pipeline, event store → Merkle log → Kafka acknowledgement, stages overlapping.
    const sink = sinkFor('audit');
    await sink.ensureTopics(); // topic creation and connecting are one-offs, not part of the rate
    await sink.connect();
    const relay = relayFor('kafka-records', sink);
    const auditorAcked = relayed('kafka-records');
    const runner = new ProjectionRunner(store, sql, auditLogProjection(log, AUDIT_PRODUCT, (appended) => relay.offer(appended)), logger, metrics);
    await profileStart();
    t = performance.now();
    cpuMs();
    relay.start(50);
    await runner.start();
    await auditorAcked;
    const auditorSeconds = (performance.now() - t) / 1000;
    const auditorCpu = cpuMs();
    const auditorCores = busyCores;
    await profileStop('auditor');
    relay.stop();
    await runner.stop();
    await sink.close();
    const auditor = records.length / auditorSeconds;
    const raw2 = await rawRun();
    await producer.disconnect();
    const raw = (2 * records.length) / (raw1.seconds + raw2.seconds);

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    // CPU of this process (the auditor's event loop and its drivers, not PostgreSQL or Kafka) per record.
    const us = (ms: number) => ((ms * 1000) / records.length).toFixed(0);
    console.log('\n| path | records | seconds | records/s | this process: CPU µs/record, CPU/wall | machine: cores busy |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    console.log(`| raw kafkajs producer (same records, same settings), first | ${records.length} | ${rawSeconds.toFixed(2)} | ${fmt(records.length / rawSeconds)} | ${us(rawCpu)}, ${(rawCpu / 1000 / rawSeconds).toFixed(2)} | ${raw1.cores.toFixed(2)} |`);
    console.log(`| raw kafkajs producer, again after the auditor | ${records.length} | ${raw2.seconds.toFixed(2)} | ${fmt(records.length / raw2.seconds)} | ${us(raw2.cpu)}, ${(raw2.cpu / 1000 / raw2.seconds).toFixed(2)} | ${raw2.cores.toFixed(2)} |`);
    console.log(`| stage alone: store → OCSF → Merkle log (PostgreSQL) | ${records.length} | ${logOnlySeconds.toFixed(2)} | ${fmt(records.length / logOnlySeconds)} | ${us(logOnlyCpu)}, ${(logOnlyCpu / 1000 / logOnlySeconds).toFixed(2)} | ${logOnlyCores.toFixed(2)} |`);
    console.log(`| stage alone, live batches (500 per transaction) | ${records.length} | ${liveLogSeconds.toFixed(2)} | ${fmt(records.length / liveLogSeconds)} | ${us(liveLogCpu)}, ${(liveLogCpu / 1000 / liveLogSeconds).toFixed(2)} | ${liveLogCores.toFixed(2)} |`);
    console.log(`| stage alone: Merkle log → Kafka ack | ${records.length} | ${relayOnlySeconds.toFixed(2)} | ${fmt(records.length / relayOnlySeconds)} | ${us(relayOnlyCpu)}, ${(relayOnlyCpu / 1000 / relayOnlySeconds).toFixed(2)} | ${relayOnlyCores.toFixed(2)} |`);
    console.log(`| auditor: store → Merkle log → Kafka ack | ${records.length} | ${auditorSeconds.toFixed(2)} | ${fmt(auditor)} | ${us(auditorCpu)}, ${(auditorCpu / 1000 / auditorSeconds).toFixed(2)} | ${auditorCores.toFixed(2)} |`);
    console.log('\nlive-batch log stage, wall time per statement (overlapping reads included):');
    for (const [label, st] of [...statements].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8)) console.log(`  ${st.ms.toFixed(0).padStart(6)} ms ${String(st.n).padStart(5)}x  ${label}`);
    console.log(`\nratio auditor/raw: ${(auditor / raw).toFixed(2)} against the two raw runs' mean ${fmt(raw)} rec/s (target ≥ 0.5, stretch 0.7); against each: ${(auditor / (records.length / raw1.seconds)).toFixed(2)}, ${(auditor / (records.length / raw2.seconds)).toFixed(2)}`);
  } finally {
    await sql.close();
    await db.drop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
