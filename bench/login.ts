// bench/login: what a login costs, side by side in one run (hyperfine): DoSH's warm and cold login through su
// against the docker CLI (`docker exec`, `docker run -d`) and against the original bash DoSH (grycap/dosh, installed
// for this run from ../shared/reference/grycap-dosh), `ssh host true` to a DoSH user against a bash user (what DoSH
// adds to an ssh login), and where a warm login's milliseconds go (the relay's TRACE=true).
// Run with `npm run bench:login` (root; installs and starts what it needs).
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { addUser, BUSYBOX, delUser, Doshd, removeContainersOf, sh, sshOpts } from '../test/e2e/harness.ts';
import { installOriginal, ORIGINAL_SHELL, originalAvailable, uninstallOriginal } from './original.ts';
import { runBench } from './run.ts';
import { median } from './stats.ts';
import { hyperfine, type Result } from './hyperfine.ts';

const RUNS = Number(process.env.BENCH_N ?? 40);
const USER = 'dosh-bench';
const ORIG = 'dosh-bench-orig';
const PLAIN = 'dosh-bench-plain';
const FLOOR = 'dosh-bench-floor';
const HELPER_CONF = '/etc/dosh/helper.conf';

/** The relay's own account of a warm login: median ms at each step, from TRACE=true. */
function traceSteps(n: number): Map<string, number> {
  writeFileSync(HELPER_CONF, 'TRACE=true\n', { mode: 0o644 });
  const steps = new Map<string, number[]>();
  try {
    for (let i = 0; i < n; i++) {
      const r = spawnSync('su', ['-', USER, '-c', 'true'], { encoding: 'utf8' });
      for (const m of r.stderr.matchAll(/^dosh: trace: ([\d.]+) ms (.+)$/gm)) steps.set(m[2], [...(steps.get(m[2]) ?? []), Number(m[1])]);
    }
  } finally {
    rmSync(HELPER_CONF, { force: true });
  }
  return new Map([...steps].map(([k, v]) => [k, median(v)]));
}

let doshd: Doshd | undefined;
const withOriginal = originalAvailable();

async function main(): Promise<void> {
  addUser(USER);
  addUser(PLAIN, { shell: '/bin/bash' });
  if (withOriginal) {
    installOriginal(BUSYBOX);
    addUser(ORIG, { shell: ORIGINAL_SHELL });
  }
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--log-level', 'warn']).start();
  sh(`docker rm -f ${FLOOR} ${FLOOR}-run >/dev/null 2>&1; docker run -d --name ${FLOOR} --init ${BUSYBOX} sleep 2147483647 >/dev/null`);
  // Their containers, and warm caches. TERM=dumb: the original allocates a TTY (docker exec -t) for any other TERM.
  for (const u of withOriginal ? [USER, ORIG] : [USER]) sh(`TERM=dumb su - ${u} -c true`);

  const warm = hyperfine([
    { name: 'docker exec', run: `docker exec ${FLOOR} true` },
    { name: 'DoSH warm', run: `su - ${USER} -c true` },
    ...(withOriginal ? [{ name: 'original warm', run: `su - ${ORIG} -c true` }] : []),
    { name: 'su, bash user', run: `su - ${PLAIN} -c true` },
  ]);
  const cold = hyperfine(
    [
      { name: 'docker run -d', run: `docker run -d --name ${FLOOR}-run --init ${BUSYBOX} sleep 2147483647`, prepare: `docker rm -f ${FLOOR}-run` },
      { name: 'DoSH cold', run: `su - ${USER} -c true`, prepare: `docker rm -f dosh-${USER}` },
      ...(withOriginal ? [{ name: 'original cold', run: `su - ${ORIG} -c true`, prepare: `docker rm -f grycap-${ORIG}` }] : []),
    ],
    Math.ceil(RUNS / 2),
  );
  const ssh = (u: string) => ['ssh', ...sshOpts(), `${u}@127.0.0.1`, 'true'].join(' ');
  const viaSsh = hyperfine([
    { name: 'ssh, bash user', run: ssh(PLAIN) },
    { name: 'ssh, DoSH user', run: ssh(USER) },
    ...(withOriginal ? [{ name: 'ssh, original DoSH user', run: ssh(ORIG) }] : []),
  ]);
  const steps = traceSteps(15);

  const f = (x: number) => `${x.toFixed(1)} ms`;
  const row = (m: Map<string, Result>, name: string, floor: string, label = name) => {
    const x = m.get(name)!;
    console.log(`| ${label} | ${f(x.median)} | ± ${x.stddev.toFixed(1)} | ${(x.median / m.get(floor)!.median).toFixed(2)} |`);
  };
  console.log(`bench/login: ${RUNS} runs each (cold: ${Math.ceil(RUNS / 2)}), ${cpus().length} cores, docker ${sh("docker version -f '{{.Server.Version}}'").trim()}, hyperfine ${sh('hyperfine --version').trim().split(' ')[1]}${withOriginal ? '' : ' (the original DoSH was not found beside the repository: not measured)'}`);
  console.log('');
  console.log('| what | median | σ | ratio |');
  console.log('|---|---|---|---|');
  row(warm, 'docker exec', 'docker exec', '`docker exec C true` (floor)');
  row(warm, 'DoSH warm', 'docker exec', 'DoSH warm: `su - U -c true`');
  if (withOriginal) row(warm, 'original warm', 'docker exec', 'original bash DoSH warm, same run');
  row(warm, 'su, bash user', 'docker exec', '`su - U -c true` for a bash user (su alone)');
  row(cold, 'docker run -d', 'docker run -d', '`docker run -d` (cold floor)');
  row(cold, 'DoSH cold', 'docker run -d', 'DoSH cold (no container)');
  if (withOriginal) row(cold, 'original cold', 'docker run -d', 'original bash DoSH cold, same run');
  row(viaSsh, 'ssh, bash user', 'ssh, bash user', '`ssh host true`, bash user');
  row(viaSsh, 'ssh, DoSH user', 'ssh, bash user', '`ssh host true`, DoSH user (warm)');
  if (withOriginal) row(viaSsh, 'ssh, original DoSH user', 'ssh, bash user', '`ssh host true`, original DoSH user (warm)');
  console.log('');
  console.log(`What DoSH adds to \`ssh host true\`: ${f(viaSsh.get('ssh, DoSH user')!.median - viaSsh.get('ssh, bash user')!.median)}${withOriginal ? `; the original adds ${f(viaSsh.get('ssh, original DoSH user')!.median - viaSsh.get('ssh, bash user')!.median)}` : ''}.`);
  console.log('');
  console.log('A warm login as the relay sees it (TRACE=true, medians of 15, ms since the relay started):');
  for (const [k, v] of steps) console.log(`- ${k}: ${v.toFixed(1)} ms`);
}

async function cleanup(): Promise<void> {
  rmSync(HELPER_CONF, { force: true });
  await doshd?.stop();
  doshd?.cleanup();
  spawnSync('bash', ['-c', `docker rm -f ${FLOOR} ${FLOOR}-run grycap-${ORIG} >/dev/null 2>&1`]);
  removeContainersOf(USER, PLAIN);
  for (const u of [USER, PLAIN, ORIG]) spawnSync('bash', ['-c', `id ${u} >/dev/null 2>&1`]).status === 0 && delUser(u);
  if (withOriginal) uninstallOriginal();
}

void runBench('bench/login', main, cleanup);
