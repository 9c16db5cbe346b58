// Every @kubernetes/client-node call in DoSH lives here, as every dockerode call lives in engine/docker.ts. Callers
// get plain objects and typed errors (lib/errors.ts), never client-node classes or message strings. The module is
// loaded only in Kubernetes mode: a node without --kubeconfig never pays for it.
import type * as k8s from '@kubernetes/client-node';
import { API_GROUP } from '../api/constants.ts';
import { ConflictError, InvalidError, NotFoundError, UnavailableError } from '../lib/errors.ts';

export const KUBE_VERSION = 'v1alpha1';
export const SESSION_PLURAL = 'sessions';
export const POLICY_PLURAL = 'doshpolicies';

/** What DoSH reads and writes of a custom resource: plain JSON, as the API server sends it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  spec?: unknown;
  status?: unknown;
}

export type WatchEvent = 'add' | 'update' | 'delete';

export interface WatchHandlers {
  onEvent(type: WatchEvent, obj: KubeObject): void;
  /** The watch failed; it is started again after `retryInMs`. */
  onError(err: Error, retryInMs: number): void;
  /** A (re)started watch listed everything again: a moment to resync. */
  onConnect(): void;
}

/** A running list-and-watch with its cache; restarts itself with backoff when it fails. */
export interface Watcher {
  get(name: string, namespace?: string): KubeObject | undefined;
  list(): KubeObject[];
  stop(): void;
}

export interface WatchBackoff {
  baseMs: number;
  maxMs: number;
  setTimer(fn: () => void, ms: number): { cancel(): void };
}

export function mapKubeError(err: unknown, what: string): Error {
  const e = err as { code?: number | string; statusCode?: number; body?: unknown; message?: string };
  const status = typeof e?.code === 'number' ? e.code : e?.statusCode;
  const body = typeof e?.body === 'string' ? safeJson(e.body) : e?.body;
  const detail = (body as { message?: string } | undefined)?.message ?? e?.message ?? String(err);
  if (status === 404) return new NotFoundError(`${what}: ${detail}`);
  if (status === 409) return new ConflictError(`${what}: ${detail}`);
  if (status !== undefined && status >= 400 && status < 500) return new InvalidError(`${what}: ${detail}`);
  return new UnavailableError(`${what}: ${detail}`);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

export class KubeClient {
  private constructor(
    private readonly lib: typeof k8s,
    private readonly kc: k8s.KubeConfig,
    private readonly api: k8s.CustomObjectsApi,
    /** The field manager of every server-side apply: one per node, so nodes never contend for each other's fields. */
    private readonly manager: string,
  ) {}

  /** From a kubeconfig file, or the pod's service account when `inCluster`. */
  static async load(opts: { kubeconfig?: string; inCluster?: boolean; fieldManager: string }): Promise<KubeClient> {
    const lib = await import('@kubernetes/client-node');
    const kc = new lib.KubeConfig();
    try {
      if (opts.inCluster) kc.loadFromCluster();
      else kc.loadFromFile(opts.kubeconfig!);
    } catch (e) {
      throw new InvalidError(`cannot load the Kubernetes configuration ${opts.kubeconfig ?? '(in-cluster)'}: ${(e as Error).message}`);
    }
    if (!kc.getCurrentCluster()) throw new InvalidError(`the Kubernetes configuration ${opts.kubeconfig ?? '(in-cluster)'} has no current cluster`);
    return new KubeClient(lib, kc, kc.makeApiClient(lib.CustomObjectsApi), opts.fieldManager);
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '';
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapKubeError(e, what);
    }
  }

  private applyOpts(): k8s.ConfigurationOptions {
    return this.lib.setHeaderOptions('Content-Type', this.lib.PatchStrategy.ServerSideApply);
  }

  /** Server-side apply of a Session's metadata (labels, finalizers) and spec: creates it when missing. */
  async applySession(namespace: string, obj: KubeObject): Promise<KubeObject> {
    const { name } = obj.metadata;
    return this.call(`apply session ${namespace}/${name}`, () =>
      this.api.patchNamespacedCustomObject({ group: API_GROUP, version: KUBE_VERSION, namespace, plural: SESSION_PLURAL, name, body: obj, fieldManager: this.manager, force: true }, this.applyOpts()),
    );
  }

  /** Server-side apply of a Session's status subresource. */
  async applySessionStatus(namespace: string, name: string, apiVersion: string, kind: string, status: unknown): Promise<void> {
    await this.call(`apply the status of session ${namespace}/${name}`, () =>
      this.api.patchNamespacedCustomObjectStatus(
        { group: API_GROUP, version: KUBE_VERSION, namespace, plural: SESSION_PLURAL, name, body: { apiVersion, kind, metadata: { name, namespace }, status }, fieldManager: this.manager, force: true },
        this.applyOpts(),
      ),
    );
  }

  /** Deletes a Session (its finalizers still hold it until released); gone already is success. */
  async deleteSession(namespace: string, name: string): Promise<void> {
    try {
      await this.call(`delete session ${namespace}/${name}`, () => this.api.deleteNamespacedCustomObject({ group: API_GROUP, version: KUBE_VERSION, namespace, plural: SESSION_PLURAL, name }));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  /** Sessions of one namespace, or of all namespaces when none is given. */
  async listSessions(namespace?: string, labelSelector?: string): Promise<KubeObject[]> {
    const list = await this.call('list sessions', () => this.list({ plural: SESSION_PLURAL, namespace, labelSelector }));
    return list.items as unknown as KubeObject[];
  }

  /** One list request: of a namespace, or of the whole cluster (all namespaces, or a cluster-scoped resource). */
  private list(what: { plural: string; namespace?: string; labelSelector?: string }): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> {
    const { plural, namespace, labelSelector } = what;
    return namespace
      ? this.api.listNamespacedCustomObject({ group: API_GROUP, version: KUBE_VERSION, namespace, plural, labelSelector })
      : this.api.listClusterCustomObject({ group: API_GROUP, version: KUBE_VERSION, plural, labelSelector });
  }

  /** Server-side apply of a (cluster-scoped) DoshPolicy's status. */
  async applyPolicyStatus(name: string, apiVersion: string, kind: string, status: unknown): Promise<void> {
    await this.call(`apply the status of doshpolicy ${name}`, () =>
      this.api.patchClusterCustomObjectStatus({ group: API_GROUP, version: KUBE_VERSION, plural: POLICY_PLURAL, name, body: { apiVersion, kind, metadata: { name }, status }, fieldManager: this.manager, force: true }, this.applyOpts()),
    );
  }

  /**
   * Lists and watches a resource (Sessions of a namespace with a label selector, or DoshPolicies) into a cache.
   * client-node's informer stops on the first failed list or watch; this starts it again after a doubling delay,
   * reset when a list succeeds, so an API server that is down costs a retry every `maxMs` at most.
   */
  watch(what: { plural: string; namespace?: string; labelSelector?: string }, h: WatchHandlers, backoff: WatchBackoff): Watcher {
    const base = `/apis/${API_GROUP}/${KUBE_VERSION}`;
    const path = what.namespace ? `${base}/namespaces/${what.namespace}/${what.plural}` : `${base}/${what.plural}`;
    const inf = this.lib.makeInformer(this.kc, path, () => this.list(what), what.labelSelector);
    let failures = 0;
    let timer: { cancel(): void } | undefined;
    let stopped = false;
    // start() resolves once the list succeeded and the watch is open: the server is back, so the next failure
    // starts again from the shortest delay.
    const start = () => void inf.start().then(() => (failures = 0), restart);
    const restart = (err: unknown) => {
      if (stopped || timer) return;
      const delay = Math.min(backoff.maxMs, backoff.baseMs * 2 ** failures++);
      h.onError(mapKubeError(err, `watch ${what.plural}`), delay);
      timer = backoff.setTimer(() => {
        timer = undefined;
        if (!stopped) start();
      }, delay);
    };
    for (const type of ['add', 'update', 'delete'] as const) inf.on(type, (o) => h.onEvent(type, o as unknown as KubeObject));
    inf.on('error', restart);
    inf.on('connect', () => h.onConnect());
    start();
    return {
      get: (name, namespace) => inf.get(name, namespace) as unknown as KubeObject | undefined,
      list: () => inf.list() as unknown as KubeObject[],
      stop: () => {
        stopped = true;
        timer?.cancel();
        void inf.stop();
      },
    };
  }
}
