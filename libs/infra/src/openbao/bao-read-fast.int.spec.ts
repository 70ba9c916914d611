import http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { bao, baoClient, BaoError } from './bao-client';

// readFast (issue 23) keeps connections to OpenBao alive. A connection the server drops while it
// is idle in the pool must not fail the next read: a local server that answers the first request
// on each connection and drops the connection when a second one arrives on it (the idle-close race).
describe('BaoClient.readFast on a kept-alive connection the server dropped', () => {
  let server: http.Server;
  let addr: string;
  const perSocket = new WeakMap<Socket, number>();
  let served = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1) return void req.socket.destroy();
      served++;
      if (req.url?.includes('/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { data: { value: `v${served}` }, metadata: { version: 1 } } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends the read again on a new connection, once; answers and errors keep their meaning', async () => {
    const client = baoClient(addr, 't');
    const first = await client.readFast('secret/data/x?version=1');
    const second = await client.readFast('secret/data/x?version=1'); // its pooled connection is dropped: sent again
    expect([first.data.data.value, second.data.data.value]).toEqual(['v1', 'v2']);
    const missing = await bao(() => client.readFast('secret/data/missing')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(BaoError);
    expect((missing as BaoError).status).toBe(404);
  });
});
