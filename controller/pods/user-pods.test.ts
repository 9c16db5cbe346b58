// Her pod found or made, and waited for, against a fake API (a map of pods whose status the test writes) and a clock
// whose sleeps pass at once. The real API server and kubelet: test/integration/user-pods.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { ANNOTATION_IN_USE, LABEL_HASH, LABEL_USER } from '../../api/labels.ts';
import type { Clock } from '../../lib/clock.ts';
import { ConflictError, InvalidError, NotFoundError, RefusedError } from '../../lib/errors.ts';
import { resolveText, user } from '../../policy/testkit.ts';
import { podHash, POD_MANAGER, UserPods, type PodApi } from './user-pods.ts';

const ANN = user('ann', ['staff'], 1500);
const POLICY = resolveText('BACKEND=kubernetes\nCONTAINERIMAGE=busybox:1\n', ANN);
const RUNNING: V1PodStatus = { phase: 'Running', containerStatuses: [{ name: 'dosh', image: 'busybox:1', imageID: '', restartCount: 0, ready: true, state: { running: {} } }] };

/** The API: pods by name; `statuses` is what the kubelet writes on each read, in turn (the last one stays). */
class FakePods implements PodApi {
  pods = new Map<string, V1Pod>();
  calls: string[] = [];
  statuses: V1PodStatus[] = [RUNNING];
  applyFails?: Error;
  async applyPod(pod: V1Pod, manager: string): Promise<V1Pod> {
    this.calls.push(`apply ${pod.metadata!.namespace}/${pod.metadata!.name} as ${manager}`);
    if (this.applyFails) throw this.applyFails;
    const made = { ...pod, metadata: { ...pod.metadata, uid: 'uid-1' }, status: { phase: 'Pending' } };
    this.pods.set(pod.metadata!.name!, made);
    return made;
  }
  async readPod(ns: string, name: string): Promise<V1Pod> {
    this.calls.push(`read ${ns}/${name}`);
    const p = this.pods.get(name);
    if (!p) throw new NotFoundError(`pods "${name}" not found`);
    const status = this.statuses.length > 1 ? this.statuses.shift()! : this.statuses[0];
    const next = { ...p, status };
    this.pods.set(name, next);
    return next;
  }
  async annotatePod(ns: string, name: string, annotations: Record<string, string>): Promise<V1Pod> {
    this.calls.push(`annotate ${ns}/${name} ${Object.entries(annotations).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    const p = this.pods.get(name)!;
    const next = { ...p, metadata: { ...p.metadata, annotations: { ...p.metadata?.annotations, ...annotations } } };
    this.pods.set(name, next);
    return next;
  }
  async deletePod(ns: string, name: string, uid: string): Promise<void> {
    this.calls.push(`delete ${ns}/${name} uid ${uid}`);
    this.pods.delete(name);
  }
}

function rig(readyTimeoutMs = 10_000, start = 0) {
  let t = start;
  const clock: Clock = { now: () => t, sleep: async (ms) => void (t += ms) };
  const api = new FakePods();
  return { api, pods: new UserPods({ api, clock, readyTimeoutMs, pollMs: 500 }) };
}

test('no pod yet: this node applies hers (the shared field manager, the policy digest as a label) and waits until it runs', async () => {
  const { api, pods } = rig();
  api.statuses = [{ phase: 'Pending' }, { phase: 'Pending', containerStatuses: [{ name: 'dosh', image: '', imageID: '', restartCount: 0, ready: false, state: { waiting: { reason: 'ContainerCreating' } } }] }, RUNNING];
  const got = await pods.ensure(POLICY, ANN);
  assert.deepEqual(got, { namespace: 'dosh', name: 'dosh-ann', uid: 'uid-1', node: '', outdated: false });
  assert.deepEqual(api.calls, ['read dosh/dosh-ann', `apply dosh/dosh-ann as ${POD_MANAGER}`, 'read dosh/dosh-ann', 'read dosh/dosh-ann', 'read dosh/dosh-ann']);
  const made = api.pods.get('dosh-ann')!;
  assert.equal(made.metadata!.labels![LABEL_USER], 'ann');
  assert.equal(made.metadata!.labels![LABEL_HASH], podHash(made));
});

test('her pod runs already: used as it is, nothing applied', async () => {
  const { api, pods } = rig();
  await pods.ensure(POLICY, ANN);
  api.calls = [];
  assert.equal((await pods.ensure(POLICY, ANN)).outdated, false);
  assert.deepEqual(api.calls, ['read dosh/dosh-ann']);
});

test('another node made it first from another policy: the apply conflicts, and hers is the pod that is there, outdated', async () => {
  const { api, pods } = rig();
  await pods.ensure(resolveText('BACKEND=kubernetes\nCONTAINERIMAGE=busybox:0\n', ANN), ANN);
  // This node reads before the other node's pod exists, then loses the race.
  const pod = api.pods.get('dosh-ann')!;
  api.pods.clear();
  const read = api.readPod.bind(api);
  let first = true;
  api.readPod = async (ns, name) => {
    if (first) {
      first = false;
      api.calls.push(`read ${ns}/${name}`);
      api.pods.set(name, pod);
      throw new NotFoundError('not found');
    }
    return read(ns, name);
  };
  api.applyFails = new ConflictError('Apply failed with 1 conflict: conflict with "doshd": .metadata.labels.dosh.io/policy-hash');
  api.calls = [];
  assert.deepEqual(await pods.ensure(POLICY, ANN), { namespace: 'dosh', name: 'dosh-ann', uid: 'uid-1', node: '', outdated: true });
  assert.deepEqual(api.calls, ['read dosh/dosh-ann', `apply dosh/dosh-ann as ${POD_MANAGER}`, 'read dosh/dosh-ann']);
});

test('a manifest the API server refuses, with no pod there: refused at once with its words', async () => {
  const { api, pods } = rig();
  api.applyFails = new InvalidError('Pod "dosh-ann" is invalid: spec.containers[0].resources.limits: Invalid value');
  await assert.rejects(pods.ensure(POLICY, ANN), (e: RefusedError) => e.reason === 'EngineRefused' && /the Kubernetes API server refused the pod dosh\/dosh-ann: .*Invalid value/.test(e.message));
});

test('an image the node cannot pull, an evicted pod: refused at once with the cluster\'s reason', async () => {
  const a = rig();
  a.api.statuses = [{ phase: 'Pending', containerStatuses: [{ name: 'dosh', image: '', imageID: '', restartCount: 0, ready: false, state: { waiting: { reason: 'ErrImagePull', message: 'pull access denied for busybox' } } }] }];
  await assert.rejects(a.pods.ensure(POLICY, ANN), (e: RefusedError) => e.reason === 'PodFailed' && e.message === "ann's pod dosh/dosh-ann cannot serve a login: ErrImagePull: pull access denied for busybox");
  const b = rig();
  b.api.statuses = [{ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }];
  await assert.rejects(b.pods.ensure(POLICY, ANN), (e: RefusedError) => e.reason === 'PodFailed' && /Evicted: The node was low on resource: memory\.$/.test(e.message));
});

test('no node for it within the wait: refused with the scheduler\'s message; a slow start: refused saying what it waited for', async () => {
  const a = rig(3000);
  a.api.statuses = [{ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' }] }];
  await assert.rejects(a.pods.ensure(POLICY, ANN), (e: RefusedError) => e.reason === 'PodUnschedulable' && e.message === "the cluster has no node for ann's pod dosh/dosh-ann: 0/1 nodes are available: 1 Insufficient memory.");
  assert.equal(a.api.calls.filter((c) => c.startsWith('read')).length, 6, 'read every 500 ms until 3 s: at 0, 500, ... 2500 ms');
  const b = rig(3000);
  b.api.statuses = [{ phase: 'Pending', containerStatuses: [{ name: 'dosh', image: '', imageID: '', restartCount: 0, ready: false, state: { waiting: { reason: 'ContainerCreating' } } }] }];
  await assert.rejects(b.pods.ensure(POLICY, ANN), (e: RefusedError) => e.reason === 'PodNotReady' && e.message === "ann's pod dosh/dosh-ann did not start within 3s: ContainerCreating");
});

test('a pod being deleted is waited out, then made again', async () => {
  const { api, pods } = rig();
  await pods.ensure(POLICY, ANN);
  const old = api.pods.get('dosh-ann')!;
  api.pods.set('dosh-ann', { ...old, metadata: { ...old.metadata, deletionTimestamp: new Date() } });
  const read = api.readPod.bind(api);
  let reads = 0;
  api.readPod = async (ns, name) => {
    // Gone on the third read: the kubelet has stopped it.
    if (++reads === 3) api.pods.delete(name);
    return read(ns, name);
  };
  api.calls = [];
  await pods.ensure(POLICY, ANN);
  assert.deepEqual(api.calls, ['read dosh/dosh-ann', 'read dosh/dosh-ann', 'read dosh/dosh-ann', `apply dosh/dosh-ann as ${POD_MANAGER}`, 'read dosh/dosh-ann']);
});

test('a login marks her pod in use when its mark is older than 10 s (the collector\'s fence), and writes nothing when it is fresh', async () => {
  const T = Date.UTC(2026, 11, 4, 12, 0, 0);
  const { api, pods } = rig(10_000, T);
  await pods.ensure(POLICY, ANN); // made, then read running 500 ms later
  assert.equal(api.calls.filter((c) => c.startsWith('annotate')).length, 1, 'a pod made without a creation time counts as never marked');
  const p = api.pods.get('dosh-ann')!;
  api.pods.set('dosh-ann', { ...p, metadata: { ...p.metadata, annotations: { [ANNOTATION_IN_USE]: new Date(T - 20_000).toISOString() } } });
  api.calls = [];
  await pods.ensure(POLICY, ANN);
  assert.deepEqual(api.calls, ['read dosh/dosh-ann', `annotate dosh/dosh-ann ${ANNOTATION_IN_USE}=${new Date(T + 500).toISOString()}`]);
  api.calls = [];
  await pods.ensure(POLICY, ANN);
  assert.deepEqual(api.calls, ['read dosh/dosh-ann'], 'marked a moment ago: nothing written');
});

test('a collector\'s delete that lands before the login\'s mark: the mark shows the pod going, and the login waits for the new one', async () => {
  const T = Date.UTC(2026, 11, 4, 12, 0, 0);
  const { api, pods } = rig(10_000, T);
  await pods.ensure(POLICY, ANN);
  const p = api.pods.get('dosh-ann')!;
  api.pods.set('dosh-ann', { ...p, metadata: { ...p.metadata, annotations: { [ANNOTATION_IN_USE]: new Date(T - 60_000).toISOString() } } });
  const annotate = api.annotatePod.bind(api);
  let deleted = false;
  api.annotatePod = async (ns, name, a) => {
    if (!deleted) {
      // The collector read the pod idle and deleted it between this login's read and its mark.
      deleted = true;
      const cur = api.pods.get(name)!;
      api.pods.set(name, { ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date(T) } });
      const marked = await annotate(ns, name, a);
      api.pods.delete(name); // gone once the kubelet has stopped it
      return marked;
    }
    return annotate(ns, name, a);
  };
  api.calls = [];
  const got = await pods.ensure(POLICY, ANN);
  assert.deepEqual(api.calls.map((c) => c.split(' ')[0]), ['read', 'annotate', 'read', 'apply', 'read', 'annotate']);
  assert.equal(got.uid, 'uid-1');
  assert.equal(api.pods.get('dosh-ann')?.metadata?.deletionTimestamp, undefined, 'the login got the new pod, not the one being deleted');
});
