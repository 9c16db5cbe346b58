// bench/doshctl: `doshctl get sessions` against a store holding 200 sessions (the target: under 300 ms).
// The store is a temporary directory filled through store/sessions.ts with objects shaped like doshd's: live logins
// (Running, with container, exec plan, conditions) and ended ones (exit code, reason). Each round spawns the doshctl
// that admins run, then `node -e 0` in the same round: the gap between the two is doshctl's own work (bundle load,
// reading and validating 200 files, the table), the rest is Node's start-up.
// Run as root with `node --import tsx bench/doshctl.ts` after `bash scripts/lib/install-dosh.sh` (or `npm run build`: without the
// installed one it runs `node dist/doshctl.mjs`; DOSHCTL=... picks another). Writes bench/results-doshctl.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import path from 'node:path';
import { sessionStore } from '../store/sessions.ts';
import type { Session } from '../api/session.ts';
import { median, sorted } from './stats.ts';
import { INSTALLED } from '../test/lib/installed.ts';

const SESSIONS = 200;
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const REPO = path.resolve(import.meta.dirname, '..');
const OUT = path.join(REPO, 'bench/results-doshctl.md');

function doshctlCommand(): string[] {
  if (process.env.DOSHCTL) return [process.env.DOSHCTL];
  if (existsSync(INSTALLED.doshctl)) return [INSTALLED.doshctl];
  const dist = path.join(REPO, 'dist/doshctl.mjs');
  if (!existsSync(dist)) throw new Error(`no ${INSTALLED.doshctl} and no dist/doshctl.mjs: run npm run build first`);
  return [process.execPath, dist];
}

function fill(root: string): void {
  const store = sessionStore(root);
  store.init();
  const t0 = Date.now() - 3 * 3600_000;
  for (let i = 0; i < SESSIONS; i++) {
    const user = `user${String(i % 70).padStart(3, '0')}`;
    const uid = 20000 + (i % 70);
    const at = (ms: number) => new Date(t0 + i * 50_000 + ms).toISOString();
    const live = i % 4 !== 0;
    const s = store.create({
      apiVersion: 'dosh.io/v1alpha1',
      kind: 'Session',
      metadata: { name: `${user}-${(0x10000000 + i * 7919).toString(16)}a0` },
      spec: {
        user, uid, gid: uid, node: 'bench-node', mode: i % 3 ? 'interactive' : 'command', login: true,
        ...(i % 3 ? {} : { command: 'rsync --server -logDtprze.iLsfxC . /home/data/' }),
        args: [], tty: i % 3 !== 0, term: 'xterm-256color', lang: 'C.UTF-8',
        relay: { pid: 100000 + i, startTime: String(4000000 + i) }, client: `10.0.${i % 250}.${i % 200} 5${String(i).padStart(4, '0')} 22`,
      },
    } as unknown as Session);
    const container = { id: (i * 2654435761).toString(16).padStart(64, 'a').slice(0, 64), name: `dosh-${user}`, image: 'registry.example.org/lab/ubuntu:22.04' };
    const conditions = [
      { type: 'Admitted', status: 'True' as const, reason: 'PolicyAllows', message: 'image and limits from /etc/dosh/dosh.conf', lastTransitionTime: at(10) },
      { type: 'Ready', status: live ? ('True' as const) : ('False' as const), reason: live ? 'ExecCreated' : 'Ended', message: '', lastTransitionTime: at(200) },
    ];
    store.update({
      ...s,
      status: {
        phase: live ? 'Running' : i % 8 === 0 ? 'Failed' : 'Succeeded',
        conditions,
        container,
        exec: { shell: ['/bin/bash'], env: ['HOME=/home/' + user, `USER=${user}`, 'TERM=xterm-256color', 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin'], user: `${uid}:${uid}`, workingDir: `/home/${user}` },
        execId: container.id.split('').reverse().join(''),
        execPid: 200000 + i,
        execPidStartTime: String(4000100 + i),
        readyAt: at(180),
        startedAt: at(200),
        ...(live ? {} : { endedAt: at(40_000), exitCode: i % 8 === 0 ? 130 : 0, reason: i % 8 === 0 ? 'Deleted' : 'Exited' }),
      },
    });
  }
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

function timed(cmd: string[], check?: (stdout: string) => void): number {
  const t0 = performance.now();
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', maxBuffer: 1 << 26 });
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: exit ${r.status}: ${r.stderr}`);
  check?.(r.stdout);
  return t;
}

function main(): void {
  if (process.getuid?.() !== 0) throw new Error('run as root: doshctl refuses to run otherwise');
  const root = mkdtempSync(path.join(tmpdir(), 'dosh-bench-doshctl-'));
  try {
    fill(root);
    const doshctl = doshctlCommand();
    const table = [...doshctl, '--store', root, 'get', 'sessions'];
    const json = [...doshctl, '--store', root, 'get', 'sessions', '-o', 'json'];
    const lines = (n: number) => (out: string) => {
      if (out.trimEnd().split('\n').length !== n) throw new Error(`expected ${n} lines, got:\n${out.slice(0, 500)}`);
    };
    const items = (out: string) => {
      if (JSON.parse(out).items.length !== SESSIONS) throw new Error('-o json did not list every session');
    };
    for (let i = 0; i < 3; i++) timed(table, lines(SESSIONS + 1)), timed(json, items), timed([process.execPath, '-e', '0']);
    const r = { table: [] as number[], json: [] as number[], node: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      r.table.push(timed(table, lines(SESSIONS + 1)));
      r.json.push(timed(json, items));
      r.node.push(timed([process.execPath, '-e', '0']));
    }
    const row = (what: string, xs: number[]) => `| ${what} | ${RUNS} | ${ms(median(xs))} | ${ms(sorted(xs)[0])} | ${ms(sorted(xs)[xs.length - 1])} | ${ms(median(xs) - median(r.node))} |`;
    const host = `nproc ${availableParallelism()} (${cpus()[0]?.model?.trim() ?? '?'}), node ${process.version}, Linux ${release()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
    const report = [
      '# doshctl benchmark (bench/doshctl.ts)',
      '',
      `The target: \`doshctl get sessions\` with ${SESSIONS} sessions answers in under 300 ms. Measured with`,
      '`node --import tsx bench/doshctl.ts` (as root, after `bash scripts/lib/install-dosh.sh`): a temporary store filled through',
      `store/sessions.ts with ${SESSIONS} sessions shaped like doshd's (150 Running, 50 ended; 70 users), then ${RUNS} rounds of`,
      `\`${doshctl.join(' ')} --store ROOT get sessions\`, the same with \`-o json\`, and \`node -e 0\` for Node's own start-up, interleaved`,
      'so that load on the machine hits all three alike. Each run is a fresh process, timed from spawn to exit.',
      '',
      host,
      '',
      '| command | runs | median | min | max | median minus `node -e 0` |',
      '|---|---|---|---|---|---|',
      row(`doshctl get sessions (${SESSIONS} sessions, table)`, r.table),
      row(`doshctl get sessions -o json (${SESSIONS} sessions)`, r.json),
      row('node -e 0 (start-up of Node alone)', r.node),
      '',
      `Target under 300 ms: ${median(r.table) < 300 ? 'met' : 'NOT met'} (median ${ms(median(r.table))}).`,
      '',
    ].join('\n');
    writeFileSync(OUT, report);
    process.stdout.write(report);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main();
