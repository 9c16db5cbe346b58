// Admission repeated after the compare-and-swap that records Ready lost to another writer: the requeued attempt
// takes exactly the actions that are still needed, and no hook, exec or event twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basePolicy, World } from '../test/fakes/world.ts';
import { ANNOTATION_MESSAGE } from '../api/labels.ts';
import { InvalidError, RefusedError } from '../lib/errors.ts';

const HOOKS = basePolicy({ runScripts: true, scriptsFolder: '/etc/dosh/scripts' });

/**
 * A login whose first attempt lost its Ready write: another writer (doshctl drain's annotation, say) updated the
 * session while its preexec hooks ran. Returns the session's name once the attempt is over and the key requeued.
 */
async function afterLostReadyWrite(w: World): Promise<string> {
  w.policyFor = () => HOOKS;
  let once = true;
  let name = '';
  w.hookResult = (moment) => {
    if (moment === 'preexec' && once) {
      once = false;
      w.store.mutate(name, (cur) => ({ ...cur, metadata: { ...cur.metadata, annotations: { ...cur.metadata.annotations, [ANNOTATION_MESSAGE]: 'maintenance at 14:00' } } }));
    }
    return { ok: true, runs: [] };
  };
  name = w.login().metadata.name;
  w.controller.enqueueSession(name);
  await w.controller.processNextWorkItem();
  assert.equal(w.get(name).status.phase, 'Pending', 'the Ready write lost');
  assert.equal(w.controller.queue.retries(name), 1, 'requeued as a transient error');
  return name;
}

/** The requeued attempt, its backoff elapsed, with the actions and hook calls recorded from here on only. */
async function retry(w: World, name: string) {
  w.engine.actions = [];
  w.hookCalls = [];
  await w.clock.advance(50);
  await w.controller.processNextWorkItem();
  const got = w.get(name);
  assert.equal(got.status.phase, 'Ready');
  return got;
}

test('a conflict on the Ready write: the retry reuses the exec, runs no hook again and records Admitted once', async () => {
  const w = new World();
  const name = await afterLostReadyWrite(w);
  const id = w.engine.containers.get('dosh-ann')!.id.slice(0, 4);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'create dosh-ann', `start ${id}`, `exec ${id} 1001:1001: /bin/sh -l -c id`]);
  assert.deepEqual(w.hookCalls.map((h) => h.split(' ')[0]), ['prerun', 'run', 'preexec']);

  const got = await retry(w, name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann'], 'the container is checked again, nothing else is done');
  assert.deepEqual(w.hookCalls, [], 'no hook runs twice');
  assert.equal(got.status.execId, 'e2', 'the exec made by the first attempt');
  assert.equal(got.metadata.annotations[ANNOTATION_MESSAGE], 'maintenance at 14:00', 'the other writer\'s change is kept');
  assert.deepEqual(w.events.of(`Session/${name}`).map((e) => e.split(':')[0]), ['Normal Admitted', 'Normal ContainerCreated', 'Normal ContainerStarted', 'Normal Ready']);
});

test('a conflict, then her container made again before the retry: the preexec hooks run and the exec is made for the new container', async () => {
  const w = new World();
  const name = await afterLostReadyWrite(w);
  w.engine.containers.delete('dosh-ann'); // removed by an administrator meanwhile
  const got = await retry(w, name);
  const id = w.engine.containers.get('dosh-ann')!.id.slice(0, 4);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'create dosh-ann', `start ${id}`, `exec ${id} 1001:1001: /bin/sh -l -c id`]);
  assert.deepEqual(w.hookCalls.map((h) => h.split(' ')[0]), ['prerun', 'run', 'preexec']);
  assert.equal(got.status.container?.id.slice(0, 4), id);
  assert.equal(w.events.of(`Session/${name}`).filter((e) => e.startsWith('Normal Admitted')).length, 1);
});

test('what admission remembers is for that session only: a new session under the same name is admitted afresh', async () => {
  const w = new World();
  const name = await afterLostReadyWrite(w); // admission remembers its exec
  const first = w.get(name);
  w.store.delete(name);
  w.store.create({ ...first, metadata: { name }, status: { phase: 'Pending', conditions: [] } });
  w.engine.actions = [];
  w.hookCalls = [];
  await w.controller.syncSession(name);
  assert.equal(w.get(name).status.phase, 'Ready');
  assert.deepEqual(w.engine.actions.slice(1), [`exec ${w.engine.containers.get('dosh-ann')!.id.slice(0, 4)} 1001:1001: /bin/sh -l -c id`], 'a fresh exec');
  assert.deepEqual(w.hookCalls.map((h) => h.split(' ')[0]), ['preexec']);
});

test('a policy that puts her on the kubernetes backend, on a doshd without a Kubernetes connection: refused with BackendUnavailable, never given a container on this host', async () => {
  for (const existing of [false, true]) {
    const w = new World();
    const kube = basePolicy({ backend: 'kubernetes', runScripts: true, scriptsFolder: '/etc/dosh/scripts', provenance: { backend: { file: '/etc/dosh/dosh.conf', line: 7, section: 'group:hpc' } } });
    // Her container from the days her section said docker is not a way in either.
    if (existing) w.engine.seed('dosh-ann', { 'dosh.io/managed': 'true', 'dosh.io/user': 'ann', 'dosh.io/uid': '1001', 'dosh.io/node': 'node1' });
    w.policyFor = () => kube;
    w.engine.actions = [];
    const s = w.login();
    await w.controller.syncSession(s.metadata.name);
    const got = w.get(s.metadata.name);
    assert.equal(got.status.phase, 'Failed');
    assert.equal(got.status.reason, 'BackendUnavailable');
    assert.match(got.status.message ?? '', /kubernetes backend \(\/etc\/dosh\/dosh\.conf:7\), and this doshd has no Kubernetes connection/);
    assert.deepEqual(w.engine.actions, [], 'the engine is not even asked');
    assert.deepEqual(w.hookCalls, [], 'no hook runs');
    assert.equal(w.engine.containers.has('dosh-ann'), existing);
  }
});

test('the same policy on the docker backend is admitted (the refusal is the backend\'s alone)', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ backend: 'docker' });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
});

test('the kubernetes backend: her pod ensured, the exec made in it with her environment and directory, the preexec hooks with the pod\'s names; the engine is not asked', async () => {
  const w = new World({}, { pods: true });
  w.policyFor = () => basePolicy({ backend: 'kubernetes', runScripts: true, scriptsFolder: '/etc/dosh/scripts' });
  w.engine.actions = [];
  const s = w.login('ann', { tty: true, term: 'xterm' });
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Ready', got.status.message);
  assert.deepEqual(w.pods.actions, ['ensure ann', 'exec dosh/dosh-ann tty: /home/ann HOME=/home/ann USER=ann LOGNAME=ann SHELL=/bin/sh TERM=xterm /bin/sh -l -c id']);
  assert.equal(got.status.execId, 'pe1');
  assert.deepEqual(got.status.container, { id: 'pod:u1', name: 'dosh/dosh-ann', image: 'busybox:latest', pod: { namespace: 'dosh', name: 'dosh-ann', node: 'k1' } });
  assert.deepEqual(w.hookCalls, ['preexec dosh/dosh-ann /bin/sh -l -c id']);
  assert.deepEqual(w.engine.actions, []);
  assert.match(got.status.conditions.find((c) => c.type === 'Ready')?.message ?? '', /pod dosh\/dosh-ann is running on node k1/);

  // An administrator's delete closes the stream the bridge carries: no host process or cgroup to signal.
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Running' }, metadata: { ...cur.metadata, deletionTimestamp: new Date(w.clock.now()).toISOString() } }));
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.reason, 'Deleted');
  assert.deepEqual(w.pods.actions.slice(2), ['end pe1']);
  assert.deepEqual(w.cgroups.actions, []);
});

test('the kubernetes backend: the cluster\'s refusal is hers (PodFailed, with its words); a request the API server refuses is EngineRefused naming it', async () => {
  const w = new World({}, { pods: true });
  w.policyFor = () => basePolicy({ backend: 'kubernetes' });
  w.pods.fail = new RefusedError('PodFailed', "ann's pod dosh/dosh-ann cannot serve a login: Evicted: The node was low on resource: memory.");
  const a = w.login();
  await w.controller.syncSession(a.metadata.name);
  assert.equal(w.get(a.metadata.name).status.reason, 'PodFailed');
  assert.match(w.get(a.metadata.name).status.message ?? '', /Evicted: The node was low on resource: memory\.$/);
  w.pods.fail = new InvalidError('apply pod dosh/dosh-ann: pods is forbidden: User "system:serviceaccount:dosh:doshd" cannot patch resource "pods" in the namespace "dosh"');
  const b = w.login();
  await w.controller.syncSession(b.metadata.name);
  assert.equal(w.get(b.metadata.name).status.reason, 'EngineRefused');
  assert.match(w.get(b.metadata.name).status.message ?? '', /^the Kubernetes API server refused ann's pod: apply pod dosh\/dosh-ann: pods is forbidden/);
  assert.deepEqual(w.pods.actions, ['ensure ann', 'ensure ann'], 'no exec for a refused login');
});

test('housekeeping asks the kubernetes backend to collect idle pods, once a pass', async () => {
  const w = new World({}, { pods: true });
  await w.controller.housekeeping();
  await w.controller.housekeeping();
  assert.equal(w.pods.collections, 2);
});
