import { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

/**
 * The timer the command API's recorders share (grant expiry, access-request expiry, rotation
 * overdue): every `periodSeconds()` it runs `recordDue(now)`, one run at a time; shutdown waits
 * for the run in progress. `scan(now)` runs it at once (tests move `now` instead of waiting).
 * What is due, and recording it once through a decider, is each recorder's own.
 */
export abstract class PeriodicRecorder implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  /** How often to scan, read when the application starts. */
  protected abstract periodSeconds(): number;

  /** Records everything due at `now` (RFC 3339); returns how many events were recorded. Never throws for a failure the next period may cure. */
  protected abstract recordDue(now: string): Promise<number>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.scan(), this.periodSeconds() * 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Records every due fact; returns how many were recorded. One scan at a time: a scan asked for during one shares its result. */
  scan(now = new Date()): Promise<number> {
    if (!this.running) this.running = this.recordDue(now.toISOString()).finally(() => (this.running = undefined));
    return this.running;
  }
}
