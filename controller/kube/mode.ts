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
import type { ControllerMetrics } from '../metrics/metrics.ts';
import type { PolicySource } from '../policy-source.ts';

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

export async function startKubeMode(d: KubeModeDeps): Promise<{ run(signal: AbortSignal): Promise<void> }> {
  const { config, node, log } = d;
  const { KubeClient, POLICY_PLURAL, SESSION_PLURAL } = await import('../../kube/client.ts');
  const api = await KubeClient.load({ kubeconfig: config.kubeconfig, inCluster: config.inCluster, fieldManager: `doshd-${nodeSlug(node)}` });
  const backoff: WatchBackoff = {
    ...BACKOFF,
    setTimer: (fn, ms) => {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    },
  };
  // The mirror reads the watch's cache, and the watch's events feed the mirror: neither is used before run().
  const mirror: SessionMirror = new SessionMirror({
    store: d.store,
    api,
    remote: { get: (name, ns) => sessions.get(name, ns), list: () => sessions.list() },
    clock: d.clock,
    metrics: d.metrics,
    log,
    options: { node, namespace: config.namespace, resyncIntervalMs: config.resyncIntervalMs, workers: 2 },
  });
  const sessions = api.watch(
    { plural: SESSION_PLURAL, namespace: config.namespace, labelSelector: `${LABEL_NODE}=${nodeSlug(node)}` },
    {
      onEvent: (_type, obj) => mirror.onRemote(obj),
      onError: (err, retryInMs) => {
        d.metrics.kubeConnected.set(0);
        log.warn('Kubernetes API watch of sessions failed; logins go on, the mirror catches up when it returns', { error: err.message, retryInMs });
      },
      onConnect: () => {
        d.metrics.kubeConnected.set(1);
        mirror.resync();
      },
    },
    backoff,
  );
  const cluster = new ClusterPolicy({ api, apply: (next) => d.policy.setOverride(next), clock: d.clock, log, node });
  const policies = api.watch(
    { plural: POLICY_PLURAL },
    {
      onEvent: (type, obj) => void cluster.onEvent(type, obj),
      onError: (err, retryInMs) => log.warn('Kubernetes API watch of the cluster policy failed; the policy in force stays', { error: err.message, retryInMs }),
      // A relist after an outage may show the resource changed or gone: the cache has it as it is now.
      onConnect: () => {
        const cur = policies.get(DOSHPOLICY_NAME);
        if (cur) void cluster.onEvent('update', cur);
      },
    },
    backoff,
  );
  log.info('Kubernetes mode', { server: api.server, namespace: config.namespace, node: nodeSlug(node) });
  return {
    async run(signal) {
      await mirror.run(signal);
      sessions.stop();
      policies.stop();
    },
  };
}
