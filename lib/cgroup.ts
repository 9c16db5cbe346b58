// A login's own cgroup, so that what it started can be ended with it. A process that leaves her login's process tree
// (setsid -f, a double fork, a trap that forks on SIGHUP) is reparented to her container's init, where no tree walk
// finds it; cgroup membership is inherited by every fork and only root on the host can change it. So each login's
// exec is moved into `<container's cgroup>/dosh-<session>` of the cgroup v2 hierarchy (the unified one of a hybrid
// host too), and an administrator's or the policy's end of the login kills that cgroup (cgroup.kill, Linux 5.14).
// Only the cgroup v2 hierarchy is touched: limits and accounting stay on the container's cgroup, which holds its
// children's use (v2 is hierarchical), and the engine removes the child with the container.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseStat, realProcFs, type ProcFs, type ProcRef, type Stat } from './proc.ts';

/** The files of the cgroup hierarchy and of /proc that are read and written (a directory of plain files in tests). */
export interface CgroupFs {
  read(file: string): string | undefined;
  exists(file: string): boolean;
  write(file: string, data: string): void;
  mkdir(dir: string): void;
  rmdir(dir: string): void;
}

export const realCgroupFs: CgroupFs = {
  read(file) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
  exists: (file) => existsSync(file),
  write: (file, data) => writeFileSync(file, data),
  mkdir: (dir) => mkdirSync(dir, { recursive: false }),
  rmdir: (dir) => rmdirSync(dir),
};

const MAX_PASSES = 10;
const SESSION_DIR = /^dosh-[a-z0-9][a-z0-9.-]{0,200}$/;

/** The cgroup v2 mount point in a mountinfo text (the mount point is field 5; the type follows the ' - '). */
export function cgroup2Mount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.split(' ')[0] === 'cgroup2') return pre.split(' ')[4]?.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** A process's cgroup v2 path from its /proc/PID/cgroup text (the `0::` line), or undefined. */
export function cgroupV2Path(procCgroup: string): string | undefined {
  const line = procCgroup.split('\n').find((l) => l.startsWith('0::'));
  const p = line?.slice(3);
  return p && p.startsWith('/') && !p.split('/').includes('..') ? p : undefined;
}

export class SessionCgroups {
  private mount?: string | null;

  constructor(
    private readonly fs: CgroupFs = realCgroupFs,
    private readonly proc: ProcFs = realProcFs,
    private readonly procRoot = '/proc',
  ) {}

  /**
   * Moves a login's exec into its own cgroup, with what it has started and what escaped from it before the move:
   * processes of her container's own cgroup that started no earlier than the exec and are not of her container's
   * init's session (the init and what it starts share its session; a login's processes never do). Returns the
   * cgroup's path, or undefined where the host has no cgroup v2 with cgroup.kill or the exec is gone.
   */
  enclose(session: string, exec: ProcRef, init: { pid: number }): string | undefined {
    const root = this.root();
    if (!root) return undefined;
    const own = this.cgroupOf(exec.pid);
    if (!own) return undefined;
    // Her container's cgroup: the exec's own, or its parent if another login of hers took it in (they start together).
    const container = SESSION_DIR.test(path.posix.basename(own)) ? path.posix.dirname(own) : own;
    if (container === '/') return undefined;
    const name = `dosh-${session}`;
    if (!SESSION_DIR.test(name)) return undefined;
    const dir = path.join(root, container, name);
    if (!this.fs.exists(path.join(root, container, 'cgroup.kill'))) return undefined;
    try {
      this.fs.mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (!this.proc.readStat(exec.pid) || parseStat(this.proc.readStat(exec.pid)!)?.startTime !== exec.start) return undefined;
    // The login runs while it is moved: a fork between a pass's look at /proc and its moves stays behind in her
    // container's cgroup. The kernel orders a fork against a move, so the next pass finds such a child; passes go on
    // until one moves nothing (a login forking without pause cannot hold it up for long: each pass moves its parents).
    for (let pass = 0; pass < MAX_PASSES && this.takeIn(dir, container, own, exec, init) > 0; pass++);
    return dir;
  }

  /** One pass of enclose: moves what is the login's and not yet in its cgroup; returns how many it moved. */
  private takeIn(dir: string, container: string, own: string, exec: ProcRef, init: { pid: number }): number {
    const stats = this.stats();
    const initSession = stats.get(init.pid)?.session;
    const execStart = Number(exec.start);
    const mine = new Set<number>([exec.pid]);
    // Descendants of the exec, wherever they are in her container; parents come before children in pid order
    // only usually, so this runs until nothing is added.
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, st] of stats) {
        if (!mine.has(pid) && mine.has(st.ppid) && Number(st.startTime) >= execStart) {
          mine.add(pid);
          grew = true;
        }
      }
    }
    for (const [pid, st] of stats) {
      if (mine.has(pid) || pid === init.pid || Number(st.startTime) < execStart || st.session === initSession) continue;
      if (this.cgroupOf(pid) === container) mine.add(pid);
    }
    let moved = 0;
    for (const pid of mine) {
      const here = this.cgroupOf(pid);
      if (here !== container && here !== own) continue;
      try {
        this.fs.write(path.join(dir, 'cgroup.procs'), String(pid));
        moved++;
      } catch (e) {
        // Gone meanwhile (ESRCH): nothing to end later.
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    return moved;
  }

  /** Kills every process in a login's cgroup; false where it is not one DoSH made. */
  kill(dir: string): boolean {
    if (!this.owns(dir)) return false;
    try {
      this.fs.write(path.join(dir, 'cgroup.kill'), '1');
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** Removes a login's cgroup once no process is left in it (a nohup job keeps it; the engine removes it later). */
  remove(dir: string): boolean {
    if (!this.owns(dir)) return false;
    try {
      this.fs.rmdir(dir);
      return true;
    } catch {
      return false;
    }
  }

  private owns(dir: string): boolean {
    const root = this.root();
    return !!root && dir.startsWith(`${root}/`) && !dir.split('/').includes('..') && SESSION_DIR.test(path.posix.basename(dir));
  }

  private root(): string | undefined {
    if (this.mount === undefined) this.mount = cgroup2Mount(this.fs.read(`${this.procRoot}/self/mountinfo`) ?? '') ?? null;
    return this.mount ?? undefined;
  }

  private cgroupOf(pid: number): string | undefined {
    const text = this.fs.read(`${this.procRoot}/${pid}/cgroup`);
    return text ? cgroupV2Path(text) : undefined;
  }

  private stats(): Map<number, Stat> {
    const out = new Map<number, Stat>();
    for (const pid of this.proc.listPids()) {
      const s = this.proc.readStat(pid);
      const st = s && parseStat(s);
      if (st) out.set(pid, st);
    }
    return out;
  }
}
