// A policy change on the fake engine: idle outdated containers are recreated with the new policy (with the prerun
// and run hooks, as any creation), a container under a live session never is, and one the new policy refuses is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basePolicy, World } from '../test/fakes/world.ts';
import { RefusedError } from '../lib/errors.ts';

async function idleContainerOf(w: World, user = 'ann'): Promise<string> {
  const s = w.login(user);
  await w.controller.syncSession(s.metadata.name);
  w.store.delete(s.metadata.name);
  return w.engine.containers.get(`dosh-${user}`)!.id;
}

test('an idle container that predates the new policy is recreated with it; one that matches is left alone', async () => {
  const w = new World();
  w.users.set('bob', { ...w.users.get('ann')!, name: 'bob', uid: 1002 });
  const annOld = await idleContainerOf(w);
  const bobOld = await idleContainerOf(w, 'bob');
  w.policyFor = (u) => (u.name === 'ann' ? basePolicy({ runScripts: true, scriptsFolder: '/etc/dosh/scripts', command: ['/bin/bash'] }) : basePolicy());
  w.engine.actions = [];
  const r = await w.controller.policyChanged();
  assert.equal(r.recreated, 1);
  const annNew = w.engine.containers.get('dosh-ann')!;
  assert.notEqual(annNew.id, annOld);
  assert.deepEqual(annNew.cmd, ['/bin/bash']);
  assert.equal(annNew.state, 'running');
  assert.equal(w.engine.containers.get('dosh-bob')!.id, bobOld, 'bob\'s matches: untouched');
  assert.deepEqual(w.engine.actions.filter((a) => !a.startsWith('inspect')), [`remove ${annOld.slice(0, 4)}`, 'create dosh-ann', `start ${annNew.id.slice(0, 4)}`]);
  assert.deepEqual(w.hookCalls.map((h) => h.split(' ')[0]), ['prerun', 'run'], 'created as any container is: with its hooks');
  assert.ok(w.events.of('User/ann').some((e) => /ContainerRecreated/.test(e)));
});

test('a container under a live session is not recreated; a user the new policy refuses keeps hers for the idle timeout', async () => {
  const w = new World();
  w.users.set('bob', { ...w.users.get('ann')!, name: 'bob', uid: 1002 });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const annId = w.engine.containers.get('dosh-ann')!.id;
  const bobId = await idleContainerOf(w, 'bob');
  w.policyFor = (u) => {
    if (u.name === 'bob') throw new RefusedError('PolicyError', 'bob may not log in');
    return basePolicy({ image: 'busybox:new' });
  };
  const r = await w.controller.policyChanged();
  assert.equal(r.recreated, 0);
  assert.equal(w.engine.containers.get('dosh-ann')!.id, annId);
  assert.equal(w.engine.containers.get('dosh-bob')!.id, bobId);
});

test('a user the new policy moves to the kubernetes backend: her idle container is not recreated on this host', async () => {
  const w = new World();
  const old = await idleContainerOf(w);
  w.policyFor = () => basePolicy({ backend: 'kubernetes', command: ['/bin/bash'] });
  w.engine.actions = [];
  const r = await w.controller.policyChanged();
  assert.equal(r.recreated, 0);
  assert.equal(w.engine.containers.get('dosh-ann')!.id, old, 'left for her idle timeout');
  assert.deepEqual(w.engine.actions.filter((a) => a.startsWith('create') || a.startsWith('remove')), []);
});

test('a policy reload marks a live pod session ContainerOutdated when her pod predates it, and clears it when it matches again', async () => {
  const w = new World({}, { pods: true });
  w.policyFor = () => basePolicy({ backend: 'kubernetes' });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  const outdated = () => w.get(s.metadata.name).status.conditions.find((c) => c.type === 'ContainerOutdated');
  w.pods.actions = [];
  w.pods.outdated = true;
  await w.controller.policyChanged();
  assert.deepEqual(w.pods.actions, ['outdated? dosh/dosh-ann'], 'her pod is asked, not the engine');
  assert.equal(outdated()?.status, 'True');
  assert.equal(outdated()?.message, 'the pod predates the current policy');
  w.pods.outdated = false;
  await w.controller.policyChanged();
  assert.equal(outdated()?.status, 'False');
  w.pods.outdated = undefined; // gone: nothing to say
  await w.controller.policyChanged();
  assert.equal(outdated()?.status, 'False');
});
