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

// Issue 20: a CI job's decisions about its groups' secrets are logged under the group's place key;
// its pipeline's evidence finds them through the job's project named in the record's resources.
describe('AuditLogStore.pipelineRecords with group places', () => {
  const rec = (i: number, projectId: string, pipelineId: string | null, resources: { type: string; uid: string }[]): AuditLogEntry => ({
    eventId: `g-${i}`,
    eventType: 'SecretAccessed',
    projectId,
    secretName: 'REG',
    pipelineId,
    kafkaKey: `${projectId}/REG`,
    schemaVersion: 1,
    record: JSON.stringify({ i, resources }),
  });
  const groupRead = (i: number, group: string, jobProject: string, pipelineId: string) =>
    rec(i, `group:${group}`, pipelineId, [{ type: 'secret', uid: `group:${group}/REG` }, { type: 'group', uid: `group:${group}` }, { type: 'project', uid: jobProject }]);

  it("lists the project's own records and its jobs' group reads, in log order; never another project's job with the same pipeline id", async () => {
    const sql = await PgliteClient.open();
    try {
      await migrateAuditLog(sql);
      const log = new AuditLogStore(sql);
      await sql.transaction((tx) =>
        log.append(tx, [
          rec(0, 'app', '77', [{ type: 'secret', uid: 'app/DB' }]),
          groupRead(1, 'acme/payments', 'app', '77'),
          groupRead(2, 'acme/payments', 'other', '77'), // same pipeline number, another project's job
          groupRead(3, 'acme', 'app', '78'), // another pipeline
          rec(4, 'group:acme', '77', [{ type: 'secret', uid: 'group:acme/REG' }, { type: 'group', uid: 'group:acme' }]), // names no project
          rec(5, 'other', '77', [{ type: 'secret', uid: 'other/DB' }, { type: 'project', uid: 'app' }]), // a project's record naming app: not app's
          groupRead(6, 'acme', 'app', '77'),
          rec(7, 'app', null, [{ type: 'project', uid: 'app' }]),
        ]),
      );
      expect((await log.pipelineRecords('app', '77')).map((r) => [r.index, r.projectId])).toEqual([
        [0, 'app'],
        [1, 'group:acme/payments'],
        [6, 'group:acme'],
      ]);
      expect((await log.pipelineRecords('other', '77')).map((r) => r.index)).toEqual([2, 5]);
      expect((await log.pipelineRecords('app', '77', 2)).map((r) => r.index)).toEqual([0, 1]);
      // A project id that is a JSON-ish string matches nothing it should not.
      expect(await log.pipelineRecords('app"}]', '77')).toEqual([]);
    } finally {
      await sql.close();
    }
  }, 60_000);
});
