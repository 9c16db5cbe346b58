// The root session helper: the one command the sudoers rule allows. It writes the login's Session object, waits for
// doshd to make it Ready, then runs the exec that doshd planned and relays the terminal. Identity comes from sudo,
// image/command/flags from doshd's status; nothing the user controls reaches either.
import type { Duplex } from 'node:stream';
import { API_VERSION, SESSION_KIND } from '../api/constants.ts';
import type { Session } from '../api/session.ts';
import { iso, type Clock, type Random } from '../lib/clock.ts';
import { ExitError, NotFoundError, RefusedError } from '../lib/errors.ts';
import { hangUpTree, isSameProcessAlive, processStartTime, type ProcFs } from '../lib/proc.ts';
import type { DirStore } from '../store/dirstore.ts';
import type { ControllerRecord } from '../store/layout.ts';
import type { Engine } from '../engine/docker.ts';
import { parseShellArgs, sanitizeLang, sanitizeTerm } from './args.ts';
import { callerIdentity, type PasswdLookup } from './identity.ts';
import { flush, relay, type RelayIO } from './relay.ts';
import { waitForSession } from './wait.ts';

/** An annotation doshctl sets on a live session to tell its user something (drain warnings). */
export const MESSAGE_ANNOTATION = 'dosh.io/message';

export type ExecEngine = Pick<Engine, 'createExec' | 'startExec' | 'inspectExec' | 'resizeExec' | 'warm' | 'inspectContainer'>;

export interface Terminal {
  isTTY: boolean;
  setRaw(raw: boolean): void;
  size(): { rows: number; cols: number } | undefined;
  onResize(fn: () => void): void;
}

export interface HelperDeps {
  argv0: string;
  args: string[];
  env: Readonly<Record<string, string | undefined>>;
  uid: number;
  pid: number;
  node: string;
  io: RelayIO;
  terminal: Terminal;
  store: DirStore<Session>;
  engine: ExecEngine;
  users: PasswdLookup;
  clock: Clock;
  random: Random;
  proc: ProcFs;
  controller: () => ControllerRecord | undefined;
  onSignal: (fn: (sig: NodeJS.Signals) => void) => void;
  /** True once the program that started the login (sshd, su) is gone: a dropped ssh connection sends no signal. */
  clientGone: () => boolean;
  clientPollMs: number;
  loginTimeoutMs: number;
  killGraceMs: number;
  /** Called at each step of the login, for `TRACE=true` in helper.conf (where a slow login spends its time). */
  trace: (step: string) => void;
  maxArgBytes: number;
}

const say = (d: HelperDeps, msg: string) => d.io.stderr.write(`dosh: ${msg}\n`);

/** Returns the exit status of the login; throws ExitError for refusals the user has been told about. */
export async function runHelper(d: HelperDeps): Promise<number> {
  d.trace('helper started');
  const user = await callerIdentity(d.env, d.uid, d.users);
  d.trace(`caller is ${user.name}`);
  const parsed = parseShellArgs(d.argv0, d.args);
  if (!parsed.ok) throw new ExitError(2, parsed.error);
  const inv = parsed.value;
  // Measured as the session object will hold them, which bounds what one login can put in the store.
  const argBytes = Buffer.byteLength(JSON.stringify(d.args));
  if (argBytes > d.maxArgBytes) throw new ExitError(2, `arguments too long (${argBytes} bytes as stored, at most ${d.maxArgBytes})`);

  const tty = d.terminal.isTTY;
  const helperStart = processStartTime(d.pid, d.proc);
  if (!helperStart) throw new Error('cannot read the helper process start time from /proc');
  const slug = user.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'user';
  const created = d.store.create({
    apiVersion: API_VERSION,
    kind: SESSION_KIND,
    metadata: { name: `${slug}-${d.random(5)}`, labels: { 'dosh.io/user': slug, 'dosh.io/node': d.node } },
    spec: {
      user: user.name,
      uid: user.uid,
      gid: user.gid,
      node: d.node,
      mode: inv.mode,
      login: inv.login,
      command: inv.command,
      args: inv.args,
      tty,
      term: sanitizeTerm(d.env.TERM, tty),
      lang: sanitizeLang(d.env.LANG),
      helper: { pid: d.pid, startTime: helperStart },
      client: d.env.SSH_CONNECTION ? 'ssh' : undefined,
    },
    status: { phase: 'Pending', conditions: [] },
  });
  const name = created.metadata.name;
  d.trace('session written');
  d.engine.warm();

  let session: Session;
  try {
    session = await waitForSession(d, name);
    d.trace(`session ${session.status.phase}`);
  } catch (e) {
    endAs(d, name, 'Failed', 'NotAdmitted', (e as Error).message);
    throw e;
  }
  if (session.status.phase !== 'Ready' || !session.status.exec || !session.status.container) {
    throw new ExitError(1, session.status.message ?? `login refused (${session.status.reason ?? 'unknown reason'})`);
  }
  return runExec(d, session, tty);
}

async function runExec(d: HelperDeps, session: Session, tty: boolean): Promise<number> {
  const name = session.metadata.name;
  const plan = session.status.exec!;
  const execId = session.status.execId ?? (await d.engine.createExec(session.status.container!.id, { ...plan, tty }));
  d.trace('exec created');
  const sock: Duplex = await d.engine.startExec(execId, tty);
  d.trace('exec started');
  // The engine answers the hijack before the process exists; its host pid is learned off the critical path.
  const proc = findExecProcess(d, execId).then((p) => {
    markRunning(d, name, p?.pid ?? 0, p?.start);
    return p;
  });
  const alive = (p: ExecProcess | undefined): p is ExecProcess => !!p && isSameProcessAlive(p.pid, p.start, d.proc);

  let hangup: NodeJS.Signals | undefined;
  const endLogin = (sig: NodeJS.Signals) => {
    if (hangup) return;
    hangup = sig;
    void proc.then((p) => {
      if (alive(p)) void hangUpTree(p.pid, d.killGraceMs, (ms) => d.clock.sleep(ms), d.proc);
    });
    sock.end();
  };
  // Administrators reach a logged-in user through her session (doshctl drain): the message goes to her terminal.
  // Read on the once-a-second check below, not through an inotify watch: a watch per open session would use up
  // root's inotify instances (128 by default) at 127 sessions, and wake every helper on every store write.
  let shown = session.metadata.annotations?.[MESSAGE_ANNOTATION];
  const showMessage = () => {
    const msg = d.store.get(name)?.metadata.annotations?.[MESSAGE_ANNOTATION];
    if (msg && msg !== shown) {
      shown = msg;
      d.io.stderr.write(`${tty ? '\r\n' : ''}dosh: ${msg.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '')}${tty ? '\r\n' : '\n'}`);
    }
  };
  d.onSignal((sig) => {
    if (sig === 'SIGINT' || sig === 'SIGQUIT') void proc.then((p) => alive(p) && d.proc.kill(p.pid, sig));
    else endLogin(sig);
  });

  if (tty) {
    d.terminal.setRaw(true);
    const resize = () => {
      const sz = d.terminal.size();
      if (sz) d.engine.resizeExec(execId, sz.rows, sz.cols).catch(() => {});
    };
    d.terminal.onResize(resize);
    resize();
  }
  const watching = new AbortController();
  void (async () => {
    while (!watching.signal.aborted) {
      await d.clock.sleep(d.clientPollMs, watching.signal);
      if (watching.signal.aborted) break;
      if (d.clientGone()) endLogin('SIGHUP');
      showMessage();
    }
  })();
  try {
    // Recorded after the byte has gone to the user (doshd turns it into the login-to-first-byte histogram).
    const firstByte = () => setImmediate(() => recordStatus(d, name, (st) => (st.firstByteAt ? undefined : { ...st, firstByteAt: iso(d.clock.now()) })));
    await relay(sock, d.io, tty, (why) => endLogin(why === 'terminal' ? 'SIGHUP' : 'SIGPIPE'), firstByte);
  } finally {
    watching.abort();
    if (tty) d.terminal.setRaw(false);
  }
  await Promise.all([flush(d.io.stdout), flush(d.io.stderr)]);

  d.trace('output ended');
  const ended = d.store.get(name);
  if (ended?.status.phase === 'Failed' && ended.status.message) say(d, ended.status.message);
  const code = hangup ? 128 + signalNumber(hangup) : await exitCode(d, execId);
  d.trace(`exit status ${code}`);
  if (code > 128 && !hangup) {
    // Killed by a signal: say so when it is because the container itself went away, not the user's own doing.
    // The engine may still be stopping the container when the exec dies first: watch it for a moment.
    for (let i = 0; i < 10; i++) {
      const running = await d.engine.inspectContainer(session.status.container!.id).then((c) => c.running, () => false);
      if (!running) {
        say(d, 'the session was cut: its container stopped (the Docker engine stopped or restarted, or an administrator stopped it)');
        break;
      }
      await d.clock.sleep(100);
    }
  }
  if (hangup) endAs(d, name, 'Failed', 'ClientGone', `the client went away (${hangup})`);
  else endAs(d, name, code === 0 ? 'Succeeded' : 'Failed', 'Exited', `exited with status ${code}`, code);
  return code;
}

interface ExecProcess {
  pid: number;
  start: string;
}

async function findExecProcess(d: HelperDeps, execId: string): Promise<ExecProcess | undefined> {
  for (let i = 0; i < 400; i++) {
    const s = await d.engine.inspectExec(execId).catch(() => undefined);
    if (!s) return undefined;
    if (s.pid > 0) {
      const start = processStartTime(s.pid, d.proc);
      return start ? { pid: s.pid, start } : undefined;
    }
    if (!s.running && s.exitCode !== null) return undefined;
    await d.clock.sleep(5);
  }
  return undefined;
}

async function exitCode(d: HelperDeps, execId: string): Promise<number> {
  // The connection closes a moment before the engine records the exit code.
  for (let i = 0; i < 200; i++) {
    const s = await d.engine.inspectExec(execId).catch((e: Error) => {
      // The stream ended because the engine went away (stopped, restarted): the container's processes are gone.
      throw new ExitError(255, `the session was cut: the Docker engine stopped or restarted (${e.message})`);
    });
    if (!s.running && s.exitCode !== null) return s.exitCode;
    await d.clock.sleep(5);
  }
  throw new ExitError(1, 'the container did not report the exit status of the command');
}

function recordStatus(d: HelperDeps, name: string, change: (st: Session['status']) => Session['status'] | undefined): void {
  try {
    d.store.mutate(name, (cur) => {
      const st = change(cur.status);
      return st ? { ...cur, status: st } : undefined;
    });
  } catch {
    // Only a figure for metrics: never worth disturbing the login.
  }
}

function markRunning(d: HelperDeps, name: string, pid: number, start: string | undefined): void {
  // Recorded so that doshd can end the login's processes if this helper is killed.
  try {
    d.store.mutate(name, (cur) =>
      cur.status.phase === 'Ready' ? { ...cur, status: { ...cur.status, phase: 'Running', execPid: pid > 0 ? pid : undefined, execPidStartTime: start, startedAt: iso(d.clock.now()) } } : undefined,
    );
  } catch (e) {
    if (!(e instanceof NotFoundError)) say(d, `could not record the session start: ${(e as Error).message}`);
  }
}

function endAs(d: HelperDeps, name: string, phase: 'Succeeded' | 'Failed', reason: string, message: string, exitCode?: number): void {
  try {
    d.store.mutate(name, (cur) =>
      cur.status.phase === 'Succeeded' || cur.status.phase === 'Failed'
        ? undefined
        : { ...cur, status: { ...cur.status, phase, reason, message, exitCode, endedAt: iso(d.clock.now()) } },
    );
  } catch {
    // doshd collects a session whose helper is gone; failing to record the end must not change the exit status.
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGPIPE: 13, SIGTERM: 15 } as Record<string, number>)[sig] ?? 1;
}

export { RefusedError };
