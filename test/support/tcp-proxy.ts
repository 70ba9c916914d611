import { createServer, Server, Socket, connect } from 'node:net';

/**
 * A small TCP proxy for fault injection in tests: `forward` (normal), `blackhole` (accepts and
 * holds connections, forwards nothing either way: a partitioned or frozen server) and `refuse`
 * (every open connection is reset and new ones are closed at once: a stopped server).
 */
export class TcpProxy {
  private mode: 'forward' | 'blackhole' | 'refuse' = 'forward';
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket }>();
  private constructor(private readonly server: Server, readonly port: number, private readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => proxy.accept(client));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    proxy = new TcpProxy(server, (server.address() as { port: number }).port, target);
    return proxy;
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'refuse') return void client.destroy();
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.pairs.add(pair);
    client.on('close', () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    if (this.mode === 'blackhole') {
      client.pause();
      return;
    }
    this.link(pair);
  }

  private link(pair: { client: Socket; upstream?: Socket }): void {
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => pair.client.destroy());
    upstream.on('close', () => pair.client.destroy());
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    pair.client.resume();
  }

  forward(): void {
    const was = this.mode;
    this.mode = 'forward';
    if (was !== 'blackhole') return;
    for (const p of this.pairs) {
      if (!p.upstream) this.link(p);
      else {
        p.client.pipe(p.upstream);
        p.upstream.pipe(p.client);
        p.client.resume();
        p.upstream.resume();
      }
    }
  }

  /** Nothing passes either way; connections stay open (TCP-level silence). */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream?.pause();
      p.client.unpipe();
      p.upstream?.unpipe();
    }
  }

  /** Like a stopped server: open connections are reset, new ones closed. */
  refuse(): void {
    this.mode = 'refuse';
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.refuse();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
