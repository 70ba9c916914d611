import { PeriodicRecorder } from './periodic-recorder';

class Probe extends PeriodicRecorder {
  readonly calls: string[] = [];
  release: () => void = () => undefined;
  constructor(private readonly seconds: number) {
    super();
  }
  protected periodSeconds(): number {
    return this.seconds;
  }
  protected recordDue(now: string): Promise<number> {
    this.calls.push(now);
    return new Promise((resolve) => (this.release = () => resolve(this.calls.length)));
  }
}

describe('PeriodicRecorder (the timer the expiry and rotation recorders share)', () => {
  afterEach(() => jest.useRealTimers());

  it('runs one scan at a time: a scan asked for during one shares its result', async () => {
    const p = new Probe(30);
    const first = p.scan(new Date('2026-01-01T00:00:00Z'));
    const second = p.scan(new Date('2026-02-01T00:00:00Z'));
    expect(p.calls).toEqual(['2026-01-01T00:00:00.000Z']);
    p.release();
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    // Once it ended, the next scan runs again.
    const third = p.scan(new Date('2026-03-01T00:00:00Z'));
    p.release();
    expect(await third).toBe(2);
    expect(p.calls).toEqual(['2026-01-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
  });

  it('scans every periodSeconds after bootstrap, and not after shutdown; shutdown waits for the scan in progress', async () => {
    jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z') });
    const p = new Probe(5);
    p.onApplicationBootstrap();
    jest.advanceTimersByTime(4_999);
    expect(p.calls).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(p.calls).toEqual(['2026-01-01T00:00:05.000Z']);
    let stopped = false;
    const shutdown = p.onApplicationShutdown().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    p.release();
    await shutdown;
    expect(stopped).toBe(true);
    jest.advanceTimersByTime(60_000);
    expect(p.calls).toHaveLength(1);
  });
});
