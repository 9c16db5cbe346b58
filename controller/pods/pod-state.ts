// What a user's Pod's status means for her login: ready for an exec, worth waiting for, or a reason to refuse her
// with what the cluster said. Pure, over the Pod as the API server returns it: the kubelet and the scheduler write
// their reasons into its status, and that text is what she and her administrator need to read.
import type { V1Pod } from '@kubernetes/client-node';
import { POD_CONTAINER } from '../../policy/pod-spec.ts';

export type PodState =
  | { kind: 'running'; node: string }
  /** Not yet: scheduled and starting, or waiting for a node (`unschedulable` holds the scheduler's message). */
  | { kind: 'waiting'; message: string; unschedulable?: boolean }
  /**
   * Being deleted: wait until it is gone, then make it again. `disruption` is the cluster's DisruptionTarget condition
   * when it set one: an eviction through the API, a preemption, a taint, the node's shutdown.
   */
  | { kind: 'terminating'; disruption?: { reason: string; message: string } }
  /** It will not serve a login as it is: the reason and message are the cluster's. */
  | { kind: 'failed'; reason: string; message: string };

/**
 * A container that waits for one of these will not start by itself in a login's time: an image the node cannot
 * get, a spec the runtime refuses, a shell that keeps dying. (ContainerCreating and PodInitializing are waited for.)
 */
const HOPELESS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff']);

export function podState(pod: V1Pod): PodState {
  if (pod.metadata?.deletionTimestamp) {
    const d = pod.status?.conditions?.find((x) => x.type === 'DisruptionTarget' && x.status === 'True');
    return d ? { kind: 'terminating', disruption: { reason: d.reason ?? 'DisruptionTarget', message: d.message?.trim() || d.reason || 'disrupted' } } : { kind: 'terminating' };
  }
  const st = pod.status ?? {};
  const c = st.containerStatuses?.find((x) => x.name === POD_CONTAINER);
  const ended = c?.state?.terminated ?? c?.lastState?.terminated;
  const endedWhy = ended ? `its container ended (${ended.reason ?? `exit status ${ended.exitCode}`}${ended.message ? `: ${ended.message.trim()}` : ''})` : undefined;
  if (st.phase === 'Failed') {
    // Evicted (node pressure), preempted, or the node shut down: the pod's own reason; else its container's.
    if (st.reason) return { kind: 'failed', reason: st.reason, message: st.message?.trim() || st.reason };
    return { kind: 'failed', reason: ended?.reason ?? 'Failed', message: endedWhy ?? 'the pod failed' };
  }
  if (st.phase === 'Succeeded') return { kind: 'failed', reason: ended?.reason ?? 'Completed', message: endedWhy ?? 'the pod has ended' };
  const waiting = c?.state?.waiting;
  if (waiting?.reason && HOPELESS.has(waiting.reason)) {
    // A shell that keeps dying says more by how it last ended (OOMKilled) than by the back-off.
    const message = waiting.reason === 'CrashLoopBackOff' && endedWhy ? endedWhy : (waiting.message?.trim() || waiting.reason);
    return { kind: 'failed', reason: waiting.reason === 'CrashLoopBackOff' && ended?.reason ? ended.reason : waiting.reason, message };
  }
  if (st.phase === 'Running' && c?.state?.running && c.ready !== false) return { kind: 'running', node: pod.spec?.nodeName ?? '' };
  const scheduled = st.conditions?.find((x) => x.type === 'PodScheduled');
  if (scheduled?.status === 'False') return { kind: 'waiting', unschedulable: scheduled.reason === 'Unschedulable', message: scheduled.message?.trim() || scheduled.reason || 'waiting for a node' };
  if (waiting) return { kind: 'waiting', message: waiting.message?.trim() || waiting.reason || 'its container is starting' };
  return { kind: 'waiting', message: st.phase === 'Pending' && !pod.spec?.nodeName ? 'waiting for the scheduler' : 'its container is starting' };
}
