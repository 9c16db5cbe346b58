import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encodeFrame, FrameReader, splitFrames, type FieldValues } from '../../api/relay-wire.ts';
import { FRAME_MAX, Msg, RELAY_PROTOCOL_VERSION } from '../../api/relay-protocol.ts';
import { BadRequest, procRelayProcess, readLoginRequest, sshClient, type RelayProcess } from './login-request.ts';

const proc = (uid: number | undefined, start: string | null = '777'): RelayProcess => ({ realUid: () => uid, startTime: () => start ?? undefined, runs: () => true });
const frame = (v: FieldValues) => new FrameReader(splitFrames(encodeFrame(Msg.Login, { Version: RELAY_PROTOCOL_VERSION, Uid: 1001, Gid: 1001, Pid: 4242, Argv0: '-dosh', ...v }), FRAME_MAX).frames[0]);

test('a login request becomes what the session records: her uid, the relay, the shell invocation as bash reads it', () => {
  const r = readLoginRequest(frame({ Arg: ['-c', 'echo hi', 'x'], Term: 'xterm-256color', Lang: 'fr_FR.UTF-8', Tty: 1, Rows: 40, Cols: 120, SshConnection: '10.0.0.7 51234 10.0.0.1 22', Agent: 1 }), proc(1001));
  assert.deepEqual(r, {
    uid: 1001,
    gid: 1001,
    relay: { pid: 4242, startTime: '777' },
    attempt: 1,
    invocation: { mode: 'command', login: true, command: 'echo hi', args: ['x'] },
    storedArgBytes: Buffer.byteLength(JSON.stringify(['echo hi', 'x'])),
    tty: true,
    term: 'xterm-256color',
    lang: 'fr_FR.UTF-8',
    size: { rows: 40, cols: 120 },
    ssh: true,
    sshClient: '10.0.0.7 51234',
    agent: true,
  });
  assert.equal(readLoginRequest(frame({ Arg: ['-c', 'x'] }), proc(1001)).agent, false, 'no agent without the field');
});

test('what she chose is cleaned, never trusted: TERM and LANG that are not names, a made-up SSH_CONNECTION, bytes that are not UTF-8', () => {
  const r = readLoginRequest(frame({ Arg: ['-c', Buffer.from([0x65, 0xff, 0x66])], Term: '$(reboot)', Lang: 'x;rm -rf /', SshConnection: '1.2.3.4 5 6.7.8.9 22; evil' }), proc(1001));
  assert.equal(r.term, 'dumb');
  assert.equal(r.lang, undefined);
  assert.equal(r.ssh, true);
  assert.equal(r.sshClient, undefined);
  assert.equal(r.invocation.command, 'e\ufffdf');
  assert.equal(sshClient('::1 22 ::1 22'), '::1 22');
});

test('refused requests: another protocol version, a uid /proc does not confirm, a relay already gone, root, bad shell options (status 2)', () => {
  const refused = (v: FieldValues, p: RelayProcess, re: RegExp, code = 1) =>
    assert.throws(
      () => readLoginRequest(frame(v), p),
      (e: unknown) => e instanceof BadRequest && re.test(e.message) && e.code === code,
    );
  refused({ Version: RELAY_PROTOCOL_VERSION + 1 }, proc(1001), /different releases/);
  refused({}, proc(1002), /is not running as uid 1001/);
  refused({}, proc(1001, null), /has gone/);
  refused({ Uid: 0 }, proc(0), /root cannot log in/);
  refused({ Arg: ['--rcfile', 'x'] }, proc(1001), /--rcfile: invalid option/, 2);
  refused({ Arg: ['-c'] }, proc(1001), /-c: option requires an argument/, 2);
});

test('procRelayProcess.runs: the file the process runs, whichever path names it (real /proc: this test process)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-runs-'));
  try {
    symlinkSync(process.execPath, path.join(dir, 'node-link'));
    writeFileSync(path.join(dir, 'copy'), readFileSync(process.execPath).subarray(0, 16));
    assert.equal(procRelayProcess.runs(process.pid, process.execPath), true);
    assert.equal(procRelayProcess.runs(process.pid, path.join(dir, 'node-link')), true, 'a symlink to it');
    assert.equal(procRelayProcess.runs(process.pid, path.join(dir, 'copy')), false, 'another file');
    assert.equal(procRelayProcess.runs(process.pid, '/bin/sh'), false);
    assert.equal(procRelayProcess.runs(process.pid, 'node'), false, 'a relative login shell names no file');
    assert.equal(procRelayProcess.runs(2 ** 22 + 7, process.execPath), false, 'a process that is not there');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
