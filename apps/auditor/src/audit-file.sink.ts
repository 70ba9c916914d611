import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { RecordedEvent } from '../../../libs/domain/src';

/**
 * The embedded profile's audit trail: one JSON line per audit-relevant event, fsynced before
 * the auditor moves its checkpoint. After a crash an event may be written twice; `eventId`
 * lets readers drop the duplicate. Event data never holds a secret value.
 */
export class AuditFileSink {
  private fd: number;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'a', 0o600);
  }

  write(event: RecordedEvent): void {
    const line = JSON.stringify({
      eventId: event.eventId,
      type: event.type,
      schemaVersion: event.schemaVersion,
      stream: event.streamName,
      revision: event.revision,
      recordedAt: event.recordedAt,
      occurredAt: event.metadata.occurredAt,
      actor: event.metadata.actor,
      correlationId: event.metadata.correlationId,
      data: event.data,
    });
    writeSync(this.fd, line + '\n');
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
