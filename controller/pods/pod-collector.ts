// Idle collection of users' pods, the pod counterpart of controller/gc.ts. A pod is shared by every login node, so
// no node's own sessions say it is idle: the pod itself carries when it was last in use (ANNOTATION_IN_USE, marked by
// each login and refreshed by every node that has a live login in it), and the fleet's Session resources say whether
// any node has one now (a node that is down keeps its live sessions there, held by their finalizer). A pod is
// deleted only as it was read: a login that marks it meanwhile changes its resourceVersion, and the delete fails.
// The same pass rolls a policy out: a pod made from another policy than this node's, with no login in it anywhere,
// is deleted before its idle timeout, and her next login makes it anew (consider() says why not at once).
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_IN_USE, LABEL_HASH, LABEL_IDLE, LABEL_MANAGED, LABEL_USER } from '../../api/labels.ts';
import { isLive, LIVE_PHASES, type Session } from '../../api/session.ts';
import { iso, type Clock } from '../../lib/clock.ts';
import { ConflictError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { IN_USE_REFRESH_MS, lastInUse } from './user-pods.ts';

/** The Kubernetes calls of the collector (kube/client.ts; a fake in unit tests). */
export interface PodCollectorApi {
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<V1Pod>;
  /** False when the pod was gone already. */
  deletePod(namespace: string, name: string, uid: string, resourceVersion?: string, graceSeconds?: number): Promise<boolean>;
  /** The fleet's Session resources (every node's) of the mirror's namespace with these labels. */
  listSessions(namespace: string | undefined, labelSelector?: string): Promise<{ metadata?: { creationTimestamp?: string }; status?: unknown }[]>;
}

export interface PodCollectorDeps {
  api: PodCollectorApi;
  clock: Clock;
  log: Logger;
  /** Where the fleet's Session resources are (the Kubernetes mode's namespace). */
  sessionsNamespace: string;
  /** Namespaces served from the start (--pod-namespaces), before any pod login says so. */
  namespaces?: readonly string[];
  /** Told of each pod deleted (the GarbageCollected event, the metric). */
  collected(user: string, pod: string, idleSeconds: number, timeoutSeconds: number): void;
  /**
   * The LABEL_HASH her pod would carry under this node's policy now; undefined when she is unknown, refused or not
   * on the kubernetes backend (her pod then waits for its idle timeout). Without it, pods are never rolled out.
   */
  wanted?(user: string): Promise<string | undefined>;
  /**
   * When this node's policy was last loaded (ms). Only a pod made before it is rolled out: one made since was made
   * by a node with a policy as recent, so a differing hash means the nodes disagree, and deleting it would only make
   * two nodes delete her pod in turn.
   */
  policySince?(): number;
  /** Told of each idle pod deleted because it predates the policy (an event on the user). */
  rolledOut?(user: string, pod: string): void;
}

/**
 * How long a pod must have gone unmarked before it is deleted, whatever its idle timeout or policy. A login skips
 * marking a pod marked less than IN_USE_REFRESH_MS ago, and a node with a live login in it marks it again only at
 * its housekeeping pass: so no mark proves no login only after well over that, when a login that skipped its mark
 * has long had its Session resource listed. The margin covers slow passes, the mirror's backoff and clock skew.
 */
export const QUIET_MS = 3 * IN_USE_REFRESH_MS;

/**
 * The grace an idle pod is deleted with: what is left in it gets SIGTERM and, a second later, SIGKILL, as an idle
 * container's force removal does. With the pod's own grace (30 s unless the policy sets --stop-timeout), a login in
 * the meantime would wait for the old pod to go, past a login's wait.
 */
export const COLLECT_GRACE_S = 1;

/** How long a Session resource without a status counts as a login starting. */
export const STARTING_MS = 60_000;

export class PodCollector {
  /**
   * The namespaces this doshd has seen users' pods in (its sessions'), collected there even once those sessions are
   * gone, and those it was told of. None otherwise until a pod login: a fleet that runs no pods is never asked about
   * them (nor given the rights). A doshd whose store went (a reboot) learns them again only from --pod-namespaces.
   */
  private readonly namespaces = new Set<string>();

  constructor(private readonly d: PodCollectorDeps) {
    for (const ns of d.namespaces ?? []) this.namespaces.add(ns);
  }

  /** The namespaces of the pods this doshd serves: what its per-user metrics read too. */
  served(): Iterable<string> {
    return this.namespaces;
  }

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
    if (!user || liveUsers.has(user)) return;
    if (now - last <= QUIET_MS) return;
    const timeoutS = Number(labels?.[LABEL_IDLE] ?? 0);
    // 0 (or a label that is not a number): kept, as a container with IDLETIMEOUT=0 is.
    const idle = timeoutS > 0 && now - last >= timeoutS * 1000;
    const outdated = !idle && (await this.outdated(pod, user));
    if (!idle && !outdated) return;
    if (await this.liveInFleet(user)) return;
    const at = `${namespace}/${name}`;
    try {
      // Gone already: another node collected it, and it is that node's to report.
      if (!(await this.d.api.deletePod(namespace, name, uid, resourceVersion, COLLECT_GRACE_S))) return;
    } catch (e) {
      // Marked in use (a login on another node) or changed since it was read: it is not idle after all.
      if (e instanceof ConflictError) return void this.d.log.debug('kept a pod that changed since it was read', { pod: at, error: e.message });
      throw e;
    }
    if (outdated) {
      // Not made again here: the old pod takes its grace period to go, and the policy that makes the new one is
      // whichever login node's she reaches next, which is what a login through that node would get anyway.
      this.d.log.info('removed idle pod that predates the policy; her next login makes it with the policy in force', { user, pod: at });
      this.d.rolledOut?.(user, at);
      return;
    }
    const idleS = Math.round((now - last) / 1000);
    this.d.log.info('removed idle pod', { user, pod: at, idleSeconds: idleS });
    this.d.collected(user, at, idleS, timeoutS);
  }

  private async outdated(pod: V1Pod, user: string): Promise<boolean> {
    if (!this.d.wanted || !this.d.policySince) return false;
    const made = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : NaN;
    if (!(made < this.d.policySince())) return false;
    const want = await this.d.wanted(user);
    return want !== undefined && want !== pod.metadata?.labels?.[LABEL_HASH];
  }

  /**
   * Whether any node of the fleet has a live login of hers. A resource whose status is not written yet is a login
   * starting, for STARTING_MS: a node writes the status right after the resource, so one that has none for longer
   * was made by hand (or its node died in between), and must not keep her pod for ever.
   */
  private async liveInFleet(user: string): Promise<boolean> {
    const fleet = await this.d.api.listSessions(this.d.sessionsNamespace, `${LABEL_USER}=${user}`);
    const now = this.d.clock.now();
    return fleet.some((s) => {
      const p = (s.status as { phase?: string } | undefined)?.phase;
      if (p !== undefined) return (LIVE_PHASES as readonly string[]).includes(p);
      const made = Date.parse(s.metadata?.creationTimestamp ?? '');
      return Number.isNaN(made) || now - made < STARTING_MS;
    });
  }
}
