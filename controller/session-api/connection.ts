// One connection to a login relay: the login request it opened with, or a reattached control channel. Frames in,
// frames out; a peer that sends garbage or more than the limit is cut off (it is root's socket, but a relay is a
// setuid program run by users, and doshd must outlive anything one of them does).
import type { Socket } from 'node:net';
import { FrameError, FrameReader, encodeFrame, splitFrames, type FieldValues } from '../../api/relay-wire.ts';
import { FRAME_MAX, type MsgType } from '../../api/relay-protocol.ts';

export class RelayConnection {
  private buf: Buffer = Buffer.alloc(0);
  private handlers: ((frame: FrameReader) => void)[] = [];
  private closers: ((why: string | undefined) => void)[] = [];
  private closed = false;
  /** Why doshd closed it itself (doshd stopping, a newer link replacing this one); undefined when the relay did. */
  closedBy: string | undefined;
  /** What was wrong with what the relay sent, when that is why the connection was cut. */
  protocolError: string | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly max = FRAME_MAX,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('end', () => socket.end());
  }

  /** Adds a listener for the frames that arrive from now on. */
  onFrame(fn: (frame: FrameReader) => void): void {
    this.handlers.push(fn);
  }

  onClose(fn: (closedBy: string | undefined) => void): void {
    if (this.closed) fn(this.closedBy);
    else this.closers.push(fn);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(type: MsgType, values?: FieldValues): void {
    if (!this.closed) this.socket.write(encodeFrame(type, values));
  }

  /** Sends a last frame, then closes. */
  end(type?: MsgType, values?: FieldValues): void {
    if (this.closed) return;
    if (type !== undefined) this.socket.end(encodeFrame(type, values));
    else this.socket.end();
  }

  close(why: string): void {
    if (this.closed) return;
    this.closedBy = why;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let frames;
    try {
      ({ frames, rest: this.buf } = splitFrames(this.buf, this.max));
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      // The relay's fault, not doshd's choice: closedBy stays unset, so the login is treated as gone.
      this.protocolError = e.message;
      this.socket.destroy();
      return;
    }
    for (const f of frames) {
      const reader = new FrameReader(f);
      for (const h of this.handlers) {
        if (this.closed) return;
        h(reader);
      }
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closers.splice(0)) fn(this.closedBy);
  }
}
