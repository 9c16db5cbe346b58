// A relay's login request, read and checked: everything in it but the uid and pid is the user's own choice (argv,
// TERM, LANG, her ssh client's variables), so it is bytes to validate, never to trust.
import { readFileSync, statSync, type Stats } from 'node:fs';
import { RELAY_PROTOCOL_VERSION } from '../../api/relay-protocol.ts';
import { processStartTime } from '../../lib/proc.ts';
import type { FrameReader } from '../../api/relay-wire.ts';
import { parseShellArgs, sanitizeLang, sanitizeTerm, type ShellInvocation } from './shell-args.ts';

export interface LoginRequest {
  /** Her real uid, as the kernel gave it to the relay (and /proc confirms). */
  uid: number;
  gid: number;
  /** The relay's pid and its start time: the session's owner, so a reused pid cannot pass for it. */
  relay: { pid: number; startTime: string };
  /** 1, or more when the relay asks again because a doshd went away before answering (its session may exist). */
  attempt: number;
  invocation: ShellInvocation;
  /** The arguments' size as the store would hold them (JSON), which bounds what one login writes. */
  storedArgBytes: number;
  tty: boolean;
  term: string;
  lang?: string;
  size?: { rows: number; cols: number };
  /** True when sshd started the login (SSH_CONNECTION is set). */
  ssh: boolean;
  /** Her ssh client's address and port, from SSH_CONNECTION, when it is well formed. */
  sshClient?: string;
  /** Her ssh client forwards an agent (the relay has SSH_AUTH_SOCK; the path stays with it). */
  agent: boolean;
}

/** A request that cannot become a session; `code` is the relay's exit status (2: bad arguments, like bash). */
export class BadRequest extends Error {
  override name = 'BadRequest';
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

/** What doshd reads of the relay process in /proc. */
export interface RelayProcess {
  /** Real uid from /proc/PID/status, or undefined when the process is gone. */
  realUid(pid: number): number | undefined;
  startTime(pid: number): string | undefined;
  /** Whether the process runs PROGRAM: the file /proc/PID/exe is, found at PROGRAM in doshd's filesystem or the process's. */
  runs(pid: number, program: string): boolean;
}

export const procRelayProcess: RelayProcess = {
  realUid(pid) {
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  },
  startTime: (pid) => processStartTime(pid),
  runs(pid, program) {
    if (!program.startsWith('/')) return false;
    let exe: Stats;
    try {
      exe = statSync(`/proc/${pid}/exe`);
    } catch {
      return false;
    }
    // The same file, not the same path: a doshd in a container (the chart, compose) sees the host's login shell only
    // through the relay's root, and a path there may name another file in its own image.
    return [program, `/proc/${pid}/root${program}`].some((p) => {
      try {
        const st = statSync(p);
        return st.dev === exe.dev && st.ino === exe.ino;
      } catch {
        return false;
      }
    });
  },
};

const text = (b: Buffer | undefined) => (b === undefined ? undefined : b.toString('utf8'));

export function readLoginRequest(f: FrameReader, proc: RelayProcess): LoginRequest {
  const version = f.u32('Version');
  if (version !== RELAY_PROTOCOL_VERSION) throw new BadRequest(`the login program speaks protocol ${version ?? 'unknown'}, doshd ${RELAY_PROTOCOL_VERSION}: the installed dosh and doshd are of different releases`);
  const uid = f.u32('Uid');
  const gid = f.u32('Gid');
  const pid = f.u32('Pid');
  if (uid === undefined || gid === undefined || !pid) throw new BadRequest('the login request has no uid, gid or pid');
  // The socket is root's alone, so the sender is the setuid relay (or root); /proc confirms the uid it reports.
  if (proc.realUid(pid) !== uid) throw new BadRequest(`the login program (pid ${pid}) is not running as uid ${uid}`);
  const startTime = proc.startTime(pid);
  if (!startTime) throw new BadRequest(`the login program (pid ${pid}) has gone`);
  if (uid === 0) throw new BadRequest('root cannot log in through DoSH');

  // Decoded as UTF-8, as the engine's API takes strings: a byte that is not UTF-8 becomes U+FFFD.
  const argv0 = text(f.bytes('Argv0')) ?? 'dosh';
  const args = f.all('Arg').map((b) => b.toString('utf8'));
  const parsed = parseShellArgs(argv0, args);
  if (!parsed.ok) throw new BadRequest(parsed.error, 2);

  const tty = f.u32('Tty') === 1;
  const rows = f.u32('Rows');
  const cols = f.u32('Cols');
  const size = rows && cols && rows < 65536 && cols < 65536 ? { rows, cols } : undefined;
  return {
    uid,
    gid,
    relay: { pid, startTime },
    attempt: f.u32('Attempt') ?? 1,
    invocation: parsed.value,
    storedArgBytes: Buffer.byteLength(JSON.stringify([parsed.value.command ?? '', ...parsed.value.args])),
    tty,
    term: sanitizeTerm(text(f.bytes('Term')), tty),
    lang: sanitizeLang(text(f.bytes('Lang'))),
    size,
    ssh: f.bytes('SshConnection') !== undefined,
    sshClient: sshClient(text(f.bytes('SshConnection'))),
    agent: f.u32('Agent') === 1,
  };
}

/** "ADDR PORT ADDR PORT" as sshd sets it: her address and port, when both look like what sshd writes. */
export function sshClient(v: string | undefined): string | undefined {
  const m = v && /^([0-9A-Fa-f.:]{2,45}) ([0-9]{1,5}) [0-9A-Fa-f.:]{2,45} [0-9]{1,5}$/.exec(v);
  return m ? `${m[1]} ${m[2]}` : undefined;
}
