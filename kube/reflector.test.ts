// The reflector against scripted list and watch requests and manual timers: synced only after a list, backoff after
// failures (reset by a list), a silent watch given up, 410 Gone relisted at once, and a stop that ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from './types.ts';
import { Reflector, type ListResult, type OpenWatch, type WatchLine } from './reflector.ts';

const obj = (name: string, rv: string): KubeObject => ({ apiVersion: 'dosh.io/v1alpha1', kind: 'Session', metadata: { name, namespace: 'ns', resourceVersion: rv } });
const tick = () => new Promise((r) => setImmediate(r));

/** Timers that fire only when the test says so. */
class Timers {
  pending: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  setTimer(fn: () => void, ms: number) {
    const t = { ms, fn, cancelled: false };
    this.pending.push(t);
    return { cancel: () => (t.cancelled = true) };
  }
  live(): number[] {
    return this.pending.filter((t) => !t.cancelled).map((t) => t.ms);
  }
  async fire(ms: number): Promise<void> {
    const t = this.pending.find((x) => !x.cancelled && x.ms === ms);
    assert.ok(t, `a timer of ${ms} ms (live: ${this.live()})`);
    t.cancelled = true;
    t.fn();
    await tick();
  }
}

/** A watch the test drives: send lines, end it, or fail it. */
class FakeWatch implements OpenWatch {
  done: Promise<void>;
  aborted = false;
  end!: () => void;
  fail!: (e: Error) => void;
  constructor(readonly rv: string, readonly send: (l: WatchLine) => void) {
    this.done = new Promise((res, rej) => ((this.end = res), (this.fail = rej)));
  }
  abort(): void {
    this.aborted = true;
    this.end();
  }
}

function setup() {
  const timers = new Timers();
  const log: string[] = [];
  const lists: { resolve(r: ListResult): void; reject(e: Error): void }[] = [];
  const watches: FakeWatch[] = [];
  const r = new Reflector({
    list: () => new Promise((resolve, reject) => lists.push({ resolve, reject })),
    watch: async (rv, onLine) => {
      const w = new FakeWatch(rv, onLine);
      watches.push(w);
      return w;
    },
    timers,
    backoff: { baseMs: 500, maxMs: 4000 },
    idleMs: 300_000,
    onEvent: (type, o) => log.push(`${type} ${o.metadata.name}`),
    onSynced: () => log.push(`synced ${r.list().length}`),
    onError: (e, retry) => log.push(`error ${e.message} retry ${retry}`),
  });
  return { r, timers, log, lists, watches };
}

test('synced is reported after the list, with its items in the cache; then it watches from the list\'s version', async () => {
  const { r, log, lists, watches } = setup();
  void r.run();
  await tick();
  assert.deepEqual(log, [], 'nothing before the list answers');
  lists[0].resolve({ items: [obj('a', '5')], resourceVersion: '7' });
  await tick();
  assert.deepEqual(log, ['add a', 'synced 1']);
  assert.equal(watches[0].rv, '7');
  watches[0].send({ type: 'MODIFIED', object: obj('a', '8') });
  watches[0].send({ type: 'ADDED', object: obj('b', '9') });
  watches[0].send({ type: 'BOOKMARK', object: obj('', '10') });
  watches[0].send({ type: 'DELETED', object: obj('a', '11') });
  assert.deepEqual(log.slice(2), ['update a', 'add b', 'delete a']);
  assert.deepEqual(r.list().map((o) => o.metadata.name), ['b']);
  // The server ends the watch (its timeoutSeconds): watched again from the last version, no list.
  watches[0].end();
  await tick();
  assert.equal(watches[1].rv, '11');
  assert.equal(lists.length, 1);
  r.stop();
});

test('failures back off (doubling, capped) and list again; a list that succeeds resets the delay', async () => {
  const { r, timers, log, lists } = setup();
  void r.run();
  await tick();
  lists[0].reject(new Error('no answer within 15s'));
  await tick();
  assert.deepEqual(log, ['error no answer within 15s retry 500']);
  for (const delay of [500, 1000, 2000, 4000]) {
    await timers.fire(delay);
    lists.at(-1)!.reject(new Error('refused'));
    await tick();
  }
  assert.equal(lists.length, 5);
  assert.deepEqual(timers.live(), [4000], 'capped');
  await timers.fire(4000);
  lists[5].resolve({ items: [], resourceVersion: '3' });
  await tick();
  assert.equal(log.at(-1), 'synced 0');
  r.stop();
});

test('a watch that sends nothing past the idle limit is given up and listed again; 410 Gone relists at once', async () => {
  const { r, timers, log, lists, watches } = setup();
  void r.run();
  await tick();
  lists[0].resolve({ items: [obj('a', '1')], resourceVersion: '1' });
  await tick();
  await timers.fire(300_000);
  assert.ok(watches[0].aborted);
  assert.deepEqual(log.slice(2), ['error the watch sent nothing for 300s retry 500']);
  await timers.fire(500);
  lists[1].resolve({ items: [obj('a', '1')], resourceVersion: '4' });
  await tick();
  assert.deepEqual(log.slice(3), ['synced 1'], 'an unchanged object is no event');
  watches[1].send({ type: 'ERROR', object: { code: 410, message: 'too old resource version' } });
  await tick();
  assert.equal(lists.length, 3, 'listed again without a delay or an error');
  assert.equal(log.length, 4);
  lists[2].resolve({ items: [], resourceVersion: '9' });
  await tick();
  assert.deepEqual(log.slice(4), ['delete a', 'synced 0']);
  r.stop();
});

test('stop ends a run that waits on its backoff, and aborts an open watch', async () => {
  const a = setup();
  const done = a.r.run();
  await tick();
  a.lists[0].reject(new Error('down'));
  await tick();
  a.r.stop();
  await done;
  const b = setup();
  const running = b.r.run();
  await tick();
  b.lists[0].resolve({ items: [], resourceVersion: '1' });
  await tick();
  b.r.stop();
  assert.ok(b.watches[0].aborted);
  await running;
  assert.deepEqual(b.timers.live(), [], 'no timer left behind');
});
