// User and group lookups through NSS (getent, id), so LDAP and SSSD users resolve like local ones.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface NssUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  groups: { name: string; gid: number }[];
}

export interface UserDirectory {
  /** By name or numeric uid; undefined when NSS does not know the user. */
  lookup(nameOrUid: string | number): Promise<NssUser | undefined>;
}

type Run = (cmd: string, args: string[]) => Promise<string | undefined>;

const runTool: Run = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 10_000 }, (err, stdout) => resolve(err ? undefined : stdout));
  });

export function parsePasswd(line: string): Omit<NssUser, 'groups'> | undefined {
  const f = line.trim().split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0], uid, gid, home: f[5], shell: f[6] };
}

/** Parses `id NAME` output: uid=1001(ann) gid=1001(ann) groups=1001(ann),27(sudo) */
export function parseIdGroups(out: string): { name: string; gid: number }[] {
  const m = /groups=(\S+)/.exec(out);
  if (!m) return [];
  return m[1].split(',').flatMap((g) => {
    const gm = /^(\d+)(?:\((.*)\))?$/.exec(g);
    return gm ? [{ gid: Number(gm[1]), name: gm[2] ?? gm[1] }] : [];
  });
}

export class NssDirectory implements UserDirectory {
  constructor(private readonly run: Run = runTool) {}

  async lookup(nameOrUid: string | number): Promise<NssUser | undefined> {
    const key = String(nameOrUid);
    // A leading '-' would be read as an option by getent/id; NSS names never start with one.
    if (!key || key.startsWith('-') || key.length > 256 || /[\s:\0]/.test(key)) return undefined;
    const pw = await this.run('getent', ['passwd', key]);
    const user = pw ? parsePasswd(pw.split('\n')[0]) : undefined;
    if (!user) return undefined;
    const idOut = await this.run('id', [user.name]);
    const groups = idOut ? parseIdGroups(idOut) : [];
    if (!groups.some((g) => g.gid === user.gid)) groups.unshift({ gid: user.gid, name: String(user.gid) });
    return { ...user, groups };
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
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return user;
  }
}
