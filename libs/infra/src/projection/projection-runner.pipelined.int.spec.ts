import { randomUUID } from 'node:crypto';
import { comparePositions, EventToAppend, formatPosition, Position, RecordedEvent } from '@app/domain';
import { until } from '../../../../test/support/eventually';
import { PostgresEventStore } from '../event-store/postgres/postgres-event-store';
import { JsonLogger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { checkpoints } from '../read-models/checkpoints';
import { migrateReadModels } from '../read-models/schema';
import { PgliteClient } from '../sql/pglite-client';
import { SqlClient, SqlExecutor } from '../sql/sql-client';
import { Projection, ProjectionRunner } from './projection-runner';

// A projection with prepare() is committed pipelined (issue 23): batch N+1 is prepared while batch
// N's transaction is still in flight, and N+1's transaction begins only once N committed. What
// must hold whatever the timing: every event applied exactly once, in order; a failed transaction
// takes nothing after it with it into the read model; the checkpoint never passes an effect that
// did not commit.

const meta = { correlationId: 'c', causationId: 'c', actor: { type: 'user' as const, id: 'alice' }, occurredAt: '2026-01-01T00:00:00.000Z' };
const EVENTS = 1_700; // > 3 live batches of 500 in one read of 2,000, and a second read

describe('ProjectionRunner, pipelined commits (PGlite)', () => {
  JsonLogger.setSink(() => undefined);
  let sql: SqlClient;
  let store: PostgresEventStore;
  let positions: string[];
  let last: Position;
  const done = async (name: string) => {
    const at = await checkpoints.load(sql, name);
    return at !== undefined && comparePositions(at, last) >= 0;
  };

  beforeAll(async () => {
    sql = await PgliteClient.open();
    store = await PostgresEventStore.create(sql);
    await migrateReadModels(sql);
    await sql.query('CREATE TABLE t_pipe (id serial PRIMARY KEY, projection text NOT NULL, n int NOT NULL)');
    // Other streams' events in between: the subscription reads past them (progress checkpoints).
    for (let n = 0; n < EVENTS; n += 100) {
      const batch: EventToAppend[] = Array.from({ length: 100 }, (_, k) => ({ eventId: randomUUID(), type: 'Piped', schemaVersion: 1, data: { n: n + k }, metadata: meta }));
      await store.appendToStream(`pipe-${n / 100}`, 'no-stream', batch);
      await store.appendToStream(`other-${n / 100}`, 'no-stream', [{ eventId: randomUUID(), type: 'Other', schemaVersion: 1, data: {}, metadata: meta }]);
    }
    const piped = await store.readAll({ maxCount: 10_000, streamPrefixes: ['pipe-'] });
    positions = piped.map((e) => formatPosition(e.position));
    last = piped[piped.length - 1].position;
  }, 60_000);
  afterAll(() => sql?.close());

  /** A projection of the pipe- events into t_pipe, logging when it prepares, applies and commits each batch (by its first n). */
  function piped(name: string, hooks: { beforeApply?: (first: number) => Promise<void> } = {}) {
    const log: string[] = [];
    let applying: number[] = [];
    const projection: Projection = {
      name,
      streamPrefixes: ['pipe-'],
      prepare(events: RecordedEvent[]) {
        log.push(`prepare ${events[0].data.n}`);
        return { events, ns: events.map((e) => Number(e.data.n)) };
      },
      async apply(tx: SqlExecutor, event: RecordedEvent) {
        await this.applyBatch!(tx, [event]);
      },
      async applyBatch(tx: SqlExecutor, events: RecordedEvent[], prepared?: unknown) {
        const made = prepared as { events: RecordedEvent[]; ns: number[] } | undefined;
        const first = Number(events[0].data.n);
        log.push(`apply ${first}${made?.events === events ? '' : ' unprepared'}`);
        await hooks.beforeApply?.(first);
        await tx.query('INSERT INTO t_pipe (projection, n) SELECT $1, unnest($2::int[])', [name, events.map((e) => Number(e.data.n))]);
        applying = events.map((e) => Number(e.data.n));
      },
      afterCommit() {
        log.push(`commit ${applying[0]}`);
      },
    };
    return { projection, log };
  }

  async function rows(name: string): Promise<number[]> {
    return (await sql.query<{ n: number }>('SELECT n FROM t_pipe WHERE projection = $1 ORDER BY id', [name])).rows.map((r) => r.n);
  }

  it('prepares the next batch while the previous transaction is still open, and applies every event once, in order', async () => {
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const { projection, log } = piped('pipe-a', {
      // The first batch's transaction waits (up to 5 s) for the next batch to be prepared.
      beforeApply: async (first) => {
        if (first === 0) await Promise.race([firstHeld, new Promise((r) => setTimeout(r, 5000))]);
      },
    });
    const original = projection.prepare!.bind(projection);
    projection.prepare = (events) => {
      const made = original(events);
      if (Number(events[0].data.n) === 500) releaseFirst();
      return made;
    };
    const runner = new ProjectionRunner(store, sql, projection, new JsonLogger('error'), new Metrics());
    await runner.start();
    await until(() => done('pipe-a'), 20_000);
    await runner.stop();
    expect(await rows('pipe-a')).toEqual(Array.from({ length: EVENTS }, (_, n) => n));
    // Batch 500 was prepared before batch 0 committed: the overlap this is for.
    expect(log.indexOf('prepare 500')).toBeGreaterThan(-1);
    expect(log.indexOf('prepare 500')).toBeLessThan(log.indexOf('commit 0'));
    // Every batch was applied from what was prepared for exactly its events.
    expect(log.filter((l) => l.includes('unprepared'))).toEqual([]);
    // Commits in order, each after the one before.
    const commits = log.filter((l) => l.startsWith('commit ')).map((l) => Number(l.split(' ')[1]));
    expect(commits).toEqual([...commits].sort((a, b) => a - b));
  }, 60_000);

  it('a transaction that fails mid-pipeline takes nothing after it into the read model: the retry re-applies from the checkpoint, each event once', async () => {
    let failed = false;
    const { projection, log } = piped('pipe-b', {
      beforeApply: async (first) => {
        // The second batch fails once, transiently (a connection error), after the third was prepared.
        if (first === 500 && !failed) {
          await until(() => log.includes('prepare 1000'), 5000).catch(() => undefined);
          failed = true;
          throw Object.assign(new Error('connection lost'), { code: '08006' });
        }
      },
    });
    const runner = new ProjectionRunner(store, sql, projection, new JsonLogger('error'), new Metrics());
    await runner.start();
    await until(() => done('pipe-b'), 20_000);
    await runner.stop();
    expect(failed).toBe(true);
    expect(log).toContain('prepare 1000');
    // The batch prepared after the failed one never committed before it: each event once, in order.
    expect(await rows('pipe-b')).toEqual(Array.from({ length: EVENTS }, (_, n) => n));
  }, 60_000);

  it('stopped mid-pipeline: the checkpoint never passes what committed, and a restart goes on from it, each event once', async () => {
    let stopping: Promise<void> | undefined;
    let runner!: ProjectionRunner;
    const { projection } = piped('pipe-c', {
      beforeApply: async (first) => {
        // Stop while the second batch's transaction is open and the third may be prepared.
        if (first === 500 && !stopping) {
          stopping = runner.stop();
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    });
    runner = new ProjectionRunner(store, sql, projection, new JsonLogger('error'), new Metrics());
    await runner.start();
    await until(() => stopping !== undefined, 20_000);
    await stopping;
    const applied = await rows('pipe-c');
    const at = await checkpoints.load(sql, 'pipe-c');
    // Effects and checkpoint agree: the checkpoint is the last applied event's position.
    expect(applied.length).toBeGreaterThan(0);
    expect(at && formatPosition(at)).toBe(positions[applied.length - 1]);
    const again = new ProjectionRunner(store, sql, piped('pipe-c').projection, new JsonLogger('error'), new Metrics());
    await again.start();
    await until(() => done('pipe-c'), 20_000);
    await again.stop();
    expect(await rows('pipe-c')).toEqual(Array.from({ length: EVENTS }, (_, n) => n));
  }, 60_000);
});
