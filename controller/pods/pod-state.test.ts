// What a Pod's status means for a login, over statuses shaped as the kubelet and the scheduler write them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { podState } from './pod-state.ts';

const pod = (status: V1PodStatus, extra: Partial<V1Pod> = {}): V1Pod => ({ metadata: { name: 'dosh-ann', namespace: 'dosh' }, spec: { containers: [{ name: 'dosh' }], nodeName: 'node1' }, status, ...extra });
const dosh = (state: object, more: object = {}) => ({ containerStatuses: [{ name: 'dosh', image: 'i', imageID: '', restartCount: 0, ready: true, state, ...more }] });

test('running: phase Running, the container running and ready, on its node', () => {
  assert.deepEqual(podState(pod({ phase: 'Running', ...dosh({ running: { startedAt: new Date() } }) })), { kind: 'running', node: 'node1' });
  assert.equal(podState(pod({ phase: 'Running', ...dosh({ running: {} }, { ready: false }) })).kind, 'waiting', 'not ready yet');
});

test('waiting: for the scheduler, for a node that fits (with the scheduler\'s words), for the container to start', () => {
  assert.deepEqual(podState(pod({ phase: 'Pending' }, { spec: { containers: [] } })), { kind: 'waiting', message: 'waiting for the scheduler' });
  const unschedulable = '0/1 nodes are available: 1 node(s) didn\'t match Pod\'s node affinity/selector. preemption: 0/1 nodes are available.';
  assert.deepEqual(podState(pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: unschedulable }] })), { kind: 'waiting', unschedulable: true, message: unschedulable });
  assert.deepEqual(podState(pod({ phase: 'Pending', ...dosh({ waiting: { reason: 'ContainerCreating' } }) })), { kind: 'waiting', message: 'ContainerCreating' });
  assert.deepEqual(podState(pod({ phase: 'Pending' })), { kind: 'waiting', message: 'its container is starting' });
});

test('failed: an image the node cannot pull, a spec the runtime refuses, with the kubelet\'s message', () => {
  const pull = 'Back-off pulling image "nosuch/image:1"';
  assert.deepEqual(podState(pod({ phase: 'Pending', ...dosh({ waiting: { reason: 'ImagePullBackOff', message: pull } }) })), { kind: 'failed', reason: 'ImagePullBackOff', message: pull });
  assert.deepEqual(podState(pod({ phase: 'Pending', ...dosh({ waiting: { reason: 'ErrImageNeverPull', message: 'Container image "x" is not present with pull policy of Never' } }) })).kind, 'failed');
  assert.deepEqual(podState(pod({ phase: 'Pending', ...dosh({ waiting: { reason: 'CreateContainerConfigError' } }) })), { kind: 'failed', reason: 'CreateContainerConfigError', message: 'CreateContainerConfigError' });
});

test('failed: evicted by node pressure, OOM-killed in a crash loop, ended', () => {
  const evicted = 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. ';
  assert.deepEqual(podState(pod({ phase: 'Failed', reason: 'Evicted', message: evicted })), { kind: 'failed', reason: 'Evicted', message: evicted.trim() });
  const oom = dosh({ waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container' } }, { lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } });
  assert.deepEqual(podState(pod({ phase: 'Running', ...oom })), { kind: 'failed', reason: 'OOMKilled', message: 'its container ended (OOMKilled)' });
  assert.deepEqual(podState(pod({ phase: 'Failed', ...dosh({ terminated: { exitCode: 2, message: 'bad shell\n' } }) })), { kind: 'failed', reason: 'Failed', message: 'its container ended (exit status 2: bad shell)' });
  assert.deepEqual(podState(pod({ phase: 'Succeeded', ...dosh({ terminated: { exitCode: 0, reason: 'Completed' } }) })), { kind: 'failed', reason: 'Completed', message: 'its container ended (Completed)' });
});

test('terminating: a pod with a deletion timestamp is waited out whatever its phase', () => {
  assert.deepEqual(podState(pod({ phase: 'Running', ...dosh({ running: {} }) }, { metadata: { name: 'dosh-ann', deletionTimestamp: new Date() } })), { kind: 'terminating' });
});
