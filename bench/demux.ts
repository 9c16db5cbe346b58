// bench/demux: the no-TTY relay's demultiplexer alone, 200 MiB of 32 KiB frames (the engine's frame size) cut into
// socket-sized reads, against the demultiplexer it replaced (which joined a frame split across reads with
// Buffer.concat before emitting it), in the same run. Pure CPU; no engine needed:
//   node --import tsx bench/demux.ts
import { Demuxer } from '../shell/relay.ts';
import { median } from './stats.ts';

const FRAME = 32 * 1024;
const TOTAL = 200 * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** The replaced demultiplexer, kept here as the baseline: a partial frame is joined to the next read, then emitted. */
class ConcatDemuxer {
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
}

const frames: Buffer[] = [];
for (let n = 0; n < TOTAL; n += FRAME) {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h.writeUInt32BE(FRAME, 4);
  frames.push(h, Buffer.alloc(FRAME, 7));
}
const wire = Buffer.concat(frames);

function run(make: () => { push: Demuxer['push'] }, read: number): number {
  const d = make();
  let bytes = 0;
  const t = performance.now();
  for (let i = 0; i < wire.length; i += read) d.push(wire.subarray(i, i + read), (_s, p) => void (bytes += p.length));
  const ms = performance.now() - t;
  if (bytes !== TOTAL) throw new Error(`${bytes} bytes out of ${TOTAL}`);
  return ms;
}

console.log(`bench/demux: ${TOTAL >> 20} MiB of ${FRAME >> 10} KiB frames, medians of ${ROUNDS} rounds, node ${process.version}\n`);
console.log('| socket read | replaced (Buffer.concat) | zero-copy Demuxer | ratio |');
console.log('|---|---|---|---|');
for (const read of [65536, 64536, 200000]) {
  const old: number[] = [];
  const now: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    old.push(run(() => new ConcatDemuxer(), read));
    now.push(run(() => new Demuxer(), read));
  }
  console.log(`| ${read} B | ${median(old).toFixed(0)} ms | ${median(now).toFixed(0)} ms | ${(median(old) / median(now)).toFixed(1)}x faster |`);
}
