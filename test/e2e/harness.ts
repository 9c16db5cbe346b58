// End-to-end harness: a real doshd (the installed one) on the real store, real users created for the test, logins
// through the real su and the test sshd (scripts/lib/test-sshd.sh), real containers on the real engine.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isSameProcessAlive } from '../../lib/proc.ts';
import { INSTALLED } from '../lib/installed.ts';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const STORE = '/run/dosh';
export const SSH_PORT = Number(process.env.DOSH_TEST_SSH_PORT ?? 2222);
export const SSHD_DIR = process.env.DOSH_TEST_SSHD_DIR ?? '/run/dosh-test-sshd';
/** The installed login shell (the package's /usr/bin/dosh, or install-system's: test/lib/installed.ts). */
export const DOSH = INSTALLED.dosh;
export const DOSHD = INSTALLED.doshd;
export const DOSHCTL = INSTALLED.doshctl;
export const BUSYBOX = 'dosh-test/busybox:latest';
export const DEBIAN = 'dosh-test/debian:bookworm';
export const METRICS_PORT = 19469;

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/** Runs a command to completion, feeding `input` on stdin. */
export function run(cmd: string, args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? { PATH: process.env.PATH, HOME: '/root' }, stdio: ['pipe', 'pipe', 'pipe'] } satisfies SpawnOptions);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), ms: performance.now() - t0 });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

export function sh(cmd: string): string {
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export const su = (user: string, cmd: string, opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) => run('su', ['-', user, '-c', cmd], opts);

export function ssh(user: string, cmd: string | undefined, opts: { input?: Buffer | string; extra?: string[] } = {}): Promise<Result> {
  return run('ssh', [...sshOpts(), ...(opts.extra ?? []), `${user}@127.0.0.1`, ...(cmd === undefined ? [] : [cmd])], { input: opts.input });
}

export function sshOpts(): string[] {
  return ['-i', `${SSHD_DIR}/client_key`, '-p', String(SSH_PORT), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'];
}

export function addUser(name: string, opts: { groups?: string[]; shell?: string } = {}): void {
  sh(`bash ${REPO}/scripts/lib/test-users.sh add ${name} --shell ${opts.shell ?? DOSH}${opts.groups?.length ? ` --groups ${opts.groups.join(',')}` : ''}`);
}

export function delUser(name: string): void {
  sh(`bash ${REPO}/scripts/lib/test-users.sh del ${name}`);
}

export function removeContainersOf(...users: string[]): void {
  for (const u of users) spawnSync('docker', ['rm', '-f', `dosh-${u}`], { stdio: 'ignore' });
}

export function containerIds(label: string): string[] {
  return sh(`docker ps -aq --filter label=${label}`).split('\n').filter(Boolean);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * The end most e2e files share: their doshd stopped, their users' containers removed, the users deleted and doshd's
 * files removed, in that order (a container cannot outlive its user's deletion unnoticed). Steps of a file's own go
 * before it (what needs doshd or the users) or after it (networks and images, once no container uses them).
 */
export async function endSuite(doshd: Doshd | undefined, users: string[]): Promise<void> {
  await doshd?.stop();
  removeContainersOf(...users);
  for (const u of users) delUser(u);
  // With doshd stopped: the sessions and events of users that no longer exist, which a machine used again would
  // otherwise carry into the next run (an event aggregates repeats for 10 minutes and lives an hour).
  const store = doshd?.where.store ?? STORE;
  const ours = (f: string) => users.some((u) => f.startsWith(`${u}-`) || f.startsWith(`session.${u}-`) || f.startsWith(`user.${u}.`));
  for (const dir of ['sessions', 'events']) {
    for (const f of existsSync(path.join(store, dir)) ? readdirSync(path.join(store, dir)) : []) if (ours(f)) rmSync(path.join(store, dir, f), { force: true });
  }
  doshd?.cleanup();
}

/** A doshd from the installed binary, with its own policy file; stops any doshd already on the store first. */
export class Doshd {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'doshd-e2e-'));
  readonly config: string;
  readonly log: string;
  pid = 0;

  constructor(
    policy: string,
    private readonly flags: string[] = [],
    /** dosh.conf, or dosh.yaml for a policy in that format (doshd tells them apart by the name). */
    file = 'dosh.conf',
    /** Another store and metrics port: a second doshd on this host, standing for another login node. */
    readonly where: { store: string; port: number } = { store: STORE, port: METRICS_PORT },
  ) {
    this.config = path.join(this.dir, file);
    this.log = path.join(this.dir, 'doshd.log');
    writeFileSync(this.config, policy, { mode: 0o600 });
  }

  setPolicy(policy: string): void {
    writeFileSync(this.config + '.new', policy, { mode: 0o600 });
    sh(`mv ${this.config}.new ${this.config}`);
  }

  async start(): Promise<this> {
    stopAnyDoshd(this.where.store);
    const child = spawn(DOSHD, ['--store', this.where.store, '--config', this.config, '--metrics-address', `127.0.0.1:${this.where.port}`, '--log-format', 'json', '--resync-interval', '0.5', ...this.flags], {
      detached: true,
      stdio: ['ignore', 'ignore', openSync(this.log, 'a')],
    });
    child.unref();
    this.pid = child.pid!;
    await until('doshd to answer /readyz', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${this.where.port}/readyz`)).ok;
      } catch {
        return false;
      }
    });
    return this;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  async stop(): Promise<void> {
    this.kill('SIGTERM');
    await until('doshd to exit', () => !existsSync(`/proc/${this.pid}`) || readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z'), 10_000).catch(() => this.kill('SIGKILL'));
  }

  /** The housekeeping passes this doshd has ended (dosh_housekeeping_passes_total); -1 when it does not answer. */
  async housekeepingPasses(): Promise<number> {
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.where.port}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      return Number(/^dosh_housekeeping_passes_total (\d+)/m.exec(text)?.[1] ?? -1);
    } catch {
      return -1;
    }
  }

  /** Waits for `n` whole housekeeping passes from now: n + 1 ends, since the first may have begun before the call. */
  async afterPasses(n = 2): Promise<void> {
    const from = await this.housekeepingPasses();
    if (from < 0) throw new Error(`doshd (pid ${this.pid}) does not serve dosh_housekeeping_passes_total`);
    await until(`${n} housekeeping passes of doshd`, async () => (await this.housekeepingPasses()) >= from + n + 1, 30_000);
  }

  logText(): string {
    return readFileSync(this.log, 'utf8');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Stops the doshd recorded in the store (only that process: pid and start time must match), waiting for it to exit. */
export function stopAnyDoshd(store = STORE): void {
  let rec: { pid: number; startTime: string };
  try {
    rec = JSON.parse(readFileSync(`${store}/doshd.json`, 'utf8'));
  } catch {
    return;
  }
  const alive = () => isSameProcessAlive(rec.pid, rec.startTime);
  if (!alive()) return;
  process.kill(rec.pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(); i++) spawnSync('sleep', ['0.05']);
  if (alive()) process.kill(rec.pid, 'SIGKILL');
}

/** pgrep pattern of a running login relay: the process named dosh (its comm; argv[0] is what the login program chose). */
export const RELAY_PROCESS = '^dosh$';

export function doshctl(...args: string[]): Promise<Result> {
  return run(DOSHCTL, args);
}

export function storeSessions(): { metadata: { name: string }; spec: { user: string; command?: string; relay: { pid: number; startTime: string } }; status: { phase: string; reason?: string; exitCode?: number } }[] {
  const r = spawnSync(DOSHCTL, ['get', 'sessions', '-o', 'json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return JSON.parse(r.stdout).items;
}

/** A real terminal: tmux runs the login, send-keys types, capture-pane reads the screen. */
export class Tmux {
  constructor(readonly name: string) {}

  start(cmd: string, cols = 100, rows = 30): this {
    spawnSync('tmux', ['kill-session', '-t', this.name], { stdio: 'ignore' });
    // The status is printed by a wrapper shell: tmux's own #{pane_dead_status} is not always filled in here.
    const wrapped = `${cmd}; echo "[exit status $?]"; exec sleep 3600`;
    sh(`tmux new-session -d -s ${this.name} -x ${cols} -y ${rows} ${shellQuote(wrapped)}`);
    return this;
  }

  send(text: string, enter = true): void {
    sh(`tmux send-keys -t ${this.name} -l ${shellQuote(text)}${enter ? ` && tmux send-keys -t ${this.name} Enter` : ''}`);
  }

  screen(): string {
    return sh(`tmux capture-pane -p -t ${this.name}`);
  }

  waitFor(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return until(`${re} on the screen`, () => this.screen().match(re) ?? undefined, timeoutMs).catch((e) => {
      throw new Error(`${(e as Error).message}; screen:\n${this.screen()}`);
    });
  }

  resize(cols: number, rows: number): void {
    sh(`tmux resize-window -t ${this.name} -x ${cols} -y ${rows}`);
  }

  /** Resizes the window and waits until `stty size` in the login (at a shell prompt) reports the new size. */
  async resizeSeen(cols: number, rows: number): Promise<void> {
    this.resize(cols, rows);
    this.send('stty size');
    await this.waitFor(new RegExp(`^${rows} ${cols}$`, 'm'));
  }

  /** The exit status of the login once it has ended, as the wrapper shell printed it. */
  async exitStatus(timeoutMs = 20_000): Promise<number> {
    const m = await this.waitFor(/\[exit status (\d+)\]/, timeoutMs);
    return Number(m[1]);
  }

  kill(): void {
    spawnSync('tmux', ['kill-session', '-t', this.name], { stdio: 'ignore' });
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Host pids of processes in a container whose command line matches. */
export function containerPids(container: string, pattern: string): number[] {
  const r = spawnSync('docker', ['top', container, '-eo', 'pid,args'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.includes(pattern))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** sshOpts() for scp and sftp, which take the port as -P (their -p means "preserve times"). */
export function scpOpts(): string[] {
  return sshOpts().map((o) => (o === '-p' ? '-P' : o));
}

/** One `ssh ...` command line with the test options, for rsync -e and GIT_SSH_COMMAND (no option contains a space). */
export function sshCommand(): string {
  return ['ssh', ...sshOpts()].join(' ');
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export interface StoredSession {
  metadata: { name: string; creationTimestamp: string };
  spec: { user: string; mode: string; login: boolean; command?: string; args: string[]; tty: boolean; client?: string };
  status: {
    phase: string;
    reason?: string;
    message?: string;
    exitCode?: number;
    startedAt?: string;
    endedAt?: string;
    execPid?: number;
    container?: { id: string; name: string; image: string };
    exec?: { shell: string[]; env: string[]; user: string; workingDir?: string; tool?: { name: string; source: 'image' | 'toolbox' } };
  };
}

/** The user's sessions as `doshctl get sessions --user USER -o json` lists them. */
export async function sessionsOf(user: string): Promise<StoredSession[]> {
  const r = await doshctl('get', 'sessions', '--user', user, '-o', 'json');
  if (r.code !== 0) throw new Error(`doshctl get sessions: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString()).items;
}

/** Runs a bash script as USER on the host (`su - USER -s /bin/bash -c SCRIPT`): a test driver acting as the user, whose login shell is dosh. */
export function asUserScript(user: string, script: string, opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<Result> {
  // su itself runs as root with the test's own clean environment: only SCRIPT, as the user, sees anything else.
  return run('su', ['-', user, '-s', '/bin/bash', '-c', script], { input: opts.input, timeoutMs: opts.timeoutMs });
}

/** Runs ARGV as USER on the host with extra environment variables set for that one command (through /usr/bin/env). */
export function asUser(user: string, argv: string[], opts: { env?: Record<string, string>; input?: Buffer | string; timeoutMs?: number; setup?: string } = {}): Promise<Result> {
  const assign = Object.entries(opts.env ?? {}).map(([k, v]) => shellQuote(`${k}=${v}`));
  const script = `${opts.setup ? `${opts.setup}\n` : ''}exec /usr/bin/env ${assign.join(' ')} ${argv.map(shellQuote).join(' ')}`;
  return asUserScript(user, script, opts);
}

/** The names of USER's Session files, read from the store directory itself (independent of doshd and doshctl). */
export function sessionFilesOf(user: string): string[] {
  const re = new RegExp(`^${user.replace(/[^a-z0-9-]/g, '')}-[0-9a-f]+\\.json$`);
  return sh(`ls -1 ${STORE}/sessions`).split('\n').filter((f) => re.test(f));
}

/** Whether the doshd on the test metrics port answers /readyz with 200. */
export async function readyz(): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`)).ok;
  } catch {
    return false;
  }
}

/** Whether PID exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return f.slice(f.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
