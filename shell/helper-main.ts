// Entry point of the root session helper (installed as /usr/local/lib/dosh/dosh-helper, run only through sudo).
// Usage (by the dosh launcher): dosh-helper ARGV0 [SHELL ARGS...]
import { exitAfterFlush } from '../lib/exit.ts';
import * as os from 'node:os';
import * as tty from 'node:tty';
import { realClock, realRandom } from '../lib/clock.ts';
import { ExitError, RefusedError } from '../lib/errors.ts';
import { parentPid, realProcFs } from '../lib/proc.ts';
import { passwdByUid } from '../lib/users.ts';
import { controllerFile, readJsonFile, type ControllerRecord } from '../store/layout.ts';
import { DirStore } from '../store/dirstore.ts';
import { sessionShapeCodec } from '../store/codec.ts';
import type { Session } from '../api/session.ts';
import { Engine } from '../engine/docker.ts';
import { checkStore, loadHelperConfig } from './helper-config.ts';
import { runHelper, type Terminal } from './helper.ts';

// Whatever sudo let through, nothing below reads the environment except TERM, LANG and the SUDO_ identity.
const env = { ...process.env };
for (const k of Object.keys(process.env)) delete process.env[k];
process.env.PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
// sudo passes on the signals its user sends it. These mean nothing to a login, and by default would end the helper
// without its clean-up (SIGALRM sudo keeps: it is its command timeout); SIGUSR1 would also ask Node for its debugger,
// which the #! flags keep closed (scripts/install-system.sh: a listener comes too late for one sent at start-up).
for (const sig of ['SIGUSR1', 'SIGUSR2', 'SIGALRM'] as const) process.on(sig, () => {});
// Her working directory is hers: nothing here resolves a relative path, and from here nothing could.
process.chdir('/');

async function main(): Promise<number> {
  // Before anything else (even reading our root-only settings): the same refusal callerIdentity would give.
  if (process.getuid!() !== 0) throw new RefusedError('NotPrivileged', 'the session helper must be started by the dosh login shell through sudo');
  const cfg = loadHelperConfig();
  checkStore(cfg.store);
  const [argv0 = 'dosh', ...args] = process.argv.slice(2);
  const stdinTTY = tty.isatty(0);
  const sizeFrom = [process.stdout, process.stderr].find((s) => s.isTTY) as tty.WriteStream | undefined;
  const terminal: Terminal = {
    isTTY: stdinTTY,
    setRaw: (raw) => {
      try {
        if (stdinTTY) (process.stdin as tty.ReadStream).setRawMode(raw);
      } catch {
        // A hung-up terminal has no modes left to restore.
      }
    },
    size: () => (sizeFrom ? { rows: sizeFrom.rows, cols: sizeFrom.columns } : undefined),
    onResize: (fn) => process.on('SIGWINCH', fn),
  };
  process.on('exit', () => terminal.setRaw(false));
  // sudo is our parent and the login program (sshd's session process, su) is its parent. When either goes away
  // (a dropped connection reparents them), the login is over even though no signal came.
  const sudoPid = process.ppid;
  const origin = parentPid(sudoPid);
  return runHelper({
    argv0,
    args,
    env,
    uid: process.getuid!(),
    pid: process.pid,
    node: os.hostname(),
    io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    terminal,
    store: new DirStore<Session>(cfg.store, 'sessions', sessionShapeCodec, { fsync: false }),
    engine: new Engine(cfg.dockerSocket),
    users: { byUid: (uid) => passwdByUid(uid) },
    clock: realClock,
    random: realRandom,
    proc: realProcFs,
    controller: () => readJsonFile<ControllerRecord>(controllerFile(cfg.store)),
    onSignal: (fn) => {
      for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, () => fn(sig));
    },
    clientGone: () => process.ppid !== sudoPid || parentPid(sudoPid) !== origin,
    clientPollMs: 1000,
    trace: cfg.trace ? (step) => process.stderr.write(`dosh: trace: ${(performance.now()).toFixed(1)} ms ${step}\n`) : () => {},
    loginTimeoutMs: cfg.loginTimeoutMs,
    killGraceMs: cfg.killGraceMs,
    // The kernel's usual limit (a quarter of an 8 MiB stack), counted as stored: control bytes take 6 in JSON.
    maxArgBytes: 2 << 20,
  });
}

main().then(
  (code) => exitAfterFlush(code),
  (err) => {
    if (err instanceof ExitError || err instanceof RefusedError) process.stderr.write(`dosh: ${err.message}\n`);
    else process.stderr.write(`dosh: login failed: ${(err as Error)?.message ?? String(err)}\n`);
    exitAfterFlush(err instanceof ExitError ? err.code : 1);
  },
);
