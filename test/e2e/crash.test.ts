// Fault injection: doshd killed with SIGKILL at random moments during bursts of logins, and the Docker
// engine restarted during a burst. Every login either runs with exactly its output or fails with a clear message
// (never a stack trace, never a hang); doshd picks up where it left off; nothing is left live, no container outlives
// the idle timeout, and the store holds no torn or lost object.
// The kill moments come from a seeded PRNG (mulberry32): DOSH_CRASH_SEED=N reproduces a run (the seed is printed).
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { addUser, BUSYBOX, delUser, Doshd, doshctl, pidAlive, readyz, REPO, removeContainersOf, run, sh, sleep, STORE, storeSessions, su, until, type Result } from './harness.ts';

const SEED = Number(process.env.DOSH_CRASH_SEED ?? 0x5eed0007);
const ROUNDS = Number(process.env.DOSH_CRASH_ROUNDS ?? 20);
const ENGINE_ROUNDS = Number(process.env.DOSH_CRASH_ENGINE_ROUNDS ?? 3);
const USERS = Array.from({ length: 10 }, (_, i) => `dtc-u${i}`);
const PER_USER = 5;
const KILL_WINDOW_MS = 3000;
const SESSIONS = `${STORE}/sessions`;
const EVENTS = `${STORE}/events`;
const LIVE = new Set(['Pending', 'Ready', 'Running']);
/** A JavaScript stack frame, as the brief puts it: `at fn (file:line:col)`. */
const STACK_FRAME = /at .*\(.*:\d+:\d+\)/;

let doshd: Doshd;
let loginsStarted = 0;

/** mulberry32: a small seeded PRNG, so that the kill moments of a run can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(SEED);

before(async () => {
  for (const u of USERS) addUser(u);
  removeContainersOf(...USERS);
  // A long ended-retention: every session of the test stays in the store, so a lost one can be counted.
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=2\n`, ['--ended-retention', '3600']).start();
  process.stdout.write(`# crash: seed ${SEED} (DOSH_CRASH_SEED=${SEED} replays the kill moments)\n`);
});

after(async () => {
  startEngine();
  await doshd.stop();
  const ids = testContainerIds();
  removeContainersOf(...USERS);
  await killOrphanShims(ids);
  for (const u of USERS) delUser(u);
  // With doshd stopped: the sessions and events of the test users (a thousand of each would slow later doshd starts).
  const ours = (f: string) => USERS.some((u) => f.startsWith(`${u}-`) || f.startsWith(`session.${u}-`));
  for (const dir of [SESSIONS, EVENTS]) for (const f of readdirSync(dir)) if (ours(f)) rmSync(path.join(dir, f), { force: true });
  doshd.cleanup();
});

/** Full ids of the test users' containers. */
function testContainerIds(): string[] {
  return sh(`docker ps -a --no-trunc --filter label=dosh.io/managed=true --format '{{.ID}} {{.Names}}'`)
    .split('\n')
    .filter((l) => USERS.some((u) => l.endsWith(` dosh-${u}`)))
    .map((l) => l.split(' ')[0]);
}

/**
 * A container start the engine accepted while it was shutting down can leave its containerd shim behind after the
 * container is removed: those of the test's containers (by id) are ended here, nothing else.
 */
async function killOrphanShims(ids: string[]): Promise<void> {
  if (!ids.length) return;
  await sleep(1000);
  for (const id of ids) {
    const pids = spawnSync('pgrep', ['-f', `^/usr/bin/containerd-shim-runc-v2 -namespace moby -id ${id} `], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      process.stdout.write(`# crash: ending the orphaned containerd shim ${pid} of the removed container ${id.slice(0, 12)}\n`);
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

interface Login {
  n: number;
  user: string;
  r: Result;
}

/**
 * Starts a burst: every test user logs in PER_USER times, each login echoing its own number. The logins are spawned
 * one after another (a spawn blocks this process for a moment), yielding between spawns so that a timer set for the
 * fault fires on time, during the burst.
 */
async function burst(): Promise<Promise<Login>[]> {
  const out: Promise<Login>[] = [];
  for (let j = 0; j < PER_USER; j++) {
    for (const user of USERS) {
      const n = ++loginsStarted;
      out.push(su(user, `echo ok-${n}`, { timeoutMs: 120_000 }).then((r) => ({ n, user, r })));
      await new Promise((r) => setImmediate(r));
    }
  }
  return out;
}

/** Runs FAULT at AT ms after START (performance.now()); resolves with the moment it actually ran. */
function at<T>(start: number, atMs: number, fault: () => T | Promise<T>): Promise<{ ranAt: number; value: T }> {
  return new Promise((resolve, reject) =>
    setTimeout(() => {
      const ranAt = performance.now() - start;
      Promise.resolve()
        .then(fault)
        .then((value) => resolve({ ranAt, value }), reject);
    }, Math.max(0, atMs - (performance.now() - start))),
  );
}

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
/** A failure message with its numbers and names blurred, so that the same failure counts once per round. */
const kind = (s: string) => firstLine(s).replace(/dtc-u\d(-[0-9a-f]+)?/g, 'USER').replace(/\b[0-9a-f]{12,}\b/g, 'ID').replace(/\d+/g, 'N').slice(0, 160);

/**
 * 'ok' when the login ran with exactly its output, 'failed' when it failed clearly (non-zero exit, a `dosh: ` message
 * that says something), else a description of what is wrong with it.
 */
function judge({ n, user, r }: Login): 'ok' | 'failed' | string {
  const out = r.stdout.toString();
  const what = `login ${n} (${user}): exit ${r.code} signal ${r.signal}, stdout ${JSON.stringify(out.slice(0, 200))}, stderr ${JSON.stringify(r.stderr.slice(0, 600))}`;
  if (STACK_FRAME.test(r.stderr) || STACK_FRAME.test(out)) return `a stack trace reached the user: ${what}`;
  if (r.code === 0 && out === `ok-${n}\n`) return 'ok';
  if (r.code === null) return `hung (killed by the test after 120 s): ${what}`;
  if (r.code === 0) return `exit 0 with the wrong output: ${what}`;
  if (!/^dosh: \S.{8,}/m.test(r.stderr) || /\b(undefined|\[object Object\])/.test(r.stderr)) return `failed without a clear message: ${what}`;
  return 'failed';
}

/**
 * One burst with FAULT run at a moment drawn in its first KILL_WINDOW_MS: every login judged, and what is neither a
 * success nor a clear failure added to PROBLEMS under LABEL. Times are ms from the start of the burst.
 */
async function burstUnder(label: string, problems: string[], fault: () => Promise<void>) {
  const drawnMs = Math.floor(random() * KILL_WINDOW_MS);
  const start = performance.now();
  const faulted = at(start, drawnMs, async () => {
    await fault();
    return performance.now() - start;
  });
  const logins = await burst();
  const spawnedMs = performance.now() - start;
  const { ranAt: faultMs, value: backMs } = await faulted;
  const results = await Promise.all(logins);
  const tookMs = performance.now() - start;
  const verdicts = results.map((l) => [l, judge(l)] as const);
  for (const [, v] of verdicts) if (v !== 'ok' && v !== 'failed') problems.push(`${label}: ${v}`);
  const ok = verdicts.filter(([, v]) => v === 'ok').length;
  const failed = verdicts.filter(([, v]) => v === 'failed').map(([l]) => l);
  const kinds = new Map<string, number>();
  for (const l of failed) kinds.set(kind(l.r.stderr), (kinds.get(kind(l.r.stderr)) ?? 0) + 1);
  const failures = kinds.size ? `; failures: ${[...kinds].map(([k, c]) => `${c}x ${JSON.stringify(k)}`).join(', ')}` : '';
  return { drawnMs, faultMs, backMs, spawnedMs, tookMs, total: results.length, ok, failed: failed.length, failures, verdicts };
}

function startEngine(): void {
  sh(`bash ${REPO}/scripts/lib/ensure-docker.sh`);
}

/** Stops the engine (SIGTERM, as `systemctl restart docker` does) and starts it again, without blocking this process. */
async function restartEngine(): Promise<void> {
  const pid = Number(readFileSync('/var/run/docker.pid', 'utf8'));
  process.kill(pid, 'SIGTERM');
  await until('dockerd to exit', () => !pidAlive(pid), 60_000);
  const r = await run('bash', [`${REPO}/scripts/lib/ensure-docker.sh`], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`ensure-docker.sh: exit ${r.code}: ${r.stderr}`);
}

const testContainers = () =>
  sh(`docker ps -a --format '{{.Names}}'`)
    .split('\n')
    .filter((n) => USERS.some((u) => n === `dosh-${u}`));

const liveTestSessions = () => storeSessions().filter((s) => USERS.includes(s.spec.user) && LIVE.has(s.status.phase));

test(`kill -9 of doshd at a random moment during a burst of ${USERS.length * PER_USER} logins, ${ROUNDS} times: every login runs or fails clearly, and nothing is left behind`, { timeout: 15 * 60_000 }, async () => {
  const problems: string[] = [];
  const t0 = performance.now();
  let ok = 0;
  let failed = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const old = doshd.pid;
    const b = await burstUnder(`round ${round}`, problems, async () => {
      doshd.kill('SIGKILL');
      await until(`doshd (pid ${old}) to die`, () => !pidAlive(old), 10_000);
      await doshd.start();
    });
    ok += b.ok;
    failed += b.failed;
    const noisy = b.verdicts.filter(([l, v]) => v === 'ok' && l.r.stderr.trim()).map(([l]) => kind(l.r.stderr));
    process.stdout.write(
      `# crash: round ${String(round).padStart(2)}: kill at ${String(Math.round(b.faultMs)).padStart(4)} ms (drawn ${String(b.drawnMs).padStart(4)}), all spawned at ${Math.round(b.spawnedMs)} ms, doshd back at ${Math.round(b.backMs)} ms, burst done at ${Math.round(b.tookMs)} ms: ` +
        `${b.ok} succeeded, ${b.failed} failed, ${b.total - b.ok - b.failed} wrong${b.failures}` +
        `${noisy.length ? `; successes with stderr: ${noisy.length}x e.g. ${JSON.stringify(noisy[0])}` : ''}\n`,
    );
  }
  process.stdout.write(`# crash: ${ROUNDS} rounds, ${loginsStarted} logins in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${ok} succeeded, ${failed} failed clearly, ${loginsStarted - ok - failed} wrong\n`);

  // Every su has returned: no session may stay live (doshd ends the ones whose helper is gone).
  const liveAfter = await until('no live session of the test users', () => liveTestSessions().length === 0, 30_000).then(
    () => [],
    () => liveTestSessions().map((s) => `${s.metadata.name} ${s.status.phase}`),
  );
  const t1 = performance.now();
  const leftContainers = await until('the test users\' containers to be collected (IDLETIMEOUT=2)', () => testContainers().length === 0, 60_000).then(
    () => [],
    () => testContainers(),
  );
  process.stdout.write(`# crash: containers collected ${((performance.now() - t1) / 1000).toFixed(1)} s after the last session ended\n`);
  const ended = storeSessions().filter((s) => USERS.includes(s.spec.user));
  const reasons = new Map<string, number>();
  for (const s of ended) reasons.set(`${s.status.phase}/${s.status.reason ?? '-'}`, (reasons.get(`${s.status.phase}/${s.status.reason ?? '-'}`) ?? 0) + 1);
  process.stdout.write(`# crash: how the test sessions ended: ${[...reasons].map(([k, c]) => `${k} ${c}`).join(', ')}\n`);

  // The store: no torn object (every object file parses), none quarantined, none lost.
  const entries = readdirSync(SESSIONS);
  const objects = entries.filter((f) => !f.startsWith('.'));
  const torn: string[] = [];
  for (const f of objects) {
    const p = path.join(SESSIONS, f);
    try {
      if (!f.endsWith('.json') || !statSync(p).isFile()) throw new Error('not an object file');
      JSON.parse(readFileSync(p, 'utf8'));
    } catch (e) {
      torn.push(`${f}: ${(e as Error).message}`);
    }
  }
  const litter = entries.filter((f) => f.startsWith('.'));
  process.stdout.write(`# crash: store: ${objects.length} object files, ${litter.length} temp/lock files left by killed writers${litter.length ? ` (${litter.slice(0, 5).join(', ')})` : ''}\n`);
  const quarantined = doshd
    .logText()
    .split('\n')
    .filter((l) => /quarantine/i.test(l));
  const listed = await doshctl('get', 'sessions', '-o', 'json');
  assert.equal(listed.code, 0, listed.stderr);
  const items = (JSON.parse(listed.stdout.toString()) as { items: unknown[] }).items.length;
  const ours = objects.filter((f) => USERS.some((u) => new RegExp(`^${u}-[0-9a-f]+\\.json$`).test(f))).length;

  assert.deepEqual(problems, [], 'every login ran with exactly its output or failed with a clear message');
  assert.deepEqual(liveAfter, [], 'no session is left live once every su has returned');
  assert.deepEqual(leftContainers, [], 'no container of the test users outlives the idle timeout');
  assert.deepEqual(torn, [], 'every file in the store is a whole JSON object');
  assert.deepEqual(quarantined, [], 'doshd never quarantined a store object');
  assert.equal(items, objects.length, 'doshctl lists as many sessions as there are object files');
  assert.equal(ours, loginsStarted, 'one session object per login: none lost, none doubled');
  assert.ok(pidAlive(doshd.pid) && (await readyz()), 'doshd is running and ready');
});

test(`the Docker engine restarted during a burst of first logins, ${ENGINE_ROUNDS} times: every login runs or fails clearly, doshd recovers without a restart, and every user logs in again`, { timeout: 10 * 60_000 }, async () => {
  // IDLETIMEOUT=0 (the original DoSH's default): a container is never collected, so only doshd itself can repair
  // what the restart left behind (the policy is hot-reloaded; doshd keeps its pid).
  const statusFile = `${STORE}/policy-status.json`;
  const loadedAt = () => (JSON.parse(readFileSync(statusFile, 'utf8')) as { loaded: boolean; loadedAt?: string }).loadedAt;
  const before = loadedAt();
  doshd.setPolicy(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`);
  await until('doshd to load the policy with IDLETIMEOUT=0', () => loadedAt() !== before, 20_000);
  const pid = doshd.pid;
  const problems: string[] = [];
  for (let round = 1; round <= ENGINE_ROUNDS; round++) {
    // First logins: the restart lands while containers are being created and started.
    await until('no live session of the test users', () => liveTestSessions().length === 0, 30_000);
    const ids = testContainerIds();
    removeContainersOf(...USERS);
    await killOrphanShims(ids);
    const b = await burstUnder(`engine round ${round}`, problems, restartEngine);
    process.stdout.write(
      `# crash: engine round ${round}: engine stopped at ${Math.round(b.faultMs)} ms (drawn ${b.drawnMs}), all spawned at ${Math.round(b.spawnedMs)} ms, answering again at ${Math.round(b.backMs)} ms, burst done at ${Math.round(b.tookMs)} ms: ${b.ok} succeeded, ${b.failed} failed${b.failures}\n`,
    );
    if (doshd.pid !== pid || !pidAlive(pid)) assert.fail(`doshd (pid ${pid}) died during engine round ${round}`);
    if (!(await until('doshd to be ready again', () => readyz(), 30_000).catch(() => false))) problems.push(`engine round ${round}: doshd not ready 30 s after the engine came back`);

    // Every user logs in again with the same doshd, retrying as a person would (every 2 s, for a minute).
    const t1 = performance.now();
    const recovery = await Promise.all(
      USERS.map(async (user) => {
        const seen = new Map<string, number>();
        for (let attempt = 1; performance.now() - t1 < 60_000; attempt++) {
          const r = await su(user, `echo back-${user}`);
          if (r.code === 0 && r.stdout.toString() === `back-${user}\n`) return { user, ok: true, attempt, seen, state: '' };
          seen.set(kind(r.stderr), (seen.get(kind(r.stderr)) ?? 0) + 1);
          await sleep(2000);
        }
        const state = spawnSync('docker', ['inspect', '-f', '{{.State.Status}} {{.State.Error}}', `dosh-${user}`], { encoding: 'utf8' }).stdout.trim();
        return { user, ok: false, attempt: 0, seen, state };
      }),
    );
    for (const x of recovery.filter((x) => x.seen.size)) {
      process.stdout.write(`# crash: engine round ${round}: ${x.user} ${x.ok ? `logged in again at attempt ${x.attempt}` : `could not log in for 60 s (container: ${x.state})`}; failed attempts: ${[...x.seen].map(([k, c]) => `${c}x ${JSON.stringify(k)}`).join(', ')}\n`);
    }
    process.stdout.write(`# crash: engine round ${round}: ${recovery.filter((x) => x.ok).length}/${USERS.length} users logged in again within ${((performance.now() - t1) / 1000).toFixed(1)} s\n`);
    for (const x of recovery.filter((x) => !x.ok)) problems.push(`engine round ${round}: ${x.user} could not log in again for 60 s: ${[...x.seen.keys()].join(' | ')} (container: ${x.state})`);
  }
  assert.deepEqual(problems, [], 'every login ran or failed clearly, and every user logs in again after each engine restart with the same doshd');
  assert.equal(doshd.pid, pid, 'doshd was not restarted');
  const live = await until('no live session of the test users', () => liveTestSessions().length === 0, 30_000).then(
    () => [],
    () => liveTestSessions().map((s) => `${s.metadata.name} ${s.status.phase}`),
  );
  assert.deepEqual(live, [], 'no session is left live');
});
