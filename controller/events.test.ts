// The event recorder against a real store in a temp directory and a manual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeClock } from '../test/fakes/clock.ts';
import { createLogger } from '../lib/log.ts';
import { eventStore } from '../store/events.ts';
import { EventRecorder } from './events.ts';

function setup(over: { maxPerObject?: number; maxTotal?: number } = {}) {
  const clock = new FakeClock();
  const logs: string[] = [];
  const store = eventStore(mkdtempSync(path.join(tmpdir(), 'dosh-events-')), { clock });
  store.init();
  const rec = new EventRecorder({ store, clock, log: createLogger({ json: true, write: (l) => logs.push(l) }), host: 'node1', ttlMs: 3600_000, ...over });
  return { clock, store, rec, logs };
}

const ANN = { kind: 'Session', name: 'ann-1' } as const;

test('an event is stored with its object, type, reason, message, count 1 and its source', () => {
  const { store, rec, clock } = setup();
  rec.record(ANN, 'Normal', 'Ready', 'container dosh-ann is running');
  const [e] = store.list();
  assert.deepEqual(e.involvedObject, ANN);
  assert.equal(e.kind, 'Event');
  assert.equal(e.apiVersion, 'dosh.io/v1alpha1');
  assert.equal(e.type, 'Normal');
  assert.equal(e.reason, 'Ready');
  assert.equal(e.count, 1);
  assert.equal(e.firstTimestamp, new Date(clock.now()).toISOString());
  assert.equal(e.lastTimestamp, e.firstTimestamp);
  assert.deepEqual(e.source, { component: 'doshd', host: 'node1' });
});

test('a repeat within 10 minutes increments the count and the last timestamp; later, or different, is a new event', async () => {
  const { store, rec, clock } = setup();
  const first = clock.now();
  rec.record(ANN, 'Warning', 'HookFailed', 'quota exited 3');
  await clock.advance(60_000);
  rec.record(ANN, 'Warning', 'HookFailed', 'quota exited 3');
  let all = store.list();
  assert.equal(all.length, 1);
  assert.equal(all[0].count, 2);
  assert.equal(all[0].firstTimestamp, new Date(first).toISOString());
  assert.equal(all[0].lastTimestamp, new Date(first + 60_000).toISOString());
  rec.record(ANN, 'Warning', 'HookFailed', 'quota exited 4');
  rec.record({ kind: 'Session', name: 'ann-2' }, 'Warning', 'HookFailed', 'quota exited 3');
  await clock.advance(10 * 60_000 + 1);
  rec.record(ANN, 'Warning', 'HookFailed', 'quota exited 3');
  all = store.list();
  assert.equal(all.length, 4);
  assert.deepEqual(all.map((e) => e.count).sort(), [1, 1, 1, 2]);
});

test('once: nothing is recorded when the object already has an event with that reason', () => {
  const { store, rec } = setup();
  rec.record(ANN, 'Normal', 'Ended', 'exit code 0', { once: true });
  rec.record(ANN, 'Normal', 'Ended', 'exit code 0', { once: true });
  rec.record(ANN, 'Normal', 'Ended', 'something else', { once: true });
  assert.equal(store.list().length, 1);
  assert.equal(store.list()[0].count, 1);
});

test('sweep deletes events whose last occurrence is older than the time to live', async () => {
  const { store, rec, clock } = setup();
  rec.record(ANN, 'Normal', 'Admitted', 'a');
  await clock.advance(30 * 60_000);
  rec.record(ANN, 'Normal', 'Ready', 'b');
  await clock.advance(31 * 60_000);
  rec.sweep(clock.now());
  assert.deepEqual(store.list().map((e) => e.reason), ['Ready']);
  await clock.advance(30 * 60_000);
  rec.sweep(clock.now());
  assert.deepEqual(store.list(), []);
  rec.record(ANN, 'Normal', 'Ready', 'b');
  assert.equal(store.list()[0].count, 1, 'a swept event does not aggregate');
});

test('at most N events per object: the oldest go first; other objects are untouched', async () => {
  const { store, rec, clock } = setup({ maxPerObject: 3 });
  rec.record({ kind: 'User', name: 'bob' }, 'Normal', 'GarbageCollected', 'x');
  for (let i = 0; i < 5; i++) {
    rec.record(ANN, 'Normal', 'HookRan', `run ${i}`);
    await clock.advance(1);
  }
  const mine = store.list().filter((e) => e.involvedObject.name === 'ann-1');
  assert.deepEqual(mine.map((e) => e.message).sort(), ['run 2', 'run 3', 'run 4']);
  assert.equal(store.list().length, 4);
});

test('sweep also trims objects over the limit, e.g. events left by a doshd with a higher limit', () => {
  const { store, rec, clock } = setup();
  for (let i = 0; i < 5; i++) rec.record(ANN, 'Normal', 'HookRan', `run ${i}`);
  const small = new EventRecorder({ store, clock, log: createLogger({ write: () => {} }), host: 'node1', ttlMs: 3600_000, maxPerObject: 2 });
  small.sweep(clock.now());
  assert.deepEqual(store.list().map((e) => e.message).sort(), ['run 3', 'run 4']);
});

test('user names that are not valid object names still get events', () => {
  const { store, rec } = setup();
  rec.record({ kind: 'User', name: 'Dr_Who' }, 'Normal', 'GarbageCollected', 'removed idle container dosh-Dr_Who');
  assert.equal(store.list()[0].involvedObject.name, 'Dr_Who');
  assert.match(store.list()[0].metadata.name, /^user\.dr-who\./);
});

test('a store that cannot be written is logged, never thrown to the caller', () => {
  const { store, rec, logs } = setup();
  // Its directory replaced by a file: every write fails (ENOTDIR), for root too, which permissions would not stop.
  rmSync(store.dir, { recursive: true });
  writeFileSync(store.dir, '');
  assert.doesNotThrow(() => rec.record(ANN, 'Normal', 'Ready', 'x'));
  assert.doesNotThrow(() => rec.sweep(Date.now()));
  assert.match(logs.join('\n'), /could not record an event/);
});

test('a broken store is logged, never thrown to the caller (also as root)', () => {
  const logs: string[] = [];
  const broken = new EventRecorder({
    store: { list: () => { throw new Error('EIO'); } } as never,
    clock: new FakeClock(),
    log: createLogger({ json: true, write: (l) => logs.push(l) }),
    host: 'node1',
    ttlMs: 1000,
  });
  assert.doesNotThrow(() => broken.record(ANN, 'Warning', 'Refused', 'x'));
  assert.doesNotThrow(() => broken.sweep(0));
  assert.match(logs.join('\n'), /could not record an event.*EIO/);
  assert.match(logs.join('\n'), /could not sweep events/);
});

test('at most maxTotal events in all: past it the oldest go, whatever they are about, down to a tenth under the cap', async () => {
  const { store, rec, clock, logs } = setup({ maxTotal: 100 });
  // 101 sessions, one event each: per-object bounds alone would keep them all.
  for (let i = 0; i < 101; i++) {
    rec.record({ kind: 'Session', name: `s-${i}` }, 'Normal', 'Admitted', 'x');
    await clock.advance(10);
  }
  const names = store.list().map((e) => e.involvedObject.name);
  assert.equal(names.length, 90);
  assert.ok(!names.includes('s-0') && !names.includes('s-10') && names.includes('s-11') && names.includes('s-100'), 'the oldest went');
  assert.equal(logs.filter((l) => l.includes('more events than --max-events')).length, 1, 'said once per trim');
  // The index stays in step with the store: more events, a repeat, a sweep.
  rec.record({ kind: 'Session', name: 's-100' }, 'Normal', 'Admitted', 'x');
  assert.equal(store.list().find((e) => e.involvedObject.name === 's-100')!.count, 2);
  rec.sweep(clock.now());
  assert.equal(store.list().length, 90);
});

test('the cap counts the events an earlier doshd left in the store', async () => {
  const { store, rec, clock } = setup({ maxTotal: 100 });
  for (let i = 0; i < 100; i++) rec.record({ kind: 'Session', name: `old-${i}` }, 'Normal', 'Admitted', 'x');
  const again = new EventRecorder({ store, clock, log: createLogger({ write: () => {} }), host: 'node1', ttlMs: 3600_000, maxTotal: 100 });
  await clock.advance(10);
  again.record({ kind: 'Session', name: 'new' }, 'Normal', 'Admitted', 'x');
  assert.equal(store.list().length, 90);
  assert.ok(store.list().some((e) => e.involvedObject.name === 'new'));
});

test('repeats are written at most once a second per event; the count in between is written by the next sweep or flush', async () => {
  const { store, rec, clock } = setup();
  const writes = () => store.list()[0].count;
  rec.record(ANN, 'Warning', 'RateLimited', 'too fast');
  rec.record(ANN, 'Warning', 'RateLimited', 'too fast');
  assert.equal(writes(), 2, 'the first repeat is written at once');
  for (let i = 0; i < 100; i++) rec.record(ANN, 'Warning', 'RateLimited', 'too fast');
  assert.equal(writes(), 2, 'repeats within the second are counted in memory');
  await clock.advance(1000);
  rec.record(ANN, 'Warning', 'RateLimited', 'too fast');
  assert.equal(writes(), 103, 'the first repeat after a second writes the whole count');
  rec.record(ANN, 'Warning', 'RateLimited', 'too fast');
  rec.sweep(clock.now());
  assert.equal(writes(), 104, 'a sweep writes what is pending');
  rec.record(ANN, 'Warning', 'RateLimited', 'too fast');
  rec.flush();
  assert.equal(writes(), 105, 'a flush writes what is pending');
  assert.equal(store.list()[0].lastTimestamp, new Date(clock.now()).toISOString());
});
