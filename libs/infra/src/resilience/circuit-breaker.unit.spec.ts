import { CircuitBreaker } from './circuit-breaker';

class Down extends Error {}
const never = () => new Promise<never>(() => undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function breaker(probe: () => Promise<void>, changes: string[] = []) {
  return new CircuitBreaker({
    name: 'dep',
    probe,
    isOutage: (e) => e instanceof Down,
    unavailable: (d) => new Down(d),
    probeTimeoutMs: 100,
    slowCallMs: 100,
    probeEveryMs: 20,
    onChange: (open) => changes.push(open ? 'open' : 'closed'),
  });
}

describe('CircuitBreaker', () => {
  it('a slow call whose dependency does not answer a probe ends early with unavailable, and later calls fail at once until a probe answers', async () => {
    let up = false;
    const changes: string[] = [];
    const b = breaker(() => (up ? Promise.resolve() : never()), changes);
    const started = Date.now();
    await expect(b.run(never)).rejects.toBeInstanceOf(Down); // a black hole: slow call, probe times out
    expect(Date.now() - started).toBeLessThan(5_000); // slowCallMs + probeTimeoutMs = 200 ms; never the call's own (infinite) wait
    expect(b.isOpen).toBe(true);
    let calls = 0;
    await expect(b.run(async () => ++calls)).rejects.toThrow(/dep is down/);
    expect(calls).toBe(0); // not even attempted
    up = true;
    for (let i = 0; i < 200 && b.isOpen; i++) await sleep(10);
    expect(await b.run(async () => 'ok')).toBe('ok');
    expect(changes).toEqual(['open', 'closed']);
    b.stop();
  });

  it('a slow call on a dependency that answers probes is left alone (a slow query stays a slow query)', async () => {
    const b = breaker(() => Promise.resolve());
    expect(await b.run(async () => (await sleep(400), 'done'))).toBe('done');
    expect([b.isOpen, b.opened]).toEqual([false, 0]);
    b.stop();
  });

  it('a probe that fails while another call got its answer does not open (slow, not down)', async () => {
    const b = breaker(never);
    const slowCall = b.run(never).catch((e: unknown) => e);
    await sleep(150); // the slow call made it probe (100 ms); the probe waits up to 100 ms more
    expect(await b.run(async () => 'answered meanwhile')).toBe('answered meanwhile');
    await sleep(150);
    expect([b.isOpen, b.opened]).toEqual([false, 0]);
    b.stop();
    void slowCall;
  });

  it('an outage error opens only if the probe fails; other errors never probe', async () => {
    let probes = 0;
    let up = true;
    const b = breaker(async () => {
      probes++;
      if (!up) throw new Error('refused');
    });
    await expect(b.run(() => Promise.reject(new Error('a refusal, not an outage')))).rejects.toThrow('a refusal');
    expect(probes).toBe(0);
    await expect(b.run(() => Promise.reject(new Down('reset once')))).rejects.toBeInstanceOf(Down);
    await b.suspect();
    expect([probes > 0, b.isOpen]).toEqual([true, false]);
    up = false;
    await expect(b.run(() => Promise.reject(new Down('refused')))).rejects.toBeInstanceOf(Down);
    for (let i = 0; i < 100 && !b.isOpen; i++) await sleep(5);
    expect(b.isOpen).toBe(true);
    b.stop();
  });
});
