// Where a pod login's stream is relayed: doshd, on the login node. The session relay (shell/relay.c) speaks one
// protocol, Docker's hijacked exec start on a Unix socket; for a pod, doshd serves that same request on a socket of
// its own and carries the stream over the API server's exec WebSocket (kube/client.ts execPod). So both backends
// share one login path and the relay stays small: no TLS, no WebSocket, no credentials for the cluster in a program
// every user starts. The price: the stream lives in doshd, so a doshd restart ends pod logins (their sessions end
// with RelayGone, as the relay sees the stream close); an upgrade of DoSH ends them too, and says so in its notes.
//
// One request per connection: `POST /exec/ID/start` with the ID create() returned, answered `101 UPGRADED`, then
// the stream as Docker sends it (raw with a terminal, else 8-byte-framed stdout and stderr) and the relay's bytes
// as her stdin (its half-close closes her stdin). The exit status arrives on the exec's status channel and is read
// with inspect(), as the engine's would be.
import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { chmodSync } from 'node:fs';
import type { PodExecIO, PodExecStatus, PodExecStream } from '../../kube/types.ts';
import type { Random } from '../../lib/clock.ts';

/** The exec calls made here (kube/client.ts; a fake in unit tests). */
export interface PodExecApi {
  execPod(target: PodTarget, command: string[], tty: boolean, io: PodExecIO): Promise<PodExecStream>;
}

export interface PodTarget {
  namespace: string;
  pod: string;
  container: string;
}

export interface PodExecState {
  running: boolean;
  exitCode: number | null;
}

/** What arrived from the relay on one connection before its exec was open. */
interface Conn {
  pending: Buffer[];
  ended: boolean;
  closed: boolean;
  stream?: PodExecStream;
}

interface Exec {
  target: PodTarget;
  argv: string[];
  tty: boolean;
  started: boolean;
  running: boolean;
  createdAt: number;
  /** When its stream closed: kept a while for the exit status, then forgotten. */
  closedAt?: number;
  exitCode: number | null;
  stream?: PodExecStream;
}

/** The most a request's head may take: the relay's is a few hundred bytes. */
const HEAD_MAX = 16 * 1024;
const START = /^POST \/(?:v[0-9.]+\/)?exec\/([0-9a-f]{64})\/start HTTP\/1\.[01]$/;
/** How long an ended exec's status is kept: well past the relay's report of its end, which reads it. */
const KEEP_ENDED_MS = 10 * 60_000;
/** What a command that could not be run at all exits with, as docker exec's own. */
const EXIT_CANNOT_RUN = 126;

/** The exit status in an exec's final status: 0 for Success, the ExitCode cause for NonZeroExitCode. */
export function exitCodeOf(st: PodExecStatus): number | null {
  if (st.status === 'Success') return 0;
  const code = st.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  return code !== undefined && /^\d+$/.test(code) ? Number(code) : null;
}

/** Docker's multiplexed frame: stream (1 stdout, 2 stderr), three zero bytes, the length big-endian, the bytes. */
export function frame(stream: 1 | 2, b: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(b.length, 4);
  return Buffer.concat([h, b]);
}

export class PodExecBridge {
  private execs = new Map<string, Exec>();
  private server?: Server;

  constructor(private readonly d: { api: PodExecApi; random: Random; now?: () => number }) {}

  /** Registers an exec for the relay to start; its ID is shaped as the engine's (64 hex), which the relay checks. */
  create(target: PodTarget, argv: string[], tty: boolean): string {
    const now = this.now();
    // An exec never started is as good as ended once its login has long timed out waiting (30 s by default).
    for (const [old, e] of this.execs) if (now - (e.closedAt ?? (e.started ? now : e.createdAt)) > KEEP_ENDED_MS) this.execs.delete(old);
    const id = this.d.random(32);
    this.execs.set(id, { target, argv, tty, started: false, running: false, exitCode: null, createdAt: now });
    return id;
  }

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  inspect(id: string): PodExecState | undefined {
    const e = this.execs.get(id);
    return e && { running: e.running, exitCode: e.exitCode };
  }

  resize(id: string, rows: number, cols: number): void {
    this.execs.get(id)?.stream?.resize(rows, cols);
  }

  /** Ends a login's stream (an administrator's end, a drain): her command gets a hang-up as the stream closes. */
  end(id: string): void {
    this.execs.get(id)?.stream?.close();
  }

  /** Forgets an exec once its session has ended. */
  forget(id: string): void {
    this.execs.delete(id);
  }

  /** Serves the relay's requests on a Unix socket only root may connect to. */
  listen(path: string): Promise<void> {
    // Half-open: the relay closes its writing side when her stdin ends, and still reads her output to the end.
    this.server = createServer({ allowHalfOpen: true }, (sock) => this.handle(sock));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, () => {
        chmodSync(path, 0o600);
        resolve();
      });
    });
  }

  close(): void {
    this.server?.close();
    for (const e of this.execs.values()) e.stream?.close();
  }

  /**
   * One connection: the request's head, then the stream. The relay may send her stdin, and its end, in the same
   * moment as the request, before the exec is open: they are held (one reader from the start, never paused), and
   * handed on when it is.
   */
  handle(sock: Duplex): void {
    const conn: Conn = { pending: [], ended: false, closed: false };
    let head: Buffer | undefined = Buffer.alloc(0);
    let skip = 0;
    const feed = (b: Buffer) => {
      // The rest of the relay's body ({"Detach":false,...}), which says nothing the exec does not already know.
      const n = Math.min(skip, b.length);
      skip -= n;
      const rest = b.subarray(n);
      if (!rest.length) return;
      if (conn.stream) conn.stream.stdin(rest);
      else conn.pending.push(rest);
    };
    sock.on('data', (b: Buffer) => {
      if (!head) return feed(b);
      head = Buffer.concat([head, b]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > HEAD_MAX) this.answer(sock, 400, 'the request head is too long');
        return;
      }
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const length = Number(lines.find((l) => /^content-length:/i.test(l))?.split(':')[1]?.trim() ?? 0);
      skip = Number.isSafeInteger(length) && length > 0 ? length : 0;
      const after = head.subarray(end + 4);
      head = undefined;
      feed(after);
      void this.start(sock, lines[0], conn);
    });
    sock.on('end', () => {
      conn.ended = true;
      conn.stream?.endStdin();
    });
    // The relay went away: so does the exec (her command gets the hang-up the stream's end gives it).
    sock.on('close', () => {
      conn.closed = true;
      conn.stream?.close();
    });
    sock.on('error', () => sock.destroy());
  }

  private async start(sock: Duplex, requestLine: string, conn: Conn): Promise<void> {
    const id = START.exec(requestLine)?.[1];
    const e = id ? this.execs.get(id) : undefined;
    if (!e) return this.answer(sock, 404, `No such exec instance: ${id ?? requestLine.slice(0, 100)}`);
    if (e.started) return this.answer(sock, 409, `exec ${id} has already been started`);
    e.started = true;
    e.running = true;
    const out: Buffer[] = [];
    let open = false;
    const write = (b: Buffer) => (open ? sock.write(b) : out.push(b));
    const io: PodExecIO = {
      stdout: (b) => write(e.tty ? b : frame(1, b)),
      stderr: (b) => write(e.tty ? b : frame(2, b)),
      status: (st) => {
        e.exitCode = exitCodeOf(st);
        if (e.exitCode === null) {
          // It never ran (no such program, a pod gone): her terminal gets the cluster's words, as docker exec's.
          e.exitCode = EXIT_CANNOT_RUN;
          const msg = Buffer.from(`dosh: ${st.message ?? 'the command could not be run in her pod'}\r\n`);
          write(e.tty ? msg : frame(2, msg));
        }
      },
      closed: () => {
        e.running = false;
        e.closedAt = this.now();
        if (e.exitCode === null) {
          // The connection broke before the exit status came: she is told, and the login ends as a vanished exec's.
          e.exitCode = EXIT_CANNOT_RUN;
          const msg = Buffer.from('dosh: the connection to her pod ended before the exit status of the command arrived\r\n');
          write(e.tty ? msg : frame(2, msg));
        }
        e.stream = undefined;
        conn.stream = undefined;
        sock.end();
      },
    };
    let stream: PodExecStream;
    try {
      stream = await this.d.api.execPod(e.target, e.argv, e.tty, io);
    } catch (err) {
      e.running = false;
      e.exitCode = EXIT_CANNOT_RUN;
      e.closedAt = this.now();
      return this.answer(sock, 502, `the Kubernetes API server would not start the session in pod ${e.target.namespace}/${e.target.pod}: ${(err as Error).message}`);
    }
    sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    open = true;
    for (const b of out.splice(0)) sock.write(b);
    if (!e.running) return; // it ended while opening (closed() has ended the connection)
    e.stream = stream;
    conn.stream = stream;
    for (const b of conn.pending.splice(0)) stream.stdin(b);
    if (conn.ended) stream.endStdin();
    if (conn.closed) stream.close();
  }

  private answer(sock: Duplex, status: number, message: string): void {
    const body = JSON.stringify({ message });
    const text = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict', 502: 'Bad Gateway' }[status] ?? 'Error';
    sock.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
}
