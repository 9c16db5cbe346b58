// Relaying a login's bytes between the user's file descriptors and the engine's hijacked exec connection.
// Without a TTY the engine multiplexes stdout and stderr in 8-byte-header frames; with one it sends raw bytes.
import type { Duplex, Readable, Writable } from 'node:stream';

/** Splits the engine's multiplexed stream into stdout/stderr frames, across arbitrary chunk boundaries. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, emit: (stream: number, payload: Buffer) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      emit(this.buf[0], this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }

  pending(): number {
    return this.buf.length;
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
    const write = (out: Writable, data: Buffer) => {
      if (!out.write(data)) {
        sock.pause();
        out.once('drain', () => sock.resume());
      }
    };
    sock.once('data', () => onFirstByte());
    sock.on('data', (chunk: Buffer) => {
      if (tty) write(io.stdout, chunk);
      else demux.push(chunk, (stream, payload) => write(stream === 2 ? io.stderr : io.stdout, payload));
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
