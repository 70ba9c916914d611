import { mkdirSync } from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RecordedEvent } from '../../../libs/domain/src';

/**
 * The embedded profile's audit trail: one JSON line per audit-relevant event. Lines are
 * appended as events arrive and made durable in groups (one fdatasync per flush); the auditor
 * moves its checkpoint only after a flush, so after a crash an event may be written twice
 * but never lost. `eventId` lets readers drop the duplicate. Event data never holds a secret value.
 */
export class AuditFileSink {
  private constructor(readonly path: string, private readonly fh: FileHandle) {}

  static async open(path: string): Promise<AuditFileSink> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return new AuditFileSink(path, await open(path, 'a', 0o600));
  }

  async append(event: RecordedEvent): Promise<void> {
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
    await this.fh.appendFile(line + '\n');
  }

  /** Everything appended so far is on disk when this resolves. */
  flush(): Promise<void> {
    return this.fh.datasync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
