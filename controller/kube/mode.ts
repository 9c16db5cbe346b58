// Kubernetes mode's wiring: the client, the watches (restarted with backoff), the Session mirror and the cluster
// policy. Nothing here is on the login path: a node whose API server is away goes on logging users in.
import { DOSHPOLICY_NAME } from '../../api/doshpolicy.ts';
import { LABEL_NODE } from '../../api/labels.ts';
import type { Session } from '../../api/session.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { WatchBackoff } from '../../kube/client.ts';
import type { DirStore } from '../../store/dirstore.ts';
import type { DoshdConfig } from '../config.ts';
import { ClusterPolicy } from './cluster-policy.ts';
import { nodeSlug, SessionMirror } from './mirror.ts';
import { ApiConnection } from './connection.ts';
import type { ControllerMetrics } from '../metrics/metrics.ts';
import type { PolicySource } from '../policy-source.ts';
import type { PodApi } from '../pods/user-pods.ts';
import type { PodExecApi } from '../pods/exec-bridge.ts';
import type { PodCollectorApi } from '../pods/pod-collector.ts';
import type { PodUsageApi } from '../metrics/pod-usage.ts';

export interface KubeModeDeps {
  config: NonNullable<DoshdConfig['kube']>;
  node: string;
  store: DirStore<Session>;
  policy: PolicySource;
  clock: Clock;
  metrics: ControllerMetrics;
  log: Logger;
}

const BACKOFF: Omit<WatchBackoff, 'setTimer'> = { baseMs: 500, maxMs: 30_000 };
/** A request to the API server (or a watch's first answer) that takes longer fails, is logged and counted. */
export const KUBE_REQUEST_TIMEOUT_MS = 15_000;

export interface KubeMode {
  run(signal: AbortSignal): Promise<void>;
  /** Why the node is not connected to the API server (for /readyz), or undefined. */
  notReady(): string | undefined;
  /** The client, for the kubernetes backend's pods and execs (controller/pods/) and their usage (metrics/pod-usage.ts). */
  api: PodApi & PodExecApi & PodCollectorApi & PodUsageApi;
}

export async function startKubeMode(d: KubeModeDeps): Promise<KubeMode> {
  const { config, node, log } = d;
  const { KubeClient, POLICY_PLURAL, SESSION_PLURAL } = await import('../../kube/client.ts');
  let conn: ApiConnection | undefined;
  const api = await KubeClient.load({
    kubeconfig: config.kubeconfig,
    inCluster: config.inCluster,
    fieldManager: `doshd-${nodeSlug(node)}`,
    requestTimeoutMs: KUBE_REQUEST_TIMEOUT_MS,
    onRequest: (operation, result, err) => conn?.request(operation, result, err),
  });
  conn = new ApiConnection({
    watches: [SESSION_PLURAL, POLICY_PLURAL],
    server: api.server,
    log,
    now: () => d.clock.now(),
    setGauge: (up) => d.metrics.kubeConnected.set(up ? 1 : 0),
    countRequest: (operation, result) => d.metrics.kubeRequests.inc({ operation, result }),
  });
  const connection = conn;
  const backoff: WatchBackoff = {
    ...BACKOFF,
    setTimer: (fn, ms) => {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    },
  };
  // Nothing runs before run(): the watches start there, and the mirror once the sessions have been listed.
  let synced: () => void = () => {};
  const firstSync = new Promise<void>((resolve) => (synced = resolve));
  const sessions = api.watch(
    { plural: SESSION_PLURAL, namespace: config.namespace, labelSelector: `${LABEL_NODE}=${nodeSlug(node)}` },
    {
      onEvent: (_type, obj) => mirror.onRemote(obj),
      onError: (err, retryInMs) => {
        connection.watchFailed(SESSION_PLURAL, err);
        log.warn('Kubernetes API watch of sessions failed; logins go on, the mirror catches up when it returns', { error: err.message, retryInMs });
      },
      onSynced: () => {
        connection.listed(SESSION_PLURAL);
        synced();
        mirror.resync();
      },
    },
    backoff,
  );
  const mirror = new SessionMirror({
    store: d.store,
    api,
    remote: { get: (name, ns) => sessions.get(name, ns), list: () => sessions.list() },
    clock: d.clock,
    metrics: d.metrics,
    log,
    options: { node, namespace: config.namespace, resyncIntervalMs: config.resyncIntervalMs, workers: 2 },
  });
  const cluster = new ClusterPolicy({ api, apply: (next) => d.policy.setOverride(next), clock: d.clock, log, node });
  const policies = api.watch(
    { plural: POLICY_PLURAL },
    {
      onEvent: (type, obj) => void cluster.onEvent(type, obj),
      onError: (err, retryInMs) => {
        connection.watchFailed(POLICY_PLURAL, err);
        log.warn('Kubernetes API watch of the cluster policy failed; the policy in force stays', { error: err.message, retryInMs });
      },
      // A relist after an outage may show the resource changed or gone: the cache has it as it is now.
      onSynced: () => {
        connection.listed(POLICY_PLURAL);
        const cur = policies.get(DOSHPOLICY_NAME);
        if (cur) void cluster.onEvent('update', cur);
      },
    },
    backoff,
  );
  log.info('Kubernetes mode', { server: api.server, namespace: config.namespace, node: nodeSlug(node) });
  return {
    api,
    notReady: () => connection.notReady(),
    async run(signal) {
      sessions.start();
      policies.start();
      // Like a controller waiting for its informer's cache: the mirror compares with the listed resources only.
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([firstSync, aborted]);
      if (!signal.aborted) await mirror.run(signal);
      sessions.stop();
      policies.stop();
    },
  };
}
