// The control channels of live logins: one connection per session, from its relay. A login's channel is the
// connection its login request came on; after a doshd restart it is a connection doshd opens to the socket the relay
// listens on (STORE/relays/NAME.sock, root-only). What each message means for the session is RelayEvents' business.
import type { Socket } from 'node:net';
import { Msg } from '../../api/relay-protocol.ts';
import type { FrameReader } from '../../api/relay-wire.ts';
import type { Logger } from '../../lib/log.ts';
import { RelayConnection } from './connection.ts';

/** What doshd does when a relay reports something (controller/session-api/relay-events.ts). */
export interface RelayEvents {
  started(name: string, size: { rows: number; cols: number } | undefined): void;
  resize(name: string, rows: number, cols: number): void;
  signal(name: string, signal: number): void;
  firstByte(name: string): void;
  /**
   * The stream ended: the exit status and the message to print (once doshd has recorded the end). `execId` is the
   * exec the relay started, for when the session object is gone (an administrator wiped the store).
   */
  streamEnded(name: string, bytes: { in: bigint; out: bigint }, execId: string | undefined): Promise<{ code: number; message?: string }>;
  hangUp(name: string, signal: number): void;
  startFailed(name: string, message: string): void;
  /** The relay stopped recording the session (a full disk, her cap): why, and the bytes the recording holds. */
  recordingStopped(name: string, message: string, recorded: bigint): void;
  /** The channel closed without an exit: the relay is gone (killed, crashed) unless doshd closed it itself. */
  lost(name: string, why: string): void;
}

interface Link {
  conn: RelayConnection;
  size?: { rows: number; cols: number };
  /** The last drain message sent, so each is shown once. */
  notice?: string;
  /** Set once the stream ended: the exit answer is on its way. */
  ending?: boolean;
}

export type Connect = (path: string) => Promise<Socket>;

export class RelayLinks {
  private readonly links = new Map<string, Link>();
  private readonly reattaching = new Map<string, Promise<'attached' | 'gone'>>();
  private stopping = false;

  constructor(
    private readonly events: RelayEvents,
    private readonly connect: Connect,
    private readonly log: Logger,
  ) {}

  has(name: string): boolean {
    return this.links.has(name);
  }

  /** A login's own connection becomes its channel once doshd has admitted it. */
  attach(name: string, conn: RelayConnection, size?: { rows: number; cols: number }): void {
    const old = this.links.get(name);
    if (old && old.conn !== conn) old.conn.close('replaced by a newer connection');
    const link: Link = { conn, size };
    this.links.set(name, link);
    conn.onFrame((f) => this.onFrame(name, link, f));
    conn.onClose((closedBy) => {
      if (this.links.get(name) === link) this.links.delete(name);
      if (closedBy === undefined && !this.stopping && !link.ending) this.events.lost(name, conn.protocolError ? `it sent a malformed message (${conn.protocolError})` : 'its connection closed');
    });
  }

  /** doshd is ending this login's channel itself (a refusal after it was attached): its close is not a loss. */
  release(name: string): void {
    const link = this.links.get(name);
    if (link) link.ending = true;
  }

  /** Shows a message on her terminal, once per distinct text. */
  notice(name: string, text: string): void {
    const link = this.links.get(name);
    if (!link || link.notice === text) return;
    link.notice = text;
    link.conn.send(Msg.Notice, { Message: text });
  }

  /**
   * After a doshd restart: connects to the relay's socket. 'gone' when nothing listens there (the relay has exited,
   * or never got as far as listening); concurrent calls for one session share one attempt.
   */
  reattach(name: string, socketPath: string): Promise<'attached' | 'gone'> {
    if (this.links.has(name)) return Promise.resolve('attached');
    let p = this.reattaching.get(name);
    if (!p) {
      p = this.connect(socketPath).then(
        (sock) => {
          this.attach(name, new RelayConnection(sock));
          this.log.info('reattached to a login', { session: name });
          return 'attached' as const;
        },
        (e: NodeJS.ErrnoException) => {
          this.log.info('a login could not be reattached', { session: name, error: e.code ?? e.message });
          return 'gone' as const;
        },
      );
      p.finally(() => this.reattaching.delete(name)).catch(() => {});
      this.reattaching.set(name, p);
    }
    return p;
  }

  /** doshd is stopping: the relays keep their streams and wait for the next doshd. */
  closeAll(): void {
    this.stopping = true;
    for (const l of this.links.values()) l.conn.close('doshd is stopping');
    this.links.clear();
  }

  private onFrame(name: string, link: Link, f: FrameReader): void {
    try {
      switch (f.frame.type) {
        case Msg.Started:
          return this.events.started(name, link.size);
        case Msg.Resize: {
          const rows = f.u32('Rows');
          const cols = f.u32('Cols');
          if (rows && cols && rows < 65536 && cols < 65536) this.events.resize(name, rows, cols);
          return;
        }
        case Msg.Signal:
          return this.events.signal(name, f.u32('Signal') ?? 0);
        case Msg.FirstByte:
          return this.events.firstByte(name);
        case Msg.Hangup:
          link.ending = true;
          return this.events.hangUp(name, f.u32('Signal') ?? 1);
        case Msg.StartFailed:
          link.ending = true;
          return this.events.startFailed(name, f.bytes('Message')?.toString('utf8').slice(0, 2000) ?? 'the engine refused to start the exec');
        case Msg.RecordingStopped:
          return this.events.recordingStopped(name, f.bytes('Message')?.toString('utf8').slice(0, 500) ?? 'the recording stopped', f.u64('Recorded') ?? 0n);
        case Msg.StreamEnd:
          return this.answerExit(name, link, f);
        case Msg.Reattach:
          // The relay says where its login stands; an ended stream still waits for its exit status.
          if (f.u32('StreamEnded') === 1) return this.answerExit(name, link, f);
          return;
        default:
          this.log.warn('a login relay sent an unexpected message', { session: name, type: f.frame.type });
      }
    } catch (e) {
      this.log.warn('a login relay sent a malformed message', { session: name, error: (e as Error).message });
      link.conn.close('malformed message');
      this.events.lost(name, `it sent a malformed message (${(e as Error).message})`);
    }
  }

  private answerExit(name: string, link: Link, f: FrameReader): void {
    link.ending = true;
    const bytes = { in: f.u64('BytesIn') ?? 0n, out: f.u64('BytesOut') ?? 0n };
    const execId = f.bytes('ExecId')?.toString('latin1');
    void this.events.streamEnded(name, bytes, execId && /^[0-9a-f]{64}$/.test(execId) ? execId : undefined).then(
      ({ code, message }) => link.conn.end(Msg.Exit, { ExitCode: code, Message: message }),
      (e: Error) => {
        this.log.error('could not learn a login\'s exit status', { session: name, error: e.message });
        link.conn.end(Msg.Exit, { ExitCode: 255, Message: `the exit status of the command is unknown: ${e.message}` });
      },
    );
  }
}
