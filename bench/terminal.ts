// Interactive logins on real terminals, for bench/scale: `script -qefc COMMAND /dev/null` gives the command a pty, with
// stdin a pipe kept open until the end. A login counts as in once its shell has answered
// `echo "@@$USER:$(id -u):$(hostname)@@"` (re-sent every 2 s until it does); `exit` ends it.
import { type ChildProcess, spawn } from 'node:child_process';
import { sleep } from '../test/e2e/harness.ts';

const ENV = { PATH: process.env.PATH, HOME: '/root', TERM: 'xterm' };
const MARK = /@@([a-z0-9-]*):(\d+):([0-9a-f]{12})@@/;
const MARK_CMD = 'echo "@@$USER:$(id -u):$(hostname)@@"\n';

export interface Sess {
  user: string;
  kind: 'dosh' | 'docker';
  child: ChildProcess;
  out: string;
  stderr: string;
  t0: number;
  marked?: { ms: number; user: string; uid: number; host: string };
  closed?: { code: number | null; signal: string | null };
  resend?: NodeJS.Timeout;
}

/** One terminal login: `script` gives the command a pty; our pipe stays its stdin until the end. */
export function open(kind: Sess['kind'], user: string, command: string): Sess {
  // -e: script exits with the login's own status.
  const child = spawn('script', ['-qefc', command, '/dev/null'], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  const s: Sess = { user, kind, child, out: '', stderr: '', t0: performance.now() };
  child.stdout!.on('data', (d: Buffer) => {
    s.out = (s.out + d.toString('latin1')).slice(-65536);
    if (!s.marked) {
      const m = MARK.exec(s.out);
      if (m) {
        s.marked = { ms: performance.now() - s.t0, user: m[1], uid: Number(m[2]), host: m[3] };
        clearInterval(s.resend);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (s.stderr = (s.stderr + d.toString('latin1')).slice(-8192)));
  child.stdin!.on('error', () => {});
  child.on('close', (code, signal) => {
    s.closed = { code, signal };
    clearInterval(s.resend);
  });
  const send = () => {
    if (!s.closed) child.stdin!.write(MARK_CMD);
  };
  send();
  s.resend = setInterval(send, 2000);
  return s;
}

export async function waitAll(what: string, ss: Sess[], done: (s: Sess) => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ss.every(done)) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${ss.filter((s) => !done(s)).length} of ${ss.length} not there`);
    await sleep(50);
  }
}

export const loggedInOrGone = (s: Sess) => Boolean(s.marked || s.closed);

/** Sends `exit` to every session still open and waits up to 2 minutes for all to end; a timeout goes to `log`. */
export async function closeAll(ss: Sess[], what: string, log: (message: string) => void): Promise<void> {
  for (const s of ss) if (!s.closed) s.child.stdin!.write('exit\n');
  await waitAll(`${what} to end`, ss, (s) => Boolean(s.closed), 120_000).catch((e) => log((e as Error).message));
  for (const s of ss) s.child.stdin!.end();
}

/** The terminal's last lines, without the echo of the marker command. */
export const tail = (s: Sess) => JSON.stringify(s.out.replace(/\r/g, '').split('\n').filter((l) => l.trim() && !l.includes('echo "@@')).slice(-3).join('\n'));
