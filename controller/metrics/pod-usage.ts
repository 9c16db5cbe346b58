// Per-user resource usage of the kubernetes backend's pods, for controller/metrics/user-metrics.ts: what the kubelet
// of each pod's node says in its stats summary (through the API server's node proxy), one request per cluster node,
// matched to the pods by namespace, name and uid. A pod's series carry the cluster node it runs on (`pod_node`).
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_MANAGED, LABEL_UID, LABEL_USER } from '../../api/labels.ts';
import type { ContainerUsage } from '../../lib/cgroup-usage.ts';
import type { NodeSummary } from '../../kube/types.ts';

/** The Kubernetes calls made here (kube/client.ts; a fake in unit tests). */
export interface PodUsageApi {
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  nodeSummary(node: string): Promise<NodeSummary>;
}

/** One pod's usage as the per-user metrics take it. */
export interface PodUsageRow {
  user: string;
  uid: string;
  node: string;
  usage: Partial<ContainerUsage>;
}

export type ListPodUsage = () => Promise<PodUsageRow[]>;

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A Kubernetes quantity of bytes ("512Mi", "1G", "1e9"); undefined for anything else. */
export function quantityBytes(q: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(?:([kMGTPE]i?)|[eE](\d+))?$/.exec(q ?? '');
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (m[3] !== undefined ? 10 ** Number(m[3]) : UNITS[m[2] ?? '']));
}

/**
 * The usage of every running managed pod in `namespaces`. Every login node of a fleet reports the same pods, each
 * under its own `instance`: aggregate them with max by (user, uid, pod_node), not sum. A node whose summary cannot be
 * read leaves its pods out of this scrape; a namespace that cannot be listed, its pods. Throws when no namespace
 * or no kubelet at all could be read, so that the caller logs it.
 */
export async function podUsage(api: PodUsageApi, namespaces: Iterable<string>): Promise<PodUsageRow[]> {
  const failures: unknown[] = [];
  // All at once, as the summaries below: an API server that does not answer costs a scrape its time limit once.
  const listed = await Promise.all([...namespaces].map((ns) => api.listPods(ns, `${LABEL_MANAGED}=true`).catch((e: unknown) => void failures.push(e))));
  if (listed.length > 0 && failures.length === listed.length) throw failures[0];
  const pods = listed.flatMap((l) => l ?? []);
  const byNode = new Map<string, V1Pod[]>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node || p.status?.phase !== 'Running' || !p.metadata?.labels?.[LABEL_USER]) continue;
    byNode.set(node, [...(byNode.get(node) ?? []), p]);
  }
  const rows: PodUsageRow[] = [];
  const unread: unknown[] = [];
  // All at once: one kubelet that does not answer costs a scrape its time limit once, not once per node.
  const summaries = await Promise.all([...byNode.keys()].map((node) => api.nodeSummary(node).catch((e: unknown) => void unread.push(e))));
  for (const [i, [node, onNode]] of [...byNode].entries()) {
    const summary = summaries[i];
    if (!summary) continue;
    const stats = new Map((summary.pods ?? []).map((s) => [`${s.podRef.namespace}/${s.podRef.name}`, s]));
    for (const p of onNode) {
      const s = stats.get(`${p.metadata!.namespace}/${p.metadata!.name}`);
      // The summary of a pod of the same name made before this one is not hers.
      if (!s || (s.podRef.uid && s.podRef.uid !== p.metadata!.uid)) continue;
      rows.push({ user: p.metadata!.labels![LABEL_USER], uid: p.metadata!.labels![LABEL_UID] ?? '', node, usage: usageOf(p, s) });
    }
  }
  // No kubelet could be read: most likely no right to (nodes/proxy), which the administrator must hear of.
  if (byNode.size > 0 && unread.length === byNode.size) throw unread[0];
  return rows;
}

type PodStats = NonNullable<NodeSummary['pods']>[number];

/**
 * A pod-level figure, else the sum of its containers'. A kubelet whose cAdvisor cannot see the pod's own cgroup (a
 * cgroup v1 host whose hierarchies are not unified) reports the pod's CPU and memory as 0 while its containers' are
 * right: a pod in which a login runs never used nothing, so 0 there means missing.
 */
function podOrContainers(s: PodStats, get: (x: Pick<PodStats, 'cpu' | 'memory'>) => number | undefined): number | undefined {
  const own = get(s);
  if (own) return own;
  const each = (s.containers ?? []).map(get).filter((v): v is number => v !== undefined);
  return each.length ? each.reduce((a, b) => a + b, 0) : own;
}

function usageOf(pod: V1Pod, s: PodStats): Partial<ContainerUsage> {
  const u: Partial<ContainerUsage> = {};
  const cpu = podOrContainers(s, (x) => x.cpu?.usageCoreNanoSeconds);
  if (cpu !== undefined) u.cpuSeconds = cpu / 1e9;
  const usage = podOrContainers(s, (x) => x.memory?.usageBytes);
  if (usage !== undefined) u.memoryUsageBytes = usage;
  const ws = podOrContainers(s, (x) => x.memory?.workingSetBytes);
  if (ws !== undefined) u.memoryWorkingSetBytes = ws;
  const ifs = (s.network?.interfaces ?? []).filter((i) => i.name !== 'lo');
  if (ifs.length) {
    u.networkReceiveBytes = ifs.reduce((n, i) => n + (i.rxBytes ?? 0), 0);
    u.networkTransmitBytes = ifs.reduce((n, i) => n + (i.txBytes ?? 0), 0);
  }
  if (s.process_stats?.process_count !== undefined) u.pids = s.process_stats.process_count;
  // The summary has no limits; her container's own is in the pod's spec (the one container DoSH makes).
  const limits = (pod.spec?.containers ?? []).map((c) => quantityBytes(c.resources?.limits?.memory));
  if (limits.length && limits.every((l) => l !== undefined)) u.memoryLimitBytes = limits.reduce((a, b) => a! + b!, 0);
  // No oomKills: the kubelet counts a container killed, not the processes of it the kernel killed, as the engine does.
  return u;
}

/** podUsage at most once per `ttlMs`, shared by the scrapes meanwhile; a failed read is not kept. */
export function cachedPodUsage(api: PodUsageApi, namespaces: () => Iterable<string>, now: () => number, ttlMs = 5000): ListPodUsage {
  let read: { at: number; rows: Promise<PodUsageRow[]> } | undefined;
  return () => {
    if (!read || now() - read.at > ttlMs) {
      const entry = { at: now(), rows: podUsage(api, namespaces()) };
      entry.rows.catch(() => {
        if (read === entry) read = undefined;
      });
      read = entry;
    }
    return read.rows;
  };
}
