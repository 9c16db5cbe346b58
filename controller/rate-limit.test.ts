import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserRateLimiter } from './rate-limit.ts';

test('a burst, then the sustained rate; users are limited separately', () => {
  let t = 0;
  const rl = new UserRateLimiter({ perSecond: 2, burst: 3 }, () => t);
  assert.deepEqual([rl.take('ann'), rl.take('ann'), rl.take('ann')], [undefined, undefined, undefined]);
  assert.equal(rl.take('ann'), 1, 'the fourth at once is refused, with when to try again');
  assert.equal(rl.take('bob'), undefined, 'another user is not affected');
  t += 500;
  assert.equal(rl.take('ann'), undefined, 'one more after 1/rate seconds');
  assert.equal(rl.take('ann'), 1);
  t += 10_000;
  assert.deepEqual([rl.take('ann'), rl.take('ann'), rl.take('ann'), rl.take('ann')], [undefined, undefined, undefined, 1], 'refills only up to the burst');
});

test('refused attempts do not count against her; a clock jump backwards refills nothing; 0 turns it off', () => {
  let t = 100_000;
  const rl = new UserRateLimiter({ perSecond: 1, burst: 1 }, () => t);
  assert.equal(rl.take('ann'), undefined);
  for (let i = 0; i < 100; i++) assert.equal(rl.take('ann'), 1);
  t += 1000;
  assert.equal(rl.take('ann'), undefined, 'the flood of refusals did not push her next login further away');
  t -= 3_600_000;
  assert.equal(rl.take('ann'), 1);
  t += 3_600_000 + 1000;
  assert.equal(rl.take('ann'), undefined);
  const off = new UserRateLimiter({ perSecond: 0, burst: 0 }, () => t);
  for (let i = 0; i < 1000; i++) assert.equal(off.take('ann'), undefined);
});

test('prune drops full buckets only: memory is bounded by the users active within a refill period', () => {
  let t = 0;
  const rl = new UserRateLimiter({ perSecond: 1, burst: 2 }, () => t);
  for (let i = 0; i < 1000; i++) rl.take(`u${i}`);
  rl.take('busy');
  rl.take('busy');
  t += 500;
  rl.prune();
  assert.equal(rl.size(), 1001, 'none has refilled to its burst yet');
  t += 500;
  rl.take('busy');
  t += 500;
  rl.prune();
  assert.equal(rl.size(), 1, 'only the one still below its burst is kept');
});
