// Reading /proc: process identity (pid + start time) and process trees, used to tell a live helper from a reused pid
// and to end the processes of a login in its container (docker exec has no kill API).
import { readFileSync, readdirSync } from 'node:fs';

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

interface Stat {
  ppid: number;
  startTime: string;
  state: string;
}

/** The comm field may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseStat(stat: string): Stat | undefined {
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = stat.slice(end + 2).split(' ');
  // After comm: state(3) ppid(4) ... starttime(22) => indexes 0, 1, 19.
  if (fields.length < 20) return undefined;
  return { state: fields[0], ppid: Number(fields[1]), startTime: fields[19] };
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

/** pid and all its descendants, parents first. */
export function processTree(root: number, fs: ProcFs = realProcFs): number[] {
  const children = new Map<number, number[]>();
  for (const pid of fs.listPids()) {
    const s = fs.readStat(pid);
    const st = s && parseStat(s);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.shift()!;
    if (out.includes(pid)) continue;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Signals a process and its descendants; returns them with their start times, to finish off survivors later. */
export function signalTree(root: number, signal: NodeJS.Signals, fs: ProcFs = realProcFs): { pid: number; start: string }[] {
  const procs = processTree(root, fs).flatMap((pid) => {
    const start = processStartTime(pid, fs);
    return start ? [{ pid, start }] : [];
  });
  for (const p of procs) fs.kill(p.pid, signal);
  return procs;
}

/** SIGHUP now, SIGKILL after the grace period to whatever of that tree still lives (children outlive a dead parent). */
export function hangUpTree(root: number, graceMs: number, sleep: (ms: number) => Promise<void>, fs: ProcFs = realProcFs): Promise<void> {
  const procs = signalTree(root, 'SIGHUP', fs);
  return sleep(graceMs).then(() => {
    for (const p of procs) if (isSameProcessAlive(p.pid, p.start, fs)) fs.kill(p.pid, 'SIGKILL');
  });
}
