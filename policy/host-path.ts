// Which host paths a policy may bind-mount into a user's container. The engine resolves a bind source as root when it
// creates (and again when it restarts) the container, so two things decide whether a mount is safe: where the path
// leads once `..` and symlinks are resolved, and whether anyone but root can change where it leads in the meantime.
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The host itself and its container runtime: mounting one of these, anything under it, or a directory above it hands
 * the user the host (the root directory; /proc/PID/root and the other magic links of /proc; the kernel's /sys and the
 * host's device nodes; the engines' sockets, state and images; the runtime directories of users' systemd and rootless
 * Docker under /run/user).
 */
const ENGINE = 'the container engine';
const RUNTIME_PATHS: [string, string][] = [
  ['/proc', "the host's processes"],
  ['/sys', "the host kernel's settings"],
  ['/dev', "the host's devices"],
  ['/var/lib/docker', "the Docker engine's state"],
  ['/var/lib/containerd', "containerd's state"],
  ['/run/docker.sock', `${ENGINE} socket`],
  ['/var/run/docker.sock', `${ENGINE} socket`],
  ['/run/docker', `${ENGINE}'s runtime state`],
  ['/var/run/docker', `${ENGINE}'s runtime state`],
  ['/run/containerd', "containerd's socket and state"],
  ['/var/run/containerd', "containerd's socket and state"],
  ['/run/runc', "runc's state"],
  ['/var/run/runc', "runc's state"],
  ['/run/user', "users' runtime directories (their systemd managers' and rootless engines' sockets)"],
];

/** Under a runtime path but harmless: the same device node every container has, often mounted to hide a file. */
const HARMLESS = new Set(['/dev/null']);

export interface HostStat {
  uid: number;
  /** st_mode: permission bits, sticky bit. */
  mode: number;
  kind: 'dir' | 'symlink' | 'other';
}

/** The host's file system as root sees it; injectable so tests can build any tree. */
export interface HostFs {
  /** undefined when the path does not exist (ENOENT, ENOTDIR); throws for anything else. */
  lstat(p: string): HostStat | undefined;
  readlink(p: string): string;
}

/** What the policy checks of host paths know of the host: its file system, and the engine sockets it was given. */
export interface PolicyHost {
  fs?: HostFs;
  /** More engine sockets than the usual ones (doshd's --docker-socket). */
  enginePaths?: string[];
}

export const nodeHostFs: HostFs = {
  lstat(p) {
    try {
      const st = fs.lstatSync(p);
      return { uid: st.uid, mode: st.mode, kind: st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other' };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
  },
  readlink: (p) => fs.readlinkSync(p),
};

function clean(p: string): string {
  return path.posix.normalize(p).replace(/\/+$/, '') || '/';
}

/**
 * Why a mount of host path p (taken lexically) hands over the host, or null. `inside` only: whether p is a runtime path
 * or under one (for the paths a resolution passes through, which may well be above one: /var on the way to /var/x).
 */
export function dangerousHostPath(p: string, enginePaths: readonly string[] = [], inside = false): string | null {
  const n = clean(p);
  if (n === '/') return inside ? null : 'the host root directory /';
  if (HARMLESS.has(n)) return null;
  for (const [r, what] of [...RUNTIME_PATHS, ...enginePaths.map((e): [string, string] => [clean(e), `${ENGINE} socket`])]) {
    if (n === r) return `${what} ${r}`;
    if (n.startsWith(r + '/')) return `${n}, inside ${what} ${r}`;
    if (!inside && r.startsWith(n + '/')) return `${n}, which contains ${what} ${r}`;
  }
  return null;
}

export interface HostResolution {
  /** The path root's resolution leads to (missing components, which the engine creates as root, appended). */
  resolved: string;
  /** The first directory on the way that someone other than root can write, and who. */
  writable?: string;
  /** Every existing path the resolution went through, symlinks included (a /proc/PID/root on the way shows here). */
  through: string[];
}

const MAX_LINKS = 40;

/**
 * Resolves p as the kernel does for root (each component in turn, `..` after the symlinks before it), and notes the
 * first directory holding a component that an account other than root could change: its owner, or anyone with group
 * or other write permission (a sticky directory only when the entry is missing or not root's). The last component
 * itself may belong to anyone: a bind mount shows the directory, it follows no symlink inside it.
 */
export function resolveOnHost(p: string, host: HostFs): HostResolution {
  const todo = p.split('/').filter((c) => c !== '' && c !== '.');
  let cur = '/';
  let writable: string | undefined;
  let links = 0;
  const through: string[] = [];
  const dirs = new Map<string, HostStat | undefined>();
  const statOf = (d: string) => {
    if (!dirs.has(d)) dirs.set(d, host.lstat(d));
    return dirs.get(d);
  };
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      cur = path.posix.dirname(cur);
      continue;
    }
    const next = path.posix.join(cur, c);
    const entry = host.lstat(next);
    writable ??= whoCanChange(cur, statOf(cur), entry);
    if (!entry) return { resolved: clean(path.posix.join(next, ...todo)), writable, through };
    through.push(next);
    if (entry.kind === 'symlink') {
      if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links in ${p}`);
      const target = host.readlink(next);
      if (target.startsWith('/')) cur = '/';
      todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    cur = next;
  }
  return { resolved: cur, writable, through };
}

function whoCanChange(dir: string, st: HostStat | undefined, entry: HostStat | undefined): string | undefined {
  if (!st) return undefined;
  if (st.uid !== 0) return `${dir} (owned by uid ${st.uid})`;
  const sticky = (st.mode & 0o1000) !== 0;
  if (st.mode & 0o022 && !(sticky && entry && entry.uid === 0)) return `${dir} (writable by ${st.mode & 0o002 ? 'everyone' : 'its group'}${sticky ? ', and the entry is not root\'s' : ''})`;
  return undefined;
}

/**
 * Why a bind of host path p is unsafe, or null: a runtime path as written or once resolved, or a path that runs
 * through a directory another account can change. Without a file system only the path as written is checked.
 */
export function hostPathProblem(p: string, host: PolicyHost | undefined): string | null {
  const engine = host?.enginePaths ?? [];
  const written = dangerousHostPath(p, engine);
  if (written) return `mounting ${written}`;
  if (!host?.fs) return null;
  let r: HostResolution;
  try {
    r = resolveOnHost(p, host.fs);
  } catch (e) {
    return `mounting ${p}, which cannot be checked: ${(e as Error).message}`;
  }
  const there = dangerousHostPath(r.resolved, engine);
  if (there) return `mounting ${p}, which resolves to ${there}`;
  // A magic link of /proc (/proc/PID/root, /proc/PID/cwd) leads into another process's mount namespace, which the
  // resolved path cannot show: the way there is enough.
  for (const t of r.through) {
    const via = dangerousHostPath(t, engine, true);
    if (via) return `mounting ${p}, which resolves through ${via}`;
  }
  if (r.writable) {
    return `mounting ${p}, whose path runs through ${r.writable}: that account could make it a symlink to any host path, which the engine, as root, would mount`;
  }
  return null;
}
