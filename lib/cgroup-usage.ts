// Per-container resource use read straight from the kernel: the container's cgroup (v1 or v2, cgroupfs or systemd
// driver) and /proc/<pid>/net/dev. Small synchronous reads into one reused buffer, no engine call, so that reading a few
// hundred containers takes milliseconds (the engine's stats API takes about a second per container).
import { closeSync, openSync, readSync } from 'node:fs';

/** The few file operations usage needs; tests pass an in-memory tree. */
export interface CgroupFs {
  /** The file's text, or undefined when it does not exist or cannot be read. */
  read(path: string): string | undefined;
  exists(path: string): boolean;
}

const buf = Buffer.allocUnsafe(64 * 1024);

/** The real filesystem: open, read until EOF into a shared buffer, close. */
export const realFs: CgroupFs = {
  read(path) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    try {
      let n = 0;
      for (;;) {
        const r = readSync(fd, buf, n, buf.length - n, null);
        if (r === 0) break;
        n += r;
        if (n === buf.length) break; // none of the files read here comes near 64 KiB
      }
      return buf.toString('latin1', 0, n);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  },
  exists(path) {
    try {
      closeSync(openSync(path, 'r'));
      return true;
    } catch {
      return false;
    }
  },
};

/** An in-memory tree for tests: a path exists when it is one of the files. */
export function memFs(files: Record<string, string>): CgroupFs {
  return { read: (p) => files[p], exists: (p) => Object.hasOwn(files, p) };
}

export type CgroupController = 'cpu' | 'memory' | 'pids' | 'blkio';

export interface CgroupLayout {
  version: 1 | 2;
  root: string;
  /** v1: the mount of each controller (`cpuacct` may be mounted as `cpu,cpuacct`); v2: all equal to root. */
  mounts: Record<CgroupController, string>;
  /** Where a container's cgroup sits below a mount, most likely first: `docker/<id>`, `system.slice/docker-<id>.scope`. */
  templates: ((id: string) => string)[];
  /** Where /proc is (for <pid>/net/dev and <pid>/cgroup). */
  procRoot: string;
  fs: CgroupFs;
}

export interface ContainerUsage {
  cpuSeconds: number;
  memoryUsageBytes: number;
  /** Usage minus inactive file cache, floored at 0: what cAdvisor and the kubelet call the working set. */
  memoryWorkingSetBytes: number;
  /** Absent when unlimited. */
  memoryLimitBytes?: number;
  oomKills: number;
  pids: number;
  /** Absent when unlimited. */
  pidsLimit?: number;
  blkioReadBytes: number;
  blkioWriteBytes: number;
  /** Absent when no process of the container could be read. */
  networkReceiveBytes?: number;
  networkTransmitBytes?: number;
}

const CGROUPFS = (id: string) => `docker/${id}`;
const SYSTEMD = (id: string) => `system.slice/docker-${id}.scope`;

/**
 * Which cgroup version the host runs and where Docker puts a container's cgroup. v2 (unified) has cgroup.controllers at
 * the root; otherwise the v1 controllers are separate mounts below it (a hybrid host's `unified` mount is ignored, as
 * Docker ignores it). Both drivers' layouts are kept, the one whose parent directory exists first; readUsage moves the
 * one that found a container to the front.
 */
export function detectCgroup(root = '/sys/fs/cgroup', opts: { fs?: CgroupFs; procRoot?: string } = {}): CgroupLayout {
  const fs = opts.fs ?? realFs;
  const procRoot = opts.procRoot ?? '/proc';
  const has = (p: string) => fs.exists(`${root}/${p}`);
  if (has('cgroup.controllers')) {
    const templates = has('docker/cgroup.procs') ? [CGROUPFS, SYSTEMD] : [SYSTEMD, CGROUPFS];
    return { version: 2, root, mounts: { cpu: root, memory: root, pids: root, blkio: root }, templates, procRoot, fs };
  }
  const mount = (names: string[]) => {
    const found = names.find((n) => has(`${n}/cgroup.procs`));
    return `${root}/${found ?? names[0]}`;
  };
  const mounts = {
    cpu: mount(['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu']),
    memory: mount(['memory']),
    pids: mount(['pids']),
    blkio: mount(['blkio']),
  };
  if (!fs.exists(`${mounts.memory}/cgroup.procs`) && !fs.exists(`${mounts.cpu}/cgroup.procs`)) {
    throw new Error(`no cgroup v1 or v2 hierarchy found at ${root}`);
  }
  const templates = fs.exists(`${mounts.memory}/docker/cgroup.procs`) ? [CGROUPFS, SYSTEMD] : [SYSTEMD, CGROUPFS];
  return { version: 1, root, mounts, templates, procRoot, fs };
}

/**
 * The container's cgroup path below each mount and its memory usage file's text (read as the probe, which saves an
 * open per container), or undefined when it has no cgroup here (stopped, or not on this host).
 */
function locate(layout: CgroupLayout, id: string, pid?: number): { rel: string; usage: string } | undefined {
  const usageFile = layout.version === 1 ? 'memory.usage_in_bytes' : 'memory.current';
  const probe = (rel: string) => layout.fs.read(`${layout.mounts.memory}/${rel}/${usageFile}`);
  for (let i = 0; i < layout.templates.length; i++) {
    const rel = layout.templates[i](id);
    const usage = probe(rel);
    if (usage !== undefined) {
      if (i > 0) layout.templates.unshift(...layout.templates.splice(i, 1)); // remember the layout that worked
      return { rel, usage };
    }
  }
  // A custom cgroup parent (HostConfig.CgroupParent): ask the kernel where the container's process is.
  if (!pid) return undefined;
  const text = layout.fs.read(`${layout.procRoot}/${pid}/cgroup`);
  if (!text) return undefined;
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (layout.version === 2 ? controllers === '' : controllers.split(',').includes('memory')) {
      const rel = path.replace(/^\//, '');
      const usage = rel ? probe(rel) : undefined;
      return usage === undefined ? undefined : { rel, usage };
    }
  }
  return undefined;
}

/** The value after `key ` on its own line of a flat keyed file (memory.stat, cpu.stat, memory.events, oom_control). */
function keyed(text: string | undefined, key: string): number | undefined {
  if (!text) return undefined;
  let i = text.startsWith(`${key} `) ? 0 : text.indexOf(`\n${key} `);
  if (i < 0) return undefined;
  if (i > 0) i += 1;
  const start = i + key.length + 1;
  const end = text.indexOf('\n', start);
  return Number(text.slice(start, end < 0 ? undefined : end));
}

function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** v1 reports "no limit" as the largest page-aligned value (9223372036854771712 on 4 KiB pages). */
const V1_UNLIMITED = 2 ** 62;

/** Sums Read and Write lines of blkio.throttle.io_service_bytes ("8:0 Read 4096"); the Total lines are skipped. */
function blkioV1(text: string | undefined): [number, number] {
  let r = 0;
  let w = 0;
  if (!text) return [r, w];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length !== 3) continue;
    if (f[1] === 'Read') r += Number(f[2]) || 0;
    else if (f[1] === 'Write') w += Number(f[2]) || 0;
  }
  return [r, w];
}

/** Sums rbytes and wbytes of io.stat ("8:0 rbytes=4096 wbytes=0 rios=1 ..."), over devices. */
function ioV2(text: string | undefined): [number, number] {
  let r = 0;
  let w = 0;
  if (!text) return [r, w];
  for (const line of text.split('\n')) {
    for (const kv of line.split(' ')) {
      if (kv.startsWith('rbytes=')) r += Number(kv.slice(7)) || 0;
      else if (kv.startsWith('wbytes=')) w += Number(kv.slice(7)) || 0;
    }
  }
  return [r, w];
}

/** Receive and transmit bytes summed over every interface but lo, from /proc/<pid>/net/dev. */
export function parseNetDev(text: string): [number, number] {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo' || name.includes('|')) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (f.length < 9) continue;
    rx += Number(f[0]) || 0;
    tx += Number(f[8]) || 0;
  }
  return [rx, tx];
}

/**
 * The container's resource use, or undefined when it has no cgroup on this host (not running, or gone). Network counters
 * come from `pid`'s network namespace; without a pid, from the first process listed in the container's cgroup.
 */
export function readUsage(layout: CgroupLayout, containerId: string, pid?: number): ContainerUsage | undefined {
  const found = locate(layout, containerId, pid);
  if (found === undefined) return undefined;
  const { rel } = found;
  const { fs, mounts } = layout;
  const dir = (c: CgroupController) => `${mounts[c]}/${rel}`;
  let u: ContainerUsage;
  if (layout.version === 1) {
    const mem = dir('memory');
    const stat = fs.read(`${mem}/memory.stat`);
    const usage = num(found.usage) ?? 0;
    const inactive = keyed(stat, 'total_inactive_file') ?? keyed(stat, 'inactive_file') ?? 0;
    const limit = num(fs.read(`${mem}/memory.limit_in_bytes`));
    const pidsLimit = num(fs.read(`${dir('pids')}/pids.max`));
    const io = blkioV1(fs.read(`${dir('blkio')}/blkio.throttle.io_service_bytes_recursive`) ?? fs.read(`${dir('blkio')}/blkio.throttle.io_service_bytes`));
    u = {
      cpuSeconds: (num(fs.read(`${dir('cpu')}/cpuacct.usage`)) ?? 0) / 1e9,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
      oomKills: keyed(fs.read(`${mem}/memory.oom_control`), 'oom_kill') ?? 0,
      pids: num(fs.read(`${dir('pids')}/pids.current`)) ?? 0,
      blkioReadBytes: io[0],
      blkioWriteBytes: io[1],
    };
    if (limit !== undefined && limit < V1_UNLIMITED) u.memoryLimitBytes = limit;
    if (pidsLimit !== undefined) u.pidsLimit = pidsLimit;
  } else {
    const d = dir('memory');
    const usage = num(found.usage) ?? 0;
    const inactive = keyed(fs.read(`${d}/memory.stat`), 'inactive_file') ?? 0;
    const limit = num(fs.read(`${d}/memory.max`));
    const pidsLimit = num(fs.read(`${d}/pids.max`));
    const io = ioV2(fs.read(`${d}/io.stat`));
    u = {
      cpuSeconds: (keyed(fs.read(`${d}/cpu.stat`), 'usage_usec') ?? 0) / 1e6,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
      oomKills: keyed(fs.read(`${d}/memory.events`), 'oom_kill') ?? 0,
      pids: num(fs.read(`${d}/pids.current`)) ?? 0,
      blkioReadBytes: io[0],
      blkioWriteBytes: io[1],
    };
    if (limit !== undefined) u.memoryLimitBytes = limit;
    if (pidsLimit !== undefined) u.pidsLimit = pidsLimit;
  }
  let netPid = pid;
  if (!netPid) {
    const procs = fs.read(`${dir('memory')}/cgroup.procs`);
    netPid = procs ? Number.parseInt(procs, 10) || undefined : undefined;
  }
  const net = netPid ? fs.read(`${layout.procRoot}/${netPid}/net/dev`) : undefined;
  if (net !== undefined) [u.networkReceiveBytes, u.networkTransmitBytes] = parseNetDev(net);
  return u;
}
