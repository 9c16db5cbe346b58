// The sysadmin's levers, end to end: doshctl lists and ends sessions, cordon refuses new logins with her message,
// policy limits on sessions are enforced with a clear message.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { addUser, BUSYBOX, containerPids, doshctl, Doshd, removeContainersOf, sleep, storeSessions, su, until, endSuite } from './harness.ts';

const U = 'dta-amy';
let doshd: Doshd;

before(async () => {
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\nMAXSESSIONS=2\n`, ['--kill-grace', '1']).start();
});

after(async () => {
  await doshctl('uncordon');
  await endSuite(doshd, [U]);
});

test('doshctl get sessions shows a live login; delete session ends it and tells the user', async () => {
  const out: Buffer[] = [];
  const login = spawn('su', ['-', U, '-c', 'echo started; sleep 7171'], { stdio: ['ignore', 'pipe', 'pipe'] });
  login.stderr.on('data', (d: Buffer) => out.push(d));
  const exited = new Promise<number | null>((r) => login.on('close', r));
  await until('the sleep to run', () => containerPids(`dosh-${U}`, 'sleep 7171').length === 1 || undefined);
  const list = await doshctl('get', 'sessions', '--user', U);
  const line = list.stdout.toString().split('\n').find((l) => l.includes('Running'));
  assert.ok(line, list.stdout.toString());
  const name = line.split(/\s+/)[0];
  const wide = await doshctl('get', 'sessions', name, '-o', 'json');
  assert.equal(JSON.parse(wide.stdout.toString()).spec.user, U);
  const del = await doshctl('delete', 'session', name);
  assert.equal(del.code, 0, del.stderr);
  assert.notEqual(await exited, 0);
  assert.match(Buffer.concat(out).toString(), /ended by an administrator/);
  await until('the sleep to end', () => containerPids(`dosh-${U}`, 'sleep 7171').length === 0);
  assert.equal(storeSessions().find((s) => s.metadata.name === name)?.status.reason, 'Deleted');
  assert.equal((await doshctl('delete', 'session', 'no-such-session')).code, 1);
});

test('an administrator\'s delete also ends what the login left running outside its tree (setsid, a subshell\'s background job, a trap that forks on SIGHUP); a login that ends by itself leaves such a job running', { timeout: 120_000 }, async () => {
  const script = 'setsid sleep 7301 & (sleep 7302 &); trap "sleep 7303 &" HUP; echo started; sleep 7300; wait';
  const login = spawn('su', ['-', U, '-c', script], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => login.on('close', r));
  // Exactly `sleep N`: the login's own shell has them all in its command line.
  const running = (n: number) => spawnSync('docker', ['top', `dosh-${U}`, '-eo', 'pid,args'], { encoding: 'utf8' }).stdout.split('\n').some((l) => l.trim().replace(/^\d+\s+/, '') === `sleep ${n}`);
  await until('the login and what it left to run', () => [7300, 7301, 7302].every(running) || undefined);
  const live = storeSessions().find((x) => x.spec.user === U && x.status.phase === 'Running');
  assert.ok(live, 'her session runs');
  const json = JSON.parse((await doshctl('get', 'sessions', live.metadata.name, '-o', 'json')).stdout.toString());
  assert.match(json.status.cgroup ?? '', new RegExp(`/dosh-${live.metadata.name}$`), 'the login has its own cgroup');
  const del = await doshctl('delete', 'session', live.metadata.name);
  assert.equal(del.code, 0, del.stderr);
  await exited;
  await until('every process the login started to end, in its tree or not', () => ![7300, 7301, 7302, 7303].some(running) || undefined, 20_000).catch((e: Error) => {
    const left = [7300, 7301, 7302, 7303].filter(running).map((n) => `sleep ${n}`);
    const where = spawnSync('docker', ['top', `dosh-${U}`, '-eo', 'pid,sess,args'], { encoding: 'utf8' }).stdout;
    throw new Error(`${e.message}: still running ${left.join(', ')} (login cgroup ${json.status.cgroup})\n${where}`);
  });

  const quiet = await su(U, 'setsid sleep 7401 & echo left');
  assert.equal(quiet.stdout.toString(), 'left\n', quiet.stderr);
  await until('its job to start', () => running(7401) || undefined);
  await sleep(3000);
  assert.ok(running(7401), 'a login that ended by itself leaves its job running (as nohup jobs between logins are)');
});

test('cordon refuses new logins with the message the sysadmin chose; existing sessions go on; uncordon', async () => {
  const login = spawn('su', ['-', U, '-c', 'sleep 7272'], { stdio: 'ignore' });
  await until('the sleep to run', () => containerPids(`dosh-${U}`, 'sleep 7272').length === 1 || undefined);
  await doshctl('cordon', '--message', 'maintenance until 14:00, sorry');
  const r = await su(U, 'true');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /maintenance until 14:00, sorry/);
  assert.equal(containerPids(`dosh-${U}`, 'sleep 7272').length, 1, 'the existing session is untouched');
  await doshctl('uncordon');
  assert.equal((await su(U, 'true')).code, 0);
  login.kill('SIGTERM');
  await until('the sleep to end', () => containerPids(`dosh-${U}`, 'sleep 7272').length === 0);
});

test('MAXSESSIONS refuses the session one too many, with a message', async () => {
  const a = spawn('su', ['-', U, '-c', 'sleep 7373'], { stdio: 'ignore' });
  const b = spawn('su', ['-', U, '-c', 'sleep 7374'], { stdio: 'ignore' });
  await until('two sessions', () => containerPids(`dosh-${U}`, 'sleep 737').length === 2 || undefined);
  const r = await su(U, 'true');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already has 2 sessions/);
  a.kill('SIGTERM');
  b.kill('SIGTERM');
  await until('the sleeps to end', () => containerPids(`dosh-${U}`, 'sleep 737').length === 0);
});

test('drain warns every logged-in user on her terminal, ends her session after the grace period, and cordons', async () => {
  await doshctl('uncordon');
  let stderr = '';
  const login = spawn('su', ['-', U, '-c', 'sleep 7575'], { stdio: ['ignore', 'ignore', 'pipe'] });
  login.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => login.on('close', r));
  await until('the sleep to run', () => containerPids(`dosh-${U}`, 'sleep 7575').length === 1 || undefined);
  const drain = doshctl('drain', '--message', 'kernel update at 15:00', '--grace-period', '2');
  await until('the warning on her terminal', () => /kernel update at 15:00; your session will be ended in 2 seconds/.test(stderr) || undefined);
  assert.notEqual(await exited, 0);
  assert.match(stderr, /ended by an administrator/);
  const d = await drain;
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout.toString(), /1 session ended/);
  const refused = await su(U, 'true');
  assert.match(refused.stderr, /kernel update at 15:00/);
  await doshctl('uncordon');
});
