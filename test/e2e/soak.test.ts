// Soak: many logins in and out (commands, stdin scripts, concurrent bursts, a few interactive terminals), then
// nothing is left behind beyond the policy's idle set, and doshd's memory and descriptors did not grow without bound.
// DOSH_SOAK_LOGINS sets the count (default 1000); the figures it prints go to BENCHMARKS.md.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { addUser, BUSYBOX, containerIds, Doshd, removeContainersOf, run, sh, su, Tmux, until, RELAY_PROCESS, endSuite } from './harness.ts';

const LOGINS = Number(process.env.DOSH_SOAK_LOGINS ?? 1000);
const USERS = ['dts-a', 'dts-b', 'dts-c', 'dts-d', 'dts-e'];
const PARALLEL = 6;
let doshd: Doshd;

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
/** doshd's descriptors by kind (socket, pipe, anon_inode:[eventpoll], a path), for the log. */
const fdKinds = (pid: number) => {
  const kinds = new Map<string, number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let k = '?';
    try {
      k = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/:\[\d+\]$/, '');
    } catch {}
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
};
const storeLitter = () => readdirSync('/run/dosh/sessions').filter((f) => f.startsWith('.')).length;
const soakSessions = () => readdirSync('/run/dosh/sessions').filter((f) => USERS.some((u) => f.startsWith(`${u}-`))).length;
const relays = () => sh(`pgrep -c '${RELAY_PROCESS}' || true`).trim();

before(async () => {
  for (const u of USERS) addUser(u);
  removeContainersOf(...USERS);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=3\n`, ['--ended-retention', '2', '--log-level', 'warn']).start();
});

after(async () => {
  await endSuite(doshd, USERS);
});

async function oneLogin(i: number): Promise<void> {
  const user = USERS[i % USERS.length];
  if (i % 50 === 49) {
    const t = new Tmux(`dts-${i}`).start(`su - ${user}`);
    try {
      await t.waitFor(/\$\s*$/m);
      t.send(`echo tty-${i}; exit 4`);
      assert.equal(await t.exitStatus(), 4, `interactive login ${i}`);
    } finally {
      t.kill();
    }
  } else if (i % 5 === 0) {
    const r = await run('su', ['-', user], { input: `echo stdin-${i}\nexit ${i % 7}\n` });
    assert.equal(r.stdout.toString(), `stdin-${i}\n`, `stdin login ${i}: ${r.stderr}`);
    assert.equal(r.code, i % 7);
  } else {
    const r = await su(user, `echo cmd-${i}; exit ${i % 3}`);
    assert.equal(r.stdout.toString(), `cmd-${i}\n`, `command login ${i}: ${r.stderr}`);
    assert.equal(r.code, i % 3);
  }
}

test(`${LOGINS} logins in and out leave nothing behind and doshd stays bounded`, { timeout: 30 * 60_000 }, async () => {
  await su(USERS[0], 'true'); // warm up before the baseline
  const rss0 = rssKiB(doshd.pid);
  const fd0 = fds(doshd.pid);
  const t0 = performance.now();
  let next = 0;
  let rssHalf = 0;
  let fdHalf = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < LOGINS) {
        if (next === Math.floor(LOGINS / 2)) [rssHalf, fdHalf] = [rssKiB(doshd.pid), fds(doshd.pid)];
        await oneLogin(next++);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const rss1 = rssKiB(doshd.pid);
  await until('the soak users\' containers to be collected (idle timeout 3 s)', () => USERS.every((u) => containerIds(`dosh.io/user=${u}`).length === 0), 60_000);
  await until('their ended sessions to be deleted (retention 2 s)', () => soakSessions() === 0, 60_000);
  const rss2 = rssKiB(doshd.pid);
  const fd2 = fds(doshd.pid);
  console.log(
    `soak: ${LOGINS} logins (${PARALLEL} at a time) in ${seconds.toFixed(1)} s; doshd RSS ${(rss0 / 1024).toFixed(1)} MiB before, ` +
      `${(rssHalf / 1024).toFixed(1)} MiB half way, ${(rss1 / 1024).toFixed(1)} MiB right after, ${(rss2 / 1024).toFixed(1)} MiB once idle; fds ${fd0} -> ${fdHalf} half way -> ${fd2} (${fdKinds(doshd.pid)})`,
  );
  assert.equal(relays(), '0', 'no login relay left running');
  assert.equal(storeLitter(), 0, 'no temp or lock file left in the store');
  // A few more than at the start are the engine connections its HTTP agent keeps for the next logins (as many as ran at
  // once); a leak grows with the logins, so the second 500 must not add to what the first left.
  assert.ok(fd2 <= fdHalf + 3 && fd2 <= fd0 + PARALLEL + 4, `doshd descriptors ${fd0} -> ${fdHalf} half way -> ${fd2}`);
  // V8 grows its heap lazily, so RSS rises at first; a leak would keep rising at the same pace in the second half.
  assert.ok(rss1 - rssHalf <= rssHalf - rss0 + 16 * 1024, `doshd RSS kept growing: ${rss0} -> ${rssHalf} -> ${rss1} KiB`);
  assert.ok(rss2 < rss0 + 128 * 1024, `doshd RSS grew from ${rss0} to ${rss2} KiB`);
  for (const u of USERS) assert.equal(sh(`docker ps -aq --filter label=dosh.io/user=${u} | wc -l`).trim(), '0', `no container of ${u} left, stopped or not`);
});
