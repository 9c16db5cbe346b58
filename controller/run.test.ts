// The controller's loop as doshd runs it: workers and the periodic housekeeping pass, until aborted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../test/fakes/world.ts';

async function passesReach(w: World, n: number): Promise<number> {
  let v = 0;
  for (let i = 0; i < 200; i++) {
    v = (await w.metrics.housekeepingPasses.get()).values[0]?.value ?? 0;
    if (v >= n) break;
    await new Promise((r) => setImmediate(r));
  }
  return v;
}

test('a housekeeping pass every resync interval, each counted in dosh_housekeeping_passes_total (a failed one too), and a login admitted meanwhile', async () => {
  const w = new World({ resyncIntervalMs: 1000 });
  const ac = new AbortController();
  const running = w.controller.run(ac.signal);
  assert.equal(await passesReach(w, 1), 1, 'the first pass runs at start');
  await w.clock.advance(999);
  assert.equal(await passesReach(w, 2), 1, 'not before the interval');
  await w.clock.advance(1);
  assert.equal(await passesReach(w, 2), 2);
  w.engine.down = true;
  await w.clock.advance(1000);
  assert.equal(await passesReach(w, 3), 3, 'a pass that failed (the engine down) is counted');
  w.engine.down = false;
  const s = w.login();
  w.controller.enqueueSession(s.metadata.name);
  for (let i = 0; i < 200 && w.get(s.metadata.name).status.phase === 'Pending'; i++) await new Promise((r) => setImmediate(r));
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  ac.abort();
  await running;
});
