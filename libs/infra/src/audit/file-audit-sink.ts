import { mkdirSync } from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoredAuditRecord } from './audit-log-store';

/**
 * The embedded profile's stand-in for the Kafka topic: one NDJSON line per audit record
 * (`{index, eventId, eventType, key, record}`), made durable with fdatasync before the relay
 * moves its offset. After a crash a line may repeat (same eventId), never go missing.
 */
export class FileAuditSink {
  private constructor(readonly path: string, private readonly fh: FileHandle) {}

  static async open(path: string): Promise<FileAuditSink> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fh = await open(path, 'a+', 0o600);
    // A crash mid-append can leave a torn last line: end it, so the next record starts a line of its own.
    const { size } = await fh.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await fh.appendFile('\n');
    }
    return new FileAuditSink(path, fh);
  }

  async publishRecords(records: StoredAuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const lines = records.map((r) => `{"index":${r.index},"eventId":${JSON.stringify(r.eventId)},"eventType":${JSON.stringify(r.eventType)},"key":${JSON.stringify(r.kafkaKey)},"record":${r.record}}\n`);
    await this.fh.appendFile(lines.join(''));
    await this.fh.datasync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
