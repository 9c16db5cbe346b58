// bench/flood: one user starting logins as fast as a host lets her (su through xargs, 40 at a time, no Node.js in the
// loop) against doshd with its default rate limit (a burst of 60, then 10 a second): how many logins a second doshd
// refuses or serves, and whether another user's logins keep their latency meanwhile (her p50 alone, then during the
// flood, in one run). Run as root: `flock -o /tmp/dosh-e2e.lock node --import tsx bench/flood.ts` (after
// bash scripts/lib/install-dosh.sh).
import { spawn } from 'node:child_process';
import { addUser, BUSYBOX, delUser, Doshd, removeContainersOf, sh, su } from '../test/e2e/harness.ts';
import { runBench } from './run.ts';
import { median, pct } from './stats.ts';

const N = Number(process.env.BENCH_FLOOD ?? 1500);
const PARALLEL = 40;
const FLOODER = 'dbf-flo';
/** doshd's rate limit for the run (its default when unset): BENCH_FLOOD_LIMIT="BURST RATE". */
const LIMIT = process.env.BENCH_FLOOD_LIMIT ? ['--login-burst', process.env.BENCH_FLOOD_LIMIT.split(' ')[0], '--login-rate', process.env.BENCH_FLOOD_LIMIT.split(' ')[1]] : [];
const OTHER = 'dbf-oli';

/** N logins of FLOODER through su, PARALLEL at a time: exit statuses counted by the shell, and the wall time. */
function flood(): Promise<{ ms: number; ok: number; refused: number; other: number }> {
  const script = `seq ${N} | xargs -P ${PARALLEL} -n 1 sh -c 'su - ${FLOODER} -c "echo in" >/dev/null 2>&1; echo $?' x | sort | uniq -c`;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      const ms = performance.now() - t0;
      const counts = new Map(out.trim().split('\n').map((l) => l.trim().split(/\s+/).reverse() as [string, string]));
      const ok = Number(counts.get('0') ?? 0);
      const refused = Number(counts.get('1') ?? 0);
      resolve({ ms, ok, refused, other: N - ok - refused });
    });
  });
}

/** The other user's logins, one after another, PAUSE ms apart, until stop() says so: each login's time. */
async function otherLogins(n: number, pauseMs: number, stop: () => boolean = () => false): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n && !stop(); i++) {
    const r = await su(OTHER, `echo other-${i}`, { timeoutMs: 60_000 });
    if (r.code !== 0 || r.stdout.toString() !== `other-${i}\n`) throw new Error(`the other user's login failed: ${r.code} ${r.stderr}`);
    ms.push(r.ms);
    await new Promise((res) => setTimeout(res, pauseMs));
  }
  return ms;
}

let doshd: Doshd | undefined;

async function main(): Promise<void> {
  addUser(FLOODER);
  addUser(OTHER);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--log-level', 'error', ...LIMIT]).start();
  for (const u of [FLOODER, OTHER]) await su(u, 'true');
  const alone = await otherLogins(20, 200);
  let done = false;
  const during = otherLogins(1000, 200, () => done);
  const f = await flood();
  done = true;
  const duringMs = await during;
  const rate = (N / f.ms) * 1000;
  console.log(`bench/flood: ${N} logins of one user through su, ${PARALLEL} at a time, against doshd's ${LIMIT.length ? `limit of ${LIMIT[1]} at once, then ${LIMIT[3]} a second` : 'default limit (60 at once, then 10 a second)'}; docker ${sh("docker version -f '{{.Server.Version}}'").trim()}`);
  console.log('');
  console.log('| what | figure |');
  console.log('|---|---|');
  console.log(`| logins a second doshd refused or served (wall time of the whole flood) | **${rate.toFixed(1)}/s** (${N} in ${(f.ms / 1000).toFixed(1)} s) |`);
  console.log(`| served / refused (RateLimited) / other | ${f.ok} / ${f.refused} / ${f.other} |`);
  console.log(`| another user's login alone: p50, p95 (${alone.length}) | ${median(alone).toFixed(0)} ms, ${pct(alone, 0.95).toFixed(0)} ms |`);
  console.log(`| the same during the flood: p50, p95 (${duringMs.length}) | ${median(duringMs).toFixed(0)} ms, ${pct(duringMs, 0.95).toFixed(0)} ms |`);
}

async function cleanup(): Promise<void> {
  await doshd?.stop();
  doshd?.cleanup();
  removeContainersOf(FLOODER, OTHER);
  for (const u of [FLOODER, OTHER]) delUser(u);
}

void runBench('bench/flood', main, cleanup);
