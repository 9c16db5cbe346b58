// Idle collection of users' pods, the pod counterpart of controller/gc.ts. A pod is shared by every login node, so
// no node's own sessions say it is idle: the pod itself carries when it was last in use (ANNOTATION_IN_USE, marked by
// each login and refreshed by every node that has a live login in it), and the fleet's Session resources say whether
// any node has one now (a node that is down keeps its live sessions there, held by their finalizer). A pod is
// deleted only as it was read: a login that marks it meanwhile changes its resourceVersion, and the delete fails.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_IN_USE, LABEL_IDLE, LABEL_MANAGED, LABEL_USER } from '../../api/labels.ts';
import { isLive, LIVE_PHASES, type Session } from '../../api/session.ts';
import { iso, type Clock } from '../../lib/clock.ts';
import { ConflictError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { IN_USE_REFRESH_MS, lastInUse } from './user-pods.ts';

/** The Kubernetes calls of the collector (kube/client.ts; a fake in unit tests). */
export interface PodCollectorApi {
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<V1Pod>;
  deletePod(namespace: string, name: string, uid: string, resourceVersion?: string): Promise<void>;
  /** The fleet's Session resources (every node's) of the mirror's namespace with these labels. */
  listSessions(namespace: string | undefined, labelSelector?: string): Promise<{ status?: unknown }[]>;
}

export interface PodCollectorDeps {
  api: PodCollectorApi;
  clock: Clock;
  log: Logger;
  /** Where the fleet's Session resources are (the Kubernetes mode's namespace). */
  sessionsNamespace: string;
  /** Told of each pod deleted (the GarbageCollected event, the metric). */
  collected(user: string, pod: string, idleSeconds: number, timeoutSeconds: number): void;
}

export class PodCollector {
  /**
   * The namespaces this doshd has seen users' pods in (its sessions'), collected there even once those sessions are
   * gone. None until a pod login: a fleet that runs no pods is never asked about them (nor given the rights).
   */
  private readonly namespaces = new Set<string>();

  constructor(private readonly d: PodCollectorDeps) {}

  /** One pass over this node's sessions (its store): marks the pods its live logins use, deletes the idle ones. */
  async collect(sessions: readonly Session[]): Promise<void> {
    for (const s of sessions) if (s.status.container?.pod) this.namespaces.add(s.status.container.pod.namespace);
    const liveHere = new Set(sessions.filter((s) => isLive(s) && s.status.container?.pod).map((s) => `${s.status.container!.pod!.namespace}/${s.status.container!.pod!.name}`));
    const liveUsers = new Set(sessions.filter(isLive).map((s) => s.spec.user));
    for (const ns of this.namespaces) {
      let pods: V1Pod[];
      try {
        pods = await this.d.api.listPods(ns, `${LABEL_MANAGED}=true`);
      } catch (e) {
        this.d.log.warn('could not list users\' pods; idle ones are collected at a later pass', { namespace: ns, error: String(e) });
        continue;
      }
      for (const pod of pods) {
        try {
          await this.consider(pod, liveHere.has(`${ns}/${pod.metadata?.name}`), liveUsers);
        } catch (e) {
          this.d.log.warn('could not collect a user\'s pod', { pod: `${ns}/${pod.metadata?.name}`, error: String(e) });
        }
      }
    }
  }

  private async consider(pod: V1Pod, inUseHere: boolean, liveUsers: Set<string>): Promise<void> {
    const { name, namespace, uid, resourceVersion, labels, deletionTimestamp } = pod.metadata ?? {};
    if (!name || !namespace || !uid || deletionTimestamp) return;
    const now = this.d.clock.now();
    const last = lastInUse(pod);
    if (inUseHere) {
      if (now - last > IN_USE_REFRESH_MS) await this.d.api.annotatePod(namespace, name, { [ANNOTATION_IN_USE]: iso(now) });
      return;
    }
    const user = labels?.[LABEL_USER];
    const timeoutS = Number(labels?.[LABEL_IDLE] ?? 0);
    // 0 (or a label that is not a number): kept, as a container with IDLETIMEOUT=0 is.
    if (!user || !(timeoutS > 0) || liveUsers.has(user) || now - last < timeoutS * 1000) return;
    const fleet = await this.d.api.listSessions(this.d.sessionsNamespace, `${LABEL_USER}=${user}`);
    // A resource whose status is not written yet is a login starting: live.
    const phaseOf = (s: { status?: unknown }) => (s.status as { phase?: string } | undefined)?.phase;
    const live = (p: string | undefined) => p === undefined || (LIVE_PHASES as readonly string[]).includes(p);
    if (fleet.some((s) => live(phaseOf(s)))) return;
    try {
      await this.d.api.deletePod(namespace, name, uid, resourceVersion);
    } catch (e) {
      // Marked in use (a login on another node) or changed since it was read: it is not idle after all.
      if (e instanceof ConflictError) return;
      throw e;
    }
    const idleS = Math.round((now - last) / 1000);
    this.d.log.info('removed idle pod', { user, pod: `${namespace}/${name}`, idleSeconds: idleS });
    this.d.collected(user, `${namespace}/${name}`, idleS, timeoutS);
  }
}
