import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './workqueue.ts';
import { FakeClock } from '../test/fakes/clock.ts';

test('a key added twice is queued once', async () => {
  const q = new WorkQueue(new FakeClock());
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
});

test('a key re-added while processing is queued again only when done', async () => {
  const q = new WorkQueue(new FakeClock());
  q.add('a');
  const k = await q.get();
  q.add('a');
  assert.equal(q.len(), 0, 'not handed to a second worker while in flight');
  q.done(k!);
  assert.equal(q.len(), 1);
});

test('rate-limited adds back off exponentially per key and forget resets', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue(clock, { baseDelayMs: 10, maxDelayMs: 1000 });
  q.addRateLimited('a');
  assert.deepEqual(clock.pendingDelays(), [10]);
  await clock.advance(10);
  await q.get();
  q.done('a');
  q.addRateLimited('a');
  assert.deepEqual(clock.pendingDelays(), [20]);
  assert.equal(q.retries('a'), 2);
  q.forget('a');
  assert.equal(q.retries('a'), 0);
  await clock.advance(20);
  assert.equal(q.len(), 1);
});

test('get waits for an add, and shutDown releases waiters', async () => {
  const q = new WorkQueue(new FakeClock());
  const p = q.get();
  q.add('x');
  assert.equal(await p, 'x');
  const p2 = q.get();
  q.shutDown();
  assert.equal(await p2, undefined);
});

test('repeated delayed adds of one key keep one timer, the earliest', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue(clock);
  for (let i = 0; i < 100; i++) q.addAfter('a', 1000);
  q.addAfter('a', 500);
  assert.deepEqual(clock.pendingDelays(), [1000, 500]);
  await clock.advance(500);
  assert.equal(q.len(), 1);
  await clock.advance(500);
  assert.equal(q.len(), 1, 'the superseded timer adds nothing');
});
