// Clock jumps (the injected clock moved years forward or a day back, as NTP or a sysadmin might) never end a live
// session or collect the container under it: liveness is the helper's pid and start time, never elapsed time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../test/fakes/world.ts';

async function runningSession(w: World) {
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Running' } }));
  return s.metadata.name;
}

for (const [what, jumpMs] of [['ten years forward', 10 * 365 * 86_400_000], ['a day back', -86_400_000]] as const) {
  test(`a clock jump ${what}: the live session stays Running and its container stays`, async () => {
    const w = new World();
    const name = await runningSession(w);
    await w.controller.housekeeping();
    await w.clock.advance(jumpMs);
    for (let i = 0; i < 3; i++) {
      await w.controller.housekeeping();
      await w.controller.syncSession(name);
      await w.clock.advance(60_000);
    }
    assert.equal(w.get(name).status.phase, 'Running');
    assert.ok(w.engine.containers.has('dosh-ann'));
    assert.ok(!w.engine.actions.some((a) => a.startsWith('remove')), w.engine.actions.join(', '));
  });
}

test('a jump back never collects an idle container early: its idle time counts from when it was first seen idle', async () => {
  const w = new World();
  const name = await runningSession(w);
  w.store.mutate(name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', endedAt: new Date(w.clock.now()).toISOString() } }));
  await w.controller.collector.collect(w.store.list());
  await w.clock.advance(-3_600_000);
  await w.controller.collector.collect(w.store.list());
  assert.ok(w.engine.containers.has('dosh-ann'), 'not collected by a jump back');
  // Once the clock is back past that moment plus the timeout, it goes.
  await w.clock.advance(3_600_000 + 60_000);
  await w.controller.collector.collect(w.store.list());
  assert.equal(w.engine.containers.has('dosh-ann'), false);
});
