// Session recordings (RECORDSESSIONS / recordSessions): her terminal sessions as asciicast v2 files in a root-only
// directory (--recordings, one directory per user, RECORDINGS/USER/SESSION.cast). doshd decides at admission whether
// a session is recorded and how many bytes it may take (what is left of her --record-user-cap), and makes the file
// with its header when the login is answered; the relay opens it while root and appends her terminal's output and
// size changes after the drop (shell/record.c). She can neither read nor change it: root's, mode 0600, in 0700
// directories. Recordings older than --record-retention are removed by housekeeping; until then, once her recordings
// take her cap, her sessions are not recorded (an event says so): old evidence is never deleted to make room.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Session } from '../api/session.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';

export interface RecordingOptions {
  dir: string;
  retentionMs: number;
  userCapBytes: number;
}

/** What admission decided: the file and the bytes it may take, or why the session is not recorded. */
export type RecordingPlan = { file: string; limit: number } | { skipped: string };

/** A user's directory name: her name as a single path component (NSS names hold no `/`, but this is doshd's file). */
const userDir = (user: string) => user.replace(/[/\0]/g, '_').replace(/^\.+$/, '_');

export class Recordings {
  private lastSweep = 0;
  /** Why recordings cannot be made on this host, once check() found it. */
  private unusable: string | undefined;

  constructor(
    private readonly o: RecordingOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * At start: the directory is made (root-only) and must be the host's own, since the relay on the host opens the
   * recording by its path (a doshd in a container must have the host's directory mounted at that path).
   */
  check(sameOnHost: (dir: string) => boolean): void {
    try {
      fs.mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
      if (!sameOnHost(this.o.dir)) this.unusable = `doshd's recordings directory ${this.o.dir} is not the host's (doshd runs in a container: mount the host's ${this.o.dir} there)`;
    } catch (e) {
      this.unusable = `doshd cannot make its recordings directory ${this.o.dir}: ${(e as Error).message}`;
    }
    if (this.unusable) this.log.error('sessions cannot be recorded', { why: this.unusable });
  }

  /** Where a session's recording goes, and how much it may take. */
  plan(user: string, session: string): RecordingPlan {
    if (this.unusable) return { skipped: this.unusable };
    const dir = path.join(this.o.dir, userDir(user));
    const used = this.bytesIn(dir);
    const left = this.o.userCapBytes - used;
    if (left <= 1024) return { skipped: `${user}'s recordings already take ${used} bytes, her cap is ${this.o.userCapBytes} (--record-user-cap): not recorded until older ones expire (--record-retention)` };
    const file = path.join(dir, `${session}.cast`);
    // The relay takes a path of at most 511 bytes.
    if (Buffer.byteLength(file) > 500) return { skipped: `the recording's path would be too long (--recordings ${this.o.dir})` };
    return { file, limit: left };
  }

  /**
   * Makes the recording with its asciicast v2 header, root-only, when the login is answered (so the header has her
   * terminal as the relay reported it). A file already there (the same login asked again) is kept. Throws when it
   * cannot be made (a full disk): the session is then not recorded.
   */
  create(file: string, s: Pick<Session, 'spec' | 'metadata'>, size: { rows: number; cols: number } | undefined): void {
    fs.mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const header = {
      version: 2,
      width: size?.cols ?? 80,
      height: size?.rows ?? 24,
      timestamp: Math.floor(this.clock.now() / 1000),
      env: { TERM: s.spec.term ?? 'xterm' },
      title: `${s.spec.user}@${s.spec.node} ${s.metadata.name}`,
    };
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw e;
    }
    try {
      fs.writeSync(fd, JSON.stringify(header) + '\n');
    } catch (e) {
      fs.rmSync(file, { force: true });
      throw e;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Removes recordings past the retention, except those of live sessions (at most once a minute: housekeeping runs
   * more often than recordings age). Never throws.
   */
  sweep(live: ReadonlySet<string>): void {
    const now = this.clock.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    let users: string[];
    try {
      users = fs.readdirSync(this.o.dir);
    } catch {
      return;
    }
    for (const u of users) {
      const dir = path.join(this.o.dir, u);
      try {
        for (const f of fs.readdirSync(dir)) {
          const file = path.join(dir, f);
          if (live.has(f.replace(/\.cast$/, ''))) continue;
          if (now - fs.lstatSync(file).mtimeMs > this.o.retentionMs) fs.rmSync(file, { force: true });
        }
        if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
      } catch (e) {
        this.log.warn('could not sweep recordings', { dir, error: String(e) });
      }
    }
  }

  private bytesIn(dir: string): number {
    let n = 0;
    try {
      for (const f of fs.readdirSync(dir)) n += fs.lstatSync(path.join(dir, f)).size;
    } catch {
      // no recordings yet
    }
    return n;
  }
}
