// bench/throughput: 200 MiB through one session, DoSH against the docker CLI on the same container, in one run.
//
// No TTY: `su - USER -c cat` with 200 MiB of random data on stdin (a file, so nothing in this process writes it),
// everything that comes out counted and SHA-256-hashed here and compared with the input; against
// `docker exec -i -u UID:GID CONTAINER cat` and, as the ceiling of the measurement itself, the host's own `cat`.
//
// TTY: output throughput through a real pseudo-terminal. `script -qfec CMD /dev/null` allocates a pty pair, runs CMD
// with the slave as its controlling terminal (stdin, stdout, stderr), and copies everything read from the master to
// its own stdout, a pipe read here. CMD is `su - USER -c 'stty raw -echo; head -c 209715200 /dev/zero'` for DoSH
// (the relay sees a terminal, doshd makes a TTY exec, and the relay carries the container's pty to the host's pty) and
// `docker exec -it -u UID:GID CONTAINER sh -c 'stty raw -echo; head -c 209715200 /dev/zero'` for the docker CLI, and
// the same shell line straight on the host for the ceiling of the script+pty path. `stty raw` turns output
// post-processing off in the container's pty; zero bytes contain no newline, so no ONLCR translation can change the
// count anywhere; the bytes are counted here and every zero byte must arrive. Both go through the same two ptys
// (container + host) and the same `script`, so the ratio is the relay's cost (DoSH's C relay against the docker
// CLI's Go relay).
//
// Throughput is 200 MiB over the time from spawn to exit (a login's start-up included) and, in a second column, over
// the time from the first output byte to the last (streaming only). BENCH_ROUNDS (default 3) rounds, interleaved;
// medians. Run as root, after `bash scripts/lib/install-dosh.sh` (the test command's dosh step), under the end-to-end lock (it starts the real doshd):
//   cd /work/main && flock -o /tmp/dosh-e2e.lock node --import tsx bench/throughput.ts
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { addUser, BUSYBOX, Doshd, run, sh, shellQuote, STORE } from '../test/e2e/harness.ts';
import { runBench } from './run.ts';
import { median as med } from './stats.ts';
import { delUsers } from './users.ts';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 200) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const USER = 'dbb-tp';
const CONTAINER = `dosh-${USER}`;
const DATA = `/tmp/dbb-tp-${process.pid}.bin`;
const TIMEOUT_MS = 180_000;

interface Outcome {
  ms: number;
  streamMs: number;
  bytes: number;
  sha256: string;
  nonZero: number;
  code: number | null;
  stderr: string;
}

/**
 * Spawns argv with stdin from `stdinFile` (or an open pipe), reads stdout to the end and counts it; a no-TTY transfer is
 * SHA-256-hashed, a TTY one (zeros) has its non-zero bytes counted.
 */
function measure(argv: string[], stdinFile: string | undefined, env: NodeJS.ProcessEnv, tty: boolean): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const fd = stdinFile ? openSync(stdinFile, 'r') : undefined;
    const zeros = Buffer.alloc(1 << 20);
    const hash = createHash('sha256');
    let bytes = 0;
    let nonZero = 0;
    let first = 0;
    const err: Buffer[] = [];
    const t0 = performance.now();
    const child = spawn(argv[0], argv.slice(1), { env, stdio: [fd ?? 'pipe', 'pipe', 'pipe'] });
    if (fd !== undefined) closeSync(fd);
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.stdout!.on('data', (d: Buffer) => {
      if (bytes === 0) first = performance.now();
      bytes += d.length;
      if (!tty) hash.update(d);
      // Fast path: a chunk of zeros compares equal with memcmp; only other chunks are counted byte by byte.
      else if (!(d.length <= zeros.length && d.equals(zeros.subarray(0, d.length)))) for (const b of d) if (b !== 0) nonZero++;
    });
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const t1 = performance.now();
      child.stdin?.destroy();
      resolve({ ms: t1 - t0, streamMs: first ? t1 - first : NaN, bytes, sha256: hash.digest('hex'), nonZero, code, stderr: Buffer.concat(err).toString() });
    });
  });
}

type Kind = 'pipeHost' | 'pipeDocker' | 'pipeDosh' | 'ttyHost' | 'ttyDocker' | 'ttyDosh';
const LABEL: Record<Kind, string> = {
  pipeHost: 'no TTY: host `cat` (ceiling of the measurement)',
  pipeDocker: 'no TTY: `docker exec -i CONTAINER cat`',
  pipeDosh: "no TTY: DoSH `su - USER -c cat`",
  ttyHost: 'TTY: host `head -c N /dev/zero` under `script` (ceiling)',
  ttyDocker: 'TTY: `docker exec -it CONTAINER sh -c head...` under `script`',
  ttyDosh: "TTY: DoSH `su - USER -c 'head...'` under `script`",
};

async function main(): Promise<void> {
  const load0 = loadavg();
  console.error(`bench/throughput: writing ${SIZE / MIB} MiB of random data to ${DATA}`);
  sh(`head -c ${SIZE} /dev/urandom > ${DATA}`);
  const want = await new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(DATA).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });

  addUser(USER);
  const uid = sh(`id -u ${USER}`).trim();
  const gid = sh(`id -g ${USER}`).trim();
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--log-level', 'warn']).start();
  spawnSync('docker', ['rm', '-f', CONTAINER], { stdio: 'ignore' });
  const warm = await run('su', ['-', USER, '-c', 'true']); // creates her container: every variant then uses that one
  if (warm.code !== 0) throw new Error(`warm-up login failed (${warm.code}): ${warm.stderr}`);
  const image = sh(`docker inspect -f '{{.Config.Image}}' ${CONTAINER}`).trim();

  const inner = `stty raw -echo; head -c ${SIZE} /dev/zero`;
  const env = { PATH: process.env.PATH, HOME: '/root', TERM: 'xterm' };
  const cmds: Record<Kind, { argv: string[]; stdin?: string; tty: boolean }> = {
    pipeHost: { argv: ['cat'], stdin: DATA, tty: false },
    pipeDocker: { argv: ['docker', 'exec', '-i', '-u', `${uid}:${gid}`, CONTAINER, 'cat'], stdin: DATA, tty: false },
    pipeDosh: { argv: ['su', '-', USER, '-c', 'cat'], stdin: DATA, tty: false },
    ttyHost: { argv: ['script', '-qfec', inner, '/dev/null'], tty: true },
    ttyDocker: { argv: ['script', '-qfec', `docker exec -it -u ${uid}:${gid} ${CONTAINER} sh -c ${shellQuote(inner)}`, '/dev/null'], tty: true },
    ttyDosh: { argv: ['script', '-qfec', `su - ${USER} -c ${shellQuote(inner)}`, '/dev/null'], tty: true },
  };
  const res = Object.fromEntries((Object.keys(cmds) as Kind[]).map((k) => [k, [] as Outcome[]])) as Record<Kind, Outcome[]>;
  const problems: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const k of Object.keys(cmds) as Kind[]) {
      const c = cmds[k];
      const o = await measure(c.argv, c.stdin, env, c.tty);
      res[k].push(o);
      const ok = c.tty ? o.code === 0 && o.nonZero === 0 && o.bytes === SIZE : o.code === 0 && o.bytes === SIZE && o.sha256 === want;
      console.error(`  round ${round} ${k}: ${(o.bytes / MIB).toFixed(1)} MiB in ${o.ms.toFixed(0)} ms = ${(o.bytes / MIB / (o.ms / 1000)).toFixed(0)} MiB/s${ok ? '' : ` PROBLEM: exit ${o.code}, ${o.bytes} bytes, ${o.nonZero} non-zero, sha ${o.sha256 === want ? 'ok' : 'differs'}`}`);
      if (!ok) problems.push(`round ${round} ${k}: exit ${o.code}, ${o.bytes} bytes (want ${SIZE}), ${o.nonZero} non-zero bytes, sha256 ${c.tty ? '(n/a)' : o.sha256 === want ? 'matches' : 'DIFFERS'}; stderr: ${JSON.stringify(o.stderr.trim().slice(0, 2000))}`);
      if (k === 'pipeDosh' || k === 'ttyDosh') {
        const tty = newestSessionTty();
        if (tty !== c.tty) problems.push(`round ${round} ${k}: the session's spec.tty is ${tty}, expected ${c.tty}`);
      }
    }
  }
  const load1 = loadavg();

  const rate = (ms: number) => SIZE / MIB / (ms / 1000);
  const tot = (k: Kind) => rate(med(res[k].map((o) => o.ms)));
  const str = (k: Kind) => rate(med(res[k].map((o) => o.streamMs)));
  const dockerV = sh(`docker version -f '{{.Server.Version}} (CLI {{.Client.Version}})'`).trim();
  console.log(`bench/throughput: ${SIZE / MIB} MiB per transfer, ${ROUNDS} rounds (medians); ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, docker ${dockerV}, container image ${image}, ${sh('script --version').trim()}`);
  console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
  console.log('');
  console.log('| what | MiB/s, spawn to exit | MiB/s, first to last byte | median time | ratio to the docker CLI (spawn to exit / streaming) |');
  console.log('|---|---|---|---|---|');
  for (const k of Object.keys(cmds) as Kind[]) {
    const base: Kind | undefined = k === 'pipeDosh' ? 'pipeDocker' : k === 'ttyDosh' ? 'ttyDocker' : undefined;
    const ratio = base ? `${(tot(k) / tot(base)).toFixed(2)} / ${(str(k) / str(base)).toFixed(2)}` : k.endsWith('Docker') ? '1.00 / 1.00' : `(docker CLI at ${(tot(k.startsWith('pipe') ? 'pipeDocker' : 'ttyDocker') / tot(k)).toFixed(2)} of this)`;
    console.log(`| ${LABEL[k]} | ${tot(k).toFixed(0)} | ${str(k).toFixed(0)} | ${med(res[k].map((o) => o.ms)).toFixed(0)} ms | ${ratio} |`);
  }
  console.log('');
  console.log('Ratio: DoSH throughput divided by the docker CLI\'s (1.00 = as fast; below 1 = slower).');
  console.log(`Checks: no-TTY output must equal the input (${SIZE / MIB} MiB, same SHA-256); TTY output must be exactly ${SIZE} bytes, all zero; each DoSH session's recorded spec.tty must match.`);
  if (problems.length) {
    console.log('');
    console.log(`PROBLEMS (${problems.length}):`);
    for (const p of problems) console.log(`- ${p}`);
    process.exitCode = 1;
  } else {
    console.log('All transfers complete and intact.');
  }
}

/** spec.tty of USER's most recent session, read from the store. */
function newestSessionTty(): boolean | undefined {
  const files = readdirSync(`${STORE}/sessions`).filter((f) => f.startsWith(`${USER}-`) && f.endsWith('.json'));
  let best: { t: number; tty: boolean } | undefined;
  for (const f of files) {
    try {
      const s = JSON.parse(readFileSync(`${STORE}/sessions/${f}`, 'utf8'));
      const t = Date.parse(s.metadata.creationTimestamp);
      if (!best || t > best.t) best = { t, tty: Boolean(s.spec.tty) };
    } catch {
      // being rewritten or collected
    }
  }
  return best?.tty;
}

let doshd: Doshd | undefined;
let cleanedUp = false;

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  if (doshd) await doshd.stop().catch(() => {});
  spawnSync('docker', ['rm', '-f', CONTAINER], { stdio: 'ignore' });
  delUsers('bench/throughput', [USER]);
  rmSync(DATA, { force: true });
  doshd?.cleanup();
}

await runBench('bench/throughput', main, cleanup);
