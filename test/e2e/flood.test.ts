// A user who starts logins as fast as she can (hundreds through su, 40 at a time) gets clear RateLimited refusals
// beyond her burst, doshd stays healthy, and another user's logins during the flood all succeed. The other user's
// latency during the flood is printed for BENCHMARKS.md; it is not asserted (no timed assertions).
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { addUser, asUserScript, BUSYBOX, DOSH, Doshd, doshctl, METRICS_PORT, removeContainersOf, sessionsOf, sh, sleep, STORE, su, type Result, endSuite, until } from './harness.ts';

const FLOODER = 'dtf-flo';
const OTHER = 'dtf-oli';
const BIG = 'dtf-big';
const BURST = 10;
const RATE = 2;
let doshd: Doshd;

before(async () => {
  addUser(FLOODER);
  addUser(OTHER);
  addUser(BIG);
  removeContainersOf(FLOODER, OTHER, BIG);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\n`, ['--login-rate', String(RATE), '--login-burst', String(BURST)]).start();
});

after(async () => {
  await endSuite(doshd, [FLOODER, OTHER, BIG]);
});

test('a login flood by one user is refused beyond her burst with a clear message; another user still logs in', { timeout: 600_000 }, async () => {
  const TOTAL = 300;
  const PARALLEL = 40;
  const eventFiles = () => readdirSync(`${STORE}/events`).filter((f) => f.endsWith('.json')).length;
  // Her RateLimited event counts on from an earlier run's within the aggregation window (10 minutes): the difference counts.
  // An earlier run's event may still be there: only what the flood touched counts, by its count's growth.
  const rateLimited = async () => {
    const ev = await doshctl('events', '-o', 'json');
    type E = { metadata: { name: string }; reason: string; involvedObject: { name: string }; count: number; lastTimestamp: string };
    return (JSON.parse(ev.stdout.toString()) as { items: E[] }).items.filter((e) => e.reason === 'RateLimited' && e.involvedObject.name === FLOODER);
  };
  const countsBefore = new Map((await rateLimited()).map((e) => [e.metadata.name, e.count]));
  const eventsBefore = eventFiles();
  const t0 = performance.now();
  let started = 0;
  const flood: Result[] = [];
  const workers = Array.from({ length: PARALLEL }, async () => {
    while (started < TOTAL) {
      started++;
      flood.push(await su(FLOODER, 'echo in', { timeoutMs: 120_000 }));
    }
  });
  // The other user logs in now and then while the flood runs.
  const other: Result[] = [];
  const otherLogins = (async () => {
    await sleep(1000);
    for (let i = 0; i < 8; i++) {
      other.push(await su(OTHER, `echo other-${i}`, { timeoutMs: 120_000 }));
      await sleep(500);
    }
  })();
  await Promise.all([...workers, otherLogins]);
  const seconds = (performance.now() - t0) / 1000;

  assert.deepEqual(other.map((r) => [r.code, r.stdout.toString()]), other.map((_, i) => [0, `other-${i}\n`]), 'every login of the other user succeeded');
  const ok = flood.filter((r) => r.code === 0 && r.stdout.toString() === 'in\n');
  const limited = flood.filter((r) => r.code !== 0 && /dtf-flo is starting logins faster than this host allows \(10 at once, then 2 a second\); try again in \d+ s/.test(r.stderr));
  assert.equal(ok.length + limited.length, TOTAL, `every flood login either ran or was refused clearly: ${flood.filter((r) => !ok.includes(r) && !limited.includes(r)).map((r) => r.stderr).slice(0, 3).join(' | ')}`);
  assert.ok(limited.length > 0, 'the flood was limited');
  assert.ok(ok.length <= BURST + Math.ceil(RATE * seconds) + 1, `${ok.length} logins ran in ${seconds.toFixed(1)} s: more than the burst and the rate allow`);
  assert.ok((await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`)).ok, 'doshd is healthy');
  // The refusals are one counted event on her, not a file each: what was added comes from the logins that ran.
  const added = eventFiles() - eventsBefore;
  assert.ok(added <= 6 * (ok.length + other.length) + 5, `${added} event files for ${ok.length + other.length} logins that ran and ${limited.length} refused`);
  const touched = (await rateLimited()).filter((e) => e.count !== countsBefore.get(e.metadata.name));
  assert.equal(touched.length, 1, `one RateLimited event on her: ${JSON.stringify(touched)}`);
  assert.equal(touched[0].count - (countsBefore.get(touched[0].metadata.name) ?? 0), limited.length, 'counting every refusal');
  const ms = other.map((r) => r.ms).sort((a, b) => a - b);
  process.stdout.write(`# flood: ${TOTAL} logins of one user in ${seconds.toFixed(1)} s (${(TOTAL / seconds).toFixed(1)}/s), ${ok.length} ran, ${limited.length} refused; other user's logins p50 ${ms[Math.floor(ms.length / 2)].toFixed(0)} ms, max ${ms.at(-1)!.toFixed(0)} ms\n`);
});

/** doshd's resident memory in KiB. */
const doshdRss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${doshd.pid}/status`, 'utf8'))![1]);
const storeBytes = () => Number(sh(`du -sb ${STORE}`).split(/\s/)[0]);

test('150 logins carrying two 100 KB arguments of \\x01 each (1.2 MB as stored) are refused before anything is written: the store stays small, doshd\'s memory flat, another user logs in', { timeout: 600_000 }, async () => {
  const TOTAL = 150;
  const PARALLEL = 20;
  const script = `a=$(head -c 102400 /dev/zero | tr '\\0' '\\001'); exec ${DOSH} -c 'echo $#' x "$a" "$a"`;
  const warm = await su(BIG, 'echo warm');
  assert.equal(warm.stdout.toString(), 'warm\n', warm.stderr);
  await doshd.afterPasses(1);
  const rss0 = doshdRss();
  const store0 = storeBytes();
  let started = 0;
  const results: Result[] = [];
  const workers = Array.from({ length: PARALLEL }, async () => {
    while (started < TOTAL) {
      started++;
      results.push(await asUserScript(BIG, script, { timeoutMs: 120_000 }));
    }
  });
  let maxStore = store0;
  const sampling = (async () => {
    while (started < TOTAL) {
      maxStore = Math.max(maxStore, storeBytes());
      await sleep(100);
    }
  })();
  const other = await su(OTHER, 'echo other', { timeoutMs: 120_000 });
  await Promise.all([...workers, sampling]);
  assert.equal(other.stdout.toString(), 'other\n', `another user logs in during it: ${other.stderr}`);
  const refused = results.filter((r) => r.code !== 0 && /arguments too long \(\d{7} bytes as stored, at most 1048576\)/.test(r.stderr));
  assert.equal(refused.length, TOTAL, `every one refused, saying why: ${results.filter((r) => !refused.includes(r)).map((r) => `${r.code} ${r.stderr}`).slice(0, 3).join(' | ')}`);
  assert.ok(maxStore - store0 < 256 << 10, `the store grew by ${maxStore - store0} bytes at most during the flood: nothing of the arguments was written`);
  await doshd.afterPasses(2);
  const rss1 = doshdRss();
  assert.ok(rss1 - rss0 < 64 << 10, `doshd's memory stays flat: ${rss0} KiB before, ${rss1} KiB after`);
  assert.ok((await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`)).ok, 'doshd is healthy');
  process.stdout.write(`# argument flood: store +${maxStore - store0} bytes at most, doshd RSS ${rss0} -> ${rss1} KiB\n`);
});

test('logins just under the per-login bound (two 80 KB \\x01 arguments, 0.98 MB as stored) are held to her 8 MiB: past it StoreFull, the store holds each login\'s arguments once, and an ended session frees them', { timeout: 600_000 }, async () => {
  const script = `a=$(head -c 81920 /dev/zero | tr '\\0' '\\001'); exec ${DOSH} -c 'sleep 120' x "$a" "$a"`;
  const store0 = storeBytes();
  const results: Promise<Result>[] = [];
  // One at a time, within her burst, until she is refused: the order of admission is then known.
  let refusal: Result | undefined;
  for (let i = 0; i < 12 && !refusal; i++) {
    const p = asUserScript(BIG, script, { timeoutMs: 180_000 });
    const first = await Promise.race([p, sleep(4000).then(() => undefined)]);
    if (first) refusal = first;
    else results.push(p);
  }
  assert.ok(refusal, 'she was refused before 12 such logins');
  assert.match(refusal.stderr, /dtf-big's open sessions already hold \d+ bytes of arguments, and this login's \d+ would pass the 8388608 a user may/, refusal.stderr);
  assert.equal(results.length, 8, 'eight such logins fit in 8 MiB');
  // Each login's arguments are held once, in its session file (983,040 bytes of escapes and a few KiB of the rest).
  const files = sh(`find ${STORE} -type f -size +64k -printf '%s %P\\n'`).trim().split('\n').map((l) => l.split(' '));
  assert.equal(files.length, 8, `eight large files in the store: ${JSON.stringify(files)}`);
  for (const [size, name] of files) {
    assert.match(name, /^sessions\/dtf-big-[0-9a-f]+\.json$/);
    assert.ok(Number(size) > 983_040 && Number(size) < 983_040 + (16 << 10), `${name}: ${size} bytes`);
  }
  const other = await su(OTHER, 'echo other');
  assert.equal(other.stdout.toString(), 'other\n', other.stderr);
  // Ended by an administrator: the sessions drop their arguments, and she may log in with them again.
  const live = (await sessionsOf(BIG)).filter((x) => ['Pending', 'Ready', 'Running'].includes(x.status.phase)).map((x) => x.metadata.name);
  assert.equal(live.length, 8);
  const del = await doshctl('delete', 'session', ...live);
  assert.equal(del.code, 0, del.stderr.toString());
  await Promise.all(results);
  await until('the ended sessions to drop their arguments', () => storeBytes() - store0 < 512 << 10, 30_000);
  await doshd.afterPasses(1);
  const again = await asUserScript(BIG, script.replace('sleep 120', 'echo $#'), { timeoutMs: 60_000 });
  assert.equal(again.stdout.toString(), '2\n', again.stderr);
});
