// A user who starts logins as fast as she can (hundreds through su, 40 at a time) gets clear RateLimited refusals
// beyond her burst, doshd stays healthy, and another user's logins during the flood all succeed. The other user's
// latency during the flood is printed for BENCHMARKS.md; it is not asserted (no timed assertions).
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { addUser, BUSYBOX, Doshd, doshctl, METRICS_PORT, removeContainersOf, sleep, STORE, su, type Result, endSuite } from './harness.ts';

const FLOODER = 'dtf-flo';
const OTHER = 'dtf-oli';
const BURST = 10;
const RATE = 2;
let doshd: Doshd;

before(async () => {
  addUser(FLOODER);
  addUser(OTHER);
  removeContainersOf(FLOODER, OTHER);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\n`, ['--login-rate', String(RATE), '--login-burst', String(BURST)]).start();
});

after(async () => {
  await endSuite(doshd, [FLOODER, OTHER]);
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
