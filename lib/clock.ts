// Time, delays and randomness are injected so controller tests are fast and deterministic.
import { randomBytes } from 'node:crypto';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export type Random = (bytes: number) => string;
export const realRandom: Random = (bytes) => randomBytes(bytes).toString('hex');

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
