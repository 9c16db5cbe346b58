// bench/burst: logins that all start at the same moment. (a) BENCH_N (50) different users, each `su - USER -c true`,
// spawned in one go: a cold round (none of them has a container) then a warm round (all containers running); (b)
// BENCH_N logins of one user, cold then warm. Baselines in the same run, interleaved: BENCH_N `docker exec CONTAINER
// true` in parallel (warm floor) and BENCH_N `docker run -d` in parallel (cold floor), docker CLI, same engine and image.
// Every login must succeed; a failure is printed with its stderr and the session's status.
//
// Run as root, after `bash scripts/lib/install-dosh.sh` (the test command's dosh step), under the end-to-end lock (it starts the real doshd):
//   cd /work/main && flock -o /tmp/dosh-e2e.lock node --import tsx bench/burst.ts
// BENCH_N (default 50) logins per burst, BENCH_ROUNDS (default 3) rounds of all six bursts.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { BUSYBOX, Doshd, run, sh, STORE } from '../test/e2e/harness.ts';
import { countByArgv } from './procstats.ts';
import { runBench } from './run.ts';
import { pct } from './stats.ts';
import { addUsers, delUsersByPrefix, numbered } from './users.ts';

const N = Number(process.env.BENCH_N ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PREFIX = 'dbb-';
const USERS = numbered(`${PREFIX}u`, N, 2);
const SAME = `${PREFIX}same`;
const FLOOR = `${PREFIX}floor`;
const RUNS = numbered(`${PREFIX}run-`, N, 2);
const LOGIN_TIMEOUT_MS = 120_000;
const BARRIER = `/tmp/dbb-barrier-${process.pid}`;

type Kind = 'execFloor' | 'runFloor' | 'usersCold' | 'usersWarm' | 'sameCold' | 'sameWarm';
const LABEL: Record<Kind, string> = {
  execFloor: `${N} x docker exec CONTAINER true (warm floor)`,
  runFloor: `${N} x docker run -d (cold floor)`,
  usersCold: `DoSH: ${N} different users, cold (no containers)`,
  usersWarm: `DoSH: ${N} different users, warm`,
  sameCold: `DoSH: ${N} logins of one user, cold`,
  sameWarm: `DoSH: ${N} logins of one user, warm`,
};

interface Failure {
  kind: Kind;
  round: number;
  who: string;
  code: number | null;
  signal: string | null;
  ms: number;
  stderr: string;
}

interface Burst {
  lat: number[];
  wall: number;
  ok: number;
  fails: Failure[];
}

const series: Record<Kind, { lat: number[]; walls: number[]; ok: number; n: number }> = Object.fromEntries(
  (Object.keys(LABEL) as Kind[]).map((k) => [k, { lat: [], walls: [], ok: 0, n: 0 }]),
) as never;
const phases: Record<string, { pendingToReady: number[]; readyToRunning: number[] }> = {};
const failures: Failure[] = [];

const quiet = (cmd: string) => spawnSync('bash', ['-c', cmd], { stdio: 'ignore' });
const docker = (...args: string[]) => spawnSync('docker', args, { stdio: 'ignore' });

/**
 * Starts every command at the same moment: each is spawned first as `sh -c 'flock -s BARRIER true; exec CMD'`, blocked
 * on a lock this process holds (through a `flock -x BARRIER` child); once all N are waiting on it, the lock is let go
 * and they all run. Spawning 50 processes takes a second or more on a loaded 2-core machine, so without the barrier
 * the "burst" would be spread over that second. Latency is from the release to each command's exit.
 */
async function burst(kind: Kind, round: number, who: string[], cmds: string[][]): Promise<Burst> {
  writeFileSync(BARRIER, '');
  const holder = spawn('flock', ['-x', BARRIER, '-c', 'read _'], { stdio: ['pipe', 'ignore', 'ignore'] });
  await waitFor('the barrier lock to be held', () => spawnSync('flock', ['-n', '-s', BARRIER, 'true']).status === 1);
  const ps = cmds.map((c) => spawnGated(c));
  await waitFor(`${cmds.length} commands to wait at the barrier`, () => waitingAtBarrier() === cmds.length);
  const t0 = performance.now();
  holder.stdin!.end();
  const rs = await Promise.all(ps);
  const wall = Math.max(...rs.map((r) => r.end)) - t0;
  const b: Burst = { lat: [], wall, ok: 0, fails: [] };
  rs.forEach((r, i) => {
    if (r.code === 0) {
      b.ok++;
      b.lat.push(r.end - t0);
    } else {
      b.fails.push({ kind, round, who: who[i], code: r.code, signal: r.signal, ms: r.end - t0, stderr: r.stderr.trim() });
    }
  });
  const s = series[kind];
  s.lat.push(...b.lat);
  s.walls.push(wall);
  s.ok += b.ok;
  s.n += cmds.length;
  failures.push(...b.fails);
  const q = (p: number) => pct(b.lat, p).toFixed(0);
  console.error(`  round ${round} ${kind}: ${b.ok}/${cmds.length} ok, p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms, wall ${wall.toFixed(0)} ms`);
  return b;
}

function spawnGated(cmd: string[]): Promise<{ code: number | null; signal: string | null; stderr: string; end: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'flock -s "$0" true; exec "$@"', BARRIER, ...cmd], { env: { PATH: process.env.PATH, HOME: '/root' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), LOGIN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const end = performance.now();
      clearTimeout(timer);
      resolve({ code, signal, stderr: Buffer.concat(err).toString(), end });
    });
  });
}

/** How many `flock -s BARRIER true` processes exist (each is a command waiting for the release). */
const waitingAtBarrier = () => countByArgv(['flock', '-s', BARRIER, 'true']);

async function waitFor(what: string, fn: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!fn()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sessionFiles(): Set<string> {
  try {
    return new Set(readdirSync(`${STORE}/sessions`).filter((n) => n.endsWith('.json')));
  } catch {
    return new Set();
  }
}

/** Pending -> Ready (doshd) and Ready -> Running (the relay starts the exec) of the sessions a burst created, and the status of failed ones. */
function recordPhases(kind: Kind, before: Set<string>, b: Burst): void {
  const p = (phases[kind] ??= { pendingToReady: [], readyToRunning: [] });
  for (const f of [...sessionFiles()].filter((n) => !before.has(n))) {
    let s: { metadata: { name: string; creationTimestamp: string }; spec: { user: string }; status: Record<string, unknown> };
    try {
      s = JSON.parse(readFileSync(`${STORE}/sessions/${f}`, 'utf8'));
    } catch {
      continue;
    }
    const { readyAt, startedAt, phase, reason, message, exitCode } = s.status as Record<string, string | number | undefined>;
    if (readyAt) p.pendingToReady.push(Date.parse(String(readyAt)) - Date.parse(s.metadata.creationTimestamp));
    if (readyAt && startedAt) p.readyToRunning.push(Date.parse(String(startedAt)) - Date.parse(String(readyAt)));
    if (b.fails.length && (phase !== 'Succeeded' || exitCode !== 0)) {
      console.error(`  session ${s.metadata.name} (${s.spec.user}): phase ${phase}, reason ${reason ?? '-'}, exitCode ${exitCode ?? '-'}, message ${message ?? '-'}`);
    }
  }
}

function removeUserContainers(): void {
  quiet(`docker rm -f ${[...USERS, SAME].map((u) => `dosh-${u}`).join(' ')}`);
}

let doshd: Doshd | undefined;
let cleanedUp = false;

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  if (doshd) {
    await doshd.stop().catch(() => {});
  }
  removeUserContainers();
  quiet(`docker rm -f ${FLOOR} ${RUNS.join(' ')}`);
  // Every test user with the prefix, including leftovers of an interrupted run (delUser refuses non-test accounts).
  delUsersByPrefix('bench/burst', PREFIX);
  doshd?.cleanup();
  rmSync(BARRIER, { force: true });
}

async function main(): Promise<void> {
  const load0 = loadavg();
  console.error(`bench/burst: creating ${N + 1} users`);
  addUsers([...USERS, SAME]);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--log-level', 'warn']).start();
  removeUserContainers();
  quiet(`docker rm -f ${FLOOR} ${RUNS.join(' ')}`);
  docker('run', '-d', '--name', FLOOR, '--init', BUSYBOX, 'sleep', '2147483647');
  // Warm-up, not measured: one login (the relay in the page cache), one exec, one run.
  await run('su', ['-', SAME, '-c', 'true']);
  docker('exec', FLOOR, 'true');
  docker('run', '-d', '--name', RUNS[0], '--init', BUSYBOX, 'true');
  quiet(`docker rm -f ${RUNS[0]} dosh-${SAME}`);

  const settle = () => new Promise((r) => setTimeout(r, 1000));
  for (let round = 1; round <= ROUNDS; round++) {
    // Cold floor: N containers created and started at once.
    await burst('runFloor', round, RUNS, RUNS.map((n) => ['docker', 'run', '-d', '--name', n, '--init', BUSYBOX, 'sleep', '2147483647']));
    quiet(`docker rm -f ${RUNS.join(' ')}`);
    await settle();

    // N different users, none with a container, then again with all containers running.
    let before = sessionFiles();
    let b = await burst('usersCold', round, USERS, USERS.map((u) => ['su', '-', u, '-c', 'true']));
    recordPhases('usersCold', before, b);
    await settle();
    before = sessionFiles();
    b = await burst('usersWarm', round, USERS, USERS.map((u) => ['su', '-', u, '-c', 'true']));
    recordPhases('usersWarm', before, b);
    await settle();

    // Warm floor: N execs into one running container at once.
    await burst('execFloor', round, RUNS, RUNS.map(() => ['docker', 'exec', FLOOR, 'true']));
    await settle();

    // N logins of one user: cold (her container removed), then warm.
    quiet(`docker rm -f dosh-${SAME}`);
    await settle();
    before = sessionFiles();
    b = await burst('sameCold', round, USERS.map(() => SAME), USERS.map(() => ['su', '-', SAME, '-c', 'true']));
    recordPhases('sameCold', before, b);
    await settle();
    before = sessionFiles();
    b = await burst('sameWarm', round, USERS.map(() => SAME), USERS.map(() => ['su', '-', SAME, '-c', 'true']));
    recordPhases('sameWarm', before, b);

    // Next round starts cold again.
    removeUserContainers();
    await settle();
  }
  const load1 = loadavg();
  const doshdWarnings = doshd
    .logText()
    .split('\n')
    .filter((l) => /"level":"(warn|error|fatal)"/.test(l));

  report(load0, load1, doshdWarnings);
}

function report(load0: number[], load1: number[], doshdWarnings: string[]): void {
  const f = (x: number) => (Number.isNaN(x) ? '-' : `${x.toFixed(0)} ms`);
  const med = (xs: number[]) => pct(xs, 0.5);
  const dockerV = sh(`docker version -f '{{.Server.Version}} (CLI {{.Client.Version}})'`).trim();
  console.log(
    `bench/burst: ${N} logins per burst, ${ROUNDS} rounds; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, docker ${dockerV}, image ${BUSYBOX}`,
  );
  console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
  console.log('');
  console.log('All commands of a burst are spawned first, held at a lock, and released together; latency is from that release');
  console.log('to each command\'s exit, pooled over all rounds; wall is release to the last exit (median of the rounds).');
  console.log('');
  console.log('| what | success | p50 | p95 | p99 | max | wall (median) | p50 ratio to its floor |');
  console.log('|---|---|---|---|---|---|---|---|');
  const floorOf: Record<Kind, Kind> = { execFloor: 'execFloor', runFloor: 'runFloor', usersCold: 'runFloor', usersWarm: 'execFloor', sameCold: 'runFloor', sameWarm: 'execFloor' };
  for (const k of ['execFloor', 'usersWarm', 'sameWarm', 'runFloor', 'usersCold', 'sameCold'] as Kind[]) {
    const s = series[k];
    const ratio = med(s.lat) / med(series[floorOf[k]].lat);
    const rate = s.n ? `${s.ok}/${s.n} (${((100 * s.ok) / s.n).toFixed(1)}%)` : '-';
    console.log(`| ${LABEL[k]} | ${rate} | ${f(pct(s.lat, 0.5))} | ${f(pct(s.lat, 0.95))} | ${f(pct(s.lat, 0.99))} | ${f(pct(s.lat, 1))} | ${f(med(s.walls))} | ${k === floorOf[k] ? '1.00' : `${ratio.toFixed(2)} x ${floorOf[k] === 'execFloor' ? 'docker exec' : 'docker run -d'}`} |`);
  }
  console.log('');
  console.log("Where a DoSH login waited (from the sessions' own timestamps; p50 / p95 / max):");
  console.log('');
  console.log('| burst | session written -> Ready (doshd) | Ready -> Running (the relay starts the exec) |');
  console.log('|---|---|---|');
  for (const k of ['usersCold', 'usersWarm', 'sameCold', 'sameWarm'] as Kind[]) {
    const p = phases[k];
    if (!p) continue;
    const t = (xs: number[]) => `${f(pct(xs, 0.5))} / ${f(pct(xs, 0.95))} / ${f(pct(xs, 1))} (n=${xs.length})`;
    console.log(`| ${LABEL[k]} | ${t(p.pendingToReady)} | ${t(p.readyToRunning)} |`);
  }
  console.log('');
  if (failures.length === 0) {
    console.log('Failures: none.');
  } else {
    console.log(`FAILURES: ${failures.length}`);
    for (const x of failures) {
      console.log(`- round ${x.round} ${x.kind} ${x.who}: exit ${x.code ?? '-'} signal ${x.signal ?? '-'} after ${x.ms.toFixed(0)} ms; stderr: ${JSON.stringify(x.stderr)}`);
    }
    process.exitCode = 1;
  }
  if (doshdWarnings.length) {
    console.log('');
    console.log(`doshd warnings/errors (${doshdWarnings.length}, first 20):`);
    for (const l of doshdWarnings.slice(0, 20)) console.log(`  ${l}`);
  }
}

await runBench('bench/burst', main, cleanup);
