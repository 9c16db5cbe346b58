// One persistent Pod per user of the kubernetes backend, the pod counterpart of controller/containers.ts: found or
// made by whichever login node needs it first, then waited for until it runs or the cluster says why it will not.
// There is no node-local lock: every node applies the same manifest (server-side apply without force), so the API
// server orders them; a node whose policy differs meets a conflict and uses the pod that is there, marked outdated.
import { createHash } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_IN_USE, LABEL_HASH } from '../../api/labels.ts';
import type { EffectivePolicy, UserInfo } from '../../api/policy.ts';
import { iso, type Clock } from '../../lib/clock.ts';
import { ConflictError, InvalidError, NotFoundError, RefusedError } from '../../lib/errors.ts';
import { podManifest } from '../../policy/pod-spec.ts';
import { podState, type PodState } from './pod-state.ts';

/** The Kubernetes calls made here (kube/client.ts; a fake in unit tests). */
export interface PodApi {
  applyPod(pod: V1Pod, manager: string): Promise<V1Pod>;
  readPod(namespace: string, name: string): Promise<V1Pod>;
  annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<V1Pod>;
}

/**
 * How stale her pod's in-use mark may be before a login or a pass of the collector marks it again: well under any
 * idle timeout, so that a pod in use never looks idle, and coarse enough that most logins write nothing.
 */
export const IN_USE_REFRESH_MS = 10_000;

/** When her pod was last marked in use (or made), in ms; a mark that is not a time counts as none. */
export function lastInUse(pod: V1Pod): number {
  const mark = Date.parse(pod.metadata?.annotations?.[ANNOTATION_IN_USE] ?? '');
  const made = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : 0;
  return Math.max(Number.isNaN(mark) ? 0 : mark, made);
}

export interface UserPodsDeps {
  api: PodApi;
  clock: Clock;
  /** How long a login waits for her pod to run (scheduling, an image pull, a start). */
  readyTimeoutMs: number;
  /** Between two reads of a pod that is not running yet. */
  pollMs: number;
  signal?: AbortSignal;
}

/** Her pod, running: what an exec into it needs, and whether it predates her current policy. */
export interface UserPod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  outdated: boolean;
}

/** The field manager of every node's apply: the same one, so that identical applies share their fields. */
export const POD_MANAGER = 'doshd';

/** The digest of a manifest's spec that LABEL_HASH carries: a pod made from another policy is told by it. */
export function podHash(pod: V1Pod): string {
  return createHash('sha256').update(JSON.stringify(pod.spec)).digest('hex').slice(0, 16);
}

/** The LABEL_HASH of her pod under this policy. */
export function wantedPodHash(policy: EffectivePolicy, user: UserInfo): string {
  return podHash(podManifest(policy, user));
}

export class UserPods {
  constructor(private readonly d: UserPodsDeps) {}

  /** Her pod, running; a RefusedError with the cluster's reason when it cannot run; transient errors are thrown. */
  async ensure(policy: EffectivePolicy, user: UserInfo): Promise<UserPod> {
    const base = podManifest(policy, user);
    const hash = podHash(base);
    const want: V1Pod = { ...base, metadata: { ...base.metadata, labels: { ...base.metadata!.labels, [LABEL_HASH]: hash } } };
    const { namespace, name } = want.metadata as { namespace: string; name: string };
    const deadline = this.d.clock.now() + this.d.readyTimeoutMs;
    let last: PodState | undefined;
    while (this.d.clock.now() < deadline && !this.d.signal?.aborted) {
      const pod = await this.current(namespace, name, want);
      const state = podState(pod);
      last = state;
      if (state.kind === 'running') {
        // Marked in use before the login runs in it: the mark changes the pod's resourceVersion, so a collector
        // that found it idle a moment ago, and deletes only what it read, deletes nothing. A collector whose delete
        // came first wins: the pod the mark returns is being deleted (or another one), and the login waits.
        const now = this.d.clock.now();
        const marked = now - lastInUse(pod) > IN_USE_REFRESH_MS ? await this.mark(namespace, name, now) : pod;
        if (marked && !marked.metadata?.deletionTimestamp && marked.metadata?.uid === pod.metadata?.uid) {
          return { namespace, name, uid: pod.metadata!.uid!, node: state.node, outdated: pod.metadata?.labels?.[LABEL_HASH] !== hash };
        }
        last = { kind: 'terminating' };
      } else if (state.kind === 'failed') throw new RefusedError('PodFailed', `${user.name}'s pod ${namespace}/${name} cannot serve a login: ${state.reason}: ${state.message}`);
      await this.d.clock.sleep(this.d.pollMs, this.d.signal);
    }
    if (last?.kind === 'waiting' && last.unschedulable) throw new RefusedError('PodUnschedulable', `the cluster has no node for ${user.name}'s pod ${namespace}/${name}: ${last.message}`);
    const why = last?.kind === 'waiting' ? last.message : last?.kind === 'terminating' ? 'the previous pod is still being deleted' : 'no answer';
    throw new RefusedError('PodNotReady', `${user.name}'s pod ${namespace}/${name} did not start within ${Math.round(this.d.readyTimeoutMs / 1000)}s: ${why}`);
  }

  /** Her pod as the mark leaves it; undefined when it went meanwhile. */
  private async mark(namespace: string, name: string, now: number): Promise<V1Pod | undefined> {
    try {
      return await this.d.api.annotatePod(namespace, name, { [ANNOTATION_IN_USE]: iso(now) });
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /** The pod there is, else the one this node makes now; a pod being deleted is returned as it is (waited out). */
  private async current(namespace: string, name: string, want: V1Pod): Promise<V1Pod> {
    try {
      return await this.d.api.readPod(namespace, name);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    try {
      return await this.d.api.applyPod(want, POD_MANAGER);
    } catch (e) {
      // Another node made it meanwhile from another policy (fields it owns differ, or a pod's immutable spec):
      // hers is the pod that is there.
      if (e instanceof ConflictError || e instanceof InvalidError) {
        try {
          return await this.d.api.readPod(namespace, name);
        } catch (again) {
          if (!(again instanceof NotFoundError)) throw again;
          // Not there either: the API server refused the manifest itself, and will again.
          throw new RefusedError('EngineRefused', `the Kubernetes API server refused the pod ${namespace}/${name}: ${(e as Error).message}`);
        }
      }
      throw e;
    }
  }
}
