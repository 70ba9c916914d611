import { RecordedEvent } from '@app/domain';
import { migrateReadModels } from '@app/infra/read-models/schema';
import { PgliteClient } from '@app/infra/sql/pglite-client';
import { secretHistoryProjection } from './compliance.projections';

// OpenBao restarted empty restarts KV versions, so a new value can get the reference an older
// event already named. rm_secret_versions is keyed by the event: no row may be dropped.
let seq = 0;
function recorded(type: string, revision: number, data: Record<string, unknown>): RecordedEvent {
  seq++;
  return {
    eventId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    data,
    metadata: { correlationId: 'c', causationId: 'c', actor: { type: 'user', id: 'olive' }, occurredAt: `2026-12-02T14:00:0${seq}.000Z` },
    streamName: 'secret-p/DB',
    revision,
    position: { commit: BigInt(seq), prepare: BigInt(seq) },
    recordedAt: `2026-12-02T14:00:0${seq}.000Z`,
  } as RecordedEvent;
}

describe('secret-history projection and reused KV versions', () => {
  it('keeps one row per value event even when a value reference repeats, and a replay adds nothing', async () => {
    const sql = await PgliteClient.open();
    await migrateReadModels(sql);
    const ref = 'bao:secret:pipeline-secrets/p/DB#1';
    const events = [
      recorded('SecretCreated', 0, { projectId: 'p', name: 'DB', description: null, scope: { environment: null, branch: null, protectedOnly: false }, version: 1, valueRef: ref, createdBy: 'olive' }),
      // after OpenBao lost its data, the next write got KV version 1 again
      recorded('SecretValueUpdated', 1, { projectId: 'p', name: 'DB', version: 2, valueRef: ref, updatedBy: 'olive' }),
    ];
    for (const e of [...events, ...events]) await secretHistoryProjection.apply(sql, e);
    const { rows } = await sql.query<{ revision: number; version: number }>('SELECT revision, version FROM rm_secret_versions ORDER BY revision');
    expect(rows).toEqual([
      { revision: 0, version: 1 },
      { revision: 1, version: 2 },
    ]);
    await sql.close();
  });
});
