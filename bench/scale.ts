// bench/scale: 200 concurrent interactive sessions of 100 users on one host. Measured from /proc:
//   - doshd's CPU (utime+stime over wall time, % of one core), RSS and PSS (smaps_rollup) and open descriptors:
//     (a) idle before any session, (b) during the login ramp, burst by burst (BENCH_BURST = 20 logins spawned at once,
//     first every user's first session, cold: her container is created, then every user's second one, warm), (c) idle
//     with all sessions open (BENCH_IDLE_S = 30 s), (c') the same after restarting doshd with the test harness's
//     0.5 s resync (the rest runs with doshd's own default, 5 s), (d) idle once every session has ended. Beside it, in
//     the same windows: the login relays' CPU (all of them), dockerd + containerd's, and the host's.
//   - Per session, every host process the login adds below `su` (the login relay,
//     anything else): RSS and PSS (PSS is the fair figure: the node binary's pages are shared by every helper and
//     doshd), anonymous and file-backed PSS, mean and max; the shell the login runs in the container, apart.
//   - Per user: her container's containerd-shim and its main process (docker-init and the policy's /bin/sh).
// Baselines in the same run: an idle `node -e 'setInterval(()=>{},1e9)'` (alone, then beside the 200 helpers) and the
// docker CLI's interactive path, `script -qefc "docker exec -it CONTAINER sh" /dev/null` (the original DoSH ran the
// docker CLI per session): one alone, then 200 at once (bursts of 20), as many as DoSH's sessions, so that both share
// their binaries' pages 200 ways.
// Each session is a real terminal: `script -qefc "su - USER" /dev/null` with stdin a pipe kept open; it counts as
// logged in once its shell has answered `echo "@@$USER:$(id -u):$(hostname)@@"` (re-sent every 2 s until it does)
// with the user's name and uid and her container's hostname (its short id); `doshctl get sessions -o json` must then
// show 2 Running sessions per user, in dosh-USER. At the end every session is sent `exit` and must end with status 0.
//
// Run as root, after installing, under the end-to-end lock (it starts the real doshd):
//   cd /work/main && flock -o /tmp/dosh-e2e.lock bash -c 'bash scripts/lib/ensure-docker.sh && bash scripts/lib/build-images.sh && bash scripts/lib/install-dosh.sh && node --import tsx bench/scale.ts'
// BENCH_USERS (100) users dbs-u000.., BENCH_PER_USER (2) sessions each. Writes bench/results-scale.md.
// Every helper runs as root and watches the store (fs.watch: one inotify instance per process), so root's
// fs.inotify.max_user_instances (128 by default) caps the sessions open at once on the host; BENCH_INOTIFY_INSTANCES=N
// raises it to N for the run (restored at the end, also on error or interrupt). The limit in force is reported.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BUSYBOX, Doshd, sh, sleep } from '../test/e2e/harness.ts';
import { addMem, descendants, maxMem, type Mem, mem, type Proc, procTable, rootInotifyInstances, ZERO } from './procstats.ts';
import { runBench } from './run.ts';
import { mean, mib } from './stats.ts';
import { closeAll, loggedInOrGone, open, type Sess, tail, waitAll } from './terminal.ts';
import { addUsers, delUsersByPrefix, numbered, removeContainers } from './users.ts';
import { loginStats, Windows } from './windows.ts';
import { INSTALLED } from '../test/lib/installed.ts';

const USERS_N = Number(process.env.BENCH_USERS ?? 100);
const PER_USER = Number(process.env.BENCH_PER_USER ?? 2);
const BURST = Number(process.env.BENCH_BURST ?? 20);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30);
const PREFIX = 'dbs-';
const USERS = numbered(`${PREFIX}u`, USERS_N, 3);
const FLOOR = `${PREFIX}floor`;
const POLICY = `CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`;
const LOGIN_TIMEOUT_MS = 120_000;
const RESULTS = fileURLToPath(new URL('./results-scale.md', import.meta.url));
const INOTIFY = '/proc/sys/fs/inotify/max_user_instances';
const RAISE_INOTIFY = process.env.BENCH_INOTIFY_INSTANCES ? Number(process.env.BENCH_INOTIFY_INSTANCES) : undefined;
let inotifyBefore: string | undefined;
const log = (message: string) => console.error(`bench/scale: ${message}`);

// ------------------------------------------------------------------------------------------------------- sessions

const sessions: Sess[] = [];
const cliSessions: Sess[] = [];

// ----------------------------------------------------------------------------------------------- measurement windows

let doshd: Doshd | undefined;
const windows = new Windows(() => doshd!.pid, relayPids);

/** Relay processes of all DoSH sessions still open (their pid from the process tree below each session's su). */
function relayPids(): number[] {
  const t = procTable();
  return sessions.filter((s) => !s.closed && s.child.pid).flatMap((s) => belowSu(t, s.child.pid!).map((p) => p.pid));
}

/** Processes below the session's `su` (the first `su` under `script`): what the login adds on the host. */
function belowSu(t: Map<number, Proc>, scriptPid: number): Proc[] {
  const su = descendants(t, scriptPid).find((p) => p.comm === 'su');
  return su ? descendants(t, su.pid) : [];
}

// --------------------------------------------------------------------------------------------------------- helpers

/** RSS and PSS of an idle `node -e 'setInterval(()=>{},1e9)'`, 3 s after its start. */
async function idleNode(): Promise<Mem> {
  const c = spawn('node', ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
  await sleep(3000);
  const m = mem(c.pid!) ?? ZERO;
  c.kill('SIGTERM');
  await new Promise((r) => c.once('exit', r));
  return m;
}

/** The docker CLI processes below each `script` (the exec's client). */
function cliMem(ss: Sess[]): Mem[] {
  const t = procTable();
  return ss.map((s) => descendants(t, s.child.pid!).filter((p) => p.comm === 'docker').reduce((a, p) => addMem(a, mem(p.pid) ?? ZERO), ZERO));
}

/** Failures grouped by what went wrong (the text), with who it happened to. */
const failures = new Map<string, string[]>();
const fail = (what: string, who = '') => failures.set(what, [...(failures.get(what) ?? []), who]);
function checkLogins(ss: Sess[], what: string): void {
  for (const s of ss) {
    if (!s.marked) fail(`${what}: no shell answered (${s.closed ? `ended with exit ${s.closed.code ?? s.closed.signal}` : 'still open'}); stderr: ${JSON.stringify(s.stderr.trim())}; terminal: ${tail(s)}`, s.user);
  }
}

/** 20 sessions spawned at once; the window runs from the first spawn to the last shell's answer. */
async function burst(label: string, users: string[]): Promise<void> {
  const s0 = windows.open();
  const ss = users.map((u) => open('dosh', u, `su - ${u}`));
  sessions.push(...ss);
  await waitAll(label, ss, loggedInOrGone, LOGIN_TIMEOUT_MS).catch((e) => log((e as Error).message));
  const ok = ss.filter((s) => s.marked).map((s) => s.marked!.ms);
  windows.close(label, s0, ZERO, loginStats(ss.length, ok));
  checkLogins(ss, 'DoSH login');
}

// ------------------------------------------------------------------------------------------------------------ main

interface ContainerInfo {
  name: string;
  id: string;
  pid: number;
}

function inspectUsers(): Map<string, ContainerInfo> {
  const out = new Map<string, ContainerInfo>();
  for (let i = 0; i < USERS.length; i += 50) {
    const r = spawnSync('docker', ['inspect', '-f', '{{.Name}} {{.Id}} {{.State.Pid}}', ...USERS.slice(i, i + 50).map((u) => `dosh-${u}`)], { encoding: 'utf8' });
    for (const l of r.stdout.split('\n').filter(Boolean)) {
      const [name, id, pid] = l.split(' ');
      out.set(name.replace(/^\/dosh-/, ''), { name: name.slice(1), id, pid: Number(pid) });
    }
  }
  return out;
}

interface StoreSession {
  metadata: { name: string };
  spec: { user: string; tty: boolean; helper?: { pid: number } };
  status: { phase: string; reason?: string; exitCode?: number; execPid?: number; container?: { name: string } };
}

function ourStoreSessions(): StoreSession[] {
  const r = spawnSync(INSTALLED.doshctl, ['get', 'sessions', '-o', 'json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`doshctl get sessions: exit ${r.status}: ${r.stderr}`);
  return (JSON.parse(r.stdout).items as StoreSession[]).filter((s) => s.spec.user.startsWith(PREFIX));
}

const report: string[] = [];
const out = (line = '') => {
  report.push(line);
  console.log(line);
};

async function main(): Promise<void> {
  const load0 = loadavg();
  inotifyBefore = readFileSync(INOTIFY, 'utf8').trim();
  if (RAISE_INOTIFY && RAISE_INOTIFY > Number(inotifyBefore)) {
    console.error(`bench/scale: fs.inotify.max_user_instances ${inotifyBefore} -> ${RAISE_INOTIFY} for this run`);
    writeFileSync(INOTIFY, String(RAISE_INOTIFY));
  } else {
    inotifyBefore = undefined;
  }
  const inotifyLimit = readFileSync(INOTIFY, 'utf8').trim();
  const inotifyIdle = rootInotifyInstances();
  console.error(`bench/scale: creating ${USERS_N} users`);
  addUsers(USERS);
  removeUsersContainers();
  // doshd's own default resync (5 s) rather than the test harness's 0.5 s: the idle cost is what a host pays.
  doshd = await new Doshd(POLICY, ['--resync-interval', '5']).start();
  spawnSync('docker', ['run', '-d', '--name', FLOOR, '--init', BUSYBOX, 'sleep', '2147483647'], { stdio: 'ignore' });
  await sleep(3000);

  // Baselines before any session: an idle node, one docker CLI session.
  const nodeAlone = await idleNode();
  const one = open('docker', 'root', `docker exec -it ${FLOOR} sh`);
  await waitAll('one docker exec -it', [one], loggedInOrGone, 60_000);
  await sleep(1000);
  const cliAlone = cliMem([one])[0];
  checkLogins([one], 'docker CLI alone');
  await closeAll([one], 'the docker CLI session', log);

  console.error('bench/scale: (a) idle, no session');
  await windows.idle('(a) idle, no session', IDLE_S);

  console.error(`bench/scale: (b) ${USERS_N * PER_USER} logins in bursts of ${BURST}`);
  const ramp0 = windows.open();
  let peak = ZERO;
  for (let round = 0; round < PER_USER; round++) {
    for (let i = 0; i < USERS.length; i += BURST) {
      const who = USERS.slice(i, i + BURST);
      await burst(`(b) burst ${round * Math.ceil(USERS_N / BURST) + i / BURST + 1}: session ${round + 1} of ${who[0]}..${who.at(-1)} (${round === 0 ? 'cold' : 'warm'})`, who);
      peak = maxMem(peak, windows.doshdMem());
      await sleep(2000);
    }
  }
  const allOk = sessions.filter((s) => s.marked).map((s) => s.marked!.ms);
  windows.close(`(b) whole ramp, ${sessions.length} logins (2 s pauses between bursts included)`, ramp0, peak, loginStats(sessions.length, allOk));

  // Every session in its own user's container, as that user: the shell's answer, and the store.
  const containers = inspectUsers();
  for (const s of sessions.filter((x) => x.marked)) {
    const uid = Number(sh(`id -u ${s.user}`).trim());
    const c = containers.get(s.user);
    if (s.marked!.user !== s.user || s.marked!.uid !== uid || !c || !c.id.startsWith(s.marked!.host)) {
      fail(`the shell answered ${JSON.stringify(s.marked)}, expected ${s.user}:${uid} in ${c?.id.slice(0, 12) ?? '(no container)'}`, s.user);
    }
  }
  const stored = ourStoreSessions().filter((s) => s.status.phase === 'Running');
  const perUser = new Map<string, number>();
  for (const s of stored) perUser.set(s.spec.user, (perUser.get(s.spec.user) ?? 0) + 1);
  const wrongContainer = stored.filter((s) => s.status.container?.name !== `dosh-${s.spec.user}` || !s.spec.tty);
  const storeCheck = `${stored.length} Running sessions in the store (doshctl), ${[...perUser.values()].filter((n) => n === PER_USER).length} users with ${PER_USER} each, ${wrongContainer.length} not in dosh-USER or without a TTY`;
  console.error(`bench/scale: ${storeCheck}`);
  if (stored.length !== USERS_N * PER_USER || wrongContainer.length) fail(`store: ${storeCheck}`);
  const inotifyInUse = rootInotifyInstances();

  await sleep(5000);
  console.error(`bench/scale: (c) idle with ${sessions.length} sessions`);
  await windows.idle(`(c) idle, ${sessions.filter((s) => !s.closed).length} sessions open`, IDLE_S);

  // Per-session host memory, below su, and the login's shell in the container.
  const t = procTable();
  const byComm = new Map<string, Mem[]>();
  const totals: Mem[] = [];
  const suMem: Mem[] = [];
  const scriptMem: Mem[] = [];
  const chains = new Map<string, number>();
  for (const s of sessions.filter((x) => !x.closed)) {
    const below = belowSu(t, s.child.pid!);
    chains.set(below.map((p) => p.comm).join(' > '), (chains.get(below.map((p) => p.comm).join(' > ')) ?? 0) + 1);
    let sum = ZERO;
    for (const p of below) {
      const m = mem(p.pid) ?? ZERO;
      byComm.set(p.comm, [...(byComm.get(p.comm) ?? []), m]);
      sum = addMem(sum, m);
    }
    totals.push(sum);
    const su = descendants(t, s.child.pid!).find((p) => p.comm === 'su');
    if (su) suMem.push(mem(su.pid) ?? ZERO);
    scriptMem.push(mem(s.child.pid!) ?? ZERO);
  }
  const execShell = stored.map((s) => (s.status.execPid ? mem(s.status.execPid) : undefined)).filter((m): m is Mem => !!m);
  // Per user: the container's shim and its main process tree (docker-init and the policy's /bin/sh).
  const shim: Mem[] = [];
  const main: Mem[] = [];
  for (const c of containers.values()) {
    const init = t.get(c.pid);
    if (!init) continue;
    shim.push(mem(init.ppid) ?? ZERO);
    main.push([init, ...descendants(t, c.pid)].reduce((a, p) => addMem(a, mem(p.pid) ?? ZERO), ZERO));
  }
  const shimComm = t.get(t.get([...containers.values()][0]?.pid ?? 0)?.ppid ?? 0)?.comm ?? '?';
  const nodeBeside = await idleNode();

  // doshd restarted with the test harness's resync (0.5 s): the sessions stay; what does idle cost then?
  console.error('bench/scale: restarting doshd with --resync-interval 0.5');
  const logA = doshd.logText();
  await doshd.stop();
  doshd.cleanup();
  doshd = await new Doshd(POLICY).start();
  await sleep(5000);
  await windows.idle(`(c') idle, ${sessions.filter((s) => !s.closed).length} sessions open, doshd restarted with --resync-interval 0.5`, IDLE_S);
  const afterRestart = ourStoreSessions().filter((s) => s.status.phase === 'Running').length;
  if (afterRestart !== USERS_N * PER_USER) fail(`after doshd's restart, ${afterRestart} Running sessions in the store`);

  console.error('bench/scale: closing every session (exit)');
  const openAtClose = sessions.filter((s) => !s.closed).length;
  const c0 = performance.now();
  await closeAll(sessions, 'the DoSH sessions', log);
  const closeMs = performance.now() - c0;
  for (const s of sessions.filter((x) => x.marked)) if (s.closed?.code !== 0) fail(`a session that had logged in ended with ${s.closed ? `exit ${s.closed.code} signal ${s.closed.signal}` : 'nothing (still open)'}; stderr: ${JSON.stringify(s.stderr.trim())}; terminal: ${tail(s)}`, s.user);
  await sleep(3000);
  const ended = ourStoreSessions();
  const phases: Record<string, number> = {};
  for (const s of ended) phases[`${s.status.phase}${s.status.reason ? ` (${s.status.reason})` : ''}`] = (phases[`${s.status.phase}${s.status.reason ? ` (${s.status.reason})` : ''}`] ?? 0) + 1;
  const relaysLeft = relayPids().length;
  await windows.idle('(d) idle, every session ended', 10);
  const logB = doshd.logText();

  // The docker CLI's interactive path, as many at once as DoSH had sessions (so its binary is shared as widely).
  console.error(`bench/scale: ${sessions.length} x docker exec -it, in bursts of ${BURST}`);
  for (let i = 0; i < sessions.length; i += BURST) {
    const ss = Array.from({ length: Math.min(BURST, sessions.length - i) }, () => open('docker', 'root', `docker exec -it ${FLOOR} sh`));
    cliSessions.push(...ss);
    await waitAll('docker exec -it sessions', ss, loggedInOrGone, LOGIN_TIMEOUT_MS).catch((e) => log((e as Error).message));
  }
  checkLogins(cliSessions, 'docker CLI');
  await sleep(5000);
  const cli = cliMem(cliSessions.filter((s) => !s.closed));
  await closeAll(cliSessions, 'the docker CLI sessions', log);
  const load1 = loadavg();

  // ------------------------------------------------------------------------------------------------------ report
  const dockerV = sh(`docker version -f '{{.Server.Version}} (CLI {{.Client.Version}})'`).trim();
  const sudoV = sh('sudo --version | head -1').trim();
  out('# Scale benchmark (bench/scale.ts)');
  out();
  out(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with:`);
  out();
  out(`    cd /work/main && flock -o /tmp/dosh-e2e.lock bash -c 'bash scripts/lib/ensure-docker.sh && bash scripts/lib/build-images.sh && bash scripts/lib/install-dosh.sh && ${RAISE_INOTIFY ? `BENCH_INOTIFY_INSTANCES=${RAISE_INOTIFY} ` : ''}node --import tsx bench/scale.ts'`);
  out();
  out(`Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, node ${process.version}, docker ${dockerV}, ${sudoV}. Load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}.`);
  out(`Policy: \`${POLICY.trim().split('\n').join('`, `')}\`; doshd with \`--resync-interval 5\` (its default) except in (c'), where it was restarted with the test harness's 0.5 s. ${USERS_N} users (\`${USERS[0]}\`..\`${USERS.at(-1)}\`), ${PER_USER} interactive sessions each, every one \`script -qefc "su - USER" /dev/null\` with stdin a pipe held open; bursts of ${BURST} spawned at once, 2 s apart; a session counts as logged in when its shell has answered \`echo "@@$USER:$(id -u):$(hostname)@@"\`.`);
  out();
  out(`fs.inotify.max_user_instances during the run: ${inotifyLimit}${inotifyBefore ? ` (raised from ${inotifyBefore} with BENCH_INOTIFY_INSTANCES; restored after)` : " (the host's own)"}; root's processes held ${inotifyIdle} inotify instances before the run, ${inotifyInUse} with the sessions open (every helper holds one, for its watch on the store).`);
  out();
  out('## doshd, the helpers and the engine, by phase');
  out();
  out('CPU as % of one core over the window (utime+stime from /proc/PID/stat); host: share of both cores busy (/proc/stat). doshd memory at the end of the window (peak in brackets), from smaps_rollup. Helpers: all open sessions\' processes below su, together. Engine: dockerd + containerd (not the shims).');
  out();
  for (const l of windows.table()) out(l);
  out();
  out(`## Host memory per session (${totals.length} sessions open)`);
  out();
  out(`Processes below su, per session: ${[...chains].map(([c, n]) => `\`${c}\` × ${n}`).join(', ')}. Mean / max in MiB; PSS split into anonymous (heap, stacks, JIT code) and file-backed (binaries, libraries).`);
  out();
  out('| process | n | RSS mean / max | PSS mean / max | PSS anon mean | PSS file mean |');
  out('|---|---|---|---|---|---|');
  const row = (what: string, ms: Mem[]) =>
    ms.length === 0 ? out(`| ${what} | 0 | - | - | - | - |`) : out(`| ${what} | ${ms.length} | ${mib(mean(ms.map((m) => m.rss)))} / ${mib(Math.max(...ms.map((m) => m.rss)))} | ${mib(mean(ms.map((m) => m.pss)))} / ${mib(Math.max(...ms.map((m) => m.pss)))} | ${mib(mean(ms.map((m) => m.anon)))} | ${mib(mean(ms.map((m) => m.file)))} |`);
  for (const [comm, ms] of byComm) row(`\`${comm}\` (below su)`, ms);
  row('**all a login adds below su, per session**', totals);
  row('the login\'s shell in the container (`sh`, the exec; on any path)', execShell);
  row('`su` itself (the login program, on any path; not counted)', suMem);
  row('`script` (the benchmark\'s terminal; not counted)', scriptMem);
  out();
  out(`Per user (${shim.length} containers):`);
  out();
  out('| process | n | RSS mean / max | PSS mean / max | PSS anon mean | PSS file mean |');
  out('|---|---|---|---|---|---|');
  row(`\`${shimComm}\` (one per container)`, shim);
  row('container main process: `docker-init` + the policy\'s `/bin/sh`', main);
  out();
  out('Baselines, same run:');
  out();
  out('| process | n | RSS mean / max | PSS mean / max | PSS anon mean | PSS file mean |');
  out('|---|---|---|---|---|---|');
  row("`node -e 'setInterval(()=>{},1e9)'`, before any session (shares node's pages with doshd only)", [nodeAlone]);
  row(`same, beside the ${totals.length} helpers`, [nodeBeside]);
  row('docker CLI of one `docker exec -it CONTAINER sh` (alone)', [cliAlone]);
  row(`docker CLI of ${cli.length} \`docker exec -it CONTAINER sh\` open at once`, cli);
  out();
  out('## Checks');
  out();
  out(`- Shells: ${sessions.filter((s) => s.marked).length}/${sessions.length} DoSH sessions answered as their user in their user's container (uid and hostname = container short id checked); ${cliSessions.filter((s) => s.marked).length + (one.marked ? 1 : 0)}/${cliSessions.length + 1} docker CLI sessions answered.`);
  out(`- Store: ${storeCheck}; after doshd's restart ${afterRestart} Running.`);
  out(`- Closing: \`exit\` sent to the ${openAtClose} sessions still open; ${sessions.filter((s) => s.marked && s.closed?.code === 0).length} of the ${sessions.filter((s) => s.marked).length} that had logged in ended with status 0 (\`script -e\`) within ${(closeMs / 1000).toFixed(1)} s; sessions in the store 3 s later: ${Object.entries(phases).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; helper processes left: ${relaysLeft}.`);
  const warnings = [...logA.split('\n'), ...logB.split('\n')].filter((l) => /"level":"(warn|error|fatal)"/.test(l));
  out(`- doshd warnings/errors in its log: ${warnings.length}${warnings.length ? ` (first 10 below)` : ''}.`);
  for (const l of warnings.slice(0, 10)) out(`    ${l}`);
  if (failures.size) {
    out();
    out(`FAILURES (${[...failures.values()].reduce((n, w) => n + w.length, 0)}):`);
    for (const [what, who] of failures) out(`- ${who.filter(Boolean).length ? `${who.length} × ` : ''}${what}${who.filter(Boolean).length ? ` (${who.length > 12 ? `${who.slice(0, 6).join(', ')} … ${who.slice(-3).join(', ')}` : who.join(', ')})` : ''}`);
    process.exitCode = 1;
  } else {
    out('- Failures: none.');
  }
  writeFileSync(RESULTS, report.join('\n') + '\n');
  console.error(`bench/scale: written to ${RESULTS}`);
}

const removeUsersContainers = () => removeContainers([...USERS.map((u) => `dosh-${u}`), FLOOR]);

let cleanedUp = false;

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  // Our own terminals first (only the script processes this run started, by pid): their hang-up ends the logins.
  const pending = [...sessions, ...cliSessions].filter((s) => !s.closed);
  for (const s of pending) s.child.kill('SIGHUP');
  if (pending.length) await waitAll('the remaining sessions to end', pending, (s) => Boolean(s.closed), 20_000).catch(() => pending.forEach((s) => s.closed || s.child.kill('SIGKILL')));
  if (doshd) await doshd.stop().catch(() => {});
  removeUsersContainers();
  delUsersByPrefix('bench/scale', PREFIX);
  doshd?.cleanup();
  if (inotifyBefore) writeFileSync(INOTIFY, inotifyBefore);
}

await runBench('bench/scale', main, cleanup);
