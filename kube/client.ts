// Every @kubernetes/client-node call in DoSH lives here, as every dockerode call lives in engine/docker.ts. Callers
// get plain objects and typed errors (lib/errors.ts), never client-node classes or message strings. The module is
// loaded only in Kubernetes mode: a node without --kubeconfig never pays for it.
import type * as k8s from '@kubernetes/client-node';
import { API_GROUP } from '../api/constants.ts';
import { ConflictError, InvalidError, NotFoundError, UnavailableError } from '../lib/errors.ts';
import { Reflector, type OpenWatch, type Timers, type WatchLine } from './reflector.ts';

export const KUBE_VERSION = 'v1alpha1';
export const SESSION_PLURAL = 'sessions';
export const POLICY_PLURAL = 'doshpolicies';

import type { KubeObject, NodeSummary, PodExecIO, PodExecStatus, PodExecStream, WatchEvent } from './types.ts';
export type { KubeObject, NodeSummary, PodExecIO, PodExecStatus, PodExecStream, WatchEvent } from './types.ts';

export interface WatchHandlers {
  onEvent(type: WatchEvent, obj: KubeObject): void;
  /** The list or watch failed (or got no answer in time); it is started again after `retryInMs`. */
  onError(err: Error, retryInMs: number): void;
  /** A list succeeded and the cache holds it (at start and after every failure): a moment to resync. */
  onSynced(): void;
}

/** A list-and-watch with its cache, started by start(); lists again with backoff when it fails. */
export interface Watcher {
  start(): void;
  get(name: string, namespace?: string): KubeObject | undefined;
  list(): KubeObject[];
  stop(): void;
}

export interface WatchBackoff extends Timers {
  baseMs: number;
  maxMs: number;
}

/** What is counted of the requests (bounded label values). */
export type KubeOperation = 'list' | 'watch' | 'apply' | 'apply-status' | 'delete' | 'get';
export type KubeRequestResult = 'ok' | 'error' | 'timeout';

export interface KubeClientOptions {
  kubeconfig?: string;
  inCluster?: boolean;
  fieldManager: string;
  /** A request (or a watch's first answer) that takes longer fails with UnavailableError. Default 15 s. */
  requestTimeoutMs?: number;
  /** Told of every request's outcome (a watch: when it opens or fails to). */
  onRequest?(operation: KubeOperation, result: KubeRequestResult, err?: Error): void;
}

/** The server ends each watch after this long (then it is opened again from where it was). */
const WATCH_SECONDS = 240;

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
  private readonly timeoutMs: number;
  /** The field manager of every server-side apply: one per node, so nodes never contend for each other's fields. */
  private readonly manager: string;

  private constructor(
    private readonly lib: typeof k8s,
    private readonly kc: k8s.KubeConfig,
    private readonly api: k8s.CustomObjectsApi,
    private readonly core: k8s.CoreV1Api,
    private readonly opts: KubeClientOptions,
  ) {
    this.timeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.manager = opts.fieldManager;
  }

  /** From a kubeconfig file, or the pod's service account when `inCluster`. */
  static async load(opts: KubeClientOptions): Promise<KubeClient> {
    const lib = await import('@kubernetes/client-node');
    const kc = new lib.KubeConfig();
    try {
      if (opts.inCluster) kc.loadFromCluster();
      else kc.loadFromFile(opts.kubeconfig!);
    } catch (e) {
      throw new InvalidError(`cannot load the Kubernetes configuration ${opts.kubeconfig ?? '(in-cluster)'}: ${(e as Error).message}`);
    }
    if (!kc.getCurrentCluster()) throw new InvalidError(`the Kubernetes configuration ${opts.kubeconfig ?? '(in-cluster)'} has no current cluster`);
    return new KubeClient(lib, kc, kc.makeApiClient(lib.CustomObjectsApi), kc.makeApiClient(lib.CoreV1Api), opts);
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '';
  }

  /**
   * One request with a time limit: `fn` gets the options that carry the abort signal (add headers with
   * setHeaderOptions on top). Failures become typed errors; a request that got no answer in time an UnavailableError.
   */
  private async call<T>(op: KubeOperation, what: string, fn: (opts: k8s.ConfigurationOptions) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    const pass = <C>(c: C) => new this.lib.Observable(Promise.resolve(c));
    const opts: k8s.ConfigurationOptions = {
      middleware: [{ pre: (ctx) => (ctx.setSignal(signal as never), pass(ctx)), post: (r) => pass(r) }],
      middlewareMergeStrategy: 'append',
    };
    try {
      const r = await fn(opts);
      this.opts.onRequest?.(op, 'ok');
      return r;
    } catch (e) {
      const err = signal.aborted ? new UnavailableError(`${what}: no answer from ${this.server} within ${timeoutMs / 1000}s`) : mapKubeError(e, what);
      this.opts.onRequest?.(op, signal.aborted ? 'timeout' : 'error', err);
      throw err;
    }
  }

  private applyOpts(opts: k8s.ConfigurationOptions): k8s.ConfigurationOptions {
    return this.lib.setHeaderOptions('Content-Type', this.lib.PatchStrategy.ServerSideApply, opts);
  }

  /** Server-side apply of a Session's metadata (labels, finalizers) and spec: creates it when missing. */
  async applySession(namespace: string, obj: KubeObject): Promise<KubeObject> {
    const { name } = obj.metadata;
    return this.call('apply', `apply session ${namespace}/${name}`, (o) =>
      this.api.patchNamespacedCustomObject({ group: API_GROUP, version: KUBE_VERSION, namespace, plural: SESSION_PLURAL, name, body: obj, fieldManager: this.manager, force: true }, this.applyOpts(o)),
    );
  }

  /** Server-side apply of a Session's status subresource. */
  async applySessionStatus(namespace: string, name: string, apiVersion: string, kind: string, status: unknown): Promise<void> {
    await this.call('apply-status', `apply the status of session ${namespace}/${name}`, (o) =>
      this.api.patchNamespacedCustomObjectStatus(
        { group: API_GROUP, version: KUBE_VERSION, namespace, plural: SESSION_PLURAL, name, body: { apiVersion, kind, metadata: { name, namespace }, status }, fieldManager: this.manager, force: true },
        this.applyOpts(o),
      ),
    );
  }

  /** Deletes a Session (its finalizers still hold it until released); gone already is success. */
  async deleteSession(namespace: string, name: string): Promise<void> {
    try {
      await this.call('delete', `delete session ${namespace}/${name}`, (o) => this.api.deleteNamespacedCustomObject({ group: API_GROUP, version: KUBE_VERSION, namespace, plural: SESSION_PLURAL, name }, o));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  /** Sessions of one namespace, or of all namespaces when none is given. */
  async listSessions(namespace?: string, labelSelector?: string): Promise<KubeObject[]> {
    return (await this.list({ plural: SESSION_PLURAL, namespace, labelSelector })).items;
  }

  /** One list request: of a namespace, or of the whole cluster (all namespaces, or a cluster-scoped resource). */
  private async list(what: { plural: string; namespace?: string; labelSelector?: string }): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const { plural, namespace, labelSelector } = what;
    const list: k8s.KubernetesListObject<k8s.KubernetesObject> = await this.call('list', `list ${plural}`, (o) =>
      namespace
        ? this.api.listNamespacedCustomObject({ group: API_GROUP, version: KUBE_VERSION, namespace, plural, labelSelector }, o)
        : this.api.listClusterCustomObject({ group: API_GROUP, version: KUBE_VERSION, plural, labelSelector }, o),
    );
    return { items: (list.items ?? []) as unknown as KubeObject[], resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /**
   * Server-side apply of a user's Pod under `manager`, without force: a login node that applies the same pod as
   * another shares its fields; one whose pod differs gets a ConflictError (or an InvalidError for the fields a pod
   * never changes) instead of taking the pod over.
   */
  async applyPod(pod: k8s.V1Pod, manager: string): Promise<k8s.V1Pod> {
    const { name, namespace } = pod.metadata as { name: string; namespace: string };
    return this.call('apply', `apply pod ${namespace}/${name}`, (o) => this.core.patchNamespacedPod({ name, namespace, body: pod, fieldManager: manager, force: false }, this.applyOpts(o)));
  }

  /** A Pod, or NotFoundError. */
  async readPod(namespace: string, name: string): Promise<k8s.V1Pod> {
    return this.call('get', `read pod ${namespace}/${name}`, (o) => this.core.readNamespacedPod({ name, namespace }, o));
  }

  /** The Pods of a namespace that carry the labels of `labelSelector`. */
  async listPods(namespace: string, labelSelector: string): Promise<k8s.V1Pod[]> {
    return (await this.call('list', `list pods in ${namespace}`, (o) => this.core.listNamespacedPod({ namespace, labelSelector }, o))).items;
  }

  /**
   * The kubelet's stats/summary of a node, through the API server's node proxy (nodes/proxy get). Its own time limit
   * is short: it is read during a scrape, which a kubelet that does not answer must not hold past Prometheus's.
   */
  async nodeSummary(node: string, timeoutMs = 3000): Promise<NodeSummary> {
    const r: unknown = await this.call('get', `read the stats summary of node ${node}`, (o) => this.core.connectGetNodeProxyWithPath({ name: node, path: 'stats/summary' }, o), timeoutMs);
    // Typed as a string by the generated client, which parses a JSON answer all the same.
    return (typeof r === 'string' ? JSON.parse(r) : r) as NodeSummary;
  }

  /** Sets annotations on a Pod (a merge patch: the others stay); returns the Pod as the server has it now. */
  async annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<k8s.V1Pod> {
    const opts = (o: k8s.ConfigurationOptions) => this.lib.setHeaderOptions('Content-Type', this.lib.PatchStrategy.MergePatch, o);
    return this.call('apply', `annotate pod ${namespace}/${name}`, (o) => this.core.patchNamespacedPod({ name, namespace, body: { metadata: { annotations } } }, opts(o)));
  }

  /**
   * Deletes the Pod of that uid only (a pod made again meanwhile is another one), and with `resourceVersion` only if
   * nothing has changed it since it was read (a ConflictError otherwise); false when it was gone already.
   */
  async deletePod(namespace: string, name: string, uid: string, resourceVersion?: string, graceSeconds?: number): Promise<boolean> {
    try {
      const body = { preconditions: { uid, ...(resourceVersion ? { resourceVersion } : {}) }, ...(graceSeconds !== undefined ? { gracePeriodSeconds: graceSeconds } : {}) };
      await this.call('delete', `delete pod ${namespace}/${name}`, (o) => this.core.deleteNamespacedPod({ name, namespace, body }, o));
      return true;
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      return false;
    }
  }

  /**
   * A command in a pod's container over the API server's exec WebSocket (channel protocol v5, so stdin can be closed
   * on its own). Output and the final status go to `io`; the handle carries stdin, the terminal's size and the end.
   */
  async execPod(target: { namespace: string; pod: string; container: string }, command: string[], tty: boolean, io: PodExecIO): Promise<PodExecStream> {
    const { Writable, PassThrough } = await import('node:stream');
    const sink = (f: (b: Buffer) => void) => new Writable({ write: (chunk: Buffer, _e, cb) => (f(chunk), cb()) });
    const stdin = new PassThrough();
    let ws: Awaited<ReturnType<k8s.Exec['exec']>>;
    try {
      ws = await new this.lib.Exec(this.kc).exec(target.namespace, target.pod, target.container, command, sink(io.stdout), tty ? null : sink(io.stderr), stdin, tty, (st) => io.status(st as PodExecStatus));
    } catch (e) {
      throw mapKubeError(e, `exec in pod ${target.namespace}/${target.pod}`);
    }
    ws.on('close', () => io.closed());
    return {
      stdin: (b) => void stdin.write(b),
      endStdin: () => void stdin.end(),
      // Channel 4 of the exec protocol: the terminal's size as JSON.
      resize: (rows, cols) => ws.readyState === ws.OPEN && ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: cols, Height: rows }))])),
      close: () => ws.close(),
    };
  }

  /** Server-side apply of a (cluster-scoped) DoshPolicy's status. */
  async applyPolicyStatus(name: string, apiVersion: string, kind: string, status: unknown): Promise<void> {
    await this.call('apply-status', `apply the status of doshpolicy ${name}`, (o) =>
      this.api.patchClusterCustomObjectStatus({ group: API_GROUP, version: KUBE_VERSION, plural: POLICY_PLURAL, name, body: { apiVersion, kind, metadata: { name }, status }, fieldManager: this.manager, force: true }, this.applyOpts(o)),
    );
  }

  /**
   * Lists and watches a resource (Sessions of a namespace with a label selector, or DoshPolicies) into a cache
   * (kube/reflector.ts): nothing happens before start(). A list, or a watch's first answer, that takes longer than
   * the request timeout fails; a watch that sends nothing (the server sends bookmarks, and ends each watch after
   * WATCH_SECONDS) is given up; after a failure it lists again after a doubling delay, reset by a successful list.
   */
  watch(what: { plural: string; namespace?: string; labelSelector?: string }, h: WatchHandlers, backoff: WatchBackoff): Watcher {
    const base = `/apis/${API_GROUP}/${KUBE_VERSION}`;
    const path = what.namespace ? `${base}/namespaces/${what.namespace}/${what.plural}` : `${base}/${what.plural}`;
    const reflector = new Reflector({
      list: () => this.list(what),
      watch: (resourceVersion, onLine) => this.openWatch(path, { resourceVersion, labelSelector: what.labelSelector, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS }, onLine),
      timers: backoff,
      backoff,
      idleMs: (WATCH_SECONDS + 60) * 1000,
      onEvent: (type, obj) => h.onEvent(type, obj),
      onSynced: () => h.onSynced(),
      onError: (err, retryInMs) => h.onError(err, retryInMs),
    });
    return {
      start: () => void reflector.run(),
      get: (name, namespace) => reflector.get(name, namespace),
      list: () => reflector.list(),
      stop: () => reflector.stop(),
    };
  }

  /** One watch request through client-node's Watch, whose fetch gets the request timeout for its first answer. */
  private openWatch(path: string, query: Record<string, string | number | boolean | undefined>, onLine: (line: WatchLine) => void): Promise<OpenWatch> {
    const what = `watch ${path}`;
    // Watch reads only these two of its KubeConfig; node-fetch's `timeout` bounds the wait for the response headers.
    const config = {
      getCurrentCluster: () => this.kc.getCurrentCluster(),
      applyToFetchOptions: (o: object) => this.kc.applyToFetchOptions({ ...o, timeout: this.timeoutMs }),
    } as unknown as k8s.KubeConfig;
    return new Promise<OpenWatch>((resolve, reject) => {
      let open = false;
      let end: { resolve(): void; reject(e: Error): void } | undefined;
      const done = new Promise<void>((res, rej) => (end = { resolve: res, reject: rej }));
      done.catch(() => {}); // a watch that fails before it opens rejects the open instead
      const fail = (e: unknown): Error => {
        const timedOut = (e as { type?: string })?.type === 'request-timeout';
        const err = timedOut ? new UnavailableError(`${what}: no answer from ${this.server} within ${this.timeoutMs / 1000}s`) : mapKubeError(e, what);
        this.opts.onRequest?.('watch', timedOut ? 'timeout' : 'error', err);
        return err;
      };
      let failedEarly = false;
      new this.lib.Watch(config)
        .watch(path, query, (type, object) => onLine({ type, object } as WatchLine), (err) => {
          if (!open) {
            failedEarly = true;
            reject(fail(err));
          } else if (err && (err as { name?: string }).name !== 'AbortError') end!.reject(mapKubeError(err, what));
          else end!.resolve();
        })
        .then(
          (controller) => {
            if (failedEarly) return;
            open = true;
            this.opts.onRequest?.('watch', 'ok');
            resolve({ done, abort: () => controller.abort() });
          },
          (e) => reject(fail(e)),
        );
    });
  }
}
