// Kubernetes mode: the node's local store stays the source of truth, and every local Session is mirrored to a
// Session custom resource (spec, status, the node's name, a label per user). Deleting the resource with kubectl ends
// the login on its node: a finalizer holds the resource of a live session until the node has ended it (an ended
// session's resource holds none, so it can be deleted without its node). The mirror has its own queue and never
// sits on the login path: with the API server down, logins go on and the mirror catches up.
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, SESSION_KIND } from '../../api/constants.ts';
import { ANNOTATION_ARGS_LEFT_OUT, LABEL_NODE, LABEL_SESSION, LABEL_USER, SESSION_FINALIZER } from '../../api/labels.ts';
import { isLive, mirroredSpec, type Session } from '../../api/session.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { DirStore } from '../../store/dirstore.ts';
import type { KubeClient, KubeObject, Watcher } from '../../kube/client.ts';
import type { ControllerMetrics } from '../metrics/metrics.ts';
import { WorkQueue } from '../workqueue.ts';


export type MirrorApi = Pick<KubeClient, 'applySession' | 'applySessionStatus' | 'deleteSession'>;

export interface MirrorDeps {
  store: DirStore<Session>;
  api: MirrorApi;
  /** The watch of this node's Session resources (label dosh.io/node): the mirror's read cache, never mutated. */
  remote: Pick<Watcher, 'get' | 'list'>;
  clock: Clock;
  metrics: ControllerMetrics;
  log: Logger;
  options: { node: string; namespace: string; resyncIntervalMs: number; workers: number };
}

/** A label value (and name part) from a node name: at most 63 of [a-z0-9-], starting and ending alphanumeric. */
export function nodeSlug(node: string): string {
  const s = node.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return s || 'node';
}

/** The resource's name: the local name (unique on its node) and the node, so two nodes never collide. */
export function resourceName(local: string, node: string): string {
  return `${local}.${nodeSlug(node)}`;
}

/** Plain JSON, so that fields left undefined compare equal to fields the server never stored. */
function plain(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

export class SessionMirror {
  readonly queue: WorkQueue;
  private signal?: AbortSignal;

  constructor(private readonly d: MirrorDeps) {
    this.queue = new WorkQueue(d.clock, { baseDelayMs: 500, maxDelayMs: 30_000 });
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const unwatch = this.d.store.watch((name) => this.enqueueSession(name));
    signal.addEventListener('abort', () => this.queue.shutDown(), { once: true });
    this.resync();
    const workers = Array.from({ length: this.d.options.workers }, async () => {
      while (await this.processNextWorkItem());
    });
    await Promise.all([...workers, this.resyncLoop(signal)]);
    unwatch();
  }

  enqueueSession(localName: string): void {
    this.queue.add(localName);
  }

  /** A watch event for a resource of this node: its local name is in its label. */
  onRemote(obj: KubeObject): void {
    const local = obj.metadata.labels?.[LABEL_SESSION];
    if (local) this.enqueueSession(local);
  }

  /** Every local session and every resource of this node, so that whatever changed while the API was away is caught up. */
  resync(): void {
    for (const s of this.d.store.list()) this.enqueueSession(s.metadata.name);
    for (const o of this.d.remote.list()) this.onRemote(o);
  }

  private async resyncLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.d.clock.sleep(this.d.options.resyncIntervalMs, signal);
      if (!signal.aborted) this.resync();
    }
  }

  async processNextWorkItem(): Promise<boolean> {
    return this.queue.processNext(
      (key) => this.syncSession(key),
      (key, result, err) => {
        this.d.metrics.kubeSyncs.inc({ result });
        if (result === 'requeue') this.d.log.debug('session mirror requeued after a transient error', { session: key, error: String(err) });
        // The periodic resync tries again; an error that cannot pass (a schema the server refuses) is logged each time.
        if (result === 'error') this.d.log.warn('session mirror failed', { session: key, error: String(err) });
      },
      this.signal,
    );
  }

  /** Level-triggered: brings the resource of one local session in line with it, whatever happened before. */
  async syncSession(localName: string): Promise<void> {
    const { node, namespace } = this.d.options;
    const name = resourceName(localName, node);
    const local = this.d.store.get(localName);
    const remote = this.d.remote.get(name, namespace);
    // Collected on the node, or ended after a delete (kubectl's or doshctl's): the resource goes, and is not made again.
    if (!local || (!isLive(local) && (local.metadata.deletionTimestamp || remote?.metadata.deletionTimestamp))) {
      if (!remote) return;
      if (remote.metadata.finalizers?.includes(SESSION_FINALIZER)) await this.release(remote);
      if (!remote.metadata.deletionTimestamp) await this.d.api.deleteSession(namespace, name);
      return;
    }
    if (remote?.metadata.deletionTimestamp) {
      // kubectl delete of a live session: ended the way `doshctl delete session` ends it; the store watch brings the
      // ended session back here, and the finalizer is released then.
      if (!local.metadata.deletionTimestamp) {
        this.d.store.mutate(localName, (cur) => (cur.metadata.deletionTimestamp ? undefined : { ...cur, metadata: { ...cur.metadata, deletionTimestamp: remote.metadata.deletionTimestamp } }));
        this.d.log.info('session deleted through the Kubernetes API; ending it', { session: localName });
      }
      return;
    }
    const want = this.desired(local);
    let cur = remote;
    const held = cur?.metadata.finalizers?.includes(SESSION_FINALIZER) ?? false;
    if (!cur || !isDeepStrictEqual(plain(cur.spec), want.spec) || !sameLabels(cur, want) || held !== isLive(local)) {
      cur = await this.d.api.applySession(namespace, want);
    }
    await this.applyStatus(local, cur);
  }

  private desired(local: Session): KubeObject {
    const { node, namespace } = this.d.options;
    const { spec, argsLeftOut } = mirroredSpec(local.spec);
    return {
      apiVersion: API_VERSION,
      kind: SESSION_KIND,
      metadata: {
        name: resourceName(local.metadata.name, node),
        namespace,
        labels: { ...local.metadata.labels, [LABEL_USER]: local.metadata.labels[LABEL_USER] ?? local.spec.user, [LABEL_NODE]: nodeSlug(node), [LABEL_SESSION]: local.metadata.name },
        // Held only while the login lives: an ended session's resource can be deleted without this node (doshd
        // gone, uninstalled), and a namespace holding it can go.
        finalizers: isLive(local) ? [SESSION_FINALIZER] : [],
        ...(argsLeftOut ? { annotations: { [ANNOTATION_ARGS_LEFT_OUT]: String(argsLeftOut) } } : {}),
      },
      spec: plain(spec),
    };
  }

  private async applyStatus(local: Session, remote: KubeObject): Promise<void> {
    const status = plain(local.status);
    if (isDeepStrictEqual(plain(remote.status), status)) return;
    await this.d.api.applySessionStatus(this.d.options.namespace, remote.metadata.name, API_VERSION, SESSION_KIND, status);
  }

  /** Gives up this node's finalizer: the same applied object without it (server-side apply drops what it no longer sets). */
  private async release(remote: KubeObject): Promise<void> {
    const { name, namespace, labels } = remote.metadata;
    await this.d.api.applySession(this.d.options.namespace, {
      apiVersion: API_VERSION,
      kind: SESSION_KIND,
      metadata: { name, namespace, labels, finalizers: [] },
      spec: remote.spec,
    });
  }
}

function sameLabels(cur: KubeObject, want: KubeObject): boolean {
  const have = cur.metadata.labels ?? {};
  return Object.entries(want.metadata.labels ?? {}).every(([k, v]) => have[k] === v);
}
