// The audit log through real logins (the test sshd, su): a JSON line at each login's start and end with what the
// issue asks (client address, image, command, tty, exit status, bytes, duration), refusals by admission and those
// made before any session exists, and a log moved away by logrotate or reopened on SIGHUP.
// needs: docker busybox dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, asUserScript, BUSYBOX, Doshd, doshctl, endSuite, removeContainersOf, sh, ssh, until } from './harness.ts';
import { INSTALLED } from '../lib/installed.ts';

const U = 'dta-ute';
const R = 'dta-rafe';
const dir = mkdtempSync(path.join(tmpdir(), 'dta-'));
const LOG = path.join(dir, 'audit', 'audit.log');
const POLICY = `CONTAINERIMAGE=${BUSYBOX}
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /home/$USER:/home/$USER -w /home/$USER
IDLETIMEOUT=0
`;
let doshd: Doshd;

type Line = Record<string, unknown>;
const lines = (f = LOG): Line[] => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) : []);
const uidOf = (u: string) => Number(sh(`id -u ${u}`));

before(async () => {
  for (const u of [U, R]) {
    addUser(u);
    removeContainersOf(u);
  }
  doshd = await new Doshd(POLICY, ['--audit-log', LOG, '--login-burst', '4', '--login-rate', '0.01']).start();
});

after(async () => {
  await doshctl('uncordon');
  await endSuite(doshd, [U, R]);
  rmSync(dir, { recursive: true, force: true });
});

test('a login through sshd: one line at its start and one at its end, with her client, image, command, status, bytes and duration', async () => {
  const r = await ssh(U, 'echo hello; sleep 1; exit 3');
  assert.equal(r.code, 3, r.stderr);
  const mine = await until('the end of the login in the audit log', () => {
    const l = lines().filter((x) => x.user === U);
    return l.some((x) => x.event === 'end') ? l : undefined;
  });
  assert.deepEqual(mine.map((l) => l.event), ['start', 'end']);
  const [start, end] = mine;
  assert.equal(start.session, end.session);
  for (const l of mine) {
    assert.equal(l.node, sh('hostname').trim());
    assert.equal(l.uid, uidOf(U));
    assert.match(String(l.sshClient), /^127\.0\.0\.1 \d+$/);
    assert.equal(l.image, BUSYBOX);
    assert.equal(l.container, `dosh-${U}`);
    assert.equal(l.command, 'echo hello; sleep 1; exit 3');
    assert.equal(l.tty, false);
    assert.ok(!Number.isNaN(Date.parse(String(l.time))));
  }
  assert.equal(end.exitCode, 3);
  assert.equal(end.reason, 'Exited');
  assert.equal(end.bytesOut, 'hello\n'.length);
  assert.equal(end.bytesIn, 0);
  assert.ok(Number(end.durationSeconds) >= 1 && Number(end.durationSeconds) < 30, String(end.durationSeconds));
  assert.equal(statSync(LOG).mode & 0o777, 0o600, 'root-only');
});

test('refusals: by admission (cordoned, with its session), and before any session exists (bad options, her rate)', async () => {
  assert.equal((await doshctl('cordon', '--message', 'audit test maintenance')).code, 0);
  const c = await ssh(U, 'true');
  assert.notEqual(c.code, 0);
  assert.equal((await doshctl('uncordon')).code, 0);
  const cordoned = await until('the cordon refusal', () => lines().find((l) => l.user === U && l.reason === 'Cordoned'));
  assert.equal(cordoned.event, 'refusal');
  assert.equal(cordoned.message, 'audit test maintenance');
  assert.match(String(cordoned.session), new RegExp(`^${U}-`));

  const bad = await asUserScript(U, `${INSTALLED.dosh} --rcfile x -c true`);
  assert.equal(bad.code, 2, bad.stderr);
  const badLine = await until('the bad request', () => lines().find((l) => l.reason === 'BadRequest' && l.uid === uidOf(U)));
  assert.equal(badLine.event, 'refusal');
  assert.equal(badLine.session, undefined, 'refused before any session object');
  assert.match(String(badLine.message), /--rcfile: invalid option/);

  // --login-burst 4: the fifth of her logins at once is refused for its rate.
  const codes = await Promise.all([1, 2, 3, 4, 5, 6].map(() => ssh(R, 'true').then((x) => x.code)));
  assert.ok(codes.filter((x) => x !== 0).length >= 1, `some refused: ${codes}`);
  const limited = await until('the rate refusal', () => lines().find((l) => l.user === R && l.reason === 'RateLimited'));
  assert.deepEqual([limited.event, limited.uid, limited.session], ['refusal', uidOf(R), undefined]);
  assert.match(String(limited.sshClient), /^127\.0\.0\.1 /);
});

test('rotation: a log moved away (logrotate) is followed by a new file; SIGHUP reopens it by its name', async () => {
  renameSync(LOG, `${LOG}.1`);
  assert.equal((await ssh(U, 'true')).code, 0);
  await until('a new audit log after the move', () => lines().some((l) => l.user === U && l.event === 'end'));
  assert.ok(lines(`${LOG}.1`).length > 0, 'the moved file kept what it had');
  // copytruncate-style rotation keeps the name; SIGHUP is how a rotation that keeps the inode is told.
  renameSync(LOG, `${LOG}.2`);
  doshd.kill('SIGHUP');
  assert.equal((await ssh(U, 'true')).code, 0);
  await until('the log after SIGHUP', () => lines().some((l) => l.user === U && l.event === 'end'));
});
