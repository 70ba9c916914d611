import { leafHash, rootFromLeafHashes } from '@app/domain/audit-log';
import { PgliteClient } from '../sql/pglite-client';
import { AuditLogEntry, AuditLogStore, migrateAuditLog } from './audit-log-store';

const entry = (i: number): AuditLogEntry => ({
  eventId: `ev-${i}`,
  eventType: 'SecretAccessed',
  projectId: 'p',
  secretName: 'S',
  pipelineId: null,
  kafkaKey: 'p/S',
  schemaVersion: 1,
  record: JSON.stringify({ i }),
});

// The log appends only events it does not hold yet (a batch delivered again after its checkpoint
// was lost, say): every leaf once, in order, and the root is the RFC 6962 root of those leaves.
describe('AuditLogStore.append skips events already in the log', () => {
  it('appends only the new entries of a batch, at the next indexes, with the right root, in a log of thousands', async () => {
    const sql = await PgliteClient.open();
    try {
      await migrateAuditLog(sql);
      const log = new AuditLogStore(sql);
      const first = Array.from({ length: 3000 }, (_, i) => entry(i));
      for (let i = 0; i < first.length; i += 500) await sql.transaction((tx) => log.append(tx, first.slice(i, i + 500)));
      // Again: 300 already logged (scattered through the log), 200 new, one new id twice.
      const again = [...Array.from({ length: 300 }, (_, k) => entry(k * 10)), ...Array.from({ length: 200 }, (_, k) => entry(3000 + k)), entry(3000)];
      const added = await sql.transaction((tx) => log.append(tx, again));
      expect(added.map((r) => [r.eventId, r.index])).toEqual(Array.from({ length: 200 }, (_, k) => [`ev-${3000 + k}`, 3000 + k]));
      expect(await log.committedSize()).toBe(3200);
      expect(await sql.transaction((tx) => log.append(tx, [entry(5), entry(3199)]))).toEqual([]);
      const leaves = Array.from({ length: 3200 }, (_, i) => leafHash(Buffer.from(JSON.stringify({ i }), 'utf8')));
      expect((await log.rootAt(3200)).equals(rootFromLeafHashes(leaves))).toBe(true);
    } finally {
      await sql.close();
    }
  }, 60_000);
});
