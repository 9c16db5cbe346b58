// The audit log: one JSON line per login start, refusal and end (`--audit-log`, /var/log/dosh/audit.log), for the
// host's log collection. Its records are made from the Session object at the moments doshd records the matching
// events and metrics (Ready, Refused, Ended), by the code that records them: one source, so the log, the events and
// the metrics cannot tell different stories. Refusals that come before any Session object exists (a malformed
// request, an unknown uid, her rate, the store's bounds) are written by the session API, where they are counted.
//
// Rotation-friendly: the file is reopened when it was moved or removed (logrotate's default) and on SIGHUP; with
// --audit-max-size doshd rotates it itself to FILE.1. A write that fails (a full disk) is counted and logged, never
// fails a login. A login flood refused for its rate writes one line per user per FLOOD_WINDOW_MS, with the number of
// refusals it stands for (as the RateLimited event aggregates them), so that a user cannot fill the disk with it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clipCommand, type Session } from '../api/session.ts';
import type { Clock } from '../lib/clock.ts';
import { iso } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';

export type AuditEvent = 'start' | 'refusal' | 'end';

export interface AuditRecord {
  time: string;
  event: AuditEvent;
  node: string;
  user?: string;
  uid?: number;
  /** Her ssh client's address and port ("ADDR PORT"), for a login through sshd. */
  sshClient?: string;
  session?: string;
  image?: string;
  container?: string;
  mode?: string;
  /** The -c command or script (an ended session keeps its first 256 characters). */
  command?: string;
  tty?: boolean;
  exitCode?: number;
  bytesIn?: number;
  bytesOut?: number;
  /** From the login to this moment. */
  durationSeconds?: number;
  /** Why it was refused or ended (api/reasons.ts), and the message she read. */
  reason?: string;
  message?: string;
  /** For a refusal of a login flood: how many refusals this line stands for. */
  count?: number;
}

/** Where the controller and the session API write audit records; never throws. */
export interface AuditSink {
  write(r: Omit<AuditRecord, 'time' | 'node'>): void;
}

/** The audit record of a session at one of its moments: the facts its event and metrics carry. */
export function sessionAudit(event: AuditEvent, s: Session, now: number): Omit<AuditRecord, 'time' | 'node'> {
  const st = s.status;
  const end = event === 'end' ? Date.parse(st.endedAt ?? '') || now : now;
  return {
    event,
    user: s.spec.user,
    uid: s.spec.uid,
    sshClient: s.spec.sshClient,
    session: s.metadata.name,
    image: st.container?.image,
    container: st.container?.name,
    mode: s.spec.mode,
    command: auditedCommand(s.spec.command),
    tty: s.spec.tty,
    ...(event === 'end' ? { exitCode: st.exitCode, bytesIn: st.bytesIn, bytesOut: st.bytesOut } : {}),
    durationSeconds: Math.max(0, (end - Date.parse(s.metadata.creationTimestamp)) / 1000),
    ...(event !== 'start' ? { reason: st.reason, message: st.message } : {}),
  };
}

export const FLOOD_WINDOW_MS = 10_000;

/** What a record keeps of a command: her arguments may take a megabyte, the log is read by people and rotated by size. */
export const AUDIT_COMMAND_MAX = 1024;
export const auditedCommand = (c: string | undefined) => (c === undefined ? c : clipCommand(c, AUDIT_COMMAND_MAX));

export interface AuditLogOptions {
  file: string;
  node: string;
  /** Rotate to FILE.1 past this size; 0: never (logrotate's job). */
  maxBytes: number;
  clock: Clock;
  log: Logger;
  /** Counts each record written, by event, and each failed write. */
  onWrite?: (event: AuditEvent, ok: boolean) => void;
}

export class AuditLog implements AuditSink {
  private fd: number | undefined;
  private ino = 0;
  private size = 0;
  private failing = false;
  /** Per user: when her last RateLimited line was written, and the refusals since. */
  private floods = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly o: AuditLogOptions) {}

  write(r: Omit<AuditRecord, 'time' | 'node'>): void {
    const now = this.o.clock.now();
    let count: number | undefined;
    if (r.event === 'refusal' && r.reason === 'RateLimited' && r.user) {
      const f = this.floods.get(r.user);
      if (f && now - f.at < FLOOD_WINDOW_MS) {
        f.suppressed++;
        return;
      }
      count = f?.suppressed ? f.suppressed + 1 : undefined;
      this.floods.set(r.user, { at: now, suppressed: 0 });
      if (this.floods.size > 10_000) this.pruneFloods(now);
    }
    const line = JSON.stringify({ time: iso(now), node: this.o.node, ...r, ...(count ? { count } : {}) }) + '\n';
    try {
      this.ensureOpen(Buffer.byteLength(line));
      this.size += fs.writeSync(this.fd!, line);
      this.failing = false;
      this.o.onWrite?.(r.event, true);
    } catch (e) {
      this.o.onWrite?.(r.event, false);
      this.close();
      // Once per run of failures: a full disk would otherwise log a line per login.
      if (!this.failing) this.o.log.error('could not write the audit log', { file: this.o.file, error: String(e) });
      this.failing = true;
    }
  }

  /** SIGHUP: the next write opens the file by its name again. */
  reopen(): void {
    this.close();
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private ensureOpen(adding: number): void {
    if (this.fd !== undefined) {
      // Moved or removed (logrotate): a new file under the name. The path is the administrator's, root's alone.
      const cur = statOrUndefined(this.o.file);
      if (!cur || cur.ino !== this.ino) this.close();
    }
    if (this.fd !== undefined && this.o.maxBytes > 0 && this.size + adding > this.o.maxBytes) {
      this.close();
      fs.renameSync(this.o.file, `${this.o.file}.1`);
    }
    if (this.fd === undefined) {
      fs.mkdirSync(path.dirname(this.o.file), { recursive: true, mode: 0o700 });
      this.fd = fs.openSync(this.o.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
      const st = fs.fstatSync(this.fd);
      this.ino = st.ino;
      this.size = st.size;
    }
  }

  private pruneFloods(now: number): void {
    for (const [u, f] of this.floods) if (now - f.at >= FLOOD_WINDOW_MS) this.floods.delete(u);
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}
