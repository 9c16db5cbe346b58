// bench/metrics: what a per-user /metrics scrape costs with N user containers, read from cgroups by UserMetrics, side by
// side in one run with polling the engine's stats API for the same containers (what most tools do). Run as root:
//   node --import tsx bench/metrics.ts            (BENCH_N=200 containers by default)
// It starts dtm-0 .. dtm-<N-1> (busybox sleeping), and removes every dtm-<number> container at the end, on error and on
// SIGINT/SIGTERM. It touches no other container.
import { type ChildProcess, execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { LABEL_MANAGED, LABEL_UID, LABEL_USER } from '../api/labels.ts';
import { detectCgroup, readUsage } from '../lib/cgroup-usage.ts';
import { type ManagedContainer, UserMetrics } from '../controller/metrics/user-metrics.ts';
import { pool } from './pool.ts';
import { midMedian as median } from './stats.ts';
import { removeContainers } from './users.ts';

const N = Number(process.env.BENCH_N ?? 200);
const IMAGE = 'dosh-test/busybox:latest';
const SOCKET = '/var/run/docker.sock';
const OURS = /^\/dtm-\d+$/; // only ever touch these
const CREATE_CONCURRENCY = 8;
const STATS_CONCURRENCY = 16;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5); // stats rounds; each round also does several scrapes
const RESULTS = fileURLToPath(new URL('./results-metrics.md', import.meta.url));

const children = new Set<ChildProcess>();
/** docker CLI, tracked so that an interrupt can stop the runs in flight before cleaning up. */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, (err, stdout) => {
      children.delete(child);
      if (err) reject(err);
      else resolve(stdout);
    });
    children.add(child);
  });
}
const agent = new Agent({ keepAlive: true, maxSockets: STATS_CONCURRENCY });

/** One request to the engine over its unix socket; resolves with the status and parsed JSON body. */
function api<T = unknown>(path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: SOCKET, path, method: 'GET', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T });
        } catch (err) {
          reject(new Error(`GET ${path}: ${res.statusCode}: ${text.slice(0, 200)} (${err})`));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

interface Summary {
  Id: string;
  Names: string[];
}

/** Our containers, by the engine's own listing (all states). */
function ourContainers(): string[] {
  const r = spawnSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((n) => OURS.test(`/${n}`));
}

function cleanup(): void {
  const names = ourContainers();
  removeContainers(names);
  const left = ourContainers();
  if (left.length) console.error(`bench/metrics: could not remove ${left.join(' ')}`);
  else if (names.length) console.error(`bench/metrics: removed ${names.length} dtm- containers`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const c of children) c.kill('SIGTERM');
    cleanup();
    // A create the engine had already accepted may still land: look once more.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
    cleanup();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: it reads every container\'s cgroup and /proc/<pid>/net/dev');
  cleanup(); // leftovers of an interrupted run
  console.log(`starting ${N} containers (${CREATE_CONCURRENCY} at a time)...`);
  const t0 = process.hrtime.bigint();
  const names = Array.from({ length: N }, (_, i) => `dtm-${i}`);
  await pool(names, CREATE_CONCURRENCY, (name) => run('docker', ['run', '-d', '--name', name, IMAGE, 'sleep', '100000']));
  console.log(`  started in ${(ms(t0) / 1000).toFixed(1)} s`);

  // What doshd's cached lister would hold: ids, labels (here made up from the names: these containers are not managed
  // by doshd and must not look managed to a doshd on this engine) and the main process.
  const inspected = await pool(names, STATS_CONCURRENCY, (n) => api<{ Id: string; State: { Pid: number } }>(`/containers/${n}/json`));
  const asManaged = (id: string, name: string, pid?: number): ManagedContainer => {
    const i = Number(name.slice(4));
    return { id, pid, labels: { [LABEL_MANAGED]: 'true', [LABEL_USER]: name, [LABEL_UID]: String(200000 + i) } };
  };
  const cached = inspected.map((r, i) => asManaged(r.body.Id, names[i], r.body.State.Pid));
  const ids = cached.map((c) => c.id);

  const layout = detectCgroup();
  const cachedRegistry = new Registry();
  new UserMetrics({ registry: cachedRegistry, layout, list: async () => cached, onError: (e) => console.error(e) });
  // Without the cache: one GET /containers/json per scrape, no pid (network counters from the cgroup's first process).
  const listedRegistry = new Registry();
  new UserMetrics({
    registry: listedRegistry,
    layout,
    onError: (e) => console.error(e),
    list: async () => {
      const { body } = await api<Summary[]>('/containers/json');
      return body.filter((c) => OURS.test(c.Names[0] ?? '')).map((c) => asManaged(c.Id, c.Names[0].slice(1)));
    },
  });

  const check = (text: string, what: string) => {
    const users = text.split('\n').filter((l) => l.startsWith('dosh_user_memory_working_set_bytes{')).length;
    const net = text.split('\n').filter((l) => l.startsWith('dosh_user_network_receive_bytes_total{')).length;
    if (users !== N || net !== N) throw new Error(`${what}: ${users} users and ${net} network series, expected ${N}`);
    return text.length;
  };
  const bytes = check(await cachedRegistry.metrics(), 'cached scrape');
  check(await listedRegistry.metrics(), 'listing scrape');

  const stats = async (query: string) => {
    const t = process.hrtime.bigint();
    const rs = await pool(ids, STATS_CONCURRENCY, (id) => api<{ memory_stats?: { usage?: number } }>(`/containers/${id}/stats?${query}`));
    const bad = rs.filter((r) => r.status !== 200 || typeof r.body?.memory_stats?.usage !== 'number').length;
    if (bad) throw new Error(`stats ${query}: ${bad} of ${N} answers without memory usage`);
    return ms(t);
  };
  await stats('stream=false&one-shot=true'); // warm the engine's stats collector path

  const r = { cached: [] as number[], listed: [] as number[], readOnly: [] as number[], stats: [] as number[], oneShot: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, so that drift hits every series alike.
    for (let i = 0; i < 10; i++) {
      let t = process.hrtime.bigint();
      await cachedRegistry.metrics();
      r.cached.push(ms(t));
      t = process.hrtime.bigint();
      await listedRegistry.metrics();
      r.listed.push(ms(t));
      t = process.hrtime.bigint();
      for (const c of cached) readUsage(layout, c.id, c.pid);
      r.readOnly.push(ms(t));
    }
    r.stats.push(await stats('stream=false'));
    r.oneShot.push(await stats('stream=false&one-shot=true'));
    console.log(`  round ${round + 1}/${ROUNDS}: scrape ${fmt(median(r.cached))} ms (reads ${fmt(median(r.readOnly))} ms), stats API ${fmt(r.stats.at(-1)!)} ms, one-shot ${fmt(r.oneShot.at(-1)!)} ms`);
  }

  const dockerVersion = (await api<{ Version: string }>('/version')).body.Version;
  const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}, Docker ${dockerVersion}, cgroup v${layout.version} (${layout.templates[0]('<id>')})`;
  const cachedMs = median(r.cached);
  const rows: [string, number[], string][] = [
    ['`/metrics` scrape from cgroups, container list cached (UserMetrics + Registry.metrics())', r.cached, 'what doshd serves'],
    ['same, plus one `GET /containers/json` per scrape (no cache, no pids)', r.listed, ''],
    [`engine stats API, \`GET /containers/ID/stats?stream=false\` × ${N}, ${STATS_CONCURRENCY} in parallel`, r.stats, 'what most tools do'],
    ['same with `&one-shot=true` (API ≥ 1.41: one sample instead of two)', r.oneShot, ''],
  ];
  const table = [
    '| method | runs | median (ms) | × scrape |',
    '|---|---:|---:|---:|',
    ...rows.map(([what, xs, note]) => `| ${what}${note ? ` — ${note}` : ''} | ${xs.length} | ${fmt(median(xs))} | ${(median(xs) / cachedMs).toFixed(median(xs) / cachedMs >= 10 ? 0 : 1)} |`),
  ].join('\n');
  const report = `# Per-user metrics: cgroups against the engine's stats API

Measured ${new Date().toISOString().slice(0, 10)} with \`node --import tsx bench/metrics.ts\` (as root), ${N} running containers
(\`${IMAGE} sleep 100000\`), on ${machine}.

${table}

A scrape reads ${N} containers' cgroup files and /proc/<pid>/net/dev synchronously and renders ${N} users × 11 series
(${(bytes / 1024).toFixed(0)} KiB of exposition text); the reads alone (readUsage over the ${N} containers, no
prom-client) take ${fmt(median(r.readOnly))} ms of it. The stats API answers about the same numbers, one container per
request, and each answer waits for the engine's one-second sampling tick: two samples by default, one with \`one-shot\`.
The stats API is ${(median(r.stats) / cachedMs).toFixed(0)}× slower than the cached scrape (${(median(r.oneShot) / cachedMs).toFixed(0)}× with one-shot).
`;
  writeFileSync(RESULTS, report);
  console.log(`\n${machine}\n\n${table}\n\nwritten to ${RESULTS}`);
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  agent.destroy();
  cleanup();
}
