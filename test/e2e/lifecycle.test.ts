// The user's container over time: shared by simultaneous first logins, collected after the idle timeout, and
// found again by a doshd restarted with kill -9 (all of its state is in labels and the store), and its idle time
// counted across a doshd restart.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { addUser, BUSYBOX, containerIds, Doshd, removeContainersOf, sh, sleep, STORE, storeSessions, su, until, endSuite } from './harness.ts';
import { idleClocksFile, readJsonFile } from '../../store/layout.ts';

const U = 'dtl-lou';
const V = 'dtl-vic';
const W = 'dtl-wyn'; // IDLETIMEOUT=8: time enough for doshd to stop before it could collect her container
let doshd: Doshd;

before(async () => {
  addUser(U);
  addUser(V);
  addUser(W);
  removeContainersOf(U, V, W);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=3\n\n[user:${V}]\nIDLETIMEOUT=0\n\n[user:${W}]\nIDLETIMEOUT=8\n`).start();
});

after(async () => {
  await endSuite(doshd, [U, V, W]);
});

test('20 simultaneous first logins of one user all succeed and share one container', async () => {
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => su(U, `echo ok-${i}; cat /proc/1/cgroup | grep -m1 -o 'docker/[0-9a-f]*'`)));
  const failures = rs.filter((r, i) => r.code !== 0 || !r.stdout.toString().startsWith(`ok-${i}\n`));
  assert.deepEqual(failures.map((r) => r.stderr), [], 'every login succeeded');
  const cgroups = new Set(rs.map((r) => r.stdout.toString().split('\n')[1]));
  assert.equal(cgroups.size, 1, 'all in one container');
  assert.equal(containerIds(`dosh.io/user=${U}`).length, 1);
});

test('logins of different users proceed in parallel, each in her own container', async () => {
  const [a, b] = await Promise.all([su(U, 'hostname'), su(V, 'hostname')]);
  assert.notEqual(a.stdout.toString(), b.stdout.toString());
  assert.equal(containerIds(`dosh.io/user=${V}`).length, 1);
});

test('an idle container is removed after IDLETIMEOUT; IDLETIMEOUT=0 keeps it', async () => {
  await until(`dosh-${U} to be collected`, () => containerIds(`dosh.io/user=${U}`).length === 0, 20_000);
  assert.equal(containerIds(`dosh.io/user=${V}`).length, 1, 'kept forever');
  const r = await su(U, 'echo back');
  assert.equal(r.stdout.toString(), 'back\n', 'the next login creates it again');
});

test('a doshd restarted after kill -9 rebuilds its state from the store and the engine', async () => {
  await su(U, 'true');
  doshd.kill('SIGKILL');
  const before = storeSessions().filter((s) => s.spec.user === U).length;
  await doshd.start();
  // The restarted doshd knows the container only by its labels, and still collects it once idle.
  await until(`dosh-${U} to be collected by the new doshd`, () => containerIds(`dosh.io/user=${U}`).length === 0, 20_000);
  assert.ok(storeSessions().filter((s) => s.spec.user === U).length >= Math.min(before, 1), 'ended sessions are still listed');
  assert.match(sh(`docker inspect -f '{{index .Config.Labels "dosh.io/managed"}}' dosh-${V}`), /true/);
});

test('a doshd restart does not start the idle timer again: stopped past IDLETIMEOUT, the new doshd counts the time it was away', { timeout: 60_000 }, async () => {
  await su(W, 'true');
  const clocks = () => readJsonFile<Record<string, number>>(idleClocksFile(STORE)) ?? {};
  const since = await until(`dosh-${W}'s idle clock to be saved`, () => clocks()[`dosh-${W}`], 10_000);
  const st = statSync(idleClocksFile(STORE));
  assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600], 'root-only');
  await doshd.stop();
  assert.equal(containerIds(`dosh.io/user=${W}`).length, 1, 'the stopped doshd had not collected it yet');
  const logBefore = doshd.logText().length;
  await sleep(10_000); // past IDLETIMEOUT=8 with no doshd running
  await doshd.start();
  await until(`dosh-${W} to be collected by the new doshd`, () => containerIds(`dosh.io/user=${W}`).length === 0, 20_000);
  const removed = doshd.logText().slice(logBefore).split('\n').filter((l) => l.includes('removed idle container') && l.includes(`dosh-${W}`)).map((l) => JSON.parse(l) as { idleSeconds: number });
  assert.equal(removed.length, 1, doshd.logText().slice(logBefore));
  // A timer started again by the restart would say 8 or 9 s: the new doshd counted from the saved clock.
  assert.ok(removed[0].idleSeconds >= 10, `idle for ${removed[0].idleSeconds} s counted from ${new Date(since).toISOString()}`);
  assert.equal(clocks()[`dosh-${W}`], undefined, 'the clock went with the container');
});

test('a container whose sessions were wiped from the store is kept while a login runs in it, then collected', async () => {
  const logBefore = doshd.logText().length;
  const login = su(U, 'echo started; sleep 8; echo finished');
  await until('the login to run', () => storeSessions().some((s) => s.spec.user === U && s.status.phase === 'Running') || undefined);
  // rm -f: doshd may delete an ended session's file at the same moment.
  sh(`rm -f ${STORE}/sessions/*.json`);
  // Past IDLETIMEOUT=3, the collector finds the login in it and keeps it.
  await until('doshd to keep the container a login runs in', () => doshd.logText().slice(logBefore).includes('kept an idle container where logins still run'), 10_000);
  assert.equal(containerIds(`dosh.io/user=${U}`).length, 1, 'kept: a login still runs in it');
  const r = await login;
  assert.equal(r.stdout.toString(), 'started\nfinished\n', r.stderr.toString());
  assert.equal(r.code, 0);
  await until(`dosh-${U} to be collected once the login ended`, () => containerIds(`dosh.io/user=${U}`).length === 0, 20_000);
});
