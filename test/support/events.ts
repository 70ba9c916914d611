import { AsyncLocalStorage } from 'node:async_hooks';
import { IncomingMessage, Server, ServerResponse } from 'node:http';
import { EventStore, RecordedEvent } from '@app/domain';
import { SqlExecutor } from '@app/infra/sql/sql-client';

/** Every event in the store, in order (pages of 500). */
export async function allEvents(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (;;) {
    const batch = await store.readAll({ after: out.length ? out[out.length - 1].position : undefined, maxCount: 500 });
    if (batch.length === 0) return out;
    out.push(...batch);
  }
}

/**
 * SQL round trips counted per HTTP request: a request carrying `x-count-queries: <id>` runs in an
 * async context whose counter every `sql.query` issued while handling it increments (background
 * loops never run in it). Returns the counters by id.
 */
export function countRoundTrips(server: Server, sql: SqlExecutor): Map<string, { queries: number; texts: string[] }> {
  const als = new AsyncLocalStorage<{ queries: number; texts: string[] }>();
  const counters = new Map<string, { queries: number; texts: string[] }>();
  const [handler] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const id = req.headers['x-count-queries'];
    if (typeof id !== 'string') return handler(req, res);
    const counter = { queries: 0, texts: [] as string[] };
    counters.set(id, counter);
    als.run(counter, () => handler(req, res));
  });
  const query = sql.query.bind(sql);
  sql.query = ((text: string, params?: unknown[]) => {
    const s = als.getStore();
    if (s) {
      s.queries++;
      s.texts.push(text.replace(/\s+/g, ' ').slice(0, 80)); // what each round trip was, for a failing test's message
    }
    return query(text, params);
  }) as typeof sql.query;
  return counters;
}
