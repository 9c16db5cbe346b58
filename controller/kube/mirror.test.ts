// The Session mirror against the fake store and a fake Kubernetes API: the exact calls made for each local change,
// kubectl delete ending the login through the finalizer, and an API server that is away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../../test/fakes/world.ts';
import { FakeKube } from '../../test/fakes/kube.ts';
import { nodeSlug, resourceName, SessionMirror } from './mirror.ts';
import { silentLogger } from '../../lib/log.ts';

function setup() {
  const w = new World();
  const kube = new FakeKube();
  const mirror = new SessionMirror({
    store: w.store,
    api: kube,
    remote: { get: (n) => kube.get(n), list: () => kube.list() },
    clock: w.clock,
    metrics: w.metrics,
    log: silentLogger,
    options: { node: 'node1', namespace: 'dosh-system', resyncIntervalMs: 30_000, workers: 1 },
  });
  return { w, kube, mirror };
}

test('resource names and node labels are valid Kubernetes names whatever the host is called', () => {
  assert.equal(nodeSlug('Login_01.Example.ORG'), 'login-01-example-org');
  assert.equal(nodeSlug('---'), 'node');
  assert.equal(nodeSlug('x'.repeat(80)).length, 63);
  assert.equal(resourceName('ann-x1y2z', 'Login_01'), 'ann-x1y2z.login-01');
});

test('a local session is applied with its spec, labels and finalizer, then its status; an unchanged one costs nothing', async () => {
  const { w, kube, mirror } = setup();
  const s = w.login();
  const name = `${s.metadata.name}.node1`;
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [`apply ${name}`, `status ${name} Pending`]);
  const o = kube.get(name)!;
  assert.deepEqual(o.metadata.finalizers, ['dosh.io/session-ended']);
  assert.deepEqual(o.metadata.labels, { 'dosh.io/user': 'ann', 'dosh.io/node': 'node1', 'dosh.io/session': s.metadata.name });
  assert.deepEqual(o.spec, JSON.parse(JSON.stringify(s.spec)));

  kube.actions = [];
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [], 'level-triggered and idempotent');

  await w.controller.syncSession(s.metadata.name); // Ready
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [`status ${name} Ready`], 'a status change is only a status apply');
});

test('a resource holds a few KiB of a login\'s arguments and says how many it left out; the node keeps them all', async () => {
  const { w, kube, mirror } = setup();
  const big = '\x01'.repeat(100_000);
  const s = w.login('ann', { mode: 'command', command: 'x'.repeat(1000), args: ['a', 'b', big, big] });
  const name = `${s.metadata.name}.node1`;
  await mirror.syncSession(s.metadata.name);
  const o = kube.get(name)!;
  const spec = o.spec as { args: string[]; command: string };
  assert.deepEqual(spec.args, ['a', 'b']);
  assert.equal(spec.command.length, 256);
  assert.equal(o.metadata.annotations?.['dosh.io/args-left-out'], '2');
  assert.ok(JSON.stringify(o).length < 8192, `the resource is small: ${JSON.stringify(o).length} bytes`);
  assert.equal(w.store.get(s.metadata.name)!.spec.args.length, 4);
  kube.actions = [];
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [], 'a clipped spec compares equal: no apply on every resync');
});

test('a session collected on the node is released and deleted', async () => {
  const { w, kube, mirror } = setup();
  const s = w.login();
  await mirror.syncSession(s.metadata.name);
  w.store.delete(s.metadata.name);
  kube.actions = [];
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [`apply ${s.metadata.name}.node1 (no finalizer)`, `delete ${s.metadata.name}.node1`]);
  assert.equal(kube.objects.size, 0);
});

test('kubectl delete ends the live login on the node; the finalizer is released once it has ended', async () => {
  const { w, kube, mirror } = setup();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  await mirror.syncSession(s.metadata.name);
  const name = `${s.metadata.name}.node1`;
  kube.kubectlDelete(name);
  kube.actions = [];
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [], 'nothing released while the login runs');
  assert.equal(w.get(s.metadata.name).metadata.deletionTimestamp, '2026-11-30T12:00:05Z', 'marked for the controller to end');
  assert.ok(kube.get(name), 'held by the finalizer');

  // The controller ends it (hang-up), as for doshctl delete session.
  await w.controller.syncSession(s.metadata.name);
  await w.clock.advance(6000);
  await w.controller.syncSession(s.metadata.name);
  assert.notEqual(w.get(s.metadata.name).status.phase, 'Running');
  assert.notEqual(w.get(s.metadata.name).status.phase, 'Ready');
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [`apply ${name} (no finalizer)`]);
  assert.equal(kube.get(name), undefined, 'gone once released');

  // The ended session stays in the store for its retention, and is not mirrored again.
  kube.actions = [];
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, []);
});

test('a session that ends gives up its finalizer: its resource stays for the retention, and a delete needs no node', async () => {
  const { w, kube, mirror } = setup();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  await mirror.syncSession(s.metadata.name);
  const name = `${s.metadata.name}.node1`;
  assert.deepEqual(kube.get(name)!.metadata.finalizers, ['dosh.io/session-ended'], 'held while live');
  // The helper records the end, as it does when the command exits.
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', exitCode: 0, endedAt: '2026-11-30T12:00:09Z' } }));
  kube.actions = [];
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [`apply ${name} (no finalizer)`, `status ${name} Succeeded`]);
  assert.deepEqual(kube.get(name)!.metadata.finalizers, []);
  kube.actions = [];
  await mirror.syncSession(s.metadata.name);
  assert.deepEqual(kube.actions, [], 'settled');
  // With doshd gone (uninstalled), kubectl delete of an ended session does not hang.
  kube.kubectlDelete(name);
  assert.equal(kube.get(name), undefined);
});

test('with the API server away the sync is retried with backoff, and catches up when it returns', async () => {
  const { w, kube, mirror } = setup();
  const s = w.login();
  kube.down = true;
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready', 'the login does not wait for the mirror');
  mirror.enqueueSession(s.metadata.name);
  await mirror.processNextWorkItem();
  assert.equal(mirror.queue.retries(s.metadata.name), 1);
  assert.deepEqual(w.clock.pendingDelays(), [500]);
  assert.equal((await w.metrics.kubeSyncs.get()).values.find((v) => v.labels.result === 'requeue')?.value, 1);

  kube.down = false;
  await w.clock.advance(500);
  await mirror.processNextWorkItem();
  assert.deepEqual(kube.actions, [`apply ${s.metadata.name}.node1`, `status ${s.metadata.name}.node1 Ready`]);
  assert.equal(mirror.queue.retries(s.metadata.name), 0, 'forgotten after success');
});

test('resync enqueues every local session and every resource of the node, so orphans left by an outage go', async () => {
  const { w, kube, mirror } = setup();
  const s = w.login();
  await mirror.syncSession(s.metadata.name);
  // Collected while the API was away: only the resource remains.
  w.store.delete(s.metadata.name);
  const t = w.login();
  mirror.resync();
  assert.equal(mirror.queue.len(), 2);
  kube.actions = [];
  while (mirror.queue.len() > 0) await mirror.processNextWorkItem();
  assert.deepEqual(kube.actions.sort(), [`apply ${s.metadata.name}.node1 (no finalizer)`, `apply ${t.metadata.name}.node1`, `delete ${s.metadata.name}.node1`, `status ${t.metadata.name}.node1 Pending`].sort());
});
