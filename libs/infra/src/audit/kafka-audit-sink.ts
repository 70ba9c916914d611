// kafkajs: the Kafka client the design names; pure JavaScript, idempotent producer support.
import { Admin, CompressionTypes, Kafka, logLevel, Producer, ProducerRecord } from 'kafkajs';
import { JsonLogger } from '../logging/logger';
import { StoredAuditRecord, StoredCheckpoint } from './audit-log-store';

/** What a Kafka record is made of: key, value and headers (not the leaf hash or the query columns). */
export type AuditMessage = Pick<StoredAuditRecord, 'kafkaKey' | 'record' | 'eventId' | 'eventType' | 'schemaVersion' | 'index'>;

export interface KafkaAuditOptions {
  brokers: string[];
  clientId: string;
  auditTopic: string;
  checkpointTopic: string;
  partitions: number;
  replicationFactor: number;
}

/**
 * Bytes of one send at most, counting each record's value, key and headers (plus a fixed 64 for
 * its framing): if every record of a send lands in one partition, its record batch still stays
 * under the broker's default message.max.bytes (1 MiB). A relay batch of 500 typical records
 * (~1.2 KB each) is one send, one acknowledgement.
 */
const MAX_SEND_BYTES = 900 * 1024;
const RECORD_OVERHEAD = 64;

function sendBytes(r: AuditMessage): number {
  return (
    Buffer.byteLength(r.record) +
    Buffer.byteLength(r.kafkaKey) +
    Buffer.byteLength(r.eventId) +
    Buffer.byteLength(r.eventType) +
    String(r.schemaVersion).length +
    String(r.index).length +
    HEADER_NAME_BYTES +
    RECORD_OVERHEAD
  );
}

/** Header names of API.md's Kafka contract (plus the record's place in the Merkle log). */
export const AUDIT_HEADERS = { eventId: 'event-id', eventType: 'event-type', schemaVersion: 'schema-version', logIndex: 'audit-log-index' } as const;
const HEADER_NAME_BYTES = Object.values(AUDIT_HEADERS).reduce((n, h) => n + h.length, 0);

/**
 * Publishes audit records and signed checkpoints. Idempotent producer (acks=all, one request in
 * flight, so retries neither duplicate nor reorder within a partition); records are keyed
 * `{place key}/{secretName}` (auditKey: `acme/DB`, or `group:acme/payments/DB` for a group's
 * secret), so each secret's records stay in order. Topics are created here
 * (auto-creation is off on a well-run cluster); the checkpoint topic has one partition and
 * keeps its records forever, so a verifier can read every checkpoint ever signed.
 */
export class KafkaAuditSink {
  private readonly kafka: Kafka;
  private producer?: Producer;
  private topicsReady = false;

  constructor(private readonly opts: KafkaAuditOptions, private readonly logger: JsonLogger) {
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      // Short retries inside one send (100 ms doubling to 1 s, ~3 s in all): the relay's own loop
      // (250 ms doubling to 2 s, from its stored offset) retries for as long as it takes. With
      // kafkajs's long waits (up to 10 s between attempts) a send that began during an outage slept
      // on after the broker was back: the auditor was ready again only 7.7 s later (issue 18, 15).
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      connectionTimeout: 3000,
      requestTimeout: 15_000,
    });
  }

  async ensureTopics(): Promise<void> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const topics = [];
      if (!existing.has(this.opts.auditTopic)) {
        topics.push({ topic: this.opts.auditTopic, numPartitions: this.opts.partitions, replicationFactor: this.opts.replicationFactor });
      }
      if (!existing.has(this.opts.checkpointTopic)) {
        topics.push({
          topic: this.opts.checkpointTopic,
          numPartitions: 1,
          replicationFactor: this.opts.replicationFactor,
          configEntries: [{ name: 'retention.ms', value: '-1' }],
        });
      }
      if (topics.length > 0) {
        await admin.createTopics({ topics, waitForLeaders: true });
        this.logger.info('created audit topics', { topics: topics.map((t) => t.topic) });
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async connected(): Promise<Producer> {
    if (!this.topicsReady) {
      await this.ensureTopics();
      this.topicsReady = true;
    }
    if (!this.producer) {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      this.producer = p;
    }
    return this.producer;
  }

  /** Creates the topics if missing and connects the producer now, rather than on the first send. */
  async connect(): Promise<void> {
    await this.connected();
  }

  async publishRecords(records: AuditMessage[]): Promise<void> {
    // Sends of at most MAX_SEND_BYTES (see there).
    for (let start = 0; start < records.length; ) {
      let end = start;
      let bytes = 0;
      while (end < records.length) {
        const size = sendBytes(records[end]);
        if (end > start && bytes + size > MAX_SEND_BYTES) break;
        bytes += size;
        end++;
      }
      await this.send({
        topic: this.opts.auditTopic,
        acks: -1,
        compression: CompressionTypes.None,
        messages: records.slice(start, end).map((r) => ({
          key: r.kafkaKey,
          value: r.record,
          headers: {
            [AUDIT_HEADERS.eventId]: r.eventId,
            [AUDIT_HEADERS.eventType]: r.eventType,
            [AUDIT_HEADERS.schemaVersion]: String(r.schemaVersion),
            [AUDIT_HEADERS.logIndex]: String(r.index),
          },
        })),
      });
      start = end;
    }
  }

  async publishCheckpoints(checkpoints: Pick<StoredCheckpoint, 'treeSize' | 'note'>[]): Promise<void> {
    if (checkpoints.length === 0) return;
    await this.send({
      topic: this.opts.checkpointTopic,
      acks: -1,
      messages: checkpoints.map((c) => ({ key: 'checkpoint', value: c.note, headers: { 'tree-size': String(c.treeSize) } })),
    });
  }

  /**
   * One send; after a failure the producer is dropped, and the relay's retry starts a fresh one
   * (a new producer id), so a half-failed batch cannot wedge the idempotent sequence numbers.
   */
  private async send(record: ProducerRecord): Promise<void> {
    const producer = await this.connected();
    try {
      await producer.send(record);
    } catch (e) {
      if (this.producer === producer) this.producer = undefined;
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Readiness: a broker answers a metadata request now. A fresh admin client without retries, so
   * a stopped or unreachable cluster fails at once (or at the connection timeout) instead of
   * riding out the producer's retry budget, and an idle relay cannot hide an outage.
   */
  async ping(): Promise<void> {
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      await admin.describeCluster();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}
