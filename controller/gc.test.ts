// Container collection against the fake engine and store: the idle timeout, and the logins the store does not know of.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerCollector, loginProcesses, parseIdleClocks } from './gc.ts';
import type { IdleClocks } from './deps.ts';
import { silentLogger } from '../lib/log.ts';
import { World } from '../test/fakes/world.ts';
import { InvalidError, UnavailableError } from '../lib/errors.ts';

test('login processes: those outside the main process\'s tree, whatever order the engine lists them in', () => {
  const procs = [
    { pid: 30, ppid: 20 }, // grandchild listed before its parent
    { pid: 10, ppid: 1 }, // main
    { pid: 20, ppid: 10 },
    { pid: 40, ppid: 5 }, // an exec'd shell: its parent is the shim, outside the container
    { pid: 41, ppid: 40 },
  ];
  assert.deepEqual(loginProcesses(procs, 10).map((p) => p.pid), [40, 41]);
  assert.deepEqual(loginProcesses(procs.slice(0, 3), 10), []);
});

test('a container whose sessions the store lost is kept while a login runs in it, and collected once none does', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const c = w.engine.containers.get('dosh-ann')!;
  w.engine.logins.set(c.id, 2);
  w.store.delete(s.metadata.name); // the store wiped under a running login
  await w.controller.collector.collect([]);
  await w.clock.advance(60_000);
  w.engine.actions = [];
  await w.controller.collector.collect([]);
  assert.deepEqual(w.engine.actions, [`inspect ${c.id}`, `top ${c.id.slice(0, 4)}`]);
  assert.ok(w.engine.containers.has('dosh-ann'), 'kept: a login still runs in it');

  // The login ends: the idle time counts from when it was last seen busy.
  w.engine.logins.delete(c.id);
  await w.clock.advance(59_000);
  await w.controller.collector.collect([]);
  assert.ok(w.engine.containers.has('dosh-ann'), 'kept within the idle timeout after the login was last seen');
  await w.clock.advance(1_000);
  w.engine.actions = [];
  await w.controller.collector.collect([]);
  assert.deepEqual(w.engine.actions, [`inspect ${c.id}`, `top ${c.id.slice(0, 4)}`, `remove ${c.id.slice(0, 4)}`]);
  assert.equal(w.engine.containers.has('dosh-ann'), false);
});

test('a stopped idle container is removed without asking for its processes', async () => {
  const w = new World();
  const c = w.engine.seed('dosh-ann', { 'dosh.io/managed': 'true', 'dosh.io/user': 'ann', 'dosh.io/node': 'node1', 'dosh.io/idle-timeout': '60' }, false);
  await w.controller.collector.collect([]);
  await w.clock.advance(60_000);
  w.engine.actions = [];
  await w.controller.collector.collect([]);
  assert.deepEqual(w.engine.actions, [`remove ${c.id.slice(0, 4)}`]);
});

/** Her container as doshd made it, then stopped as an engine restart leaves it: exited, or created (never ran). */
async function stoppedContainer(w: World, status: 'created' | 'exited') {
  const first = w.login();
  await w.controller.syncSession(first.metadata.name);
  w.store.delete(first.metadata.name);
  return w.engine.setState('dosh-ann', status);
}

test('a container that never ran and will not start (left half-made by an engine restart) is removed and created anew', async () => {
  const w = new World();
  const bad = await stoppedContainer(w, 'created');
  w.engine.startErrors.set(bad.id, new UnavailableError('start container: task 1234: already exists'));
  const s = w.login();
  await assert.rejects(w.controller.syncSession(s.metadata.name), (e: Error) => e instanceof UnavailableError && /never ran and would not start.*removed, to be created again/.test(e.message));
  assert.equal(w.engine.containers.has('dosh-ann'), false, 'removed');
  await w.controller.syncSession(s.metadata.name); // the requeued attempt
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  assert.notEqual(w.engine.containers.get('dosh-ann')!.id, bad.id);
});

test('a stopped container that has run is never removed because it will not start: her data is in it', async () => {
  const w = new World();
  const old = await stoppedContainer(w, 'exited');
  w.engine.startErrors.set(old.id, new InvalidError('start container: cannot start'));
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.reason, 'EngineRefused');
  assert.equal(w.engine.containers.get('dosh-ann')!.id, old.id);
});

/** A collector as a restarted doshd builds it: the same engine, store and clock, the idle clocks it saved. */
function collectorOf(w: World, idleClocks: IdleClocks, log = silentLogger) {
  const d = { store: w.store, events: w.events, metrics: w.metrics, log, options: { node: 'node1', workers: 1, resyncIntervalMs: 1000, endedRetentionMs: 60_000, killGraceMs: 5000 }, clock: w.clock, engine: w.engine, idleClocks };
  return new ContainerCollector(d, (_u, fn) => fn());
}

function memoryClocks(): IdleClocks & { saved: unknown; saves: number } {
  const m = { saved: undefined as unknown, saves: 0, load: () => m.saved, save: (s: Record<string, number>) => void ((m.saved = structuredClone(s)), m.saves++) };
  return m;
}

test('a doshd restart does not start the idle timer again: the idle clocks are saved and read back', async () => {
  const w = new World();
  w.engine.seed('dosh-ann', { 'dosh.io/managed': 'true', 'dosh.io/user': 'ann', 'dosh.io/node': 'node1', 'dosh.io/idle-timeout': '60' }, true);
  const clocks = memoryClocks();
  const t0 = w.clock.now();
  await collectorOf(w, clocks).collect([]);
  assert.deepEqual(clocks.saved, { 'dosh-ann': t0 });
  await w.clock.advance(40_000);
  const restarted = collectorOf(w, clocks);
  await restarted.collect([]);
  assert.ok(w.engine.containers.has('dosh-ann'), '40 s idle: kept');
  assert.equal(clocks.saves, 1, 'nothing changed: nothing written');
  await w.clock.advance(20_000);
  await restarted.collect([]);
  assert.equal(w.engine.containers.has('dosh-ann'), false, '60 s idle in all, across the restart: removed');
  assert.deepEqual(clocks.saved, {}, 'its clock went with it');
});

test('a login clears the saved clock; a container that is gone is dropped from the saved clocks', async () => {
  const w = new World();
  const clocks = memoryClocks();
  clocks.saved = { 'dosh-ann': w.clock.now() - 10_000, 'dosh-gone': 5 };
  const gc = collectorOf(w, clocks);
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.ok(w.engine.containers.has('dosh-ann'));
  await gc.collect(w.store.list());
  assert.deepEqual(clocks.saved, {}, 'ann is logged in; dosh-gone does not exist');
});

test('saved clocks are checked: garbage is ignored, a time after now (the clock set back) counts from now', () => {
  const now = 1_000_000;
  assert.deepEqual([...parseIdleClocks(undefined, now)], []);
  assert.deepEqual([...parseIdleClocks('x', now)], []);
  assert.deepEqual([...parseIdleClocks([1, 2], now)], []);
  assert.deepEqual([...parseIdleClocks({ a: 5, b: 'x', c: -1, d: Number.NaN, e: null, f: now + 50 }, now)], [['a', 5], ['f', now]]);
});

test('a store that cannot take the clocks is said once, and collection goes on; the next save that works is written', async () => {
  const w = new World();
  w.engine.seed('dosh-ann', { 'dosh.io/managed': 'true', 'dosh.io/user': 'ann', 'dosh.io/node': 'node1', 'dosh.io/idle-timeout': '60' }, true);
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (msg: string) => void warnings.push(msg) };
  let failing = true;
  const saved: Record<string, number>[] = [];
  const clocks: IdleClocks = {
    load: () => {
      throw new Error('EACCES');
    },
    save: (s) => {
      if (failing) throw new Error('EROFS: read-only file system');
      saved.push(s);
    },
  };
  const gc = collectorOf(w, clocks, log);
  await gc.collect([]);
  w.engine.seed('dosh-bob', { 'dosh.io/managed': 'true', 'dosh.io/user': 'bob', 'dosh.io/node': 'node1', 'dosh.io/idle-timeout': '60' }, true);
  await gc.collect([]);
  assert.deepEqual(warnings, ['could not read the idle clocks; idle times start now', 'could not save the idle clocks; a doshd restart would start them again']);
  failing = false;
  await gc.collect([]);
  assert.deepEqual(Object.keys(saved.at(-1)!), ['dosh-ann', 'dosh-bob']);
  await w.clock.advance(60_000);
  await gc.collect([]);
  assert.equal(w.engine.containers.size, 0, 'collection never depended on saving');
});

test('a dead container (one renamed out of her way) is removed on the next pass once the engine can, whatever its idle timeout and her sessions', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const dead = w.engine.seed('dosh-ann-dead-0123456789ab', { ...w.engine.containers.get('dosh-ann')!.labels, 'dosh.io/idle-timeout': '0' }, false);
  w.engine.setState(dead.name, 'dead');
  w.engine.removeErrors.set(dead.id, new UnavailableError('remove container: device or resource busy'));
  await w.controller.housekeeping();
  assert.ok(w.engine.containers.has(dead.name), 'kept while the engine cannot remove it');
  w.engine.removeErrors.delete(dead.id);
  await w.controller.housekeeping();
  assert.ok(!w.engine.containers.has(dead.name), 'removed once it can be');
  assert.ok(w.engine.containers.has('dosh-ann'), 'her container, with her live session, is kept');
  assert.ok(w.events.of('User/ann').some((e) => e === 'Normal GarbageCollected: removed container dosh-ann-dead-0123456789ab, which the engine reported dead'));
});
