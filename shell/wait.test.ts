// Waiting for admission against a fake store and clock: woken by the store's watch, and still working by polling
// when no inotify instance is left (every helper runs as root and shares root's 128).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Session } from '../api/session.ts';
import { FakeClock } from '../test/fakes/clock.ts';
import type { HelperDeps } from './helper.ts';
import { waitForSession } from './wait.ts';

function deps(watch: (fn: (name: string) => void) => () => void, phase: () => string, clock: FakeClock): HelperDeps {
  const s = { metadata: { name: 's1' }, status: { phase: phase() } };
  return {
    clock,
    loginTimeoutMs: 30_000,
    store: { watch, get: () => ({ ...s, status: { phase: phase() } }) as unknown as Session },
    io: { stderr: { write: () => true } },
    controller: () => ({ pid: process.pid, startTime: 'x', node: 'n', version: 'v', startedAt: '' }),
    proc: { startTime: () => 'x', exists: () => true },
  } as unknown as HelperDeps;
}

test('with no inotify instance left the helper polls every 20 ms instead of failing the login', async () => {
  const clock = new FakeClock();
  let phase = 'Pending';
  const d = deps(() => {
    throw Object.assign(new Error('EMFILE: too many open files, watch'), { code: 'EMFILE' });
  }, () => phase, clock);
  const waiting = waitForSession(d, 's1');
  await clock.advance(0);
  assert.deepEqual(clock.pendingDelays(), [20]);
  phase = 'Ready';
  await clock.advance(20);
  assert.equal((await waiting).status.phase, 'Ready');
});

test('with a watch, it sleeps 250 ms between reads and is woken early by a change to its session', async () => {
  const clock = new FakeClock();
  let phase = 'Pending';
  let notify: (name: string) => void = () => {};
  let unwatched = false;
  const d = deps((fn) => {
    notify = fn;
    return () => (unwatched = true);
  }, () => phase, clock);
  const waiting = waitForSession(d, 's1');
  await clock.advance(0);
  assert.deepEqual(clock.pendingDelays(), [250]);
  phase = 'Ready';
  notify('s1');
  assert.equal((await waiting).status.phase, 'Ready');
  assert.ok(unwatched, 'the watch is closed once admitted');
});
