import { ProducerRecord } from 'kafkajs';
import { RecordedEvent } from '@app/domain';
import { auditKey, toOcsf } from '@app/domain/siem';
import { JsonLogger } from '../logging/logger';
import { StoredAuditRecord } from './audit-log-store';
import { AUDIT_HEADERS, KafkaAuditSink } from './kafka-audit-sink';

// The Kafka key of a record is the one the auditor stored with it (auditKey of its event): for a
// group's secret `group:{groupId}/{name}` (API.md, "Groups and group secrets"), so a group's
// secret and a project's secret of the same name (even a project named like the group) never share
// a key, and each secret's records keep their order in one partition.

let seq = 0;
function recorded(type: string, data: Record<string, unknown>, actor: RecordedEvent['metadata']['actor'] = { type: 'user', id: 'gina' }): RecordedEvent {
  seq++;
  return {
    eventId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    data,
    metadata: { correlationId: 'c', causationId: 'c', actor, occurredAt: '2025-03-01T10:00:00.000Z' },
    streamName: `s-${seq}`,
    revision: 0,
    position: { commit: 1n, prepare: BigInt(seq) },
    recordedAt: '2025-03-01T10:00:00.250Z',
  };
}

/** What the auditor stores for an event (apps/auditor/src/audit-log.projection.ts auditEntry, the parts the sink reads). */
function stored(event: RecordedEvent, index: number): StoredAuditRecord {
  const record = toOcsf(event, { productName: 'p', productVersion: '1', vendorName: 'v', burst: false });
  return {
    index,
    eventId: event.eventId,
    eventType: event.type,
    projectId: String(event.data.projectId),
    secretName: typeof event.data.name === 'string' ? event.data.name : null,
    pipelineId: null,
    kafkaKey: auditKey(event),
    schemaVersion: 1,
    record: JSON.stringify(record),
    leafHash: Buffer.alloc(32),
    loggedAt: '2025-03-01T10:00:00.300Z',
  };
}

/** A sink whose producer records what it would send (no broker). */
function sinkWithFakeProducer(): { sink: KafkaAuditSink; sent: ProducerRecord[] } {
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as JsonLogger;
  const sink = new KafkaAuditSink({ brokers: ['127.0.0.1:1'], clientId: 't', auditTopic: 'audit', checkpointTopic: 'cp', partitions: 3, replicationFactor: 1 }, logger);
  const sent: ProducerRecord[] = [];
  const fake = { send: async (r: ProducerRecord) => void sent.push(r), disconnect: async () => undefined };
  Object.assign(sink as unknown as Record<string, unknown>, { topicsReady: true, producer: fake });
  return { sink, sent };
}

const ci = { type: 'ci-job', id: 'project_path:app', pipelineId: 'pl-1', jobId: 'j-1', ref: 'main', refProtected: true, environment: 'production' };
const scope = { environment: null, branch: null, protectedOnly: false };

describe('KafkaAuditSink: the key of group records', () => {
  it('sends a group secret\'s records keyed group:{groupId}/{name}, a group grant group:{groupId}/*, a move {projectId}/*', async () => {
    const events = [
      recorded('SecretCreated', { projectId: 'group:acme/payments', name: 'REGISTRY_TOKEN', description: null, scope, version: 1, valueRef: 'kv#1', createdBy: 'gina' }),
      recorded('SecretAccessed', { projectId: 'group:acme/payments', name: 'REGISTRY_TOKEN', version: 1, principal: ci, via: { scope: 'ci-job-scope' }, purpose: null, jobProjectId: 'app' }, { type: 'ci-job', id: ci.id }),
      recorded('RoleGranted', { projectId: 'group:acme/payments', grantId: 'g-1', principal: { type: 'user', id: 'olive' }, role: 'developer', environment: null, branch: null, expiresAt: null, grantedBy: 'gina', grantedAt: '2025-03-01T10:00:00.000Z' }),
      recorded('ProjectGroupChanged', { projectId: 'app', groupId: 'acme/payments', previousGroupId: null, changedBy: 'root', changedAt: '2025-03-01T10:00:00.000Z' }, { type: 'user', id: 'root' }),
      // The project `acme` and the group `acme`: never one key.
      recorded('SecretCreated', { projectId: 'acme', name: 'REGISTRY_TOKEN', description: null, scope, version: 1, valueRef: 'kv#1', createdBy: 'olive' }),
      recorded('SecretCreated', { projectId: 'group:acme', name: 'REGISTRY_TOKEN', description: null, scope, version: 1, valueRef: 'kv#1', createdBy: 'gina' }),
      // A forged place key: keyed to no place.
      recorded('SecretCreated', { projectId: 'group:../x', name: 'REGISTRY_TOKEN', description: null, scope, version: 1, valueRef: 'kv#1', createdBy: 'gina' }),
    ];
    const { sink, sent } = sinkWithFakeProducer();
    await sink.publishRecords(events.map(stored));
    const messages = sent.flatMap((r) => r.messages);
    expect(sent.every((r) => r.topic === 'audit')).toBe(true);
    expect(messages.map((m) => m.key)).toEqual([
      'group:acme/payments/REGISTRY_TOKEN',
      'group:acme/payments/REGISTRY_TOKEN',
      'group:acme/payments/*',
      'app/*',
      'acme/REGISTRY_TOKEN',
      'group:acme/REGISTRY_TOKEN',
      '/REGISTRY_TOKEN',
    ]);
    expect(messages.map((m) => (m.headers as Record<string, string>)[AUDIT_HEADERS.eventType])).toEqual(events.map((e) => e.type));
    // The value is the record, and the record names the group and, for the job's read, its project.
    const read = JSON.parse(String(messages[1].value)) as { resources: { type: string; uid: string }[] };
    expect(read.resources.map((r) => [r.type, r.uid])).toEqual([['secret', 'group:acme/payments/REGISTRY_TOKEN'], ['group', 'group:acme/payments'], ['project', 'app']]);
  });
});
