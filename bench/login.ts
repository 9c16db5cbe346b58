// bench/login: DoSH's warm and cold login against the docker CLI floor, side by side in one run, plus where a warm
// login's milliseconds go, and `ssh host true` end to end (through the test sshd on 127.0.0.1:2222) to a DoSH user
// against the same to a user whose shell is plain bash: the cost DoSH adds to an ssh login.
// Run with `npm run bench:login` (root; installs and starts what it needs).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { addUser, BUSYBOX, delUser, Doshd, sh, sshOpts } from '../test/e2e/harness.ts';
import { median, p95 } from './stats.ts';

const N = Number(process.env.BENCH_N ?? 25);
const USER = 'dosh-bench';
const PLAIN = 'dosh-bench-plain';
const FLOOR = 'dosh-bench-floor';

function time(cmd: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

const quiet = (cmd: string) => spawnSync('bash', ['-c', cmd], { stdio: 'ignore' });

async function main(): Promise<void> {
  addUser(USER);
  addUser(PLAIN, { shell: '/bin/bash' });
  const doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--log-level', 'warn']).start();
  quiet(`docker rm -f ${FLOOR}; docker run -d --name ${FLOOR} --init ${BUSYBOX} sleep 2147483647`);
  time(['su', '-', USER, '-c', 'true']); // creates her container, warms caches
  const warmNames: string[] = [];
  const coldNames: string[] = [];
  const r: Record<string, number[]> = { exec: [], run: [], warm: [], cold: [], su: [], node: [], helperStart: [], helperStartPlain: [], sshPlain: [], sshDosh: [] };
  const ssh = (user: string) => ['ssh', ...sshOpts(), `${user}@127.0.0.1`, 'true'];
  time(ssh(PLAIN));
  for (let i = 0; i < N; i++) {
    // Interleaved so that drift (page cache, other load) hits every series alike.
    r.exec.push(time(['docker', 'exec', FLOOR, 'true']));
    const t = time(['docker', 'run', '-d', '--name', `${FLOOR}-run`, '--init', BUSYBOX, 'sleep', '2147483647']);
    r.run.push(t);
    quiet(`docker rm -f ${FLOOR}-run`);
    let before = sessionFiles();
    r.warm.push(time(['su', '-', USER, '-c', 'true']));
    warmNames.push(...newFiles(before));
    quiet(`docker rm -f dosh-${USER}`);
    before = sessionFiles();
    r.cold.push(time(['su', '-', USER, '-c', 'true']));
    coldNames.push(...newFiles(before));
    r.su.push(time(['su', '-', PLAIN, '-c', 'true']));
    r.sshPlain.push(time(ssh(PLAIN)));
    r.sshDosh.push(time(ssh(USER)));
    r.node.push(time(['node', '-e', '0']));
    // Through its #! line, as sudo runs it (the flags that keep Node's inspector closed included).
    r.helperStart.push(time(['bash', '-c', '/usr/local/lib/dosh/dosh-helper.mjs dosh -c true 2>/dev/null; true']));
    // The same bundle under plain node: what the #! flags (the permission model, on this Node) cost at start.
    r.helperStartPlain.push(time(['bash', '-c', 'node /usr/local/lib/dosh/dosh-helper.mjs dosh -c true 2>/dev/null; true']));
  }
  // Where a login's time goes, from the timestamps the helper and doshd record on each session.
  const warmPhases = phases(warmNames);
  const coldPhases = phases(coldNames);
  await doshd.stop();
  quiet(`docker rm -f ${FLOOR} dosh-${USER}`);
  delUser(USER);
  delUser(PLAIN);
  doshd.cleanup();

  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)]));
  const f = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`bench/login: ${N} rounds, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, docker ${sh("docker version -f '{{.Server.Version}}'").trim()}`);
  console.log('');
  console.log('| what | median | p95 | ratio |');
  console.log('|---|---|---|---|');
  console.log(`| docker exec CONTAINER true (floor, warm) | ${f(m.exec)} | ${f(p95(r.exec))} | 1.00 |`);
  console.log(`| DoSH warm login: su - USER -c true | ${f(m.warm)} | ${f(p95(r.warm))} | ${(m.warm / m.exec).toFixed(2)} x docker exec |`);
  console.log(`| docker run -d (floor, cold) | ${f(m.run)} | ${f(p95(r.run))} | 1.00 |`);
  console.log(`| DoSH cold login: su - USER -c true, no container | ${f(m.cold)} | ${f(p95(r.cold))} | ${(m.cold / m.run).toFixed(2)} x docker run -d |`);
  console.log(`| ssh PLAINUSER@127.0.0.1 true (bash shell) | ${f(m.sshPlain)} | ${f(p95(r.sshPlain))} | 1.00 |`);
  console.log(`| ssh DOSHUSER@127.0.0.1 true (warm container) | ${f(m.sshDosh)} | ${f(p95(r.sshDosh))} | ${(m.sshDosh / m.sshPlain).toFixed(2)} x plain ssh (+${(m.sshDosh - m.sshPlain).toFixed(0)} ms) |`);
  console.log('');
  console.log('Where the time goes (medians):');
  console.log('| step | warm | cold |');
  console.log('|---|---|---|');
  console.log(`| su - PLAINUSER -c true (su and PAM alone, for scale) | ${f(m.su)} | |`);
  console.log(`| node -e 0 (Node.js start, for scale) | ${f(m.node)} | |`);
  console.log(`| helper start to its first refusal (node + bundle load), through its #! line | ${f(m.helperStart)} | |`);
  console.log(`| the same under plain \`node\` (without the #! flags that keep the inspector closed) | ${f(m.helperStartPlain)} | |`);
  console.log(`| session written -> Ready (doshd: container, exec created) | ${f(median(warmPhases.pendingToReady))} | ${f(median(coldPhases.pendingToReady))} |`);
  console.log(`| Ready -> Running recorded (helper wakes, starts the exec, learns its pid) | ${f(median(warmPhases.readyToRunning))} | ${f(median(coldPhases.readyToRunning))} |`);
  console.log(`| Running -> ended (command, exit code, status write) | ${f(median(warmPhases.runningToEnd))} | ${f(median(coldPhases.runningToEnd))} |`);
}

function sessionFiles(): Set<string> {
  return new Set(readdirSync('/run/dosh/sessions').filter((n) => n.endsWith('.json')));
}

function newFiles(before: Set<string>): string[] {
  return [...sessionFiles()].filter((n) => !before.has(n));
}

function phases(files: string[]) {
  const out = { pendingToReady: [] as number[], readyToRunning: [] as number[], runningToEnd: [] as number[] };
  for (const f of files) {
    const s = JSON.parse(readFileSync(`/run/dosh/sessions/${f}`, 'utf8')) as { metadata: { creationTimestamp: string }; status: Record<string, string> };
    const { readyAt, startedAt, endedAt } = s.status;
    if (!readyAt || !startedAt || !endedAt) continue;
    out.pendingToReady.push(Date.parse(readyAt) - Date.parse(s.metadata.creationTimestamp));
    out.readyToRunning.push(Date.parse(startedAt) - Date.parse(readyAt));
    out.runningToEnd.push(Date.parse(endedAt) - Date.parse(startedAt));
  }
  return out;
}

main().catch((e) => {
  console.error(`bench/login: ${(e as Error).message}`);
  process.exitCode = 1;
});
