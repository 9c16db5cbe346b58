// A manual clock for unit tests: sleeps resolve only when the test advances time.
import type { Clock } from '../../lib/clock.ts';

export class FakeClock implements Clock {
  private t: number;
  private timers: { at: number; delay: number; resolve: () => void }[] = [];

  constructor(start = Date.UTC(2026, 10, 30, 12, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = { at: this.t + ms, delay: ms, resolve };
      this.timers.push(timer);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  pendingDelays(): number[] {
    return this.timers.map((t) => t.delay);
  }

  async advance(ms: number): Promise<void> {
    this.t += ms;
    const due = this.timers.filter((t) => t.at <= this.t);
    this.timers = this.timers.filter((t) => t.at > this.t);
    for (const t of due) t.resolve();
    await new Promise((r) => setImmediate(r));
  }
}
