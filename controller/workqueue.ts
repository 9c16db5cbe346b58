// A work queue of keys with the semantics of client-go's rate-limited queue: a key is queued at most once, is never
// processed by two workers at a time (a key re-added while in flight is queued again when done), and failing keys
// back off exponentially per key.
import type { Clock } from '../lib/clock.ts';
import { isTransient } from '../lib/errors.ts';

export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private queue: string[] = [];
  private dirty = new Set<string>();
  private processing = new Set<string>();
  private failures = new Map<string, number>();
  private waiters: ((key: string | undefined) => void)[] = [];
  /** Keys waiting for a delayed add, with when: one timer per key, however often the same delay is asked for. */
  private delayed = new Map<string, number>();
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly clock: Clock,
    opts: QueueOptions = {},
  ) {
    this.baseDelayMs = opts.baseDelayMs ?? 50;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  addAfter(key: string, delayMs: number, signal?: AbortSignal): void {
    if (delayMs <= 0) return this.add(key);
    const due = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending !== undefined && pending <= due) return;
    this.delayed.set(key, due);
    void this.clock.sleep(delayMs, signal).then(() => {
      if (this.delayed.get(key) !== due) return; // superseded by an earlier one
      this.delayed.delete(key);
      if (!signal?.aborted) this.add(key);
    });
  }

  addRateLimited(key: string, signal?: AbortSignal): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n), signal);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * One step of a worker, client-go style: takes a key, runs `sync` on it and settles it: forgotten on success and on
   * a permanent error, requeued with backoff on a transient one (lib/errors.ts isTransient). False once shut down.
   */
  async processNext(sync: (key: string) => Promise<void>, settled: (key: string, result: 'success' | 'requeue' | 'error', err?: unknown) => void, signal?: AbortSignal): Promise<boolean> {
    const key = await this.get();
    if (key === undefined) return false;
    try {
      await sync(key);
      this.forget(key);
      settled(key, 'success');
    } catch (err) {
      if (isTransient(err)) {
        this.addRateLimited(key, signal);
        settled(key, 'requeue', err);
      } else {
        this.forget(key);
        settled(key, 'error', err);
      }
    } finally {
      this.done(key);
    }
    return true;
  }

  /** Resolves with the next key, or undefined once shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  len(): number {
    return this.queue.length;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
