// bench/memory: host memory per open interactive session, side by side in one run: N DoSH logins (`su - U` on a
// terminal, her shell waiting in her container), N `docker exec -it` of the docker CLI, and N logins of the original
// bash DoSH (installed for this run from ../shared/reference/grycap-dosh). What counts is everything below su (the
// login program): for DoSH the relay alone; for the original its sudo, its bash and its docker CLI. PSS (proportional
// set size) shares each page among the processes that map it, so N sessions' PSS adds up to what they cost the host.
// Run as root: `flock -o /tmp/dosh-e2e.lock node --import tsx bench/memory.ts` (after bash scripts/lib/install-dosh.sh).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { addUser, BUSYBOX, delUser, Doshd, removeContainersOf, sh, until } from '../test/e2e/harness.ts';
import { installOriginal, ORIGINAL_SHELL, originalAvailable, uninstallOriginal } from './original.ts';
import { runBench } from './run.ts';
import { mean } from './stats.ts';

const N = Number(process.env.BENCH_SESSIONS ?? 30);
const USER = 'dosh-mem';
const ORIG = 'dosh-mem-orig';
const FLOOR = 'dosh-mem-floor';

/** Pss and Rss of a process in KiB (smaps_rollup), or undefined when it is gone. */
function memory(pid: number): { pss: number; rss: number } | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0);
    return { pss: kib('Pss'), rss: kib('Rss') };
  } catch {
    return undefined;
  }
}

const children = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).flatMap((t) => {
    try {
      return readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
const descendants = (pid: number): number[] => children(pid).flatMap((c) => [c, ...descendants(c)]);

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

/** The first process named NAME under ROOT (breadth first) whose arguments include ARG when given, or undefined. */
function find(root: number, name: string, arg?: string): number | undefined {
  const todo = [root];
  while (todo.length) {
    const p = todo.shift()!;
    try {
      if (p !== root && comm(p) === name && (!arg || cmdline(p).includes(arg))) return p;
      todo.push(...children(p));
    } catch {
      // gone
    }
  }
  return undefined;
}

const open: ChildProcess[] = [];

/** N terminals running CMD, each kept open (stdin held), until each has a process named READY (with ARG) under it. */
async function sessions(cmd: string, ready: string, arg?: string): Promise<number[]> {
  const roots: ChildProcess[] = [];
  for (let i = 0; i < N; i++) {
    const c = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env.PATH, TERM: 'xterm' } });
    roots.push(c);
    open.push(c);
  }
  return until(`${N} × ${ready} under "${cmd}"`, () => {
    const found = roots.map((r) => find(r.pid!, ready, arg));
    return found.every((p) => p !== undefined) ? (found as number[]) : undefined;
  }, 120_000);
}

/** What each session costs below `top` (a process name: su, or the docker CLI itself), in KiB: summed over its processes. */
function perSession(tops: number[], includeTop: boolean): { pss: number[]; rss: number[]; procs: number } {
  const pss: number[] = [];
  const rss: number[] = [];
  let procs = 0;
  for (const t of tops) {
    const ps = includeTop ? [t, ...descendants(t)] : descendants(t);
    procs += ps.length;
    const m = ps.map(memory).filter((x) => x !== undefined);
    pss.push(m.reduce((a, x) => a + x.pss, 0));
    rss.push(m.reduce((a, x) => a + x.rss, 0));
  }
  return { pss, rss, procs: procs / tops.length };
}

function close(): void {
  for (const c of open.splice(0)) c.kill('SIGHUP');
}

let doshd: Doshd | undefined;
const withOriginal = originalAvailable();

async function main(): Promise<void> {
  addUser(USER);
  if (withOriginal) {
    installOriginal(BUSYBOX);
    addUser(ORIG, { shell: ORIGINAL_SHELL });
  }
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--log-level', 'warn']).start();
  sh(`docker rm -f ${FLOOR} >/dev/null 2>&1; docker run -d --name ${FLOOR} --init ${BUSYBOX} sleep 2147483647 >/dev/null`);
  sh(`su - ${USER} -c true`);
  const rows: [string, ReturnType<typeof perSession>][] = [];

  // DoSH: below su, the relay (process name dosh); it waits for her shell, which runs in her container.
  const dSu = await sessions(`su - ${USER}`, 'dosh');
  await new Promise((r) => setTimeout(r, 2000));
  rows.push(['DoSH: everything below su (the relay)', perSession(dSu.map((p) => Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1])), false)]);
  close();
  await new Promise((r) => setTimeout(r, 2000));

  // The docker CLI: `docker exec -it` itself.
  const cli = await sessions(`docker exec -it ${FLOOR} sh`, 'docker');
  await new Promise((r) => setTimeout(r, 2000));
  rows.push(['docker CLI: `docker exec -it C sh`', perSession(cli, true)]);
  close();
  await new Promise((r) => setTimeout(r, 2000));

  if (withOriginal) {
    sh(`TERM=dumb su - ${ORIG} -c true`);
    // Its docker CLI's `exec` (it runs `docker inspect` first).
    const oDocker = await sessions(`su - ${ORIG}`, 'docker', 'exec');
    await new Promise((r) => setTimeout(r, 2000));
    // Below su: sudo, the shell2docker bash, its docker CLI.
    const suOf = (p: number): number => {
      for (let q = p; q > 1; q = Number(readFileSync(`/proc/${q}/stat`, 'utf8').split(') ')[1].split(' ')[1])) if (comm(q) === 'su') return q;
      throw new Error(`no su above ${p}`);
    };
    rows.push(['original bash DoSH: everything below su (sudo, bash, docker CLI)', perSession(oDocker.map(suOf), false)]);
    close();
  }

  const m = (kib: number) => (kib / 1024).toFixed(2);
  console.log(`bench/memory: ${N} open interactive sessions of each kind at once, one after the other, in one run`);
  console.log('');
  console.log('| per session | PSS mean (max) | RSS mean | processes |');
  console.log('|---|---|---|---|');
  for (const [what, r] of rows) console.log(`| ${what} | **${m(mean(r.pss))} MiB** (${m(Math.max(...r.pss))}) | ${m(mean(r.rss))} MiB | ${r.procs.toFixed(1)} |`);
}

async function cleanup(): Promise<void> {
  close();
  await doshd?.stop();
  doshd?.cleanup();
  spawnSync('bash', ['-c', `docker rm -f ${FLOOR} grycap-${ORIG} >/dev/null 2>&1`]);
  removeContainersOf(USER);
  for (const u of [USER, ORIG]) if (spawnSync('id', [u]).status === 0) delUser(u);
  if (withOriginal) uninstallOriginal();
}

void runBench('bench/memory', main, cleanup);
