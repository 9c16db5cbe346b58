// Per-user resource use for `top users` and `describe user`: read from each running container's cgroup
// (lib/cgroup-usage.ts), summed per user like doshd's /metrics does, limits the largest.
import { type CgroupLayout, type ContainerUsage, readUsage } from '../../lib/cgroup-usage.ts';
import { LABEL_MANAGED, LABEL_UID, LABEL_USER } from '../../api/labels.ts';

export interface Labelled {
  id: string;
  name: string;
  labels: Record<string, string>;
}

export interface UserUsage {
  user: string;
  uid: string;
  containers: string[];
  cpuSeconds: number;
  memoryWorkingSetBytes: number;
  memoryUsageBytes: number;
  memoryLimitBytes: number | null;
  pids: number;
  pidsLimit: number | null;
}

export type ReadUsage = (layout: CgroupLayout, id: string) => ContainerUsage | undefined;

/** One entry per user with at least one container that has a cgroup on this host (running here). */
export function usageByUser(layout: CgroupLayout, containers: Labelled[], read: ReadUsage = readUsage): Map<string, UserUsage> {
  const out = new Map<string, UserUsage>();
  for (const c of containers) {
    const user = c.labels[LABEL_USER];
    if (c.labels[LABEL_MANAGED] !== 'true' || !user) continue;
    const u = read(layout, c.id);
    if (!u) continue;
    let row = out.get(user);
    if (!row) {
      row = { user, uid: c.labels[LABEL_UID] ?? '', containers: [], cpuSeconds: 0, memoryWorkingSetBytes: 0, memoryUsageBytes: 0, memoryLimitBytes: null, pids: 0, pidsLimit: null };
      out.set(user, row);
    }
    row.containers.push(c.name);
    row.cpuSeconds += u.cpuSeconds;
    row.memoryWorkingSetBytes += u.memoryWorkingSetBytes;
    row.memoryUsageBytes += u.memoryUsageBytes;
    row.pids += u.pids;
    if (u.memoryLimitBytes !== undefined) row.memoryLimitBytes = Math.max(row.memoryLimitBytes ?? 0, u.memoryLimitBytes);
    if (u.pidsLimit !== undefined) row.pidsLimit = Math.max(row.pidsLimit ?? 0, u.pidsLimit);
  }
  return out;
}

/** kubectl's quantities: 1536Mi, 12Gi, 640Ki. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '<none>';
  const Ki = 1024;
  const Mi = Ki * 1024;
  const Gi = Mi * 1024;
  if (n >= 10 * Gi) return `${Math.round(n / Gi)}Gi`;
  if (n >= Mi) return `${Math.round(n / Mi)}Mi`;
  if (n >= Ki) return `${Math.round(n / Ki)}Ki`;
  return String(n);
}

/** Cores as kubectl prints them: millicores. */
export function millicores(cores: number): string {
  return `${Math.round(cores * 1000)}m`;
}
