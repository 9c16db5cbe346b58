// Fault injection on the store: /run/dosh read-only, full, or holding garbage. Each time a login either
// runs or fails with a clear message and a non-zero status, doshd keeps running and answering, and once the fault is
// removed the next login works with the same doshd.
// The store for this file is a small tmpfs mounted over /run/dosh before doshd starts (the helper's default store, so
// /etc/dosh/helper.conf needs no STORE=): remount,ro makes it read-only, a filler file makes it full. It hides the
// host's real store until `after` unmounts it.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { addUser, BUSYBOX, delUser, Doshd, doshctl, METRICS_PORT, pidAlive, removeContainersOf, sessionsOf, sh, STORE, stopAnyDoshd, su, until, type Result } from './harness.ts';

const U = 'dtq-quin';
const SESSIONS = `${STORE}/sessions`;
const QUARANTINE = `${STORE}/quarantine`;
const FILL = `${STORE}/dtq-fill`;
const HELPER_CONF = '/etc/dosh/helper.conf';
const STACK_FRAME = /at .*\(.*:\d+:\d+\)/;

let doshd: Doshd;
let mounted = false;
let helperConfBackup: { data: Buffer; mode: number } | undefined;

/** Whether this file's own small tmpfs is on top of the store (the test setup may have put another tmpfs under it). */
const ours = () => spawnSync('findmnt', ['-n', '-o', 'SOURCE', '--target', STORE], { encoding: 'utf8' }).stdout.trim().split('\n').pop() === 'dtq-store';

function umountStore(): void {
  for (let i = 0; i < 20 && ours(); i++) {
    if (spawnSync('umount', [STORE]).status !== 0) spawnSync('sleep', ['0.2']);
  }
  if (ours()) spawnSync('umount', ['-l', STORE]);
}

/** mount -o remount,MODE of the store; a remount,ro waits out a writer that has a file open (EBUSY). */
function remount(mode: 'ro' | 'rw'): void {
  let last = '';
  for (let i = 0; i < 50; i++) {
    const r = spawnSync('mount', ['-o', `remount,${mode}`, STORE], { encoding: 'utf8' });
    if (r.status === 0) return;
    last = r.stderr;
    spawnSync('sleep', ['0.1']);
  }
  throw new Error(`mount -o remount,${mode} ${STORE}: ${last}`);
}

before(async () => {
  if (existsSync(HELPER_CONF)) helperConfBackup = { data: readFileSync(HELPER_CONF), mode: statSync(HELPER_CONF).mode & 0o7777 };
  addUser(U);
  removeContainersOf(U);
  stopAnyDoshd(); // the doshd of the real store, which the mount is about to hide
  umountStore(); // one left by an earlier run that was killed
  mkdirSync(STORE, { recursive: true, mode: 0o700 });
  sh(`mount -t tmpfs -o size=1m,mode=0700 dtq-store ${STORE}`);
  mounted = true;
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--ended-retention', '3600']).start();
  const warm = await su(U, 'true');
  assert.equal(warm.code, 0, warm.stderr);
});

after(async () => {
  await doshd?.stop();
  restoreHelperConf();
  if (mounted) {
    spawnSync('mount', ['-o', 'remount,rw', STORE]);
    umountStore();
  }
  removeContainersOf(U);
  delUser(U);
  doshd?.cleanup();
});

function restoreHelperConf(): void {
  if (helperConfBackup) writeFileSync(HELPER_CONF, helperConfBackup.data, { mode: helperConfBackup.mode });
  else rmSync(HELPER_CONF, { force: true });
}

const out = (r: Result) => r.stdout.toString();
const describe = (r: Result) => `exit ${r.code} signal ${r.signal}, stdout ${JSON.stringify(out(r).slice(0, 300))}, stderr ${JSON.stringify(r.stderr.slice(0, 1000))}`;
const log = (msg: string) => process.stdout.write(`# store-faults: ${msg}\n`);

/** A clean failure: non-zero exit, a `dosh: ` message matching WHY, nothing on stdout, no stack trace. */
function assertFailsCleanly(r: Result, why: RegExp): void {
  assert.ok(r.code !== 0 && r.code !== null, `expected a failed login: ${describe(r)}`);
  assert.match(r.stderr, /^dosh: \S/m, describe(r));
  assert.match(r.stderr, why, describe(r));
  assert.equal(out(r), '', describe(r));
  assert.doesNotMatch(r.stderr, STACK_FRAME, `a stack trace reached the user: ${describe(r)}`);
}

async function assertDoshdUp(pid: number): Promise<void> {
  assert.equal(doshd.pid, pid, 'doshd was not restarted');
  assert.ok(pidAlive(pid), `doshd (pid ${pid}) died; log tail:\n${doshd.logText().split('\n').slice(-10).join('\n')}`);
  const health = await fetch(`http://127.0.0.1:${METRICS_PORT}/healthz`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => e);
  assert.ok(!(health instanceof Error) && health.ok, `doshd answers /healthz: ${health instanceof Error ? health.message : health.status}`);
  const ready = await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => e);
  assert.ok(!(ready instanceof Error) && ready.ok, `doshd answers /readyz: ${ready instanceof Error ? ready.message : `${ready.status} ${await ready.text()}`}`);
}

async function assertNextLoginWorks(pid: number, tag: string): Promise<void> {
  const r = await su(U, `echo ${tag}`);
  assert.equal(r.code, 0, describe(r));
  assert.equal(out(r), `${tag}\n`, describe(r));
  assert.equal(doshd.pid, pid, 'with the same doshd');
  assert.ok(pidAlive(pid));
}

/** Lets doshd finish what the last login left it to record (events, ends), so that a fault starts from quiet. */
async function settle(): Promise<void> {
  await until('no live session of the test user', async () => (await sessionsOf(U)).every((s) => !['Pending', 'Ready', 'Running'].includes(s.status.phase)), 20_000);
  await doshd.afterPasses(2);
}

test('a read-only store: logins fail at once saying so, a running login finishes, doshd keeps answering; remounted read-write, the next login works', { timeout: 120_000 }, async () => {
  const pid = doshd.pid;
  await settle();
  // A login that is running when the store goes read-only: its helper cannot record the end, which must not matter.
  const running = su(U, 'echo started; sleep 4; echo survived');
  const live = await until('the running login to be Running', async () => (await sessionsOf(U)).find((s) => s.status.phase === 'Running'), 20_000);
  remount('ro');
  try {
    for (let i = 0; i < 3; i++) {
      const r = await su(U, `echo ro-${i}`);
      assertFailsCleanly(r, /read-only file system/i);
      if (i === 0) log(`read-only: login refused in ${Math.round(r.ms)} ms: ${JSON.stringify(r.stderr.trim())}`);
    }
    const get = await doshctl('get', 'sessions');
    assert.equal(get.code, 0, `doshctl still lists sessions from a read-only store: ${get.stderr}`);
    await assertDoshdUp(pid);
    const r = await running;
    assert.equal(out(r), 'started\nsurvived\n', describe(r));
    assert.equal(r.code, 0, describe(r));
    assert.doesNotMatch(r.stderr, STACK_FRAME, describe(r));
    if (r.stderr.trim()) log(`the login that ran through the fault said on stderr: ${JSON.stringify(r.stderr.trim())}`);
    await doshd.afterPasses(2); // with its helper gone and the store unwritable
    await assertDoshdUp(pid);
  } finally {
    remount('rw');
  }
  await assertNextLoginWorks(pid, 'rw-again');
  // The login whose end could not be recorded is ended by doshd once it can write again.
  const ended = await until('the login that ran through the fault to be recorded as ended', async () => {
    const s = (await sessionsOf(U)).find((x) => x.metadata.name === live.metadata.name);
    return s && !['Pending', 'Ready', 'Running'].includes(s.status.phase) ? s : undefined;
  });
  log(`the session that ran through the fault ended as ${ended.status.phase}/${ended.status.reason}`);
});

test('a full store: logins fail at once naming the full disk, doshd keeps answering; with space freed, the next login works', { timeout: 120_000 }, async () => {
  const pid = doshd.pid;
  await settle();
  try {
    spawnSync('dd', ['if=/dev/zero', `of=${FILL}`, 'bs=4k'], { stdio: 'ignore' });
    log(`full: ${sh(`df -k ${STORE} | tail -1`).trim()}`);
    for (let i = 0; i < 3; i++) {
      const r = await su(U, `echo full-${i}`);
      assertFailsCleanly(r, /no space left on device/i);
      if (i === 0) log(`full: login refused in ${Math.round(r.ms)} ms: ${JSON.stringify(r.stderr.trim())}`);
    }
    await doshd.afterPasses(2);
    await assertDoshdUp(pid);
  } finally {
    rmSync(FILL, { force: true });
  }
  await assertNextLoginWorks(pid, 'space-again');
});

test('a store with room for the login\'s own object but not for doshd\'s answer: the login fails with a message, and the next one works once space is freed', { timeout: 120_000 }, async () => {
  const pid = doshd.pid;
  await settle();
  // A short LOGIN_TIMEOUT: doshd cannot write Ready, so the helper waits until it gives up.
  writeFileSync(`${HELPER_CONF}.dtq-new`, '# written by test/e2e/store-faults.test.ts\nLOGIN_TIMEOUT=6\n', { mode: 0o644 });
  renameSync(`${HELPER_CONF}.dtq-new`, HELPER_CONF);
  const before = new Set((await sessionsOf(U)).map((s) => s.metadata.name));
  try {
    spawnSync('dd', ['if=/dev/zero', `of=${FILL}`, 'bs=4k'], { stdio: 'ignore' });
    sh(`truncate -s -4096 ${FILL}`); // one page: the helper's Session object fits, nothing after it does
    const r = await su(U, 'echo nearly-full');
    assertFailsCleanly(r, /doshd|no space left on device/i);
    log(`nearly full: login failed after ${Math.round(r.ms)} ms: ${JSON.stringify(r.stderr.trim())}`);
    await assertDoshdUp(pid);
  } finally {
    rmSync(FILL, { force: true });
    restoreHelperConf();
  }
  await assertNextLoginWorks(pid, 'room-again');
  // The session the failed login left (if it could write one) is not left live.
  await until('the failed login\'s session to be ended', async () => (await sessionsOf(U)).filter((s) => !before.has(s.metadata.name)).every((s) => !['Pending', 'Ready', 'Running'].includes(s.status.phase)), 20_000);
  const enospc = doshd
    .logText()
    .split('\n')
    .filter((l) => /ENOSPC/.test(l));
  log(`doshd logged ${enospc.length} lines naming ENOSPC, e.g. ${JSON.stringify(enospc[0]?.slice(0, 300) ?? '')}`);
});

test('a store holding garbage (random bytes, half objects, a directory, a bad name, a symlink, stale temp and lock files): logins work, doshd quarantines and sweeps it and keeps answering', { timeout: 120_000 }, async () => {
  const pid = doshd.pid;
  await settle();
  const real = readdirSync(SESSIONS).find((f) => f.startsWith(`${U}-`))!;
  const text = readFileSync(path.join(SESSIONS, real), 'utf8');
  const garbage: Record<string, () => void> = {
    'dtq-bytes.json': () => writeFileSync(path.join(SESSIONS, 'dtq-bytes.json'), randomBytes(3000)),
    'dtq-half.json': () => writeFileSync(path.join(SESSIONS, 'dtq-half.json'), text.slice(0, text.length >> 1)),
    'dtq-empty.json': () => writeFileSync(path.join(SESSIONS, 'dtq-empty.json'), ''),
    'dtq-null.json': () => writeFileSync(path.join(SESSIONS, 'dtq-null.json'), 'null'),
    'dtq-dir.json': () => mkdirSync(path.join(SESSIONS, 'dtq-dir.json')),
    'DTQ Bad Name.json': () => writeFileSync(path.join(SESSIONS, 'DTQ Bad Name.json'), text),
    'dtq-link.json': () => symlinkSync('/etc/shadow', path.join(SESSIONS, 'dtq-link.json')),
  };
  const old = new Date(Date.now() - 10 * 60_000);
  const litter = ['.tmp-dtq-litter-abcdef', `.lock-${real.slice(0, -5)}`, `.lock-${real.slice(0, -5)}.break`];
  const logFrom = doshd.logText().length;
  for (const make of Object.values(garbage)) make();
  for (const f of litter) {
    writeFileSync(path.join(SESSIONS, f), randomBytes(64));
    utimesSync(path.join(SESSIONS, f), old, old);
  }
  try {
    for (let i = 0; i < 3; i++) {
      const r = await su(U, `echo garbage-${i}`);
      if (r.code === 0) assert.equal(out(r), `garbage-${i}\n`, describe(r));
      else assertFailsCleanly(r, /./);
      log(`garbage: login ${i}: ${r.code === 0 ? 'ran' : `failed: ${JSON.stringify(r.stderr.trim())}`} in ${Math.round(r.ms)} ms`);
    }
    await until('the garbage to be quarantined', () => Object.keys(garbage).every((f) => !existsSync(path.join(SESSIONS, f))), 20_000).catch(() => {
      assert.fail(`still in the store: ${Object.keys(garbage).filter((f) => existsSync(path.join(SESSIONS, f))).join(', ')}; doshd log tail:\n${doshd.logText().slice(logFrom).split('\n').slice(-8).join('\n')}`);
    });
    await until('stale temp and lock files to be swept', () => litter.every((f) => !existsSync(path.join(SESSIONS, f))), 20_000).catch(() => {
      assert.fail(`not swept: ${litter.filter((f) => existsSync(path.join(SESSIONS, f))).join(', ')}`);
    });
    const logged = doshd.logText().slice(logFrom);
    for (const f of Object.keys(garbage)) assert.ok(logged.split('\n').some((l) => /quarantined a corrupt store object/.test(l) && l.includes(f)), `doshd logged the quarantine of ${f}`);
    assert.ok(existsSync('/etc/shadow') && statSync('/etc/shadow').isFile(), 'the symlink was quarantined, not its target');
    assert.ok(readdirSync(QUARANTINE).some((f) => f.startsWith('dtq-link.json.')));
    const get = await doshctl('get', 'sessions');
    assert.equal(get.code, 0, get.stderr);
    await assertDoshdUp(pid);
  } finally {
    for (const f of [...Object.keys(garbage), ...litter]) rmSync(path.join(SESSIONS, f), { recursive: true, force: true });
  }
  await assertNextLoginWorks(pid, 'clean-again');
});

test('a FIFO named like a session object does not wedge doshd: it keeps answering, quarantines it, and logins work', { timeout: 120_000 }, async () => {
  const pid = doshd.pid;
  await settle();
  const fifo = path.join(SESSIONS, 'dtq-fifo.json');
  // Made beside the sessions directory and renamed in: doshd may quarantine it the moment it appears, before a
  // `mkfifo -m` in place has set its mode (which then fails).
  sh(`mkfifo -m 0600 ${STORE}/dtq-fifo.tmp && mv ${STORE}/dtq-fifo.tmp ${fifo}`);
  // Shorter than the helper's 30 s: if doshd is wedged, the login fails on the helper's timeout and says so.
  writeFileSync(`${HELPER_CONF}.dtq-new`, '# written by test/e2e/store-faults.test.ts\nLOGIN_TIMEOUT=8\n', { mode: 0o644 });
  renameSync(`${HELPER_CONF}.dtq-new`, HELPER_CONF);
  const problems: string[] = [];
  try {
    await doshd.afterPasses(3); // over the special files
    const health = await fetch(`http://127.0.0.1:${METRICS_PORT}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
      (x) => x.ok,
      () => false,
    );
    if (!health) problems.push('doshd stopped answering /healthz with a FIFO in the store');
    const r = await su(U, 'echo special');
    log(`special files: login exit ${r.code} in ${Math.round(r.ms)} ms${r.stderr.trim() ? `: ${JSON.stringify(r.stderr.trim())}` : ''}`);
    if (r.code !== 0 || out(r) !== 'special\n') problems.push(`a login failed: ${describe(r)}`);
    if (existsSync(fifo)) problems.push(`${fifo} was not quarantined`);
  } finally {
    restoreHelperConf();
    // A doshd blocked opening the FIFO is released by a writer; then the FIFO goes.
    if (existsSync(fifo)) spawnSync('timeout', ['2', 'sh', '-c', `: > ${fifo}`]);
    rmSync(fifo, { force: true });
  }
  await doshd.afterPasses(2);
  assert.deepEqual(problems, []);
  await assertDoshdUp(pid);
  await assertNextLoginWorks(pid, 'special-gone');
});
