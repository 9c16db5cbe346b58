// End-to-end harness: a real doshd (the installed one) on the real store, real users created for the test, logins
// through the real su and the test sshd (scripts/lib/test-sshd.sh), real containers on the real engine.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const STORE = '/run/dosh';
export const SSH_PORT = Number(process.env.DOSH_TEST_SSH_PORT ?? 2222);
export const SSHD_DIR = process.env.DOSH_TEST_SSHD_DIR ?? '/run/dosh-test-sshd';
export const DOSH = '/usr/local/bin/dosh';
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

export const su = (user: string, cmd: string, opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) => run('su', ['-', user, '-c', cmd], opts);

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
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
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
  ) {
    this.config = path.join(this.dir, 'dosh.conf');
    this.log = path.join(this.dir, 'doshd.log');
    writeFileSync(this.config, policy, { mode: 0o600 });
  }

  setPolicy(policy: string): void {
    writeFileSync(this.config + '.new', policy, { mode: 0o600 });
    sh(`mv ${this.config}.new ${this.config}`);
  }

  async start(): Promise<this> {
    stopAnyDoshd();
    const child = spawn('/usr/local/bin/doshd', ['--store', STORE, '--config', this.config, '--metrics-address', `127.0.0.1:${METRICS_PORT}`, '--log-format', 'json', '--resync-interval', '0.5', ...this.flags], {
      detached: true,
      stdio: ['ignore', 'ignore', openSync(this.log, 'a')],
    });
    child.unref();
    this.pid = child.pid!;
    await until('doshd to answer /readyz', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`)).ok;
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

  logText(): string {
    return readFileSync(this.log, 'utf8');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Stops the doshd recorded in the store (only that process: pid and start time must match), waiting for it to exit. */
export function stopAnyDoshd(): void {
  let rec: { pid: number; startTime: string };
  try {
    rec = JSON.parse(readFileSync(`${STORE}/doshd.json`, 'utf8'));
  } catch {
    return;
  }
  const alive = () => {
    try {
      const f = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return fields[19] === rec.startTime && fields[0] !== 'Z';
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(rec.pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(); i++) spawnSync('sleep', ['0.05']);
  if (alive()) process.kill(rec.pid, 'SIGKILL');
}

export function doshctl(...args: string[]): Promise<Result> {
  return run('/usr/local/bin/doshctl', args);
}

export function storeSessions(): { metadata: { name: string }; spec: { user: string }; status: { phase: string; reason?: string; exitCode?: number } }[] {
  const r = spawnSync('/usr/local/bin/doshctl', ['get', 'sessions', '-o', 'json'], { encoding: 'utf8' });
  return JSON.parse(r.stdout).items;
}
