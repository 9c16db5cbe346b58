// Hook scripts (SCRIPTSFOLDER + RUNSCRIPTS) at the original DoSH's six moments, so that a sysadmin's existing
// scripts run unchanged.
//
// What the original does (github.com/grycap/dosh, src/bin/shell2docker, function `callscripts`, and the
// scripts it ships in src/etc/scripts: template, README.md, 00addinterface, 00deletecontainer):
//  - `for E in $SCRIPTSFOLDER/*; do if [ ! -d "$E" -a -x "$E" ]; then RESULT="$($E $@ 2>&1)"` with
//    `callscripts MOMENT CONTAINER ...`: every non-directory executable entry (the glob skips dot-files; -x
//    follows symlinks) runs as `SCRIPT MOMENT CONTAINER ARGS...`. The moment is $1: every shipped script
//    starts `COMMAND=$1; CONTAINER=$2; shift; shift; case "$COMMAND" in prerun) ... esac`.
//  - Arguments: `prerun|run CONTAINER -h HOST -u UID:GID $DOCKERPARAMETERS -id --name NAME IMAGE COMMAND`,
//    `prestart|start NAME`, `preexec|exec NAME COMMAND ARGS...`. At `run` CONTAINER is the id printed by
//    `docker run -d`; at `prerun` it was an empty variable.
//  - stdout and stderr are captured together and only go to the debug log. The exit status is ignored and
//    nothing ever stops the login. A missing folder is logged at debug level and means no hooks.
//  - Scripts run as root through sudo (env_reset), so their environment was sudo's (secure_path, HOME=/root,
//    LOGNAME=root, SUDO_USER/SUDO_UID/SUDO_GID), with USER re-set to the login user by shell2docker
//    (`USER="$USERNAME"` on an exported variable). cwd and stdin were the login's (the user's home and terminal).
// Deliberate differences, for a clear refusal instead of a silent failure, or for safety:
//  - a failing, killed or timed-out pre* script refuses the login (the original ignored the status);
//  - arguments reach the script exactly as given (the original's unquoted `$@` re-split and globbed them
//    and dropped empty ones, including the empty CONTAINER at prerun);
//  - cwd is the folder and stdin /dev/null (never the user's home or terminal), and a timeout kills the group;
//  - order is C-locale byte order (the original's glob order depended on the login's LC_COLLATE).
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type HookMoment = 'prerun' | 'run' | 'prestart' | 'start' | 'preexec' | 'exec';

export interface HookContext {
  user: string;
  uid: number;
  gid: number;
  groups: number[];
  session?: string;
  containerId?: string;
  containerName: string;
  image?: string;
}

export interface HookRun {
  script: string;
  moment: HookMoment;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** stdout and stderr interleaved, truncated to maxOutputBytes with a note. */
  output: string;
}

export interface HookResult {
  ok: boolean;
  runs: HookRun[];
  /** For a failing pre* hook: names the script, the moment and the status; fit to show to the user. */
  failure?: string;
}

export type SpawnFn = (command: string, args: string[], options: SpawnOptions) => ChildProcess;

export interface HookOptions {
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Between SIGTERM and SIGKILL to the script's process group on timeout. */
  killGraceMs?: number;
  spawn?: SpawnFn;
}

export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
export const DEFAULT_HOOK_MAX_OUTPUT_BYTES = 64 * 1024;
export const DEFAULT_HOOK_KILL_GRACE_MS = 2_000;

/** Debian's sudo secure_path: the PATH the original's scripts had under sudo. */
export const HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const PRE_MOMENTS: ReadonlySet<HookMoment> = new Set<HookMoment>(['prerun', 'prestart', 'preexec']);

export function isPreMoment(moment: HookMoment): boolean {
  return PRE_MOMENTS.has(moment);
}

/**
 * The executable regular files directly in folder (symlinks followed), sorted in byte order, as full paths.
 * Dot-files are skipped because the original's `$SCRIPTSFOLDER/*` glob never saw them.
 * A missing, unreadable or non-directory folder has no scripts.
 */
export function listHookScripts(folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(folder, name);
    try {
      const st = statSync(path);
      // Root may execute a file with any execute bit set, which is what the original's `[ -x ]` tested as root.
      if (st.isFile() && (st.mode & 0o111) !== 0) out.push(path);
    } catch {
      // Dangling symlink or a file removed meanwhile.
    }
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * The positional arguments after the moment, as the original built them:
 * prerun|run: CONTAINER <docker run arguments...> IMAGE COMMAND...  (extra = [...dockerRunArgs, image, ...command])
 * prestart|start: CONTAINER
 * preexec|exec: CONTAINER COMMAND...  (extra = the shell and the login's arguments)
 * At `run` the original passed the new container's id; pass it as containerId to do the same.
 */
export function hookArgs(moment: HookMoment, containerName: string, extra: string[] = [], containerId?: string): string[] {
  switch (moment) {
    case 'prerun':
    case 'preexec':
    case 'exec':
      return [containerName, ...extra];
    case 'run':
      return [containerId || containerName, ...extra];
    case 'prestart':
    case 'start':
      return [containerName];
  }
}

/** The whole environment of a hook script: sudo's as the original's scripts saw it, plus DOSH_* for new ones. */
export function hookEnv(moment: HookMoment, ctx: HookContext): Record<string, string> {
  return {
    PATH: HOOK_PATH,
    HOME: '/root',
    LOGNAME: 'root',
    USER: ctx.user,
    SUDO_USER: ctx.user,
    SUDO_UID: String(ctx.uid),
    SUDO_GID: String(ctx.gid),
    DOSH_USER: ctx.user,
    DOSH_UID: String(ctx.uid),
    DOSH_GID: String(ctx.gid),
    DOSH_GROUPS: ctx.groups.join(','),
    DOSH_SESSION: ctx.session ?? '',
    DOSH_CONTAINER_ID: ctx.containerId ?? '',
    DOSH_CONTAINER_NAME: ctx.containerName,
    DOSH_IMAGE: ctx.image ?? '',
    DOSH_PHASE: moment,
  };
}

/**
 * Runs every hook script of folder for one moment, one after the other in name order, as
 * `SCRIPT MOMENT ...args` (args as built by hookArgs). For pre* moments the first script that fails, is killed
 * or times out stops the rest and makes ok false; post-moment failures are only recorded.
 * A folder that does not exist (or cannot be read) means no hooks, for every moment, as in the original:
 * ok is true and nothing is recorded, so callers that want to flag a misconfigured SCRIPTSFOLDER must check
 * it when the configuration is loaded.
 */
export async function runHooks(
  folder: string,
  moment: HookMoment,
  args: string[],
  ctx: HookContext,
  opts: HookOptions = {},
): Promise<HookResult> {
  const o = {
    timeoutMs: opts.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
    maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_HOOK_MAX_OUTPUT_BYTES,
    killGraceMs: opts.killGraceMs ?? DEFAULT_HOOK_KILL_GRACE_MS,
    spawn: opts.spawn ?? (nodeSpawn as SpawnFn),
  };
  const env = hookEnv(moment, ctx);
  const runs: HookRun[] = [];
  for (const script of listHookScripts(folder)) {
    const run = await runOne(script, moment, args, env, folder, o);
    runs.push(run);
    const status = failureStatus(run, o.timeoutMs);
    if (status && isPreMoment(moment)) {
      return { ok: false, runs, failure: `hook script ${script} (${moment}) ${status}` };
    }
  }
  return { ok: true, runs };
}

/** Undefined for a successful run, otherwise how it failed. */
export function failureStatus(run: HookRun, timeoutMs: number): string | undefined {
  if (run.timedOut) return `timed out after ${+(timeoutMs / 1000).toFixed(3)} s`;
  if (run.signal) return `was killed by ${run.signal}`;
  if (run.exitCode === null) return `could not be run: ${run.output.trim()}`;
  if (run.exitCode !== 0) return `failed with exit status ${run.exitCode}`;
  return undefined;
}

// bash execs the script with both outputs on one pipe, like the original's `$($E $@ 2>&1)`; a script without
// a #! line is run by bash, as the original's bash did, where a direct exec would hand it to /bin/sh (dash).
const LAUNCH = 'exec "$@" 2>&1';

async function runOne(
  script: string,
  moment: HookMoment,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  o: Required<HookOptions>,
): Promise<HookRun> {
  const started = performance.now();
  const out = new Captured(o.maxOutputBytes);
  const done = (exitCode: number | null, signal: string | null, timedOut: boolean): HookRun => ({
    script,
    moment,
    exitCode,
    signal,
    timedOut,
    durationMs: Math.round(performance.now() - started),
    output: out.text(),
  });

  let child: ChildProcess;
  try {
    child = o.spawn('/bin/bash', ['-c', LAUNCH, 'dosh-hook', script, moment, ...args], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    out.push(Buffer.from(String((err as Error).message ?? err)));
    return done(null, null, false);
  }
  child.on('error', () => {});
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => out.push(b));

  type Ended = { code: number | null; signal: string | null } | { error: Error };
  const ended = new Promise<Ended>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ error }));
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), o.timeoutMs);
  });
  const first = await Promise.race([ended, timeout]);
  clearTimeout(timer);
  const timedOut = first === 'timeout';
  if (timedOut && child.pid !== undefined) await killGroup(child.pid, o.killGraceMs);
  const end = await ended;
  // A background child the script left behind may hold the pipe open; its later output is not waited for.
  await Promise.race([closed, sleep(200)]);
  child.stdout?.destroy();
  child.stderr?.destroy();
  if ('error' in end) {
    out.push(Buffer.from(end.error.message));
    return done(null, null, timedOut);
  }
  return done(end.code, end.signal, timedOut);
}

/** SIGTERM to the whole group, SIGKILL to whatever is left after the grace period; returns once all are gone. */
async function killGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, 2_000);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (performance.now() >= deadline) return false;
    await sleep(25);
  }
}

/** Zombies count as gone: orphans are reaped by an init that may never do it (this sandbox's pid 1 does not). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    // Fields after the comm's last ')': state ppid pgrp ...
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z') return true;
  }
  return false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Captured {
  private chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;
  constructor(private readonly max: number) {}

  push(b: Buffer): void {
    this.total += b.length;
    const room = this.max - this.kept;
    if (room <= 0) return;
    const part = b.length <= room ? b : b.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
  }

  text(): string {
    const s = Buffer.concat(this.chunks).toString('utf8');
    if (this.total <= this.kept) return s;
    return `${s}\n[dosh: output truncated: ${this.total} bytes, the first ${this.kept} kept]\n`;
  }
}
