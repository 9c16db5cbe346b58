// Every state the engine can report for her container, against the fake engine: the exact engine calls, and an
// outcome that lets her log in or refuses with a reason (never a wait for the login timeout).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANN, basePolicy, World } from '../test/fakes/world.ts';
import { desiredContainer } from './container-spec.ts';
import { BUSY_RETRIES } from './containers.ts';
import { UnavailableError } from '../lib/errors.ts';
import { EngineFailedError } from '../engine/docker.ts';
import type { ContainerState } from '../engine/docker.ts';

const EXEC = (id: string) => `exec ${id.slice(0, 4)} 1001:1001: /bin/sh -l -c id`;

/** Her container as doshd made it for the current policy, in a state. */
function seeded(w: World, state: ContainerState) {
  w.engine.seed('dosh-ann', desiredContainer(basePolicy(), ANN, 'node1').body.Labels!);
  return w.engine.setState('dosh-ann', state);
}

/** Runs the worker as doshd would, the backoff elapsing between attempts, until the session leaves Pending. */
async function settle(w: World, name: string, between: (attempt: number) => void = () => {}): Promise<number> {
  w.controller.enqueueSession(name);
  for (let attempt = 1; attempt <= 20; attempt++) {
    await w.controller.processNextWorkItem();
    if (w.get(name).status.phase !== 'Pending') return attempt;
    between(attempt);
    await w.clock.advance(60_000);
  }
  assert.fail(`still Pending after 20 attempts: ${w.engine.actions.join(', ')}`);
}

test('running: used as it is', async () => {
  const w = new World();
  const c = seeded(w, 'running');
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', EXEC(c.id)]);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
});

for (const state of ['created', 'exited'] as const) {
  test(`${state}: started, with the start hooks, then the login is Ready`, async () => {
    const w = new World();
    w.policyFor = () => basePolicy({ runScripts: true, scriptsFolder: '/etc/dosh/scripts' });
    const c = seeded(w, state);
    const s = w.login();
    await w.controller.syncSession(s.metadata.name);
    assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `start ${c.id.slice(0, 4)}`, EXEC(c.id)]);
    assert.deepEqual(w.hookCalls.map((h) => h.split(' ')[0]), ['prestart', 'start', 'preexec']);
    assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
    assert.equal(w.get(s.metadata.name).status.container?.id, c.id);
  });
}

test('paused: refused at once with ContainerPaused, telling how to unpause; the container is left alone', async () => {
  const w = new World();
  seeded(w, 'paused');
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann']);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Failed');
  assert.equal(got.status.reason, 'ContainerPaused');
  assert.match(got.status.message!, /dosh-ann is paused.*docker unpause dosh-ann/);
  assert.equal(w.engine.containers.get('dosh-ann')!.state, 'paused');
});

test('dead: removed and created again (it cannot be started), with a warning event on the login', async () => {
  const w = new World();
  const c = seeded(w, 'dead');
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const fresh = w.engine.containers.get('dosh-ann')!;
  assert.notEqual(fresh.id, c.id);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `remove ${c.id.slice(0, 4)}`, 'create dosh-ann', `start ${fresh.id.slice(0, 4)}`, EXEC(fresh.id)]);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  assert.match(w.events.of(`Session/${s.metadata.name}`)[1], /^Warning ContainerRecreated: removed container dosh-ann, which the engine reports dead/);
});

test('dead and not removable yet (its filesystem busy): renamed out of her way, and hers is created again at once', async () => {
  const w = new World();
  const c = seeded(w, 'dead');
  w.engine.removeErrors.set(c.id, new EngineFailedError('remove container: driver failed to remove root filesystem: device or resource busy'));
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const fresh = w.engine.containers.get('dosh-ann')!;
  assert.notEqual(fresh.id, c.id);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `remove ${c.id.slice(0, 4)}`, `rename ${c.id.slice(0, 4)} dosh-ann-dead-${c.id.slice(0, 12)}`, 'create dosh-ann', `start ${fresh.id.slice(0, 4)}`, EXEC(fresh.id)]);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  assert.match(w.events.of(`Session/${s.metadata.name}`)[1], /^Warning ContainerRecreated: renamed container dosh-ann, which the engine reports dead and cannot remove yet \(.*device or resource busy\), to dosh-ann-dead-/);
});

test('dead, not removable and not renamable: retried for a while, then refused with ContainerDead naming the engine\'s errors and the fix', async () => {
  const w = new World();
  const c = seeded(w, 'dead');
  w.engine.removeErrors.set(c.id, new UnavailableError('remove container: driver failed to remove root filesystem: device or resource busy'));
  w.engine.containers.set(`dosh-ann-dead-${c.id.slice(0, 12)}`, { ...c, name: 'taken' });
  const s = w.login();
  const attempts = await settle(w, s.metadata.name);
  assert.equal(attempts, BUSY_RETRIES + 1);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'ContainerDead');
  assert.match(got.status.message!, /dosh-ann is dead.*device or resource busy.*nor renamed.*docker rm -f dosh-ann/);
});

test('exited, and the engine will not start it (an orphaned task after an engine restart): removed and created again, so she is not locked out', async () => {
  const w = new World();
  const c = seeded(w, 'exited');
  w.engine.startErrors.set(c.id, new EngineFailedError('start container: task 1a82a437f08f: already exists'));
  const s = w.login();
  await assert.rejects(w.controller.syncSession(s.metadata.name), /would not start \(start container: task 1a82a437f08f: already exists\); removed, to be created again/);
  await w.controller.syncSession(s.metadata.name);
  const fresh = w.engine.containers.get('dosh-ann')!;
  assert.notEqual(fresh.id, c.id);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `start ${c.id.slice(0, 4)}`, `remove ${c.id.slice(0, 4)}`, 'inspect dosh-ann', 'create dosh-ann', `start ${fresh.id.slice(0, 4)}`, EXEC(fresh.id)]);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
});

test('restarting: the login waits (requeued with backoff) and is Ready once the container runs', async () => {
  const w = new World();
  const c = seeded(w, 'restarting');
  const s = w.login();
  const attempts = await settle(w, s.metadata.name, (n) => void (n === 2 && w.engine.setState('dosh-ann', 'running')));
  assert.equal(attempts, 3);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'inspect dosh-ann', 'inspect dosh-ann', EXEC(c.id)]);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
});

test('restarting for good: refused with ContainerRestarting after the bounded wait, never touched', async () => {
  const w = new World();
  seeded(w, 'restarting');
  const s = w.login();
  const attempts = await settle(w, s.metadata.name);
  assert.equal(attempts, BUSY_RETRIES + 1);
  assert.deepEqual(new Set(w.engine.actions), new Set(['inspect dosh-ann']));
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'ContainerRestarting');
  assert.match(got.status.message!, /dosh-ann keeps restarting.*docker logs dosh-ann/);
});

test('removing: the login waits for the removal to end, then creates her container', async () => {
  const w = new World();
  seeded(w, 'removing');
  const s = w.login();
  const attempts = await settle(w, s.metadata.name, (n) => void (n === 1 && w.engine.containers.delete('dosh-ann')));
  assert.equal(attempts, 2);
  const fresh = w.engine.containers.get('dosh-ann')!;
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'inspect dosh-ann', 'create dosh-ann', `start ${fresh.id.slice(0, 4)}`, EXEC(fresh.id)]);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
});

test('removing for good: refused with ContainerRemoving after the bounded wait', async () => {
  const w = new World();
  seeded(w, 'removing');
  const s = w.login();
  await settle(w, s.metadata.name);
  assert.deepEqual(new Set(w.engine.actions), new Set(['inspect dosh-ann']));
  assert.equal(w.get(s.metadata.name).status.reason, 'ContainerRemoving');
});

test('a policy rollout leaves a paused container alone', async () => {
  const w = new World();
  const c = w.engine.seed('dosh-ann', desiredContainer(basePolicy({ image: 'busybox:old' }), ANN, 'node1').body.Labels!);
  w.engine.setState('dosh-ann', 'paused');
  w.engine.actions = [];
  assert.deepEqual(await w.controller.policyChanged(), { recreated: 0 });
  assert.equal(w.engine.containers.get('dosh-ann')!.id, c.id);
  assert.ok(!w.engine.actions.some((a) => !a.startsWith('inspect')), w.engine.actions.join(', '));
});
