// Relaying a login's bytes between the user's file descriptors and the engine's hijacked exec connection.
// Without a TTY the engine multiplexes stdout and stderr in 8-byte-header frames; with one it sends raw bytes.
import type { Duplex, Readable, Writable } from 'node:stream';

/**
 * Splits the engine's multiplexed stream into stdout/stderr payloads, across arbitrary chunk boundaries, without
 * copying: a frame split across socket reads is emitted as two payloads as the bytes arrive (order is kept), so only
 * a header split across reads is ever copied (8 bytes). Empty frames emit nothing.
 */
export class Demuxer {
  private readonly header = Buffer.alloc(8);
  private have = 0; // header bytes collected so far
  private stream = 0;
  private left = 0; // payload bytes of the current frame still to come

  push(chunk: Buffer, emit: (stream: number, payload: Buffer) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i);
        emit(this.stream, chunk.subarray(i, i + n));
        this.left -= n;
        i += n;
      } else if (this.have === 0 && chunk.length - i >= 8) {
        this.stream = chunk[i];
        this.left = chunk.readUInt32BE(i + 4);
        i += 8;
      } else {
        const n = Math.min(8 - this.have, chunk.length - i);
        chunk.copy(this.header, this.have, i, i + n);
        this.have += n;
        i += n;
        if (this.have === 8) {
          this.stream = this.header[0];
          this.left = this.header.readUInt32BE(4);
          this.have = 0;
        }
      }
    }
  }

  /** Bytes of the current frame still missing (0 at a frame boundary). */
  pending(): number {
    return this.have > 0 ? 8 - this.have : this.left;
  }
}

export interface RelayIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/**
 * Resolves when the engine closes the exec's output. stdin EOF half-closes the connection so the command sees EOF
 * (`tar c . | ssh host 'tar x'`); output is written with backpressure so a slow reader slows the command, not memory.
 */
export function relay(sock: Duplex, io: RelayIO, tty: boolean, onHangup: (why: 'output' | 'terminal') => void, onFirstByte: () => void = () => {}): Promise<void> {
  return new Promise((resolve) => {
    const demux = new Demuxer();
    const toStdout = (stream: number, payload: Buffer) => void (stream === 2 ? io.stderr : io.stdout).write(payload);
    // Backpressure is checked once per socket read, not per write: write() returns false for any chunk larger than
    // the stream's 16 KiB mark even when (stdout on a pipe or a file) it has already been written synchronously, and
    // pausing the socket for that cost a pause/resume per frame. What is really queued stays under one read plus this.
    const queuedLimit = 256 * 1024;
    const waitFor = (out: Writable) => {
      sock.pause();
      out.once('drain', () => sock.resume());
    };
    sock.once('data', () => onFirstByte());
    sock.on('data', (chunk: Buffer) => {
      if (tty) io.stdout.write(chunk);
      else {
        // The payloads of one socket read go out in one writev per stream instead of one write per frame piece.
        io.stdout.cork();
        io.stderr.cork();
        demux.push(chunk, toStdout);
        io.stdout.uncork();
        io.stderr.uncork();
      }
      if (io.stdout.writableLength > queuedLimit) waitFor(io.stdout);
      else if (io.stderr.writableLength > queuedLimit) waitFor(io.stderr);
    });
    io.stdout.on('error', () => onHangup('output'));
    io.stderr.on('error', () => onHangup('output'));
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      io.stdin.unpipe(sock);
      io.stdin.pause();
      resolve();
    };
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', finish);
    if (tty) {
      // In raw mode ^D is a byte like any other: a terminal only reads EOF or EIO once it has been hung up.
      io.stdin.on('end', () => onHangup('terminal'));
      io.stdin.on('error', () => onHangup('terminal'));
    } else {
      io.stdin.on('error', () => sock.end());
    }
    io.stdin.pipe(sock, { end: !tty });
  });
}

/** Waits until every byte handed to a stream has been taken by the kernel. */
export function flush(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (out.writableLength === 0) return resolve();
    out.write('', () => resolve());
  });
}
