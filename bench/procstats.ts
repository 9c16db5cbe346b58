// What the benchmarks measure from /proc: processes and their trees, CPU ticks (one process, this process's children,
// dockerd + containerd, the whole host) and CPU over a window as % of one core, memory (RSS and PSS from
// smaps_rollup), open descriptors and root's inotify instances.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { realProcFs } from '../lib/proc.ts';

/** Clock ticks per second: the unit of utime and stime. */
export const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

// ------------------------------------------------------------------------------------------------------ processes

export interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

export function readStat(pid: number): Proc | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { pid, ppid: Number(f[1]), comm: s.slice(s.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

export function procTable(): Map<number, Proc> {
  const t = new Map<number, Proc>();
  for (const pid of realProcFs.listPids()) {
    const p = readStat(pid);
    if (p) t.set(p.pid, p);
  }
  return t;
}

/** Every process below pid, depth first (pid itself not included). */
export function descendants(t: Map<number, Proc>, pid: number): Proc[] {
  const kids = new Map<number, Proc[]>();
  for (const p of t.values()) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p]);
  const out: Proc[] = [];
  const walk = (q: number) => {
    for (const c of kids.get(q) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(pid);
  return out;
}

/** pids whose comm is exactly one of NAMES (the engine's daemons). */
export function pidsByComm(...names: string[]): number[] {
  return [...procTable().values()].filter((p) => names.includes(p.comm)).map((p) => p.pid);
}

// ------------------------------------------------------------------------------------------------------------ CPU

/** utime + stime of one process; 0 once it is gone. */
export const ticksOf = (pid: number) => readStat(pid)?.ticks ?? 0;
export const sumTicks = (pids: number[]) => pids.reduce((n, pid) => n + ticksOf(pid), 0);

/** This process's waited-for children's CPU (cutime + cstime): the docker CLI processes a benchmark ran. */
export function childTicks(): number {
  const s = readFileSync('/proc/self/stat', 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
}

/** dockerd + containerd (not the shims). */
export const engineTicks = () => sumTicks(pidsByComm('dockerd', 'containerd'));

/** Busy and total jiffies of the whole host (/proc/stat). */
export function hostCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

export type CpuWindow<K extends string> = Record<K, number> & { host: number; wallMs: number };

/**
 * Opens a window on the tick counters given (each read now and again when the returned function is called): each one's
 * CPU over the window as % of one core, the host's busy share (% of all cores) and the window's wall time.
 */
export function cpuWindow<K extends string>(sources: Record<K, () => number>): () => CpuWindow<K> {
  const keys = Object.keys(sources) as K[];
  const t0 = performance.now();
  const c0 = keys.map((k) => sources[k]());
  const h0 = hostCpu();
  return () => {
    const wallMs = performance.now() - t0;
    const c1 = keys.map((k) => sources[k]());
    const h1 = hostCpu();
    const w = { host: (100 * (h1.busy - h0.busy)) / (h1.total - h0.total), wallMs } as CpuWindow<K>;
    for (const [i, k] of keys.entries()) (w as Record<K, number>)[k] = (100 * (c1[i] - c0[i])) / TICK / (wallMs / 1000);
    return w;
  };
}

// --------------------------------------------------------------------------------------------------------- memory

/** KiB. */
export interface Mem {
  rss: number;
  pss: number;
  anon: number;
  file: number;
}
export const ZERO: Mem = { rss: 0, pss: 0, anon: 0, file: 0 };
export const addMem = (a: Mem, b: Mem): Mem => ({ rss: a.rss + b.rss, pss: a.pss + b.pss, anon: a.anon + b.anon, file: a.file + b.file });
export const maxMem = (a: Mem, b: Mem): Mem => ({ rss: Math.max(a.rss, b.rss), pss: Math.max(a.pss, b.pss), anon: Math.max(a.anon, b.anon), file: Math.max(a.file, b.file) });

/** RSS, PSS, anonymous and file-backed PSS of one process in KiB (smaps_rollup). */
export function mem(pid: number): Mem | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('Rss'), pss: kb('Pss'), anon: kb('Pss_Anon'), file: kb('Pss_File') + kb('Pss_Shmem') };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------- descriptors

/** Open descriptors of one process; NaN once it is gone. */
export function fds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** inotify instances held by root's processes (each inotify descriptor is one instance). */
export function rootInotifyInstances(): number {
  let n = 0;
  for (const d of realProcFs.listPids()) {
    try {
      if (!/^Uid:\s+\d+\s+0\s/m.test(readFileSync(`/proc/${d}/status`, 'latin1'))) continue;
      for (const fd of readdirSync(`/proc/${d}/fd`)) if (readlinkSync(`/proc/${d}/fd/${fd}`) === 'anon_inode:inotify') n++;
    } catch {
      // gone, or a descriptor closed meanwhile
    }
  }
  return n;
}

/** How many processes have exactly this argv (/proc/PID/cmdline). */
export function countByArgv(argv: string[]): number {
  const want = argv.map((a) => `${a}\0`).join('');
  let n = 0;
  for (const pid of realProcFs.listPids()) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1') === want) n++;
    } catch {
      // gone
    }
  }
  return n;
}
