// Fakes for the relay's own tests (shell/dosh.test.ts): a doshd that speaks the session API with doshd's real codec
// (controller/session-api/connection.ts), and a Docker engine that answers the exec start and streams what a test
// scripts. The relay under test is the AddressSanitizer + UndefinedBehaviorSanitizer build, run as nobody.
import { after, before } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { RelayConnection } from '../controller/session-api/connection.ts';
import type { FrameReader } from '../api/relay-wire.ts';

export const REPO = path.resolve(import.meta.dirname, '..');
/**
 * AddressSanitizer aborting on the first report. Its leak checker stays off: it stops the world with a tracer that
 * makes the process dumpable again, which the relay refuses to be, and was seen spinning for good at exit.
 */
const LSAN_OFF = 'abort_on_error=1:detect_leaks=0';
export const NOBODY = 65534;

export interface Rig {
  dir: string;
  relay: string;
  store: string;
  conf: string;
  engineSocket: string;
}

/** Builds the sanitizer relay with its settings file in a fresh directory; the store is root's, the sockets open to nobody. */
export function makeRig(): Rig {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-relay-test-'));
  fs.chmodSync(dir, 0o755);
  const conf = path.join(dir, 'helper.conf');
  const bin = path.join(dir, 'bin');
  const r = spawnSync('make', ['-s', '-C', path.join(REPO, 'shell'), `OUT=${bin}`, `TEST_CONF=${conf}`, `${bin}/dosh-asan`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the sanitizer relay failed: ${r.stdout}${r.stderr}`);
  const store = path.join(dir, 'store');
  fs.mkdirSync(path.join(store, 'relays'), { recursive: true });
  fs.chmodSync(store, 0o755);
  fs.chmodSync(path.join(store, 'relays'), 0o777); // the test relay is not setuid: nobody binds its socket there
  writeConf({ dir, relay: '', store, conf, engineSocket: '' }, 'LOGIN_TIMEOUT=3');
  return { dir, relay: path.join(bin, 'dosh-asan'), store, conf, engineSocket: path.join(dir, 'engine.sock') };
}

/**
 * The before and after hooks of a relay test file: as root (the relay under test runs as nobody), a rig built once for
 * the file and handed to `use`, then removed.
 */
export function relayRig(use: (rig: Rig) => void): void {
  let made: Rig | undefined;
  before(() => {
    if (process.getuid?.() !== 0) return;
    made = makeRig();
    use(made);
  });
  after(() => {
    if (made) fs.rmSync(made.dir, { recursive: true, force: true });
  });
}

export function writeConf(rig: Rig, extra: string, mode = 0o644): void {
  fs.writeFileSync(rig.conf, `STORE=${rig.store}\n${extra}\n`, { mode });
  fs.chmodSync(rig.conf, mode);
}

/** A doshd: calls back with each connection's first frame; every frame received is kept, by connection. */
export class FakeDoshd {
  readonly logins: { conn: RelayConnection; frame: FrameReader; frames: FrameReader[] }[] = [];
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly rig: Rig,
    private readonly onLogin: (conn: RelayConnection, frame: FrameReader, n: number) => void,
  ) {}

  get socketPath(): string {
    return path.join(this.rig.store, 'api.sock');
  }

  start(): Promise<this> {
    fs.rmSync(this.socketPath, { force: true });
    this.server = net.createServer((sock) => {
      this.sockets.add(sock);
      const conn = new RelayConnection(sock);
      const entry = { conn, frame: undefined as unknown as FrameReader, frames: [] as FrameReader[] };
      conn.onFrame((f) => {
        entry.frames.push(f);
        if (entry.frames.length > 1) return;
        entry.frame = f;
        this.logins.push(entry);
        this.onLogin(conn, f, this.logins.length);
      });
    });
    return new Promise((resolve) =>
      this.server!.listen(this.socketPath, () => {
        fs.chmodSync(this.socketPath, 0o666);
        resolve(this);
      }),
    );
  }

  /** Connects to a relay's socket as a restarted doshd would; frames from the relay are collected. */
  reattach(socketPath: string): Promise<{ conn: RelayConnection; frames: FrameReader[] }> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socketPath);
      sock.once('error', reject);
      sock.once('connect', () => {
        this.sockets.add(sock);
        const conn = new RelayConnection(sock);
        const frames: FrameReader[] = [];
        conn.onFrame((f) => frames.push(f));
        resolve({ conn, frames });
      });
    });
  }

  /** Closes the server and every connection it had (a failed test may leave a relay running). */
  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export interface StartRequest {
  method: string;
  path: string;
  headers: string;
  body: string;
}

/** An engine: hands each exec-start request to the test with the socket, once its head and body have arrived. */
export class FakeEngine {
  readonly requests: StartRequest[] = [];
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly onStart: (req: StartRequest, sock: net.Socket, rest: Buffer) => void,
  ) {}

  start(): Promise<this> {
    fs.rmSync(this.socketPath, { force: true });
    this.server = net.createServer((sock) => {
      this.sockets.add(sock);
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        sock.off('data', onData);
        const [method, p] = head.split(' ');
        const req = { method, path: p, headers: head, body: buf.subarray(end + 4, end + 4 + len).toString() };
        this.requests.push(req);
        this.onStart(req, sock, buf.subarray(end + 4 + len));
      };
      sock.on('data', onData);
      sock.on('error', () => {});
    });
    return new Promise((resolve) =>
      this.server!.listen(this.socketPath, () => {
        fs.chmodSync(this.socketPath, 0o666);
        resolve(this);
      }),
    );
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A frame of the engine's multiplexed stream. */
export function muxFrame(stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

export interface RelayResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  /** stderr as text, for messages; stderrBytes as it came, for binary output. */
  stderr: string;
  stderrBytes: Buffer;
}

export interface RelayRun {
  child: ChildProcess;
  done: Promise<RelayResult>;
}

/** Starts the relay as nobody, as a login program would start a shell. */
export function runRelay(rig: Rig, opts: { argv0?: string; args?: string[]; env?: Record<string, string>; input?: Buffer; keepStdin?: boolean; extraFds?: number[]; asRoot?: boolean } = {}): RelayRun {
  const child = spawn(rig.relay, opts.args ?? [], {
    argv0: opts.argv0 ?? '-dosh',
    ...(opts.asRoot ? {} : { uid: NOBODY, gid: NOBODY }),
    cwd: '/tmp',
    env: { ASAN_OPTIONS: LSAN_OFF, UBSAN_OPTIONS: 'print_stacktrace=1', ...(opts.env ?? {}) },
    stdio: ['pipe', 'pipe', 'pipe', ...(opts.extraFds ?? [])],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  child.stdin!.on('error', () => {});
  if (opts.input) child.stdin!.write(opts.input);
  if (!opts.keepStdin) child.stdin!.end();
  const done = new Promise<RelayResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), stderrBytes: Buffer.concat(err) }));
  });
  return { child, done };
}

/** Starts the relay as nobody on a terminal of ROWSxCOLS (util-linux's script gives it a pty). */
export function runRelayOnTty(rig: Rig, rows: number, cols: number, opts: { asRoot?: boolean } = {}): RelayRun {
  const child = spawn('script', ['-qfec', `stty rows ${rows} cols ${cols}; exec ${rig.relay}`, '/dev/null'], {
    ...(opts.asRoot ? {} : { uid: NOBODY, gid: NOBODY }),
    cwd: '/tmp',
    env: { ASAN_OPTIONS: LSAN_OFF, TERM: 'xterm', SHELL: '/bin/sh', PATH: '/usr/bin:/bin' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<RelayResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: '', stderrBytes: Buffer.alloc(0) }));
  });
  return { child, done };
}

export const EXEC_ID = 'e'.repeat(64);

/** Waits until fn returns something truthy (polling), or fails after timeoutMs. */
export async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
