// RelayLinks against real Unix sockets (a relay played by the test) and a recording RelayEvents.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeFrame, splitFrames, FrameReader } from '../../api/relay-wire.ts';
import { FRAME_MAX, Msg } from '../../api/relay-protocol.ts';
import { silentLogger } from '../../lib/log.ts';
import { RelayConnection } from './connection.ts';
import { RelayLinks, type RelayEvents } from './links.ts';
import { SocketPairs } from '../../test/fakes/socket-pair.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-links-'));
const sockets = new SocketPairs();
/** Other sockets a test opened, closed at the end so that the test process can exit. */
const opened: net.Socket[] = [];
after(() => {
  sockets.close();
  for (const s of opened) s.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

class Recorder implements RelayEvents {
  calls: string[] = [];
  exit = { code: 3, message: 'done' };
  started(name: string, size?: { rows: number; cols: number }) {
    this.calls.push(`started ${name} ${size ? `${size.rows}x${size.cols}` : '-'}`);
  }
  resize(name: string, rows: number, cols: number) {
    this.calls.push(`resize ${name} ${rows}x${cols}`);
  }
  signal(name: string, sig: number) {
    this.calls.push(`signal ${name} ${sig}`);
  }
  firstByte(name: string) {
    this.calls.push(`firstByte ${name}`);
  }
  async streamEnded(name: string, b: { in: bigint; out: bigint }, execId?: string) {
    this.calls.push(`streamEnded ${name} ${b.in}/${b.out}${execId ? ` ${execId.slice(0, 4)}` : ''}`);
    return this.exit;
  }
  hangUp(name: string, sig: number) {
    this.calls.push(`hangUp ${name} ${sig}`);
  }
  startFailed(name: string, msg: string) {
    this.calls.push(`startFailed ${name} ${msg}`);
  }
  lost(name: string, why: string) {
    this.calls.push(`lost ${name}: ${why}`);
  }
  recordingStopped(name: string, why: string, bytes: bigint) {
    this.calls.push(`recordingStopped ${name} ${bytes}: ${why}`);
  }
}

/** A connected pair: doshd's RelayConnection and the relay's raw socket, with what the relay received. */
async function pair(): Promise<{ conn: RelayConnection; relay: net.Socket; got: () => FrameReader[] }> {
  const { relay, doshd: sock } = await sockets.pair();
  let buf = Buffer.alloc(0);
  relay.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  return { conn: new RelayConnection(sock), relay, got: () => splitFrames(buf, FRAME_MAX).frames.map((f) => new FrameReader(f)) };
}

const tick = () => new Promise((r) => setTimeout(r, 30));

test('each relay message reaches its handler; the end of the stream is answered with the exit status, and that close is no loss', async () => {
  const ev = new Recorder();
  const links = new RelayLinks(ev, () => Promise.reject(new Error('unused')), silentLogger);
  const { conn, relay, got } = await pair();
  links.attach('ann-1', conn, { rows: 24, cols: 80 });
  relay.write(Buffer.concat([encodeFrame(Msg.Started), encodeFrame(Msg.Resize, { Rows: 50, Cols: 132 }), encodeFrame(Msg.Resize, { Rows: 0, Cols: 9 }), encodeFrame(Msg.Signal, { Signal: 2 }), encodeFrame(Msg.FirstByte), encodeFrame(Msg.StreamEnd, { BytesIn: 5n, BytesOut: 7n })]));
  await tick();
  assert.deepEqual(ev.calls, ['started ann-1 24x80', 'resize ann-1 50x132', 'signal ann-1 2', 'firstByte ann-1', 'streamEnded ann-1 5/7']);
  const exit = got().find((f) => f.frame.type === Msg.Exit)!;
  assert.equal(exit.u32('ExitCode'), 3);
  assert.equal(exit.bytes('Message')?.toString(), 'done');
  relay.end();
  await tick();
  assert.ok(!ev.calls.some((c) => c.startsWith('lost')), ev.calls.join('; '));
  assert.equal(links.has('ann-1'), false);
});

test('a relay that goes without an exit (killed, or sending garbage) is lost; a hang-up is its own end; doshd stopping loses no one', async () => {
  const ev = new Recorder();
  const links = new RelayLinks(ev, () => Promise.reject(new Error('unused')), silentLogger);
  const a = await pair();
  links.attach('a', a.conn);
  a.relay.destroy();
  const b = await pair();
  links.attach('b', b.conn);
  b.relay.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]));
  const c = await pair();
  links.attach('c', c.conn);
  c.relay.end(encodeFrame(Msg.Hangup, { Signal: 1 }));
  const d = await pair();
  links.attach('d', d.conn);
  await tick();
  links.closeAll();
  await tick();
  assert.deepEqual(ev.calls.sort(), ['hangUp c 1', 'lost a: its connection closed', 'lost b: it sent a malformed message (frame of 4294967295 bytes (at most 4194304))'].sort());
});

test('drain messages are shown once per text; a reattach connects to the relay\'s socket, or finds it gone', async () => {
  const ev = new Recorder();
  const sockPath = path.join(dir, 'relay.sock');
  const server = net.createServer((s) => {
    opened.push(s);
    s.write(encodeFrame(Msg.Reattach, { Session: 'ann-9', StreamEnded: 1, BytesIn: 1n, BytesOut: 2n, ExecId: 'a'.repeat(64) }));
  });
  await new Promise<void>((r) => server.listen(sockPath, () => r()));
  const links = new RelayLinks(ev, (p) => new Promise((resolve, reject) => {
    const s = net.connect(p);
    opened.push(s);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  }), silentLogger);
  assert.equal(await links.reattach('ann-9', path.join(dir, 'missing.sock')), 'gone');
  const [one, two] = await Promise.all([links.reattach('ann-9', sockPath), links.reattach('ann-9', sockPath)]);
  assert.deepEqual([one, two], ['attached', 'attached']);
  await tick();
  assert.deepEqual(ev.calls, ['streamEnded ann-9 1/2 aaaa'], 'an ended stream in the Reattach is answered with its exit status (of the exec it names)');
  server.close();

  const { conn, got } = await pair();
  links.attach('bob-1', conn);
  links.notice('bob-1', 'maintenance at 14:00');
  links.notice('bob-1', 'maintenance at 14:00');
  links.notice('bob-1', 'now');
  links.notice('nobody', 'x');
  await tick();
  assert.deepEqual(got().map((f) => f.bytes('Message')?.toString()), ['maintenance at 14:00', 'now']);
});
