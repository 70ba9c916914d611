import { StoreUnavailableError } from '@app/domain';
import { PgClient } from '@app/infra/sql/pg-client';

// Round-3 adversarial review (issue 18, 15 / 4f9d91f, eeba02e): can a client trip the PostgreSQL
// circuit breaker, and so answer 503 to everyone, with work it causes itself (a huge export, a
// query that hits the statement timeout, a full pool) while the server answers? Against the real
// PostgreSQL of the stack. Each held: the probe runs on a connection of its own and answers, so the
// breaker stays closed and every other query is answered.
const URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const d = URL ? describe : describe.skip;
const opened = (c: PgClient) => (c as unknown as { breaker: { opened: number; isOpen: boolean } }).breaker;

d('round-3 attack: client-caused slowness does not open the PostgreSQL breaker', () => {
  const clients: PgClient[] = [];
  afterAll(async () => {
    for (const c of clients) await c.close();
  });
  const connect = async (max: number, bounds: object = {}) => {
    const c = await PgClient.connect(URL!, max, bounds);
    clients.push(c);
    return c;
  };

  it('a 2.5 s query (a huge export) beside a stream of short ones: all answered, the slow one with its rows, the breaker never opens', async () => {
    const c = await connect(4);
    const slow = c.query<{ v: number }>('SELECT 42 AS v FROM pg_sleep(2.5)');
    const quick: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      quick.push(c.query('SELECT $1::int AS i', [i]));
      await new Promise((r) => setTimeout(r, 100));
    }
    await expect(Promise.all(quick)).resolves.toHaveLength(20);
    expect((await slow).rows).toEqual([{ v: 42 }]);
    expect(opened(c)).toMatchObject({ opened: 0, isOpen: false });
  });

  it('a pool held full by slow queries (calls queue > 1 s for a connection): the probe gets its own connection, nothing is refused', async () => {
    const c = await connect(2);
    const hold = [c.query('SELECT pg_sleep(2)'), c.query('SELECT pg_sleep(2)')];
    const queued = Array.from({ length: 6 }, (_, i) => c.query<{ i: number }>('SELECT $1::int AS i', [i]));
    const got = await Promise.all(queued);
    expect(got.map((r) => r.rows[0].i)).toEqual([0, 1, 2, 3, 4, 5]);
    await Promise.all(hold);
    expect(opened(c)).toMatchObject({ opened: 0, isOpen: false });
  });

  it('ten queries a client makes run into the statement timeout at once: each is its own 503, the breaker stays closed and the next query is answered', async () => {
    const c = await connect(12, { statement_timeout: 300 });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => c.query('SELECT pg_sleep(1.5)').then(() => 'answered', (e: unknown) => (e instanceof StoreUnavailableError ? 'unavailable' : String(e)))));
    expect(outcomes).toEqual(Array(10).fill('unavailable'));
    expect((await c.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(opened(c)).toMatchObject({ opened: 0, isOpen: false });
  });
});
