// Interactive logins in a real terminal (tmux): prompt in the container, window size and resize, exit status,
// hang-ups ending the login's processes, and a kill -9 of doshd that a live session survives.
// needs: docker busybox dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { addUser, BUSYBOX, containerPids, Doshd, removeContainersOf, sh, ssh, sshOpts, storeSessions, su, Tmux, until, endSuite } from './harness.ts';

const U = 'dti-ivy';
let doshd: Doshd;
const POLICY = `CONTAINERIMAGE=${BUSYBOX}
CONTAINERCOMMAND=/bin/sh
DOCKERPARAMETERS=-v /home/$USER:/home/$USER -w /home/$USER -h box-$USER
IDLETIMEOUT=0
`;

before(async () => {
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(POLICY, ['--kill-grace', '2']).start();
});

after(async () => {
  await endSuite(doshd, [U]);
});

test('su - USER in a terminal: a prompt inside the container, stty size follows a resize, exit status kept', async () => {
  const t = new Tmux('dti-su').start(`su - ${U}`, 100, 30);
  try {
    await t.waitFor(/\$\s*$/m);
    t.send('echo "host=$(hostname) tty=$(tty)"');
    await t.waitFor(new RegExp(`host=box-${U} tty=/dev/pts/\\d+`));
    t.send('stty size');
    await t.waitFor(/^30 100$/m);
    await t.resizeSeen(120, 40);
    t.send('exit 5');
    assert.equal(await t.exitStatus(), 5);
  } finally {
    t.kill();
  }
});

test('no TTY is allocated when stdin is not a terminal (su -c under a script)', async () => {
  const r = await su(U, 'tty; echo rc=$?');
  assert.match(r.stdout.toString(), /not a tty\nrc=1\n/);
  assert.doesNotMatch(r.stderr, /input device is not a TTY/);
});

test('closing the terminal (SIGHUP) ends every process the login started in the container', async () => {
  const t = new Tmux('dti-hup').start(`su - ${U}`);
  await t.waitFor(/\$\s*$/m);
  t.send('sleep 3131 & sleep 3132');
  await until('the sleeps to run', () => containerPids(`dosh-${U}`, 'sleep 313').length === 2 || undefined);
  t.kill();
  await until('the sleeps to end', () => containerPids(`dosh-${U}`, 'sleep 313').length === 0, 10_000);
});

test('a dropped ssh connection without a TTY ends the remote command too', async () => {
  const client = spawn('ssh', [...sshOpts(), `${U}@127.0.0.1`, 'sleep 4141'], { stdio: 'ignore' });
  await until('the remote sleep to run', () => containerPids(`dosh-${U}`, 'sleep 4141').length === 1 || undefined);
  client.kill('SIGKILL');
  await until('the remote sleep to end', () => containerPids(`dosh-${U}`, 'sleep 4141').length === 0, 10_000);
  const s = await until('the session to be recorded as ended', () => storeSessions().find((x) => x.spec.user === U && x.status.phase === 'Failed' && x.status.reason === 'ClientGone'));
  assert.ok(s);
});

test('kill -9 of the login relay ends its processes and doshd ends the session (RelayGone)', async () => {
  const client = spawn('su', ['-', U, '-c', 'sleep 5151'], { stdio: 'ignore' });
  await until('the sleep to run', () => containerPids(`dosh-${U}`, 'sleep 5151').length === 1 || undefined);
  const relay = await until('her session', () => storeSessions().find((x) => x.spec.user === U && x.spec.command === 'sleep 5151' && x.status.phase === 'Running')?.spec.relay.pid);
  process.kill(relay, 'SIGKILL');
  await until('the sleep to end', () => containerPids(`dosh-${U}`, 'sleep 5151').length === 0, 10_000);
  const s = await until('the session to be ended', () => storeSessions().find((x) => x.spec.user === U && x.status.reason === 'RelayGone'));
  assert.equal(s.status.phase, 'Failed');
  client.kill();
});

test('kill -9 of doshd during an interactive session: the session goes on and finishes normally', async () => {
  const t = new Tmux('dti-k9').start(`su - ${U}`);
  try {
    await t.waitFor(/\$\s*$/m);
    doshd.kill('SIGKILL');
    await until('doshd to be gone', () => !sh(`ps -o stat= -p ${doshd.pid} || true`).trim().match(/^[^Z]/));
    t.send('echo still-$((40+2))');
    await t.waitFor(/^still-42$/m);
    await doshd.start();
    t.send('echo after-restart');
    await t.waitFor(/^after-restart$/m);
    t.send('exit 3');
    assert.equal(await t.exitStatus(), 3);
    const r = await ssh(U, 'echo next-login-works');
    assert.equal(r.stdout.toString(), 'next-login-works\n');
  } finally {
    t.kill();
  }
});
