// bench/reconcile: the time from a policy change to every affected idle container recreated with it, with 200 users.
// Each of BENCH_N (200) users dbr-u000.. logs in once (`su - USER -c true`, 10 in parallel), leaving an idle running
// container (IDLETIMEOUT=0). Then the policy file is changed (the harness's setPolicy: written beside it and renamed
// over it; `-e DOSH_BENCH=1` becomes `-e DOSH_BENCH=2` in DOCKERPARAMETERS, and back in the next round) and the
// engine's list of managed containers (`GET /containers/json?filters={"label":["dosh.io/managed=true"]}`, the query of
// `docker ps --filter label=dosh.io/managed=true --format '{{.Label "dosh.io/policy-hash"}}'`, sent straight to the
// socket so the polling costs no docker CLI start) is read every 100 ms until all N users' containers run with a
// policy hash other than the one they had (the hash covers the user too, so each container is compared with its own
// old label). The same polling runs during the baseline (its answers unused), so both carry its load on the engine;
// a 10 s window of polling alone, against 10 s without, shows that load. Also from doshd's log: "policy loaded" → "recreated idle containers with the new policy". Checks: every
// container then has DOSH_BENCH=<new> in its environment, and a login of two users afterwards finds her container
// current (same id: the rollout's hash is the one a login wants).
// Baseline in the same run, interleaved: the docker CLI doing the same work on N other containers, each
// `docker rm -f NAME` then `docker run -d` with the flags doshd's create body has (-i -t --init --cap-drop ALL
// --pids-limit 1024 --security-opt no-new-privileges:true --stop-signal SIGHUP -u UID:GID -e HOME/USER/LOGNAME and
// the policy's -e), 4 at a time like doshd's rollout. CPU of the client side (doshd, or the docker CLI processes: this
// process's cutime+cstime), of dockerd + containerd and of the host over each window.
//
// Run as root, after installing, under the end-to-end lock (it starts the real doshd):
//   cd /work/main && flock -o /tmp/dosh-e2e.lock bash -c 'bash scripts/lib/ensure-docker.sh && bash scripts/lib/build-images.sh && bash scripts/lib/install-dosh.sh && node --import tsx bench/reconcile.ts'
// BENCH_N (200) users, BENCH_ROUNDS (2) policy changes (there and back). Writes bench/results-reconcile.md.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LABEL_HASH, LABEL_MANAGED, LABEL_USER } from '../api/labels.ts';
import { BUSYBOX, Doshd, run, sh, sleep } from '../test/e2e/harness.ts';
import { pool } from './pool.ts';
import { childTicks, cpuWindow, engineTicks, ticksOf } from './procstats.ts';
import { runBench } from './run.ts';
import { addUsers, delUsersByPrefix, numbered, removeContainers } from './users.ts';

const N = Number(process.env.BENCH_N ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PARALLEL = 4; // doshd's rollout: controller/policy-rollout.ts
const LOGIN_PARALLEL = 10;
const PREFIX = 'dbr-';
const USERS = numbered(`${PREFIX}u`, N, 3);
const BASE = numbered(`${PREFIX}base-`, N, 3);
const RESULTS = fileURLToPath(new URL('./results-reconcile.md', import.meta.url));
const TIMEOUT_MS = 600_000;
const LOG_DONE = 'recreated idle containers with the new policy';

const policy = (v: number) => `CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\nDOCKERPARAMETERS=-e DOSH_BENCH=${v}\n`;

// ---------------------------------------------------------------------------------------------------------- helpers

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function account(name: string): Account {
  const [, , uid, gid, , home] = sh(`getent passwd ${name}`).trim().split(':');
  return { name, uid: Number(uid), gid: Number(gid), home };
}

function docker(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { maxBuffer: 1 << 26 }, (err, stdout, stderr) => (err ? reject(new Error(`docker ${args.slice(0, 2).join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/** `docker run -d` with the flags of doshd's create body for this user (controller/container-spec.ts, the default policy). */
function runArgs(name: string, a: Account, v: number): string[] {
  return ['run', '-d', '-i', '-t', '--init', '--cap-drop', 'ALL', '--pids-limit', '1024', '--security-opt', 'no-new-privileges:true', '--stop-signal', 'SIGHUP', '-u', `${a.uid}:${a.gid}`, '-e', `HOME=${a.home}`, '-e', `USER=${a.name}`, '-e', `LOGNAME=${a.name}`, '-e', `DOSH_BENCH=${v}`, '--label', 'dbr.bench=baseline', '--name', name, BUSYBOX, '/bin/sh'];
}

interface Listed {
  Id: string;
  State: string;
  Labels: Record<string, string>;
}

/** Managed containers of our users, from the engine's API (what `docker ps --filter label=dosh.io/managed=true` asks). */
function listManaged(): Promise<Map<string, { id: string; hash: string; running: boolean }>> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${LABEL_MANAGED}=true`] }));
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: '/var/run/docker.sock', path: `/containers/json?all=1&filters=${filters}`, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const list = JSON.parse(Buffer.concat(chunks).toString()) as Listed[];
          const m = new Map<string, { id: string; hash: string; running: boolean }>();
          for (const c of list) {
            const u = c.Labels[LABEL_USER];
            if (u?.startsWith(`${PREFIX}u`)) m.set(u, { id: c.Id, hash: c.Labels[LABEL_HASH], running: c.State === 'running' });
          }
          resolve(m);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Environment of every container named, in batches (for the DOSH_BENCH check). */
async function envs(names: string[]): Promise<Map<string, string[]>> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < names.length; i += 50) {
    const outp = await docker(['inspect', '-f', '{{.Name}}|{{json .Config.Env}}', ...names.slice(i, i + 50)]);
    for (const l of outp.split('\n').filter(Boolean)) {
      const [n, e] = l.split('|');
      m.set(n.slice(1), JSON.parse(e));
    }
  }
  return m;
}

interface LogLine {
  time: string;
  msg: string;
  containers?: number;
  level: string;
}

function logLines(d: Doshd): LogLine[] {
  return d
    .logText()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return undefined;
      }
    })
    .filter((x): x is LogLine => !!x);
}

// ------------------------------------------------------------------------------------------------------------ main

interface Round {
  round: number;
  to: number;
  dosh: { ms: number; firstMs: number; logMs?: number; logFromReloadMs?: number; logCount?: number; cpu: { client: number; engine: number; host: number } };
  base: { ms: number; cpu: { client: number; engine: number; host: number } };
}

let doshd: Doshd | undefined;
const rounds: Round[] = [];
const failures: string[] = [];
const report: string[] = [];
const out = (line = '') => {
  report.push(line);
  console.log(line);
};

async function doshRound(d: Doshd, v: number): Promise<Round['dosh']> {
  const before = await listManaged();
  const stale = [...before.values()].filter((c) => !c.running).length;
  if (before.size !== N || stale) throw new Error(`before the change: ${before.size} containers of ${N} users, ${stale} not running`);
  const win = cpuWindow({ client: () => ticksOf(d.pid), engine: engineTicks });
  const wall0 = Date.now();
  const t0 = performance.now();
  d.setPolicy(policy(v));
  let first = NaN;
  for (;;) {
    const now = await listManaged();
    let done = 0;
    let changed = 0;
    for (const [u, c] of now) {
      const old = before.get(u)!;
      if (c.id !== old.id) changed++;
      if (c.running && c.hash !== old.hash) done++;
    }
    if (changed && Number.isNaN(first)) first = performance.now() - t0;
    if (done === N) break;
    if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`after ${TIMEOUT_MS / 1000} s only ${done} of ${N} containers carry a new policy hash`);
    await sleep(100);
  }
  const ms = performance.now() - t0;
  const cpu = win();
  // doshd logs the summary once its last recreate has returned: a little after the engine lists the last container.
  const logDone = await until(() => logLines(d).find((l) => l.msg === LOG_DONE && Date.parse(l.time) >= wall0), 30_000);
  const reload = logLines(d).find((l) => l.msg === 'policy loaded' && Date.parse(l.time) >= wall0);
  if (!logDone) failures.push(`round to DOSH_BENCH=${v}: no "${LOG_DONE}" in doshd's log within 30 s`);
  else if (logDone.containers !== N) failures.push(`round to DOSH_BENCH=${v}: doshd logged ${logDone.containers} containers recreated, expected ${N}`);
  const warned = logLines(d).filter((l) => Date.parse(l.time) >= wall0 && (l.level === 'warn' || l.level === 'error'));
  for (const w of warned.slice(0, 5)) failures.push(`round to DOSH_BENCH=${v}: doshd ${w.level}: ${JSON.stringify(w)}`);
  return {
    ms,
    firstMs: first,
    logMs: logDone ? Date.parse(logDone.time) - wall0 : undefined,
    logFromReloadMs: logDone && reload ? Date.parse(logDone.time) - Date.parse(reload.time) : undefined,
    logCount: logDone?.containers,
    cpu,
  };
}

/** The DoSH round's polling, run beside other work so that it loads the engine alike: every 100 ms until stopped. */
function backgroundPoll(): () => Promise<void> {
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      await listManaged();
      await sleep(100);
    }
  })();
  return async () => {
    stop = true;
    await loop;
  };
}

async function baseRound(accounts: Account[], v: number): Promise<Round['base']> {
  const stopPoll = backgroundPoll();
  const win = cpuWindow({ client: childTicks, engine: engineTicks });
  const t0 = performance.now();
  await pool(
    BASE.map((name, i) => ({ name, a: accounts[i] })),
    PARALLEL,
    async ({ name, a }) => {
      await docker(['rm', '-f', name]);
      await docker(runArgs(name, a, v));
    },
  );
  const r = { ms: performance.now() - t0, cpu: win() };
  await stopPoll();
  return r;
}

async function until<T>(fn: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (performance.now() > deadline) return undefined;
    await sleep(100);
  }
}

async function checkRound(v: number, accounts: Account[]): Promise<void> {
  const want = `DOSH_BENCH=${v}`;
  const e = await envs([...USERS.map((u) => `dosh-${u}`), ...BASE]);
  const bad = [...USERS.map((u) => `dosh-${u}`), ...BASE].filter((n) => !e.get(n)?.includes(want));
  if (bad.length) failures.push(`after the change to ${want}: ${bad.length} containers without it (${bad.slice(0, 5).join(' ')})`);
  // A login afterwards must find her container current: the rollout's hash is the one a login wants.
  for (const a of [accounts[0], accounts[N - 1]]) {
    const before = (await listManaged()).get(a.name)?.id;
    const r = await run('su', ['-', a.name, '-c', 'echo $DOSH_BENCH']);
    const after = (await listManaged()).get(a.name)?.id;
    if (r.code !== 0 || r.stdout.toString().trim() !== String(v) || before !== after) {
      failures.push(`after the change to ${want}: ${a.name}'s login printed ${JSON.stringify(r.stdout.toString().trim())} (exit ${r.code}, stderr ${JSON.stringify(r.stderr.trim())}); container ${before?.slice(0, 12)} → ${after?.slice(0, 12)}`);
    }
  }
}

async function main(): Promise<void> {
  const load0 = loadavg();
  console.error(`bench/reconcile: creating ${N} users`);
  addUsers(USERS);
  const accounts = USERS.map(account);
  removeOurContainers();
  doshd = await new Doshd(policy(1), ['--resync-interval', '5']).start();

  console.error(`bench/reconcile: ${N} logins, ${LOGIN_PARALLEL} at a time`);
  const l0 = performance.now();
  await pool(USERS, LOGIN_PARALLEL, async (u) => {
    const r = await run('su', ['-', u, '-c', 'true'], { timeoutMs: 120_000 });
    if (r.code !== 0) failures.push(`login of ${u}: exit ${r.code ?? r.signal}; stderr: ${JSON.stringify(r.stderr.trim())}`);
  });
  const loginMs = performance.now() - l0;
  console.error(`  ${(loginMs / 1000).toFixed(1)} s`);

  console.error(`bench/reconcile: baseline: ${N} containers with docker run -d, ${PARALLEL} at a time`);
  const b0 = performance.now();
  await pool(BASE.map((name, i) => ({ name, a: accounts[i] })), PARALLEL, async ({ name, a }) => void (await docker(runArgs(name, a, 1))));
  const baseCreateMs = performance.now() - b0;
  // The baseline's containers must look like doshd's where it matters.
  const cmp = '{{.HostConfig.Init}} {{.HostConfig.CapDrop}} {{.HostConfig.PidsLimit}} {{.HostConfig.SecurityOpt}} {{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.StopSignal}} {{.Config.User}} {{len .Config.Env}} {{.Config.Cmd}} {{.HostConfig.NetworkMode}}';
  const ours = sh(`docker inspect -f '${cmp}' dosh-${USERS[0]}`).trim();
  const theirs = sh(`docker inspect -f '${cmp}' ${BASE[0]}`).trim();
  console.error(`  doshd's container: ${ours}\n  baseline's:        ${theirs}`);
  if (ours !== theirs) failures.push(`the baseline's container differs from doshd's: ${JSON.stringify(theirs)} vs ${JSON.stringify(ours)}`);
  await sleep(5000);
  // What the polling alone costs the engine, with all 2 x N containers there.
  let w = cpuWindow({ client: () => 0, engine: engineTicks });
  await sleep(10_000);
  const quiet = w();
  const stopPoll = backgroundPoll();
  w = cpuWindow({ client: () => 0, engine: engineTicks });
  await sleep(10_000);
  const polling = w();
  await stopPoll();
  console.error(`  engine CPU: ${quiet.engine.toFixed(1)}% without polling, ${polling.engine.toFixed(1)}% while polling`);
  await sleep(2000);

  for (let r = 1; r <= ROUNDS; r++) {
    const v = r % 2 === 1 ? 2 : 1;
    console.error(`bench/reconcile: round ${r}: DOSH_BENCH=${v}`);
    let dosh: Round['dosh'];
    let base: Round['base'];
    // Alternated, so that drift favours neither.
    if (r % 2 === 1) {
      base = await baseRound(accounts, v);
      await sleep(5000);
      dosh = await doshRound(doshd, v);
    } else {
      dosh = await doshRound(doshd, v);
      await sleep(5000);
      base = await baseRound(accounts, v);
    }
    console.error(`  DoSH ${(dosh.ms / 1000).toFixed(2)} s (first replaced after ${dosh.firstMs.toFixed(0)} ms; log ${dosh.logMs} ms), docker CLI ${(base.ms / 1000).toFixed(2)} s`);
    rounds.push({ round: r, to: v, dosh, base });
    await checkRound(v, accounts);
    await sleep(5000);
  }
  const load1 = loadavg();

  const dockerV = sh(`docker version -f '{{.Server.Version}} (CLI {{.Client.Version}})'`).trim();
  const s = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(2)} s`);
  const c = (x: { client: number; engine: number; host: number }) => `${x.client.toFixed(0)}% / ${x.engine.toFixed(0)}% / ${x.host.toFixed(0)}%`;
  out('# Reconcile benchmark (bench/reconcile.ts)');
  out();
  out(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with:`);
  out();
  out("    cd /work/main && flock -o /tmp/dosh-e2e.lock bash -c 'bash scripts/lib/ensure-docker.sh && bash scripts/lib/build-images.sh && bash scripts/lib/install-dosh.sh && node --import tsx bench/reconcile.ts'");
  out();
  out(`Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, node ${process.version}, docker ${dockerV}. Load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}.`);
  out(`Policy: \`CONTAINERIMAGE=${BUSYBOX}\`, \`CONTAINERCOMMAND=/bin/sh\`, \`IDLETIMEOUT=0\`, \`DOCKERPARAMETERS=-e DOSH_BENCH=1\` (2 in odd rounds); doshd with \`--resync-interval 5\` (its default). ${N} users (\`${USERS[0]}\`..\`${USERS.at(-1)}\`) logged in once each (\`su - USER -c true\`, ${LOGIN_PARALLEL} at a time: ${(loginMs / 1000).toFixed(1)} s), leaving ${N} idle running containers; ${N} baseline containers (\`${BASE[0]}\`..) created with \`docker run -d\`, ${PARALLEL} at a time (${(baseCreateMs / 1000).toFixed(1)} s).`);
  out();
  out(`Polling the engine's container list every 100 ms (both columns carry it; the docker CLI's with the answers unused) costs dockerd + containerd ${polling.engine.toFixed(1)}% of a core, against ${quiet.engine.toFixed(1)}% without (10 s each, before the rounds; host ${polling.host.toFixed(0)}% / ${quiet.host.toFixed(0)}% busy).`);
  out();
  out('DoSH: from the rename of the new policy file over the old one to the engine listing all containers running with a new policy-hash label (polled every 100 ms); "log" is the same rename to doshd\'s "recreated idle containers" line, and "from reload" that line minus doshd\'s "policy loaded" (after chokidar\'s event and a 200 ms debounce). docker CLI: `docker rm -f` + `docker run -d` per container, 4 at a time, start to last exit, with the same polling running. CPU (% of one core): the client side (doshd, or the docker CLI processes) / dockerd + containerd / whole host (% of both cores).');
  out();
  out(`| round | DoSH: all ${N} recreated | first replaced | log line | log, from reload | docker CLI: ${N} × (rm -f + run -d) | ratio DoSH / CLI | CPU DoSH: doshd / engine / host | CPU CLI: CLI / engine / host |`);
  out('|---|---|---|---|---|---|---|---|---|');
  for (const x of rounds) {
    out(`| ${x.round} (DOSH_BENCH=${x.to}) | ${s(x.dosh.ms)} (${(x.dosh.ms / N).toFixed(0)} ms per container) | ${s(x.dosh.firstMs)} | ${s(x.dosh.logMs)} (${x.dosh.logCount ?? '?'} containers) | ${s(x.dosh.logFromReloadMs)} | ${s(x.base.ms)} (${(x.base.ms / N).toFixed(0)} ms per container) | ${(x.dosh.ms / x.base.ms).toFixed(2)} | ${c(x.dosh.cpu)} | ${c(x.base.cpu)} |`);
  }
  out();
  out('Checks: before each change all containers run; after it, every container (DoSH\'s and the baseline\'s) has the new DOSH_BENCH in its environment; a login of the first and the last user prints it and keeps her container (same id); doshd logs the number of containers it recreated and no warning.');
  if (failures.length) {
    out();
    out(`FAILURES (${failures.length}, first 40):`);
    for (const f of failures.slice(0, 40)) out(`- ${f}`);
    process.exitCode = 1;
  } else {
    out('All checks passed.');
  }
  writeFileSync(RESULTS, report.join('\n') + '\n');
  console.error(`bench/reconcile: written to ${RESULTS}`);
}

const removeOurContainers = () => removeContainers([...USERS.map((u) => `dosh-${u}`), ...BASE]);

let cleanedUp = false;

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  if (doshd) await doshd.stop().catch(() => {});
  removeOurContainers();
  delUsersByPrefix('bench/reconcile', PREFIX);
  doshd?.cleanup();
}

await runBench('bench/reconcile', main, cleanup);
