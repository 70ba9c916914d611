import { RecordedEvent, StreamCategory } from '@app/domain';
import { auditKey, DenialBurstDetector, toOcsfJson } from '@app/domain/siem';
import { OPENBAO_DRIFT_STREAM } from '@app/domain/openbao-audit/drift';
import { AuditLogEntry, AuditLogStore, StoredAuditRecord, withLeafHashes } from '@app/infra/audit/audit-log-store';
import { Projection } from '@app/infra/projection/projection-runner';
import { SqlExecutor } from '@app/infra/sql/sql-client';

export interface AuditProduct {
  name: string;
  version: string;
  vendorName: string;
}

/** metadata.product of every OCSF record. */
export const AUDIT_PRODUCT: AuditProduct = { name: 'pipeline-secrets-audit', version: '0.1.0', vendorName: 'pipeline-secrets-audit project' };

/** The log entry of one event: its OCSF record in canonical JSON (the Merkle leaf's bytes) and the columns the queries filter on. */
export function auditEntry(event: RecordedEvent, detector: Pick<DenialBurstDetector, 'observe'>, product: AuditProduct): AuditLogEntry | null {
  const burst = event.type === 'SecretAccessDenied' ? detector.observe(event) : false;
  const record = toOcsfJson(event, { productName: product.name, productVersion: product.version, vendorName: product.vendorName, burst });
  if (record === null) return null;
  const data = event.data as { projectId?: unknown; name?: unknown; reason?: unknown; principal?: { pipelineId?: unknown } };
  // A job of ANOTHER project probing this one is logged under this project, but its pipeline id
  // is another project's: it must not land in this project's pipeline evidence.
  const foreignJob = (event.type === 'SecretAccessDenied' || event.type === 'SecretAccessDenialsSuppressed') && data.reason === 'other-project';
  return {
    eventId: event.eventId,
    eventType: event.type,
    projectId: String(data.projectId),
    secretName: typeof data.name === 'string' ? data.name : null,
    pipelineId: !foreignJob && typeof data.principal?.pipelineId === 'string' ? data.principal.pipelineId : null,
    kafkaKey: auditKey(event),
    schemaVersion: event.schemaVersion,
    // The record's canonical JSON: assembled in canonical key order, one stringify (ocsf-canonical.unit.spec.ts).
    record,
  };
}

/**
 * The auditor's subscription as a projection: each batch of audit-relevant events becomes log
 * leaves in the same transaction that moves the checkpoint, so every event is in the log exactly
 * once whatever the crashes (the event id is unique in the log as a second guard).
 */
export function auditLogProjection(store: AuditLogStore, product: AuditProduct, onCommitted: (appended: StoredAuditRecord[]) => void): Projection {
  const detector = new DenialBurstDetector();
  // A batch whose transaction failed is delivered again: its denials must not count twice, and
  // each keeps the verdict it had.
  const verdicts = new BoundedMap<boolean>(50_000);
  const once = {
    observe: (e: RecordedEvent) => {
      const known = verdicts.get(e.eventId);
      if (known !== undefined) return known;
      const burst = detector.observe(e);
      verdicts.set(e.eventId, burst);
      return burst;
    },
  };
  let appended: StoredAuditRecord[] = [];
  const prepare = (events: RecordedEvent[]): PreparedEntries => ({
    events,
    entries: withLeafHashes(events.map((e) => auditEntry(e, once, product)).filter((e): e is AuditLogEntry => e !== null)),
  });
  const entriesOf = (events: RecordedEvent[], prepared: unknown): AuditLogEntry[] => {
    const made = prepared as PreparedEntries | undefined;
    return made?.events === events ? made.entries : prepare(events).entries;
  };
  return {
    name: 'audit-log',
    // projectgroup-: a project moving between groups (ProjectGroupChanged) is audited too (issue 20).
    // exposurereport-: who asked an exposure report about whom (issue 22) is audited too.
    streamPrefixes: [`${StreamCategory.access}-`, `${StreamCategory.accessRequest}-`, `${StreamCategory.project}-`, `${StreamCategory.projectGroup}-`, `${StreamCategory.secret}-`, `${StreamCategory.exposureReport}-`, OPENBAO_DRIFT_STREAM],
    async apply(tx: SqlExecutor, event: RecordedEvent) {
      await this.applyBatch!(tx, [event]);
    },
    // The OCSF records and their leaf hashes depend on the events alone (the burst verdicts are
    // kept per event id): made before the transaction, while the previous batch's commits.
    prepare,
    async applyBatch(tx: SqlExecutor, events: RecordedEvent[], prepared?: unknown) {
      appended.push(...(await store.append(tx, entriesOf(events, prepared))));
    },
    // The usual batch: leaves, tree nodes and checkpoint in one statement (no BEGIN/COMMIT); a
    // batch holding an event already logged takes the transaction way (applyBatch).
    async applyWithCheckpoint(sql: SqlExecutor, events: RecordedEvent[], prepared: unknown, checkpoint: { projection: string; position: string }) {
      const out = await store.appendWithCheckpoint(sql, entriesOf(events, prepared), checkpoint);
      if (out === undefined) return false;
      appended.push(...out);
      return true;
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

interface PreparedEntries {
  /** The batch they were made for (applyBatch checks it is the one it applies). */
  events: RecordedEvent[];
  entries: AuditLogEntry[];
}

/** Remembers the last `max` entries (oldest evicted first). */
class BoundedMap<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.entries.get(key);
  }
  set(key: string, value: V): void {
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
}
