/* The auditor's JavaScript per record, without PostgreSQL or Kafka (issue 23, 4): the events
 * bench:auditor seeds (seedHistory), each mapped as the log stage maps it (auditEntry: OCSF record,
 * canonical JSON) and hashed (leafHash), BENCH_ROUNDS (5) times over BENCH_EVENTS (20,000).
 *
 *   node -r @swc-node/register bench/auditor-cpu.ts
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof -r @swc-node/register bench/auditor-cpu.ts   # the profile
 */
import { AUDIT_PRODUCT, auditEntry } from '../apps/auditor/src/audit-log.projection';
import { EventStore, EventToAppend, RecordedEvent } from '@app/domain';
import { leafHash } from '@app/domain/audit-log';
import { DenialBurstDetector } from '@app/domain/siem';
import { seedHistory } from '../test/support/seed-events';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

async function main() {
  const events: RecordedEvent[] = [];
  const sink = {
    appendToStream: async (stream: string, _e: unknown, batch: EventToAppend[]) => {
      for (const e of batch) events.push({ ...e, streamName: stream, revision: events.length, position: { commit: BigInt(events.length), prepare: 0n }, recordedAt: e.metadata.occurredAt ?? new Date().toISOString() } as RecordedEvent);
      return { nextExpectedRevision: events.length - 1, position: { commit: 0n, prepare: 0n } };
    },
  } as unknown as EventStore;
  await seedHistory(sink, 'bench', EVENTS);
  let bytes = 0;
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const detector = new DenialBurstDetector();
    const t = process.cpuUsage();
    for (const e of events) {
      const entry = auditEntry(e, detector, AUDIT_PRODUCT);
      if (entry) bytes += leafHash(Buffer.from(entry.record, 'utf8')).length + entry.record.length;
    }
    const d = process.cpuUsage(t);
    best = Math.min(best, (d.user + d.system) / events.length);
  }
  console.log(`${events.length} events x ${ROUNDS} rounds: best ${best.toFixed(1)} µs CPU per record (auditEntry + leafHash) [${bytes}]`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
