// The test command (scripts/test.sh runs it): `npm test` runs everything, `npm test -- FILE...` the files given, with
// only the setup they need, `npm run test:unit` the unit tests (no root, no setup). Tiers run in order, unit,
// integration, end-to-end; the output ends with the time each took and one plain summary line.
//
// The integration and end-to-end tiers share the host's doshd, users and Docker engine with anyone else testing on
// it, so they run, with their setup (which installs DoSH system-wide), under the lock /tmp/dosh-e2e.lock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './layers.ts';
import { allTestFiles, countsOf, makePlan, STEPS, testFiles, TIERS, UNIT_FOLDERS, type Counts, type Plan, type Tier } from './test-plan.ts';

const LOCK = '/tmp/dosh-e2e.lock';

const say = (s: string) => process.stderr.write(`test: ${s}\n`);

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Runs a command from the repository root with the output shown; true when it exits 0. */
function step(cmd: string[]): boolean {
  return spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, stdio: 'inherit' }).status === 0;
}

/** Holds the lock until the returned function is called (or this process ends: the holder's stdin closes). */
async function takeLock(): Promise<() => void> {
  const holder: ChildProcess = spawn('flock', [LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = setTimeout(() => say(`waiting for ${LOCK}: another test run uses this machine's doshd, users and engine`), 1000);
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('error', reject);
    holder.once('exit', (code) => reject(new Error(`flock ${LOCK} exited (${code}) before taking the lock`)));
  }).finally(() => clearTimeout(waiting));
  return () => holder.stdin!.end();
}

/** Runs test files with node's runner: the spec report on the terminal, the counts from a TAP copy. */
function runTier(tier: Tier, files: string[], dir: string): Counts {
  const tap = path.join(dir, `${tier}.tap`);
  // The system tiers one file at a time: their files share the host's doshd, users and engine.
  const concurrency = tier === 'unit' ? [] : ['--test-concurrency=1'];
  spawnSync(process.execPath, ['--import', 'tsx', '--test', ...concurrency, '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files], { cwd: ROOT, stdio: 'inherit' });
  return countsOf(readFileSync(tap, 'utf8'));
}

/** Installs the packages of the missing programs, runs the steps, then checks that every program is there. */
function setUp(plan: Plan): string | undefined {
  const missing = () => [...plan.tools].filter(([p]) => spawnSync('sh', ['-c', `command -v '${p}'`], { stdio: 'ignore' }).status !== 0);
  const packages = [...new Set(missing().map(([, source]) => source).filter((s) => !s.startsWith('@')))];
  if (packages.length) {
    say(`installing ${packages.join(' ')} (for the programs the tests run: scripts/lib/test-tools.txt)`);
    if (!step(['bash', '-c', `PROG=test; . scripts/lib/common.sh; ensure_pkgs ${packages.join(' ')}`])) return `installing ${packages.join(' ')}`;
  }
  for (const n of plan.steps) {
    say(`${n}: ${STEPS[n].what}`);
    if (!step(STEPS[n].run)) return `${n} (${STEPS[n].run.join(' ')})`;
  }
  const still = missing();
  if (still.length) {
    const why = still.map(([p, s]) => (s === '@system' ? `${p} (the machine must provide it: see README.md)` : `${p} (from ${s})`));
    return `programs the tests run are missing: ${why.join(', ')}`;
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const unitOnly = argv[0] === '--unit';
  const given = unitOnly ? argv.slice(1) : argv;
  const files = given.length ? given.map((f) => path.relative(ROOT, path.resolve(f))) : unitOnly ? UNIT_FOLDERS.flatMap((d) => testFiles(ROOT, d)) : allTestFiles(ROOT);
  const absent = files.filter((f) => !existsSync(path.join(ROOT, f)));
  if (absent.length) {
    say(`no such test file: ${absent.join(', ')}`);
    return 2;
  }
  const plan = makePlan(ROOT, files);
  const system = plan.files.integration.length + plan.files.e2e.length > 0;
  if (system && process.getuid?.() !== 0) {
    say('run as root: the integration and end-to-end tests create users, install DoSH and use the Docker engine');
    return 1;
  }
  const times: string[] = [];
  const total: Counts = { tests: 0, pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
  const add = (c: Counts) => (Object.keys(total) as (keyof Counts)[]).forEach((k) => (total[k] += c[k]));
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-test-'));
  const t0 = performance.now();
  let failed: string | undefined;
  let setupMs = 0;
  try {
    // A full run checks the types first; a run of chosen files leaves that to `npm run typecheck`.
    if (!given.length && !unitOnly) {
      const t = performance.now();
      say('typecheck');
      if (!step(['npx', 'tsc', '--noEmit', '-p', '.'])) failed = 'typecheck';
      setupMs += performance.now() - t;
    }
    if (!failed && plan.files.unit.length) {
      const t = performance.now();
      say(`unit: ${plan.files.unit.length} files`);
      add(runTier('unit', plan.files.unit, dir));
      times.push(`unit ${duration(performance.now() - t)}`);
    }
    if (!failed && system) {
      const waited = performance.now();
      const release = await takeLock();
      if (performance.now() - waited > 1000) times.push(`waiting for the lock ${duration(performance.now() - waited)}`);
      try {
        const t = performance.now();
        say(`setup: ${plan.steps.join(', ') || 'nothing'}; ${plan.tools.size} programs checked`);
        failed = setUp(plan);
        setupMs += performance.now() - t;
        for (const tier of TIERS.filter((x) => x !== 'unit' && plan.files[x].length)) {
          if (failed) break;
          const t1 = performance.now();
          say(`${tier}: ${plan.files[tier].length} files`);
          add(runTier(tier, plan.files[tier], dir));
          times.push(`${tier} ${duration(performance.now() - t1)}`);
        }
      } finally {
        release();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (setupMs) times.unshift(`setup ${duration(setupMs)}`);
  if (failed) say(`setup failed: ${failed}`);
  say(`time: ${times.join(', ') || 'nothing ran'}`);
  say(`${total.tests} tests: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped, ${total.todo} todo, ${total.cancelled} cancelled, in ${duration(performance.now() - t0)}${failed ? ' (setup failed)' : ''}`);
  return failed || total.fail || total.cancelled ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    say((err as Error).message);
    process.exitCode = 1;
  },
);
