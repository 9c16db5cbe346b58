// Session recording (RECORDSESSIONS) of real terminal logins through the test sshd, in tmux: the asciicast file is
// root's, she cannot read it, `doshctl logs session` prints what her terminal showed (--follow live, --replay, -o
// asciicast the file), a window size change is recorded; a session without a terminal is not recorded; and a full
// disk ends the recording, never the login, with an event saying so.
// needs: docker busybox dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, asUserScript, BUSYBOX, Doshd, doshctl, endSuite, removeContainersOf, sessionsOf, sh, ssh, sshOpts, Tmux, until, type StoredSession } from './harness.ts';
import { INSTALLED } from '../lib/installed.ts';

const U = 'dtr-rex';
const dir = mkdtempSync(path.join(tmpdir(), 'dtr-'));
const REC = path.join(dir, 'recordings');
const SMALL = path.join(dir, 'small');
const POLICY = `CONTAINERIMAGE=${BUSYBOX}
CONTAINERCOMMAND=/bin/sh
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /home/$USER:/home/$USER -w /home/$USER
IDLETIMEOUT=0
RECORDSESSIONS=true
`;
let doshd: Doshd;

type Rec = StoredSession & { status: { recording?: { file: string; limit: number; stopped?: string } } };
const sshTty = () => ['ssh', '-tt', ...sshOpts(), `${U}@127.0.0.1`].join(' ');

/** A terminal login through sshd in tmux; `lines` typed at her prompt; returns its session once it has ended. */
async function terminal(name: string, lines: string[], during?: (s: Rec, t: Tmux) => Promise<void>): Promise<Rec & { screen: string }> {
  const before = new Set((await sessionsOf(U)).map((s) => s.metadata.name));
  let screen = '';
  const t = new Tmux(name).start(sshTty(), 100, 30);
  try {
    await t.waitFor(/\$\s*$/m);
    const s = (await until('her terminal session', async () => (await sessionsOf(U)).find((x) => !before.has(x.metadata.name)))) as Rec;
    if (during) await during(s, t);
    for (const l of lines) t.send(l);
    await t.exitStatus();
    screen = t.screen();
  } finally {
    t.kill();
  }
  const names = new Set((await sessionsOf(U)).map((s) => s.metadata.name));
  const [mine] = [...names].filter((n) => !before.has(n));
  const ended = (await until('the session to end', async () => (await sessionsOf(U)).find((x) => x.metadata.name === mine && x.status.phase !== 'Running' && x.status.phase !== 'Ready'))) as Rec;
  return { ...ended, screen };
}

before(async () => {
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(POLICY, ['--recordings', REC]).start();
});

after(async () => {
  await endSuite(doshd, [U]);
  sh(`mountpoint -q ${SMALL} && umount ${SMALL} || true`);
  rmSync(dir, { recursive: true, force: true });
});

test('a terminal session is recorded as asciicast v2, root\'s alone; doshctl logs prints what her terminal showed', async () => {
  const s = await terminal('dtr-1', ['echo "recorded-$((6*7))"; printf "\\033]0;ti%stle\\007" 1', 'exit 3'], async (_s, t) => {
    t.resize(120, 40);
  });
  const file = s.status.recording?.file ?? '';
  assert.equal(path.dirname(path.dirname(file)), REC);
  assert.equal(sh(`stat -c '%U %a' ${file} ${path.dirname(file)} ${REC}`).trim(), 'root 600\nroot 700\nroot 700');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const header = JSON.parse(lines[0]);
  assert.deepEqual([header.version, header.width, header.height], [2, 100, 30]);
  const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  assert.ok(events.some((e) => e[1] === 'r' && e[2] === '120x40'), 'the resize is recorded');
  assert.ok(events.filter((e) => e[1] === 'o').map((e) => e[2]).join('').includes('recorded-42'));
  // She cannot read it, list it or remove it.
  const her = await asUserScript(U, `cat ${file}; ls ${REC}; rm -f ${file}`);
  assert.match(her.stderr, /Permission denied/);
  assert.ok(statSync(file).size > 0);

  const out = await doshctl('logs', 'session', s.metadata.name);
  assert.equal(out.code, 0, out.stderr);
  const text = out.stdout.toString();
  assert.match(text, /recorded-42/);
  assert.match(readFileSync(file, 'utf8'), /\\u001b\]0;ti1tle\\u0007/, 'the recording has the title sequence as printed');
  assert.doesNotMatch(text, /ti1tle/, 'what would set the administrator\'s title is dropped');
  const cast = await doshctl('logs', 'session', s.metadata.name, '-o', 'asciicast');
  assert.equal(cast.stdout.toString(), readFileSync(file, 'utf8'));
  const replay = await doshctl('logs', 'session', s.metadata.name, '--replay');
  assert.equal(replay.stdout.toString(), text);
});

test('--follow prints a live session as it goes and ends with it; a session without a terminal is not recorded', async () => {
  let closed: Promise<number | null> | undefined;
  let seen = '';
  let errors = '';
  await terminal('dtr-2', ['echo "after-$((2+3))"', 'exit'], async (s) => {
    const follower = spawn(INSTALLED.doshctl, ['logs', 'session', s.metadata.name, '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] });
    closed = new Promise((r) => follower.on('close', r));
    follower.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    follower.stderr!.on('data', (d: Buffer) => (errors += d.toString()));
    await until('the follower to print her prompt', () => seen.includes('$') || errors);
    assert.equal(errors, '');
  });
  assert.equal(await closed, 0, errors);
  assert.match(seen, /after-5/);

  assert.equal((await ssh(U, 'echo no-terminal')).code, 0);
  const plain = (await sessionsOf(U)).find((x) => x.spec.command === 'echo no-terminal') as Rec;
  assert.equal(plain.status.recording, undefined);
  const r = await doshctl('logs', 'session', plain.metadata.name);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /was not recorded \(only terminal sessions are recorded\)/);
});

test('a full disk ends the recording, never the login: she sees all her output, an event says why', async () => {
  mkdirSync(SMALL, { recursive: true });
  sh(`mount -t tmpfs -o size=64k,mode=0700 dtr-small ${SMALL}`);
  await doshd.stop();
  doshd = await new Doshd(POLICY, ['--recordings', SMALL]).start();
  const s = await terminal('dtr-3', ['seq 1 30000; echo "still-here-$((1+1))"', 'exit 4']);
  assert.equal(s.status.exitCode, 4, JSON.stringify(s.status));
  assert.match(s.screen, /^30000\r?\nstill-here-2$/m, 'her terminal got all of it');
  assert.match(s.status.recording?.stopped ?? '', /could not be written: No space left on device/);
  const ev = await doshctl('events', '--for', `session/${s.metadata.name}`);
  assert.match(ev.stdout.toString(), /RecordingStopped .*No space left on device.*the session goes on unrecorded/);
  const logs = await doshctl('logs', 'session', s.metadata.name);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stderr, /note: the recording stopped before the session ended/);
});
