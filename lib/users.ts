// User and group lookups through NSS (getent), so LDAP and SSSD users resolve like local ones.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RefusedError } from './errors.ts';

export interface NssUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  groups: { name: string; gid: number }[];
}

export interface UserDirectory {
  /**
   * By name or numeric uid; undefined when NSS does not know the user. Rejects with RefusedError('GroupsUnresolved')
   * when her groups cannot all be resolved.
   */
  lookup(nameOrUid: string | number): Promise<NssUser | undefined>;
}

type Run = (cmd: string, args: string[]) => Promise<string | undefined>;
/** A command's exit status and output (getent exits 2 when some keys were not found, and still prints the others). */
export type RunStatus = (cmd: string, args: string[]) => Promise<{ status: number; stdout: string } | { error: string }>;

const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

const runToolStatus: RunStatus = (cmd, args) =>
  new Promise((resolve) => {
    // A directory group (Active Directory's "domain users") may list thousands of members.
    execFile(cmd, args, { env: TOOL_ENV, timeout: 10_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (!err) return resolve({ status: 0, stdout });
      const code = (err as { code?: unknown }).code;
      resolve(typeof code === 'number' && !(err as { killed?: boolean }).killed ? { status: code, stdout } : { error: err.message });
    });
  });

const runTool: Run = async (cmd, args) => {
  const r = await runToolStatus(cmd, args);
  return 'status' in r && r.status === 0 ? r.stdout : undefined;
};

export function parsePasswd(line: string): Omit<NssUser, 'groups'> | undefined {
  const f = line.trim().split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0], uid, gid, home: f[5], shell: f[6] };
}

/**
 * Parses `getent initgroups NAME`: the name, then the gid of every group NSS makes her a member of, blank-separated
 * (her primary group only when a group entry lists her). Numbers only, so no group name can split or hide another.
 */
export function parseInitgroups(out: string, name: string): number[] | undefined {
  const words = out.trim().split(/\s+/);
  if (words[0] !== name) return undefined;
  const gids = words.slice(1).map(Number);
  return gids.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffffffff) ? gids : undefined;
}

/** Parses `getent group GID...`: name:password:gid:members lines. A name may hold blanks ("domain users"), never ':'. */
export function parseGroupNames(out: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of out.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || f[0] === '' || !/^\d+$/.test(f[2])) continue;
    if (!names.has(Number(f[2]))) names.set(Number(f[2]), f[0]);
  }
  return names;
}

export class NssDirectory implements UserDirectory {
  constructor(private readonly run: RunStatus = runToolStatus) {}

  async lookup(nameOrUid: string | number): Promise<NssUser | undefined> {
    const key = String(nameOrUid);
    // A leading '-' would be read as an option by getent; NSS names never start with one.
    if (!key || key.startsWith('-') || key.length > 256 || /[\s:\0]/.test(key)) return undefined;
    const pw = await this.run('getent', ['passwd', key]);
    const user = 'status' in pw && pw.status === 0 ? parsePasswd(pw.stdout.split('\n')[0]) : undefined;
    if (!user) return undefined;
    return { ...user, groups: await this.groupsOf(user) };
  }

  /**
   * Her primary group, then every group NSS gives her, each by number and then named by number. A group that cannot
   * be resolved refuses the login: going on without it would silently skip its [group:] sections (a memory limit, an
   * image) and drop it from her container, and a directory that is down looks the same as a group without a name.
   */
  private async groupsOf(user: Omit<NssUser, 'groups'>): Promise<NssUser['groups']> {
    const unresolved = (why: string): never => {
      throw new RefusedError('GroupsUnresolved', `the groups of ${user.name} cannot be resolved (${why}); the login is refused rather than go on without them: ask your administrator`);
    };
    const ig = await this.run('getent', ['initgroups', user.name]);
    if (!('status' in ig) || ig.status !== 0) return unresolved(`getent initgroups ${user.name}: ${'error' in ig ? ig.error : `exit status ${ig.status}`}`);
    const listed = parseInitgroups(ig.stdout, user.name);
    if (!listed) return unresolved(`unexpected output of getent initgroups: ${JSON.stringify(ig.stdout.slice(0, 120))}`);
    const gids = [...new Set([user.gid, ...listed])];
    const gr = await this.run('getent', ['group', ...gids.map(String)]);
    // Exit status 2: some gid has no group entry; the others are printed and the missing ones are named below.
    if (!('status' in gr) || (gr.status !== 0 && gr.status !== 2)) return unresolved(`getent group: ${'error' in gr ? gr.error : `exit status ${gr.status}`}`);
    const names = parseGroupNames(gr.stdout);
    const missing = gids.filter((g) => !names.has(g));
    if (missing.length) return unresolved(`no group name for gid ${missing.join(', ')}`);
    return gids.map((gid) => ({ gid, name: names.get(gid)! }));
  }
}

/**
 * A uid's passwd entry, from /etc/passwd when it is there (what NSS answers first with the usual `passwd: files ...`)
 * and through getent otherwise: spawning getent costs a login several milliseconds.
 */
export async function passwdByUid(uid: number, read: (file: string) => string = (f) => readFileSync(f, 'utf8'), run: Run = runTool): Promise<Omit<NssUser, 'groups'> | undefined> {
  if (filesFirst(read)) {
    for (const line of read('/etc/passwd').split('\n')) {
      const e = line.startsWith('+') || line.startsWith('-') ? undefined : parsePasswd(line);
      if (e && e.uid === uid) return e;
    }
  }
  const pw = await run('getent', ['passwd', String(uid)]);
  return pw ? parsePasswd(pw.split('\n')[0]) : undefined;
}

function filesFirst(read: (file: string) => string): boolean {
  try {
    const m = /^passwd:\s*(\S+)/m.exec(read('/etc/nsswitch.conf'));
    return !m || m[1] === 'files' || m[1] === 'compat';
  } catch {
    return true;
  }
}

/** Caches lookups briefly: a burst of logins of one user asks NSS once. */
export class CachedDirectory implements UserDirectory {
  private cache = new Map<string, { at: number; user: Promise<NssUser | undefined> }>();
  constructor(
    private readonly inner: UserDirectory,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  lookup(nameOrUid: string | number): Promise<NssUser | undefined> {
    const key = String(nameOrUid);
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.user;
    const user = this.inner.lookup(nameOrUid);
    this.cache.set(key, { at: this.now(), user });
    // A failure (a directory that is down) is not kept: the next login asks again.
    user.catch(() => {
      if (this.cache.get(key)?.user === user) this.cache.delete(key);
    });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return user;
  }
}
