// Integration tests of the directory store against the real filesystem and real, separate writer processes:
// optimistic concurrency across processes, writers killed with SIGKILL, stale-lock breaking, quarantine of corrupt
// files, sweep, watch, and a store on a read-only mount or on a full filesystem. No fakes, no timed assertions:
// every wait polls a condition until a deadline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Session } from '../../api/session.ts';
import { ConflictError, NotFoundError } from '../../lib/errors.ts';
import { processStartTime } from '../../lib/proc.ts';
import type { DirStore } from '../../store/dirstore.ts';
import { sessionStore } from '../../store/sessions.ts';
import { counterOf, incremented, newSession } from './fixtures/session.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const WORKER = path.join(import.meta.dirname, 'fixtures', 'store-worker.ts');
const TOP = fs.mkdtempSync(path.join(tmpdir(), 'dosh-store-it-'));
const mounts: string[] = [];
const children = new Set<ChildProcess>();

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Lazy unmount: a store bug may leave a file descriptor open on a mount (see the full-filesystem tests).
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  fs.rmSync(TOP, { recursive: true, force: true });
});

interface LogLine {
  msg: string;
  fields?: Record<string, unknown>;
}

function newStore(name: string, opts: { lockWaitMs?: number; root?: string } = {}): { store: DirStore<Session>; root: string; logs: LogLine[] } {
  const root = opts.root ?? fs.mkdtempSync(path.join(TOP, `${name}-`));
  const logs: LogLine[] = [];
  const store = sessionStore(root, { log: (msg, fields) => logs.push({ msg, fields }), lockWaitMs: opts.lockWaitMs });
  store.init();
  return { store, root, logs };
}

function dotFiles(dir: string, prefix: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith(prefix));
}

/** Polls `cond` until it holds or the deadline passes (then fails with `what`). */
async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Worker {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(...args: string[]): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function runWorker(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const w = startWorker(...args);
  const { code, signal } = await w.exited;
  assert.equal(code, 0, `worker ${args.join(' ')} exited ${code ?? signal}: ${w.stderr()}`);
  return { stdout: w.stdout(), stderr: w.stderr() };
}

/** The on-disk object, parsed and validated the strict way (not through the store, which would quarantine it). */
function readRaw(store: DirStore<Session>, name: string): Session {
  const text = fs.readFileSync(path.join(store.dir, `${name}.json`), 'utf8');
  return Session.parse(JSON.parse(text));
}

/** A (pid, start time) pair of a real process that has exited and been reaped. */
async function deadProcessIdentity(): Promise<{ pid: number; start: string }> {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  const start = processStartTime(c.pid!);
  assert.ok(start, 'start time of a live process');
  const gone = new Promise((r) => c.on('exit', r));
  c.kill('SIGKILL');
  await gone;
  return { pid: c.pid!, start };
}

describe('optimistic concurrency across processes', () => {
  test('8 processes x 200 read-modify-write increments through mutate(): exactly 1600, no lost update', { timeout: 120_000 }, async () => {
    const { store, logs } = newStore('cas');
    store.create(newSession('counter'));
    const outs = await Promise.all(Array.from({ length: 8 }, () => runWorker('incr', path.dirname(store.dir), 'counter', '200')));
    for (const o of outs) assert.match(o.stdout, /^done \d+$/m);
    const final = store.get('counter');
    assert.ok(final);
    assert.equal(counterOf(final), 1600);
    // Every successful update bumps resourceVersion once: 1 at create + 1600 updates.
    assert.equal(final.metadata.resourceVersion, '1601');
    assert.deepEqual(logs, []);
    assert.deepEqual(dotFiles(store.dir, '.'), [], 'no temp or lock file left behind by finished writers');
  });

  test('a dead writer\'s lock broken by several waiting writers at once admits only one of them: no lost update', { timeout: 120_000 }, async () => {
    // Whenever the lock is free, plant one that a SIGKILLed writer would leave (a pid that no longer runs). The
    // waiting writers must break it, but breaking must stay exclusive: read-owner / check-dead / unlink is not atomic,
    // so a writer that read the stale owner can unlink the fresh lock another writer has just taken in its place.
    const { store } = newStore('stale-race');
    store.create(newSession('counter'));
    const dead = await deadProcessIdentity();
    const lock = path.join(store.dir, '.lock-counter');
    let planted = 0;
    const planter = setInterval(() => {
      try {
        const fd = fs.openSync(lock, 'wx', 0o600);
        fs.writeSync(fd, `${dead.pid} ${dead.start}`);
        fs.closeSync(fd);
        planted++;
      } catch {
        // Held by a live writer right now.
      }
    }, 1);
    try {
      await Promise.all(Array.from({ length: 8 }, () => runWorker('incr', path.dirname(store.dir), 'counter', '100')));
    } finally {
      clearInterval(planter);
    }
    assert.ok(planted > 0, 'the test planted stale locks');
    const final = store.get('counter');
    assert.ok(final);
    assert.equal(counterOf(final), 800, `lost ${800 - counterOf(final)} of 800 updates while breaking ${planted} stale locks`);
  });
});

describe('writers killed with SIGKILL', () => {
  test('a writer killed at random moments never leaves a torn object, and its lock never blocks the next writer', { timeout: 180_000 }, async (t) => {
    const { store, logs } = newStore('kill9');
    store.create(newSession('obj'));
    const root = path.dirname(store.dir);
    let lastRv = 1;
    let locksLeft = 0;
    const tempsLeft = new Set<string>();
    for (let round = 0; round < 20; round++) {
      const w = startWorker('loop', root, 'obj');
      await until(`writer ${w.child.pid} ready (stderr: ${w.stderr()})`, () => w.stdout().includes('ready'));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      w.child.kill('SIGKILL');
      const { signal } = await w.exited;
      assert.equal(signal, 'SIGKILL', `round ${round}: worker ended by SIGKILL (stderr: ${w.stderr()})`);

      // The file on disk is a whole, valid object, and it agrees with itself: one increment per resourceVersion.
      const raw = readRaw(store, 'obj');
      const rv = Number(raw.metadata.resourceVersion);
      assert.ok(rv >= lastRv, `round ${round}: resourceVersion went backwards (${lastRv} -> ${rv})`);
      assert.equal(counterOf(raw), rv - 1, `round ${round}: counter and resourceVersion disagree (lost update)`);

      const lock = path.join(store.dir, '.lock-obj');
      if (fs.existsSync(lock)) {
        locksLeft++;
        const owner = fs.readFileSync(lock, 'utf8');
        if (owner === '') {
          // Killed between creating the lock and writing its owner: by design only an empty lock older than 5 s is
          // broken, so age it rather than wait.
          const old = new Date(performance.now() - 10_000);
          fs.utimesSync(lock, old, old);
        } else {
          assert.match(owner, new RegExp(`^${w.child.pid} \\d+$`), `round ${round}: the lock left behind is the killed writer's`);
        }
      }
      for (const f of dotFiles(store.dir, '.tmp-')) tempsLeft.add(f);

      // The next writer gets through within the default lock wait (a stale lock would make this a ConflictError).
      const cur = store.get('obj');
      assert.ok(cur, `round ${round}: get() returns the object`);
      const next = store.update(incremented(cur));
      assert.equal(next.metadata.resourceVersion, String(rv + 1));
      assert.ok(!fs.existsSync(lock), `round ${round}: the stale lock is gone after the update`);
      lastRv = rv + 1;
    }
    t.diagnostic(`20 kills: ${locksLeft} left a lock behind, ${tempsLeft.size} temp files left behind; final resourceVersion ${lastRv}`);
    assert.deepEqual(logs, [], 'nothing was ever quarantined');
    // What the killed writers left is swept.
    store.sweep(-1);
    assert.deepEqual(dotFiles(store.dir, '.'), []);
    const final = store.get('obj');
    assert.ok(final);
    assert.equal(counterOf(final), Number(final.metadata.resourceVersion) - 1);
  });

  test('a lock whose owner (pid + start time) has exited is broken at once', async () => {
    const { store } = newStore('deadlock');
    const obj = store.create(newSession('obj'));
    const dead = await deadProcessIdentity();
    fs.writeFileSync(path.join(store.dir, '.lock-obj'), `${dead.pid} ${dead.start}`);
    const next = store.update(incremented(obj));
    assert.equal(next.metadata.resourceVersion, '2');
    assert.ok(!fs.existsSync(path.join(store.dir, '.lock-obj')));
  });

  test('a lock whose pid runs but with another start time (pid reused) is broken', () => {
    const { store } = newStore('reused');
    const obj = store.create(newSession('obj'));
    const real = processStartTime(process.pid);
    fs.writeFileSync(path.join(store.dir, '.lock-obj'), `${process.pid} ${Number(real) + 12345}`);
    assert.equal(store.update(incremented(obj)).metadata.resourceVersion, '2');
  });

  test('a lock held by a live process is respected: ConflictError after the lock wait, lock untouched', () => {
    const { store } = newStore('live', { lockWaitMs: 200 });
    const obj = store.create(newSession('obj'));
    const lock = path.join(store.dir, '.lock-obj');
    const owner = `${process.pid} ${processStartTime(process.pid)}`;
    fs.writeFileSync(lock, owner);
    assert.throws(() => store.update(incremented(obj)), ConflictError);
    assert.equal(fs.readFileSync(lock, 'utf8'), owner);
    assert.equal(readRaw(store, 'obj').metadata.resourceVersion, '1');
    fs.rmSync(lock);
    assert.equal(store.update(incremented(obj)).metadata.resourceVersion, '2');
  });

  test('an EMPTY lock (owner died between open and write) is kept while fresh and broken once older than 5 s', () => {
    const { store } = newStore('empty-lock', { lockWaitMs: 200 });
    const obj = store.create(newSession('obj'));
    const lock = path.join(store.dir, '.lock-obj');
    fs.writeFileSync(lock, '');
    assert.throws(() => store.update(incremented(obj)), ConflictError, 'a fresh empty lock may still be being written');
    assert.ok(fs.existsSync(lock));
    // 3 s old: still within the grace period.
    execFileSync('touch', ['-d', '3 seconds ago', lock]);
    assert.throws(() => store.update(incremented(obj)), ConflictError);
    assert.ok(fs.existsSync(lock));
    // 10 s old: its owner is gone.
    execFileSync('touch', ['-d', '10 seconds ago', lock]);
    assert.equal(store.update(incremented(obj)).metadata.resourceVersion, '2');
    assert.ok(!fs.existsSync(lock));
  });
});

describe('create and update conflicts', () => {
  test('create() of an existing name throws ConflictError and leaves the original intact', () => {
    const { store } = newStore('dup');
    const orig = store.create(newSession('dup', 7));
    const before = fs.readFileSync(path.join(store.dir, 'dup.json'));
    const other = newSession('dup', 99);
    other.spec.user = 'mallory';
    assert.throws(() => store.create(other), ConflictError);
    assert.deepEqual(fs.readFileSync(path.join(store.dir, 'dup.json')), before, 'byte-identical');
    assert.deepEqual(store.get('dup'), orig);
    assert.deepEqual(dotFiles(store.dir, '.'), [], 'no temp file left behind');
  });

  test('update() with a stale resourceVersion throws ConflictError and changes nothing', () => {
    const { store } = newStore('stale');
    const v1 = store.create(newSession('obj'));
    const v2 = store.update(incremented(v1));
    assert.equal(v2.metadata.resourceVersion, '2');
    assert.throws(() => store.update(incremented(incremented(v1))), ConflictError);
    assert.deepEqual(store.get('obj'), v2);
    assert.deepEqual(dotFiles(store.dir, '.'), []);
    // The server owns uid, creationTimestamp and resourceVersion: a writer cannot rewrite them.
    const v3 = store.update({ ...incremented(v2), metadata: { ...incremented(v2).metadata, uid: 'forged', creationTimestamp: '1970-01-01T00:00:00.000Z' } });
    assert.equal(v3.metadata.uid, v1.metadata.uid);
    assert.equal(v3.metadata.creationTimestamp, v1.metadata.creationTimestamp);
    assert.equal(v3.metadata.resourceVersion, '3');
  });

  test('update() and mutate() of a missing object throw NotFoundError', () => {
    const { store } = newStore('missing');
    const v1 = store.create(newSession('obj'));
    assert.equal(store.delete('obj'), true);
    assert.throws(() => store.update(incremented(v1)), NotFoundError);
    assert.throws(() => store.mutate('obj', incremented), NotFoundError);
    assert.equal(store.delete('obj'), false);
  });
});

describe('corrupt files', () => {
  const cases: [string, string][] = [
    ['garbage', '\u0000\u00ff{not json at all'],
    ['wrong-schema', JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'wrong-schema' } })],
    ['empty', ''],
  ];

  test('list() quarantines garbage, wrong-schema and empty files into ROOT/quarantine, logs each, and returns the rest', () => {
    const { store, root, logs } = newStore('corrupt-list');
    const good = store.create(newSession('good'));
    for (const [name, text] of cases) fs.writeFileSync(path.join(store.dir, `${name}.json`), text);
    let listed: Session[] = [];
    assert.doesNotThrow(() => (listed = store.list()));
    assert.deepEqual(listed, [good]);
    assert.deepEqual(fs.readdirSync(store.dir).sort(), ['good.json']);
    const q = fs.readdirSync(path.join(root, 'quarantine'));
    for (const [name, text] of cases) {
      const f = q.find((n) => n.startsWith(`${name}.json.`));
      assert.ok(f, `${name} quarantined (have ${q.join(', ')})`);
      assert.equal(fs.readFileSync(path.join(root, 'quarantine', f), 'utf8'), text, `${name}: quarantined byte-for-byte`);
      const line = logs.find((l) => l.fields?.file === path.join(store.dir, `${name}.json`));
      assert.ok(line, `${name}: log callback called`);
      assert.equal(line.msg, 'quarantined a corrupt store object');
      assert.equal(line.fields?.quarantinedTo, path.join(root, 'quarantine', f));
      assert.ok(String(line.fields?.reason).length > 0);
    }
    assert.equal(logs.length, 3);
    // A second pass finds nothing more to do.
    assert.deepEqual(store.list(), [good]);
    assert.equal(logs.length, 3);
  });

  test('get() of a corrupt file returns undefined without throwing, and quarantines it', () => {
    const { store, root, logs } = newStore('corrupt-get');
    for (const [name, text] of cases) {
      fs.writeFileSync(path.join(store.dir, `${name}.json`), text);
      let got: Session | undefined = newSession('x') as Session;
      assert.doesNotThrow(() => (got = store.get(name)));
      assert.equal(got, undefined);
      assert.ok(!fs.existsSync(path.join(store.dir, `${name}.json`)));
    }
    assert.equal(logs.length, 3);
    assert.equal(fs.readdirSync(path.join(root, 'quarantine')).length, 3);
    // The name is free again.
    assert.equal(store.create(newSession('garbage')).metadata.resourceVersion, '1');
  });

  test('a stray file whose name is not a valid object name does not make list() throw', () => {
    // e.g. an admin's "Backup_Copy.json": list() must skip (or quarantine) it, not fail for every object.
    const { store } = newStore('stray');
    const good = store.create(newSession('good'));
    fs.writeFileSync(path.join(store.dir, 'Backup_Copy.json'), fs.readFileSync(path.join(store.dir, 'good.json')));
    let listed: Session[] = [];
    assert.doesNotThrow(() => (listed = store.list()));
    assert.deepEqual(listed, [good]);
  });
});

describe('sweep', () => {
  test('sweep() removes old temp and lock files but not fresh ones, nor objects', () => {
    const { store } = newStore('sweep');
    store.create(newSession('obj'));
    const files = { oldTmp: '.tmp-obj-aaaaaaaaaaaa', oldLock: '.lock-obj', freshTmp: '.tmp-obj-bbbbbbbbbbbb', freshLock: '.lock-other' };
    for (const f of Object.values(files)) fs.writeFileSync(path.join(store.dir, f), 'x');
    const old = new Date(performance.now() - 10 * 60_000);
    for (const f of [files.oldTmp, files.oldLock, 'obj.json']) fs.utimesSync(path.join(store.dir, f), old, old);
    assert.equal(store.sweep(60_000), 2);
    assert.deepEqual(fs.readdirSync(store.dir).sort(), [files.freshLock, files.freshTmp, 'obj.json'].sort());
    assert.ok(store.get('obj'));
    assert.equal(store.sweep(60_000), 0);
  });
});

describe('watch', () => {
  test('watch() reports objects created, updated and deleted by another process', { timeout: 60_000 }, async () => {
    const { store } = newStore('watch');
    const root = path.dirname(store.dir);
    const seen: string[] = [];
    const stop = store.watch((name) => seen.push(name));
    try {
      await runWorker('create', root, 'from-child');
      await until('watch saw the create', () => seen.includes('from-child'));
      assert.ok(store.get('from-child'));
      assert.ok(!seen.some((n) => n.startsWith('.')), 'temp and lock files are not reported');

      seen.length = 0;
      await runWorker('incr', root, 'from-child', '1');
      await until('watch saw the update', () => seen.includes('from-child'));
      assert.equal(counterOf(store.get('from-child')!), 1);

      seen.length = 0;
      execFileSync(process.execPath, ['-e', `require('node:fs').unlinkSync(${JSON.stringify(path.join(store.dir, 'from-child.json'))})`]);
      await until('watch saw the delete', () => seen.includes('from-child'));
      assert.equal(store.get('from-child'), undefined);
    } finally {
      stop();
    }
  });
});

describe('read-only store', () => {
  let mnt: string;
  let src: ReturnType<typeof newStore>;

  before(() => {
    src = newStore('ro-src');
    src.store.create(newSession('existing'));
    mnt = fs.mkdtempSync(path.join(TOP, 'ro-mnt-'));
    execFileSync('mount', ['--bind', path.dirname(src.store.dir), mnt]);
    mounts.push(mnt);
    execFileSync('mount', ['-o', 'remount,bind,ro', mnt]);
  });

  test('on a read-only bind mount (root ignores chmod), reads work and writes throw a clear error', () => {
    const logs: LogLine[] = [];
    const ro = sessionStore(mnt, { log: (msg, fields) => logs.push({ msg, fields }) });
    assert.equal(ro.get('existing')?.metadata.name, 'existing');
    assert.equal(ro.list().length, 1);
    assert.throws(() => ro.create(newSession('new')), (e: NodeJS.ErrnoException) => e.code === 'EROFS' && /read-only file system/.test(e.message));
    assert.throws(() => ro.update(incremented(ro.get('existing')!)), (e: NodeJS.ErrnoException) => e.code === 'EROFS');
    assert.deepEqual(fs.readdirSync(src.store.dir), ['existing.json']);
    assert.equal(src.store.create(newSession('new')).metadata.name, 'new', 'the writable view still works');
  });
});

describe('store on a full filesystem (64 KiB tmpfs)', () => {
  let root: string;
  let filler: string;
  let store: DirStore<Session>;
  let existing: Session;

  function fill(): void {
    const fd = fs.openSync(filler, 'a');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096, 0x55));
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
  }

  before(() => {
    root = fs.mkdtempSync(path.join(TOP, 'full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'dosh-it-full', root]);
    mounts.push(root);
    filler = path.join(root, 'filler');
    store = newStore('full', { root }).store;
    existing = store.create(newSession('existing'));
    fill();
  });

  test('create() throws a clear ENOSPC error and leaves no object', () => {
    assert.throws(
      () => store.create(newSession('new')),
      (e: NodeJS.ErrnoException) => e.code === 'ENOSPC' && /no space left on device/.test(e.message),
    );
    assert.ok(!fs.existsSync(path.join(store.dir, 'new.json')), 'no (partial) object');
    assert.equal(store.get('new'), undefined);
    assert.deepEqual(readRaw(store, 'existing'), existing, 'the existing object is untouched');
  });

  test('a failed create() leaves no temp file behind', () => {
    const before = dotFiles(store.dir, '.tmp-');
    assert.throws(() => store.create(newSession('new2')), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
    const left = dotFiles(store.dir, '.tmp-').filter((f) => !before.includes(f));
    assert.deepEqual(left, [], 'temp file of the failed create removed');
  });

  test('once space is freed, create() succeeds again', () => {
    fs.rmSync(filler);
    const created = store.create(newSession('new'));
    assert.equal(store.get('new')?.metadata.uid, created.metadata.uid);
    assert.equal(readRaw(store, 'new').metadata.uid, created.metadata.uid);
  });

  test('a failed update() leaves no lock and no open descriptor behind, and the next update succeeds once space is freed', () => {
    fill();
    assert.throws(() => store.update(incremented(existing)), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
    assert.deepEqual(readRaw(store, 'existing'), existing, 'the object is untouched');
    const openFds = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(root + '/');
      } catch {
        return false;
      }
    });
    assert.deepEqual(
      { locks: dotFiles(store.dir, '.lock-'), openFds },
      { locks: [], openFds: [] },
      'the failed update left its lock file (and the descriptor that opened it) behind',
    );
    fs.rmSync(filler);
    // Default lock wait (2 s); a lock left by the failed update would make this a ConflictError for 5 s.
    assert.equal(store.update(incremented(store.get('existing')!)).metadata.resourceVersion, '2');
  });
});
