import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserRateLimiter } from './rate-limit.ts';
import { World } from '../test/fakes/world.ts';

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

test('doshd refuses the logins beyond a user\'s burst with RateLimited and when to retry; a requeued admission is not charged twice', async () => {
  const w = new World({ loginRate: { perSecond: 1, burst: 2 } });
  w.users.set('bob', { ...w.users.get('ann')!, name: 'bob', uid: 1002 });
  const [a, b, c] = [w.login(), w.login(), w.login()];
  w.engine.down = true; // the first admission fails transiently and is retried
  await w.controller.syncSession(a.metadata.name).catch(() => {});
  w.engine.down = false;
  for (const s of [a, b, c]) await w.controller.syncSession(s.metadata.name);
  assert.deepEqual([a, b, c].map((s) => w.get(s.metadata.name).status.phase), ['Ready', 'Ready', 'Failed']);
  assert.equal(w.get(c.metadata.name).status.reason, 'RateLimited');
  assert.match(w.get(c.metadata.name).status.message!, /ann is starting logins faster than this host allows \(2 at once, then 1 a second\); try again in 1 s/);
  const d = w.login('bob');
  await w.controller.syncSession(d.metadata.name);
  assert.equal(w.get(d.metadata.name).status.phase, 'Ready', 'another user is not limited by her');
  await w.clock.advance(1000);
  const e = w.login();
  await w.controller.syncSession(e.metadata.name);
  assert.equal(w.get(e.metadata.name).status.phase, 'Ready');

  // The refusal (1 s old now) is deleted 10 s after it was written, not after the 60 s retention of other ended
  // sessions: a flood cannot fill the store.
  await w.clock.advance(8000);
  await w.controller.syncSession(c.metadata.name);
  assert.ok(w.store.get(c.metadata.name));
  await w.clock.advance(1000);
  await w.controller.syncSession(c.metadata.name);
  assert.equal(w.store.get(c.metadata.name), undefined);
});

test('refusals for the rate are one event on the user with a stable message (so the recorder counts them), not one per refused login', async () => {
  const w = new World({ loginRate: { perSecond: 1, burst: 1 } });
  const logins = [w.login(), w.login(), w.login(), w.login()];
  for (const s of logins) await w.controller.syncSession(s.metadata.name);
  const limited = w.events.events.filter((e) => e.reason === 'RateLimited');
  assert.deepEqual(limited.map((e) => [e.type, e.object]), [['Warning', 'User/ann'], ['Warning', 'User/ann'], ['Warning', 'User/ann']]);
  assert.equal(new Set(limited.map((e) => e.message)).size, 1, 'the same message each time, so they aggregate');
  assert.equal(limited[0].message, 'logins of ann refused: started faster than this host allows (1 at once, then 1 a second)');
  assert.equal(w.events.events.filter((e) => e.object.startsWith('Session/') && e.reason === 'Refused').length, 0, 'no event per refused session');
});
