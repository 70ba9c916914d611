import { RecordedEvent, StreamCategory } from '../../../libs/domain/src';
import { canonicalJson } from '../../../libs/domain/src/audit-log';
import { auditKey, DenialBurstDetector, toOcsf } from '../../../libs/domain/src/siem';
import { AuditLogEntry, AuditLogStore, StoredAuditRecord } from '../../../libs/infra/src/audit/audit-log-store';
import { Projection } from '../../../libs/infra/src/projection/projection-runner';
import { SqlExecutor } from '../../../libs/infra/src/sql/sql-client';

export interface AuditProduct {
  name: string;
  version: string;
  vendorName: string;
}

/** metadata.product of every OCSF record. */
export const AUDIT_PRODUCT: AuditProduct = { name: 'pipeline-secrets-audit', version: '0.1.0', vendorName: 'pipeline-secrets-audit project' };

/** The log entry of one event: its OCSF record in canonical JSON (the Merkle leaf's bytes) and the columns the queries filter on. */
export function auditEntry(event: RecordedEvent, detector: DenialBurstDetector, product: AuditProduct): AuditLogEntry | null {
  const burst = event.type === 'SecretAccessDenied' ? detector.observe(event) : false;
  const record = toOcsf(event, { productName: product.name, productVersion: product.version, vendorName: product.vendorName, burst });
  if (!record) return null;
  const data = event.data as { projectId?: unknown; name?: unknown; principal?: { pipelineId?: unknown } };
  return {
    eventId: event.eventId,
    eventType: event.type,
    projectId: String(data.projectId),
    secretName: typeof data.name === 'string' ? data.name : null,
    pipelineId: typeof data.principal?.pipelineId === 'string' ? data.principal.pipelineId : null,
    kafkaKey: auditKey(event),
    schemaVersion: event.schemaVersion,
    record: canonicalJson(record),
  };
}

/**
 * The auditor's subscription as a projection: each batch of audit-relevant events becomes log
 * leaves in the same transaction that moves the checkpoint, so every event is in the log exactly
 * once whatever the crashes (the event id is unique in the log as a second guard).
 */
export function auditLogProjection(store: AuditLogStore, product: AuditProduct, onCommitted: (appended: StoredAuditRecord[]) => void): Projection {
  const detector = new DenialBurstDetector();
  let appended: StoredAuditRecord[] = [];
  return {
    name: 'audit-log',
    streamPrefixes: [`${StreamCategory.access}-`, `${StreamCategory.project}-`, `${StreamCategory.secret}-`],
    async apply(tx: SqlExecutor, event: RecordedEvent) {
      await this.applyBatch!(tx, [event]);
    },
    async applyBatch(tx: SqlExecutor, events: RecordedEvent[]) {
      const entries = events.map((e) => auditEntry(e, detector, product)).filter((e): e is AuditLogEntry => e !== null);
      appended.push(...(await store.append(tx, entries)));
    },
    afterCommit: () => {
      const committed = appended;
      appended = [];
      onCommitted(committed);
    },
    onRollback: () => {
      appended = [];
      store.forget();
    },
  };
}
