import { StoreUnavailableError } from '@app/domain';
import { PgClient, pgBoundsOf } from './pg-client';
import { isUnavailable } from './errors';
import { TcpProxy } from '../../../../test/support/tcp-proxy';

const DATABASE_URL = process.env.DATABASE_URL;

if (!DATABASE_URL) {
  console.warn('SKIPPED PgClient int: DATABASE_URL not set');
  describe.skip('PgClient — SKIPPED, DATABASE_URL not set', () => it('needs DATABASE_URL', () => undefined));
} else {
  describe('PgClient through a TCP proxy', () => {
    jest.setTimeout(60_000);
    let proxy: TcpProxy;
    let client: PgClient;
    beforeAll(async () => {
      const u = new URL(DATABASE_URL);
      proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
      u.host = `127.0.0.1:${proxy.port}`;
      client = await PgClient.connect(u.toString(), 4);
    });
    afterAll(async () => {
      proxy.forward();
      await client.close();
      await proxy.close();
    });

    it('the configured bounds (PG_*_MS, AppConfig.pgBounds) reach the pool: a short statement_timeout cancels, a short query_timeout ends a black-holed query', async () => {
      const u = new URL(DATABASE_URL);
      u.host = `127.0.0.1:${proxy.port}`;
      const short = await PgClient.connect(u.toString(), 2, pgBoundsOf({ connectTimeoutMs: 1000, statementTimeoutMs: 300, queryTimeoutMs: 800, idleInTransactionTimeoutMs: 5000 }));
      try {
        const t0 = Date.now();
        const cancelled = (await short.query('SELECT pg_sleep(2)').then(() => undefined, (e: unknown) => e)) as { cause?: { code?: string } } | undefined;
        expect(cancelled?.cause?.code).toBe('57014'); // query_canceled by statement_timeout (mapped to 503)
        expect(Date.now() - t0).toBeLessThan(1500);
        proxy.blackhole();
        const t1 = Date.now();
        const err = await short.query('SELECT 1').then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(StoreUnavailableError); // the 503 path, within query_timeout
        expect(Date.now() - t1).toBeLessThan(2500);
      } finally {
        proxy.forward();
        await short.close();
      }
    });

    it('a connection lost inside a transaction rejects as unavailable and does not crash the process; LISTEN is re-subscribed after the server returns', async () => {
      const channel = `t_${process.pid}`;
      const got: string[] = [];
      await client.listen(channel, (p) => got.push(p));
      const inTx = client.transaction(async (tx) => {
        await tx.query('SELECT 1');
        proxy.refuse(); // every connection, the transaction's and LISTEN's, is reset
        await tx.query('SELECT 2');
      });
      const err = await inTx.catch((e) => e);
      expect(isUnavailable(err) || (err as Error).name === 'StoreUnavailableError').toBe(true);
      proxy.forward();
      // Without the reconnect, a NOTIFY after recovery never arrives.
      const until = Date.now() + 10_000;
      while (!got.includes('after') && Date.now() < until) {
        await client.query('SELECT pg_notify($1, $2)', [channel, 'after']).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(got).toContain('after');
    });
  });
}
