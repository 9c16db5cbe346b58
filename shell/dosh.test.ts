// The login relay (shell/dosh.c) against a fake doshd and a fake engine: built with AddressSanitizer and
// UndefinedBehaviorSanitizer (any report aborts it, which these tests see as a failed exit), run as nobody. What it
// sends doshd, what it prints, its exit statuses, its stream handling byte for byte, doshd restarts, hang-ups, its
// settings file, and what it holds once root is dropped. Needs root (to run it as another user) and a C compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import { Msg } from '../api/relay-protocol.ts';
import type { FrameReader } from '../api/relay-wire.ts';
import type { RelayConnection } from '../controller/session-api/connection.ts';
import { EXEC_ID, FakeDoshd, FakeEngine, relayRig, muxFrame, NOBODY, runRelay, runRelayOnTty, until, writeConf, type Rig, type StartRequest } from './testkit.ts';

const root = process.getuid?.() === 0;
let rig: Rig;
relayRig((r) => (rig = r));

const admit = (conn: RelayConnection, name = 'alice-1', tty = 0) =>
  conn.send(Msg.Admit, { Session: name, ExecId: EXEC_ID, EngineSocket: rig.engineSocket, RelaySocket: path.join(rig.store, 'relays', `${name}.sock`), Tty: tty });

const types = (frames: FrameReader[]) => frames.map((f) => f.frame.type);

/** An engine that upgrades and hands the stream to the test. */
function upgrading(onStream: (sock: Socket, req: StartRequest) => void): (req: StartRequest, sock: Socket) => void {
  return (req, sock) => {
    sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    onStream(sock, req);
  };
}

test('a refusal: the relay prints doshd\'s message and exits with its code; the request carries her uid, argv and three variables, nothing else', { skip: !root && 'needs root' }, async () => {
  const doshd = await new FakeDoshd(rig, (conn) => conn.end(Msg.Refuse, { Message: 'no container for you\x1b[31m', ExitCode: 3 })).start();
  try {
    const run = runRelay(rig, {
      argv0: '-dosh',
      args: ['-c', 'echo "$1"; exit 7', 'zéro', '', 'a\nb'],
      env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', SSH_CONNECTION: '127.0.0.1 5000 127.0.0.1 22', DOCKER_HOST: 'tcp://203.0.113.1:2375', DOSH_IMAGE: 'evil', PATH: '/tmp' },
    });
    const r = await run.done;
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr, 'dosh: no container for you[31m\n', 'control bytes are dropped from what doshd sends');
    const f = doshd.logins[0].frame;
    assert.equal(f.frame.type, Msg.Login);
    assert.equal(f.u32('Uid'), NOBODY);
    assert.equal(f.u32('Gid'), NOBODY);
    assert.equal(f.u32('Pid'), run.child.pid);
    assert.equal(f.bytes('Argv0')?.toString(), '-dosh');
    assert.deepEqual(f.all('Arg').map((b) => b.toString()), ['-c', 'echo "$1"; exit 7', 'zéro', '', 'a\nb']);
    assert.equal(f.bytes('Term')?.toString(), 'xterm-256color');
    assert.equal(f.bytes('Lang')?.toString(), 'C.UTF-8');
    assert.equal(f.bytes('SshConnection')?.toString(), '127.0.0.1 5000 127.0.0.1 22');
    assert.equal(f.u32('Tty'), 0);
    const tags = new Set(f.frame.fields.map((x) => x.tag));
    assert.deepEqual([...tags].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 24], 'only the fields of the protocol: no other variable travels');
    assert.equal(f.u32('Attempt'), 1);
  } finally {
    await doshd.stop();
  }
});

test('a login without a terminal: stdout and stderr demultiplexed byte for byte, stdin relayed then half-closed, the exit status and message from doshd', { skip: !root && 'needs root' }, async () => {
  const input = randomBytes(300_000);
  const out = randomBytes(200_000);
  let received = Buffer.alloc(0);
  let sawEof = false;
  const engine = await new FakeEngine(
    rig.engineSocket,
    upgrading((sock) => {
      sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
      sock.on('end', () => {
        sawEof = true;
        // Output in frames of odd sizes, stderr between, then the end of the stream.
        for (let i = 0; i < out.length; i += 7001) sock.write(muxFrame(1, out.subarray(i, i + 7001)));
        sock.write(muxFrame(2, Buffer.from('warning\n')));
        sock.end(muxFrame(1, Buffer.alloc(0)));
      });
    }),
  ).start();
  const doshd = await new FakeDoshd(rig, (conn) => {
    admit(conn);
    conn.onFrame((f) => {
      if (f.frame.type === Msg.StreamEnd) conn.end(Msg.Exit, { ExitCode: 7, Message: 'the session ended' });
    });
  }).start();
  try {
    const r = await runRelay(rig, { args: ['-c', 'cat'], input }).done;
    assert.equal(r.code, 7, r.stderr);
    assert.ok(sawEof, 'the engine saw the half-close');
    assert.ok(received.equals(input), `stdin arrived byte for byte (${received.length} of ${input.length})`);
    assert.ok(r.stdout.equals(out), 'stdout byte for byte');
    assert.equal(r.stderr, 'warning\ndosh: the session ended\n');
    const req = engine.requests[0];
    assert.equal(req.method, 'POST');
    assert.equal(req.path, `/exec/${EXEC_ID}/start`);
    assert.deepEqual(JSON.parse(req.body), { Detach: false, Tty: false });
    const frames = doshd.logins[0].frames;
    assert.deepEqual(types(frames), [Msg.Login, Msg.Started, Msg.FirstByte, Msg.StreamEnd]);
    const end = frames[3];
    assert.equal(end.u64('BytesIn'), BigInt(input.length));
    assert.equal(end.u64('BytesOut'), BigInt(out.length + 'warning\n'.length));
    assert.equal(end.bytes('ExecId')?.toString(), EXEC_ID, 'it names the exec it carried');
  } finally {
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});

test('the engine refuses the exec: doshd is told why and she reads the engine\'s message', { skip: !root && 'needs root' }, async () => {
  const body = JSON.stringify({ message: 'No such exec instance: ' + EXEC_ID });
  const engine = await new FakeEngine(rig.engineSocket, (_req, sock) => sock.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)).start();
  const doshd = await new FakeDoshd(rig, (conn) => admit(conn)).start();
  try {
    const r = await runRelay(rig).done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^dosh: login failed: the Docker engine refused to start the session \(HTTP 404\): No such exec instance: e{64}\n$/);
    await until('StartFailed', () => doshd.logins[0].frames.find((f) => f.frame.type === Msg.StartFailed));
    const sf = doshd.logins[0].frames.find((f) => f.frame.type === Msg.StartFailed)!;
    assert.match(sf.bytes('Message')!.toString(), /HTTP 404/);
  } finally {
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});

test('doshd not running: the relay waits for it, says so, and gives up after LOGIN_TIMEOUT', { skip: !root && 'needs root' }, async () => {
  writeConf(rig, 'LOGIN_TIMEOUT=2.5');
  try {
    fs.rmSync(path.join(rig.store, 'api.sock'), { force: true });
    const t0 = Date.now();
    const r = await runRelay(rig).done;
    const ms = Date.now() - t0;
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'dosh: the DoSH controller (doshd) is not running; waiting for it to start...\ndosh: login failed: the DoSH controller (doshd) is not running; ask your administrator\n');
    assert.ok(ms >= 2400 && ms < 6000, `gave up after ${ms} ms`);
  } finally {
    writeConf(rig, 'LOGIN_TIMEOUT=3');
  }
});

test('doshd restarts while a login waits for its answer: the relay asks the new one', { skip: !root && 'needs root' }, async () => {
  const doshd = await new FakeDoshd(rig, (conn, _f, n) => (n === 1 ? conn.close('restart') : conn.end(Msg.Refuse, { Message: 'second answer', ExitCode: 4 }))).start();
  try {
    const r = await runRelay(rig).done;
    assert.equal(r.code, 4, r.stderr);
    assert.equal(doshd.logins.length, 2);
    assert.match(r.stderr, /second answer/);
  } finally {
    await doshd.stop();
  }
});

test('doshd restarts during a login: the relay keeps the stream, a new doshd reattaches by the session\'s socket and gets the exit status', { skip: !root && 'needs root' }, async () => {
  let stream: Socket | undefined;
  const engine = await new FakeEngine(rig.engineSocket, upgrading((sock) => (stream = sock))).start();
  const doshd = await new FakeDoshd(rig, (conn) => admit(conn, 'bob-2')).start();
  try {
    const run = runRelay(rig, { keepStdin: true });
    await until('the stream', () => stream && doshd.logins[0]?.frames.some((f) => f.frame.type === Msg.Started));
    doshd.logins[0].conn.close('doshd killed'); // kill -9 of doshd: its connection drops
    stream!.write(muxFrame(1, Buffer.from('still here\n')));
    const again = await doshd.reattach(path.join(rig.store, 'relays', 'bob-2.sock'));
    await until('Reattach', () => again.frames[0]);
    assert.equal(again.frames[0].frame.type, Msg.Reattach);
    assert.equal(again.frames[0].bytes('Session')?.toString(), 'bob-2');
    assert.equal(again.frames[0].u32('StreamEnded'), 0);
    stream!.end(muxFrame(1, Buffer.from('bye\n')));
    await until('StreamEnd on the new connection', () => again.frames.find((f) => f.frame.type === Msg.StreamEnd));
    again.conn.end(Msg.Exit, { ExitCode: 0 });
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'still here\nbye\n');
  } finally {
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});

test('the stream ends while doshd is away: the relay waits for the next doshd, which gets the exit status from its Reattach', { skip: !root && 'needs root' }, async () => {
  let stream: Socket | undefined;
  const engine = await new FakeEngine(rig.engineSocket, upgrading((sock) => (stream = sock))).start();
  const doshd = await new FakeDoshd(rig, (conn) => admit(conn, 'carol-3')).start();
  try {
    const run = runRelay(rig);
    await until('the stream', () => stream && doshd.logins[0]?.frames.some((f) => f.frame.type === Msg.Started));
    doshd.logins[0].conn.close('doshd killed');
    stream!.end();
    await new Promise((r) => setTimeout(r, 300));
    const again = await doshd.reattach(path.join(rig.store, 'relays', 'carol-3.sock'));
    await until('Reattach', () => again.frames[0]);
    assert.equal(again.frames[0].u32('StreamEnded'), 1);
    again.conn.end(Msg.Exit, { ExitCode: 5, Message: 'exit status from the new doshd' });
    const r = await run.done;
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /exit status from the new doshd/);
  } finally {
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});

test('signals: SIGINT is passed to doshd for her processes; SIGHUP ends the login as a hang-up (status 129)', { skip: !root && 'needs root' }, async () => {
  const engine = await new FakeEngine(rig.engineSocket, upgrading(() => {})).start();
  const doshd = await new FakeDoshd(rig, (conn) => admit(conn, 'dave-4')).start();
  try {
    const run = runRelay(rig, { keepStdin: true });
    await until('Started', () => doshd.logins[0]?.frames.some((f) => f.frame.type === Msg.Started));
    run.child.kill('SIGINT');
    await until('Signal', () => doshd.logins[0].frames.find((f) => f.frame.type === Msg.Signal));
    assert.equal(doshd.logins[0].frames.find((f) => f.frame.type === Msg.Signal)!.u32('Signal'), 2);
    run.child.kill('SIGHUP');
    const r = await run.done;
    assert.equal(r.code, 129, r.stderr);
    const hup = await until('Hangup', () => doshd.logins[0].frames.find((f) => f.frame.type === Msg.Hangup));
    assert.equal(hup.u32('Signal'), 1);
  } finally {
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});

test('once the stream is open the relay is hers alone: her uid, no capability, no_new_privs, not dumpable, and only its own descriptors', { skip: !root && 'needs root' }, async () => {
  const engine = await new FakeEngine(rig.engineSocket, upgrading(() => {})).start();
  const doshd = await new FakeDoshd(rig, (conn) => admit(conn, 'erin-5')).start();
  // A descriptor she passes along (a file of hers) must not survive into the relay.
  const leak = fs.openSync(path.join(rig.dir, 'leak'), 'w');
  const run = runRelay(rig, { keepStdin: true, extraFds: [leak] });
  try {
    await until('Started', () => doshd.logins[0]?.frames.some((f) => f.frame.type === Msg.Started));
    const pid = run.child.pid!;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}$`, 'm'));
    assert.match(status, new RegExp(`^Gid:\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}$`, 'm'));
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^CapPrm:\s+0+$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    // Not dumpable: the kernel makes its /proc files root's, so her processes cannot open them or ptrace it.
    assert.equal(fs.statSync(`/proc/${pid}/fd`).uid, 0);
    // Beyond her stdin, stdout and stderr: doshd's connection, its listening socket, the exec stream, its signals and
    // the pipe its stdin thread wakes it with. Nothing she passed.
    const own = fs
      .readdirSync(`/proc/${pid}/fd`)
      .filter((fd) => Number(fd) > 2)
      .map((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, ''))
      .sort();
    assert.deepEqual(own, ['anon_inode:[signalfd]', 'pipe:', 'pipe:', 'socket:', 'socket:', 'socket:']);
    run.child.kill('SIGTERM');
    assert.equal((await run.done).code, 143);
  } finally {
    run.child.kill('SIGKILL');
    fs.closeSync(leak);
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});

test('a malformed answer from doshd is not trusted: the relay drops that connection and never crashes', { skip: !root && 'needs root' }, async () => {
  writeConf(rig, 'LOGIN_TIMEOUT=1');
  const huge = Buffer.alloc(8);
  huge.writeUInt32BE(0xffffffff, 0);
  const doshd = await new FakeDoshd(rig, (conn, _f, n) => {
    const raw = (conn as unknown as { socket: Socket }).socket;
    if (n === 1) raw.end(huge); // a frame that claims 4 GiB
    else if (n === 2) raw.end(Buffer.from([0, 0, 0, 8, Msg.Admit, 13, 0, 0, 0, 200, 1, 2])); // a field running past its frame
    else conn.end(Msg.Admit, { Session: 'x' }); // an admission without its exec
  }).start();
  try {
    const r = await runRelay(rig).done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /dosh: login failed: doshd sent an incomplete answer/);
    assert.equal(doshd.logins.length, 3);
  } finally {
    writeConf(rig, 'LOGIN_TIMEOUT=3');
    await doshd.stop();
  }
});

test('its settings file: a bad line is named and refused; a file others can write is not read', { skip: !root && 'needs root' }, async () => {
  try {
    writeConf(rig, 'LOGIN_TIMEOUT=3\nDOCKER_SOCKET=/var/run/docker.sock\nSTORE =/tmp');
    let r = await runRelay(rig).done;
    assert.equal(r.code, 126);
    assert.equal(r.stderr, `dosh: ${rig.conf}:4: unknown setting (expected STORE=DIR, LOGIN_TIMEOUT=SECONDS or TRACE=true|false)\n`);
    writeConf(rig, 'LOGIN_TIMEOUT=3', 0o666);
    r = await runRelay(rig).done;
    assert.equal(r.code, 126);
    assert.match(r.stderr, /must be a regular file owned by root and not writable by others/);
  } finally {
    writeConf(rig, 'LOGIN_TIMEOUT=3');
  }
});

test('on a terminal: the request carries its size, the exec is started with a TTY, raw bytes pass, SIGWINCH sends the size', { skip: !root && 'needs root' }, async () => {
  let stream: Socket | undefined;
  const engine = await new FakeEngine(rig.engineSocket, upgrading((sock) => (stream = sock))).start();
  const doshd = await new FakeDoshd(rig, (conn) => {
    admit(conn, 'fay-6', 1);
    conn.onFrame((f) => {
      if (f.frame.type === Msg.StreamEnd) conn.end(Msg.Exit, { ExitCode: 0 });
    });
  }).start();
  const run = runRelayOnTty(rig, 33, 101);
  try {
    await until('Started', () => stream && doshd.logins[0]?.frames.some((f) => f.frame.type === Msg.Started));
    const login = doshd.logins[0].frame;
    assert.equal(login.u32('Tty'), 1);
    assert.deepEqual([login.u32('Rows'), login.u32('Cols')], [33, 101]);
    assert.deepEqual(JSON.parse(engine.requests[0].body), { Detach: false, Tty: true });
    stream!.write('raw \x1b[1mbytes\r\n'); // not multiplexed on a TTY
    const relayPid = Number(fs.readFileSync(`/proc/${run.child.pid}/task/${run.child.pid}/children`, 'utf8').trim());
    process.kill(relayPid, 'SIGWINCH');
    const resize = await until('Resize', () => doshd.logins[0].frames.find((f) => f.frame.type === Msg.Resize));
    assert.deepEqual([resize.u32('Rows'), resize.u32('Cols')], [33, 101]);
    stream!.end();
    const r = await run.done;
    assert.equal(r.code, 0, r.stdout.toString());
    assert.match(r.stdout.toString(), /raw \x1b\[1mbytes/);
  } finally {
    run.child.kill('SIGKILL');
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});
