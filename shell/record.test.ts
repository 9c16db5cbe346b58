// The relay's session recording (shell/record.c, shell/jsonesc.c): its sanitizer build on a terminal, against the
// fake doshd and engine. What reaches her terminal is appended as asciicast v2 events that decode to exactly those
// characters (split reads, escapes, bytes that are not UTF-8), with her window size; a size limit or a file that is
// not root's ends the recording with a message to doshd, never the login.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import { Msg } from '../api/relay-protocol.ts';
import type { RelayConnection } from '../controller/session-api/connection.ts';
import { EXEC_ID, FakeDoshd, FakeEngine, relayRig, runRelayOnTty, until, type Rig } from './testkit.ts';

const root = process.getuid?.() === 0;
let rig: Rig;
relayRig((r) => (rig = r));

const HEADER = '{"version":2,"width":101,"height":33}\n';

function recording(name: string, mode = 0o600): string {
  const file = path.join(rig.dir, `${name}.cast`);
  fs.writeFileSync(file, HEADER, { mode });
  fs.chmodSync(file, mode);
  return file;
}

function admit(conn: RelayConnection, name: string, file: string, limit: bigint): void {
  conn.send(Msg.Admit, { Session: name, ExecId: EXEC_ID, EngineSocket: rig.engineSocket, RelaySocket: path.join(rig.store, 'relays', `${name}.sock`), Tty: 1, Recording: file, RecordLimit: limit });
  conn.onFrame((f) => {
    if (f.frame.type === Msg.StreamEnd) conn.end(Msg.Exit, { ExitCode: 5 });
  });
}

/** Runs a terminal login (as root: the recording is root's, as the setuid relay opens it) whose exec writes `chunks`. */
async function session(name: string, file: string, limit: bigint, chunks: Buffer[]) {
  let stream: Socket | undefined;
  const engine = await new FakeEngine(rig.engineSocket, (_req, sock) => {
    sock.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    stream = sock;
  }).start();
  const doshd = await new FakeDoshd(rig, (conn) => admit(conn, name, file, limit)).start();
  const run = runRelayOnTty(rig, 33, 101, { asRoot: true });
  try {
    await until('Started', () => stream && doshd.logins[0]?.frames.some((f) => f.frame.type === Msg.Started));
    for (const c of chunks) {
      stream!.write(c);
      await new Promise((r) => setTimeout(r, 20));
    }
    stream!.end();
    const r = await run.done;
    return { code: r.code, out: r.stdout, frames: doshd.logins[0].frames };
  } finally {
    run.child.kill('SIGKILL');
    await Promise.all([doshd.stop(), engine.stop()]);
  }
}

const events = (file: string) => fs.readFileSync(file, 'utf8').split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as [number, string, string]);

test('her terminal output as asciicast v2: time, "o" and the characters she saw; the window size as "r"', { skip: !root && 'needs root' }, async () => {
  const file = recording('rec-1');
  const e = Buffer.from('é');
  const chunks = [Buffer.concat([Buffer.from('h'), e.subarray(0, 1)]), Buffer.concat([e.subarray(1), Buffer.from('llo "q" \\ \x1b[31mred\r\n')]), Buffer.from([0xff, 0x41, 0xf0, 0x9f]), Buffer.from([0x98, 0x80, 0x0a])];
  const r = await session('rec-1', file, 1n << 30n, chunks);
  assert.equal(r.code, 5);
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.startsWith(HEADER), 'the header doshd wrote stays first');
  const ev = events(file);
  assert.deepEqual(ev.filter((x) => x[1] === 'r').map((x) => x[2]), ['101x33']);
  const out = ev.filter((x) => x[1] === 'o');
  assert.equal(out.map((x) => x[2]).join(''), 'héllo "q" \\ \x1b[31mred\r\n\ufffdA😀\n');
  assert.ok(out.every((x, i) => typeof x[0] === 'number' && x[0] >= 0 && (i === 0 || x[0] >= out[i - 1][0])), 'times from the start, in order');
  assert.ok(!r.frames.some((f) => f.frame.type === Msg.RecordingStopped));
});

test('past its limit the recording stops, doshd is told why and how much it holds, and the login goes on to its end', { skip: !root && 'needs root' }, async () => {
  const file = recording('rec-2');
  const r = await session('rec-2', file, 300n, Array.from({ length: 20 }, (_, i) => Buffer.from(`line ${i} ${'x'.repeat(40)}\r\n`)));
  assert.equal(r.code, 5, 'the login ended as the command did');
  assert.match(r.out.toString(), /line 19/, 'her terminal got everything');
  const stop = r.frames.find((f) => f.frame.type === Msg.RecordingStopped);
  assert.ok(stop, 'RecordingStopped sent');
  assert.match(stop.bytes('Message')!.toString(), /size its user's recordings may take/);
  assert.ok(stop.u64('Recorded')! <= 300n);
  assert.equal(BigInt(fs.statSync(file).size - HEADER.length), stop.u64('Recorded'));
  assert.ok(events(file).length > 0);
});

test('a recording that is not a root-only file is not opened: doshd is told, nothing is written, the login goes on', { skip: !root && 'needs root' }, async () => {
  const file = recording('rec-3', 0o644);
  const r = await session('rec-3', file, 1n << 30n, [Buffer.from('hello\r\n')]);
  assert.equal(r.code, 5);
  const stop = r.frames.find((f) => f.frame.type === Msg.RecordingStopped);
  assert.match(stop?.bytes('Message')?.toString() ?? '', /is not a root-only file/);
  assert.equal(fs.readFileSync(file, 'utf8'), HEADER);
});
