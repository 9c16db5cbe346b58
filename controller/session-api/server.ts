// doshd's session API: a Unix socket only root can open (STORE/api.sock, mode 0600 in the root-only store), where
// login relays ask for a session. It is also how doshd knows it is alone on its store, whatever runs it (systemd, a
// container of the Helm chart, a shell): a doshd that answers on the socket holds the store, and a second one asks it
// who it is before giving up (process ids mean nothing across pid namespaces; a socket on the shared path does).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Msg } from '../../api/relay-protocol.ts';
import type { FrameReader } from '../../api/relay-wire.ts';
import type { Logger } from '../../lib/log.ts';
import { RelayConnection } from './connection.ts';

export interface Ident {
  pid: number;
  node: string;
  /** Free text: version, start time, how it runs. */
  about: string;
}

/** Another doshd answers on the store's socket. */
export class StoreHeldError extends Error {
  override name = 'StoreHeldError';
  constructor(
    readonly socketPath: string,
    readonly holder: Ident | undefined,
  ) {
    super(
      holder
        ? `another doshd (pid ${holder.pid} on node ${holder.node}: ${holder.about}) serves this store at ${socketPath}`
        : `a process listens on ${socketPath} but does not answer as doshd; stop it, or remove the socket if nothing should listen there`,
    );
  }
}

export const apiSocketPath = (store: string) => path.join(store, 'api.sock');
export const relaysDir = (store: string) => path.join(store, 'relays');
/** Where doshd starts pod logins' execs for their relays (controller/pods/exec-bridge.ts): root's only. */
export const podsSocketPath = (store: string) => path.join(store, 'pods.sock');

/** Where a session's relay listens for a restarted doshd; hashed when the name would not fit a socket address. */
export function relaySocketPath(store: string, session: string): string {
  const plain = path.join(relaysDir(store), `${session}.sock`);
  return Buffer.byteLength(plain) < 100 ? plain : path.join(relaysDir(store), `${createHash('sha256').update(session).digest('hex').slice(0, 24)}.sock`);
}

/** A login's agent socket in her agent directory; hashed, like a relay's, when the name would not fit a socket address. */
export function agentSocketPath(dir: string, session: string): string {
  const plain = path.join(dir, `${session}.sock`);
  return Buffer.byteLength(plain) < 100 ? plain : path.join(dir, `${createHash('sha256').update(session).digest('hex').slice(0, 24)}.sock`);
}

/** Connects to a Unix socket (a relay's), giving up after timeoutMs: a live relay accepts at once. */
export function connectUnix(socketPath: string, timeoutMs = 2000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`connecting to ${socketPath} timed out`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export class SessionApiServer {
  private server?: net.Server;
  private inode?: number;
  private readonly conns = new Set<RelayConnection>();

  constructor(
    private readonly socketPath: string,
    private readonly ident: Ident,
    private readonly onLogin: (conn: RelayConnection, frame: FrameReader) => void,
    private readonly log: Logger,
    private readonly probeTimeoutMs = 2000,
  ) {}

  /** Takes the socket, or throws StoreHeldError naming the doshd that has it. */
  async start(): Promise<void> {
    const holder = await probe(this.socketPath, this.probeTimeoutMs);
    if (holder !== 'free') throw new StoreHeldError(this.socketPath, holder === 'silent' ? undefined : holder);
    fs.rmSync(this.socketPath, { force: true }); // a socket left by a doshd that died: nothing answers on it
    const server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    fs.chmodSync(this.socketPath, 0o600);
    this.inode = fs.statSync(this.socketPath).ino;
    this.server = server;
  }

  /**
   * False once the socket file is no longer the one this doshd bound: another doshd that started at the same moment
   * (or an administrator) replaced it. Checked on every housekeeping pass; the loser stops.
   */
  stillHeld(): boolean {
    try {
      return fs.statSync(this.socketPath).ino === this.inode;
    } catch {
      return false;
    }
  }

  /** Stops accepting; connections of live logins stay with their links (closed by RelayLinks.closeAll). */
  close(): void {
    this.server?.close();
    if (this.stillHeld()) fs.rmSync(this.socketPath, { force: true });
  }

  private accept(sock: net.Socket): void {
    const conn = new RelayConnection(sock);
    this.conns.add(conn);
    conn.onClose(() => this.conns.delete(conn));
    let first = true;
    conn.onFrame((f) => {
      if (!first) return; // after the first frame the connection belongs to its login's link
      first = false;
      if (f.frame.type === Msg.Login) return this.onLogin(conn, f);
      if (f.frame.type === Msg.Who) return conn.end(Msg.Ident, { Pid: this.ident.pid, Node: this.ident.node, Message: this.ident.about });
      this.log.warn('session API: unexpected first message', { type: f.frame.type });
      conn.close('unexpected first message');
    });
  }
}

/** Asks whoever listens on the socket who it is: 'free' when nothing listens, 'silent' when something does but does not answer. */
export function probe(socketPath: string, timeoutMs: number): Promise<Ident | 'free' | 'silent'> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    // Before the connection's own handlers: a refused connect is the answer 'free', not a silent peer.
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'free' : 'silent');
    });
    const conn = new RelayConnection(sock);
    const timer = setTimeout(() => {
      conn.close('probe timed out');
      resolve('silent');
    }, timeoutMs);
    sock.once('connect', () => conn.send(Msg.Who));
    conn.onFrame((f) => {
      if (f.frame.type !== Msg.Ident) return;
      clearTimeout(timer);
      resolve({ pid: f.u32('Pid') ?? 0, node: f.bytes('Node')?.toString() ?? '?', about: f.bytes('Message')?.toString() ?? '' });
      conn.close('answered');
    });
    conn.onClose(() => {
      clearTimeout(timer);
      resolve('silent');
    });
  });
}
