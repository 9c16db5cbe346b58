// Per-user resource metrics, read at scrape time from each managed container's cgroup (lib/cgroup-usage.ts) and, with
// the kubernetes backend, from the kubelet's summary of each user's pod (pod-usage.ts). Labels are `user` and `uid`,
// and `pod_node` (the cluster node it runs on) on a pod's series (not `node`: scrapers commonly set that target label
// to the login node, as the chart's ServiceMonitor does, and would rename ours); every scrape rebuilds the series from the containers and pods that
// exist now, so a user whose container is gone has no series left.
import { Counter, Gauge, type Registry } from 'prom-client';
import { LABEL_MANAGED, LABEL_UID, LABEL_USER } from '../../api/labels.ts';
import { type CgroupLayout, type ContainerUsage, detectCgroup, readUsage } from '../../lib/cgroup-usage.ts';
import type { ListPodUsage } from './pod-usage.ts';

export interface ManagedContainer {
  id: string;
  labels: Record<string, string>;
  /** The container's main process, for its network namespace; without it the first process of its cgroup is used. */
  pid?: number;
}

/** Lists the managed containers; the caller caches it for a few seconds so that a scrape makes no engine call. */
export type ListManaged = () => Promise<ManagedContainer[]>;

export interface UserMetricsOptions {
  registry: Registry;
  list: ListManaged;
  /** Where the cgroups are; detected (once, at the first collect) when absent. */
  layout?: CgroupLayout;
  /** The kubernetes backend's pods (pod-usage.ts), when doshd has a Kubernetes connection. */
  pods?: ListPodUsage;
  /** Called when listing fails or no cgroup hierarchy is found (the scrape then carries no container series), or pods cannot be read. */
  onError?: (err: unknown) => void;
  /** Replaces readUsage (tests). */
  read?: (layout: CgroupLayout, id: string, pid?: number) => ContainerUsage | undefined;
}

type Field = keyof ContainerUsage;
interface Def {
  name: string;
  help: string;
  field: Field;
  /** Several containers of one user (during a recreate): usage adds up, a limit is the largest. */
  merge: 'sum' | 'max';
}

// Monotonic values are Counters (`# TYPE ... counter`, as the _total suffix promises); they are reset and set again on
// every collect like the gauges, which keeps the exposition exactly what the kernel says now.
const COUNTERS: Def[] = [
  { name: 'dosh_user_cpu_seconds_total', help: 'CPU time used by the user\'s container, in seconds.', field: 'cpuSeconds', merge: 'sum' },
  { name: 'dosh_user_network_receive_bytes_total', help: 'Bytes received by the user\'s container on all interfaces but lo.', field: 'networkReceiveBytes', merge: 'sum' },
  { name: 'dosh_user_network_transmit_bytes_total', help: 'Bytes sent by the user\'s container on all interfaces but lo.', field: 'networkTransmitBytes', merge: 'sum' },
  { name: 'dosh_user_blkio_read_bytes_total', help: 'Bytes read from block devices by the user\'s container.', field: 'blkioReadBytes', merge: 'sum' },
  { name: 'dosh_user_blkio_write_bytes_total', help: 'Bytes written to block devices by the user\'s container.', field: 'blkioWriteBytes', merge: 'sum' },
  { name: 'dosh_user_oom_kills_total', help: 'Processes of the user\'s container killed by the OOM killer.', field: 'oomKills', merge: 'sum' },
];

const GAUGES: Def[] = [
  { name: 'dosh_user_memory_working_set_bytes', help: 'Memory of the user\'s container that cannot be reclaimed without swapping: usage minus inactive file cache.', field: 'memoryWorkingSetBytes', merge: 'sum' },
  { name: 'dosh_user_memory_usage_bytes', help: 'Memory charged to the user\'s container, page cache included.', field: 'memoryUsageBytes', merge: 'sum' },
  { name: 'dosh_user_memory_limit_bytes', help: 'Memory limit of the user\'s container; no series when unlimited.', field: 'memoryLimitBytes', merge: 'max' },
  { name: 'dosh_user_pids', help: 'Processes and threads in the user\'s container.', field: 'pids', merge: 'sum' },
  { name: 'dosh_user_pids_limit', help: 'Limit on processes and threads in the user\'s container; no series when unlimited.', field: 'pidsLimit', merge: 'max' },
];

/** The metric names, in exposition order. */
export const USER_METRIC_NAMES = [...COUNTERS, ...GAUGES].map((d) => d.name);

const LABELS = ['user', 'uid', 'pod_node'] as const;
type Labels = { user: string; uid: string; pod_node?: string };

export class UserMetrics {
  private readonly metrics: { def: Def; metric: Counter<(typeof LABELS)[number]> | Gauge<(typeof LABELS)[number]> }[] = [];
  private layout?: CgroupLayout;
  private inflight?: Promise<void>;

  constructor(private readonly opts: UserMetricsOptions) {
    this.layout = opts.layout;
    // prom-client's Registry.metrics() calls every metric's collect() in the same tick; the first starts the refresh
    // and the others wait for that same one, so a scrape lists and reads the containers once.
    const collect = () => this.collect();
    for (const def of COUNTERS) {
      const metric = new Counter({ name: def.name, help: def.help, labelNames: LABELS, registers: [opts.registry], collect });
      this.metrics.push({ def, metric });
    }
    for (const def of GAUGES) {
      const metric = new Gauge({ name: def.name, help: def.help, labelNames: LABELS, registers: [opts.registry], collect });
      this.metrics.push({ def, metric });
    }
  }

  /** Lists the managed containers and sets every per-user series from their cgroups. Concurrent calls share one run. */
  collect(): Promise<void> {
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async refresh(): Promise<void> {
    // One row per user (and cluster node, for pods): usage of all her containers summed, limits the largest.
    const rows = new Map<string, { labels: Labels; values: Partial<Record<Field, number>> }>();
    const add = (labels: Labels, u: Partial<ContainerUsage>) => {
      const key = `${labels.user}\0${labels.uid}\0${labels.pod_node ?? ''}`;
      let row = rows.get(key);
      if (!row) rows.set(key, (row = { labels, values: {} }));
      for (const { def } of this.metrics) {
        const v = u[def.field];
        if (v === undefined) continue;
        const prev = row.values[def.field];
        row.values[def.field] = prev === undefined ? v : def.merge === 'sum' ? prev + v : Math.max(prev, v);
      }
    };
    const [containers, pods] = await Promise.all([this.containerUsage(add), this.opts.pods?.().catch((err) => void this.opts.onError?.(err))]);
    if (!containers && !pods) {
      this.reset();
      return;
    }
    for (const p of pods ?? []) add({ user: p.user, uid: p.uid, pod_node: p.node }, p.usage);
    const sorted = [...rows.values()].sort((a, b) => cmp(a.labels.user, b.labels.user) || cmp(a.labels.pod_node ?? '', b.labels.pod_node ?? ''));
    // Reset and refill with no await in between, so that no reader sees a half-built set.
    this.reset();
    for (const row of sorted) {
      for (const { def, metric } of this.metrics) {
        const v = row.values[def.field];
        if (v === undefined) continue;
        if (metric instanceof Counter) metric.inc(row.labels, v);
        else metric.set(row.labels, v);
      }
    }
  }

  /** Adds the usage of the managed containers; false when they cannot be listed or no cgroup hierarchy is found. */
  private async containerUsage(add: (labels: Labels, u: ContainerUsage) => void): Promise<boolean> {
    let containers: ManagedContainer[];
    let layout: CgroupLayout;
    try {
      containers = await this.opts.list();
      layout = this.layout ??= detectCgroup();
    } catch (err) {
      this.opts.onError?.(err);
      return false;
    }
    const read = this.opts.read ?? readUsage;
    for (const c of containers) {
      const user = c.labels[LABEL_USER];
      if (c.labels[LABEL_MANAGED] !== 'true' || !user) continue;
      let u: ContainerUsage | undefined;
      try {
        u = read(layout, c.id, c.pid || undefined);
      } catch {
        u = undefined;
      }
      if (!u) continue; // not running: no cgroup, no series
      add({ user, uid: c.labels[LABEL_UID] ?? '' }, u);
    }
    return true;
  }

  private reset(): void {
    for (const { metric } of this.metrics) metric.reset();
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
