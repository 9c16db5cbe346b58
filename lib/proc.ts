// Reading /proc: process identity (pid + start time) and process trees, used to tell a live helper from a reused pid
// and to end the processes of a login in its container (docker exec has no kill API).
import { readFileSync, readdirSync, statSync } from 'node:fs';

export interface ProcFs {
  readStat(pid: number): string | undefined;
  listPids(): number[];
  kill(pid: number, signal: NodeJS.Signals): void;
}

export const realProcFs: ProcFs = {
  readStat(pid) {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      return undefined;
    }
  },
  listPids() {
    return readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  },
  kill(pid, signal) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone: the goal is reached.
    }
  },
};

export interface Stat {
  ppid: number;
  /** The session id (setsid(2)). */
  session: number;
  startTime: string;
  state: string;
}

/** The comm field may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseStat(stat: string): Stat | undefined {
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = stat.slice(end + 2).split(' ');
  // After comm: state(3) ppid(4) pgrp(5) session(6) ... starttime(22) => indexes 0, 1, 3, 19.
  if (fields.length < 20) return undefined;
  return { state: fields[0], ppid: Number(fields[1]), session: Number(fields[3]), startTime: fields[19] };
}

export function parentPid(pid: number, fs: ProcFs = realProcFs): number | undefined {
  const s = fs.readStat(pid);
  return s ? parseStat(s)?.ppid : undefined;
}

export function processStartTime(pid: number, fs: ProcFs = realProcFs): string | undefined {
  const s = fs.readStat(pid);
  return s ? parseStat(s)?.startTime : undefined;
}

/** True only when pid runs and is the very process that had this start time (zombies count as gone). */
export function isSameProcessAlive(pid: number, startTime: string, fs: ProcFs = realProcFs): boolean {
  const s = fs.readStat(pid);
  if (!s) return false;
  const st = parseStat(s);
  return !!st && st.startTime === startTime && st.state !== 'Z';
}

/** A process as one read of its stat saw it: the pid with the start time that names it. */
export interface ProcRef {
  pid: number;
  start: string;
}

/**
 * pid and all its descendants, parents first, each with the start time of the same read that gave its parent: a
 * start time read later could belong to another process that took a reused pid meanwhile.
 */
export function processTreeRefs(root: number, fs: ProcFs = realProcFs): ProcRef[] {
  const stats = new Map<number, Stat>();
  const children = new Map<number, number[]>();
  for (const pid of fs.listPids()) {
    const s = fs.readStat(pid);
    const st = s && parseStat(s);
    if (!st) continue;
    stats.set(pid, st);
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: ProcRef[] = [];
  const seen = new Set<number>();
  const rootStat = stats.get(root);
  const todo = rootStat ? [root] : [];
  while (todo.length) {
    const pid = todo.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const st = stats.get(pid)!;
    out.push({ pid, start: st.startTime });
    // A child never starts before its parent: one that did is the child of an earlier owner of a reused pid.
    for (const c of children.get(pid) ?? []) if (Number(stats.get(c)!.startTime) >= Number(st.startTime)) todo.push(c);
  }
  return out;
}

/** pid and all its descendants, parents first. */
export function processTree(root: number, fs: ProcFs = realProcFs): number[] {
  return processTreeRefs(root, fs).map((p) => p.pid);
}

/** Signals a process only while its pid still names the process of that start time (checked just before). */
function signalIfSame(p: ProcRef, signal: NodeJS.Signals, fs: ProcFs): boolean {
  if (!isSameProcessAlive(p.pid, p.start, fs)) return false;
  fs.kill(p.pid, signal);
  return true;
}

/** Signals a process and its descendants; returns those signalled with their start times, to finish off survivors later. */
export function signalTree(root: number, signal: NodeJS.Signals, fs: ProcFs = realProcFs): ProcRef[] {
  return processTreeRefs(root, fs).filter((p) => signalIfSame(p, signal, fs));
}

/**
 * SIGHUP now, SIGKILL after the grace period to whatever of that tree still lives (children outlive a dead parent).
 * Each signal goes only to a pid whose start time, read just before, is still the one the tree was read with; what
 * remains is the moment between that read and kill(2), which Node cannot close (it has no pidfd_send_signal), and a
 * pid is reused only after the kernel's pid counter has gone round.
 */
export function hangUpTree(root: number, graceMs: number, sleep: (ms: number) => Promise<void>, fs: ProcFs = realProcFs): Promise<void> {
  const procs = signalTree(root, 'SIGHUP', fs);
  return sleep(graceMs).then(() => {
    for (const p of procs) signalIfSame(p, 'SIGKILL', fs);
  });
}

/**
 * Whether `dir` is the very directory the host's init (pid 1, whose root is the host's: doshd runs with the host's
 * pid namespace wherever it runs) sees at that path: what the engine, a relay or a container's bind mount on the host
 * will find there. False for a doshd in a container whose directory is its own (not the host's mounted at that path).
 * When pid 1's root cannot be looked at (no ptrace access to it: a sandbox), the configuration is trusted.
 */
export function sameOnHost(dir: string): boolean {
  let mine;
  try {
    mine = statSync(dir);
  } catch {
    return false;
  }
  try {
    const host = statSync(`/proc/1/root${dir}`);
    return mine.dev === host.dev && mine.ino === host.ino;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM';
  }
}
