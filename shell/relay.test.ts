import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, Readable, Writable } from 'node:stream';
import fc from 'fast-check';
import { Demuxer, relay } from './relay.ts';

function frame(stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

test('demuxer splits frames across any chunk boundary, byte-exact', () => {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const bin = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 31) & 0xff));
  const wire = Buffer.concat([frame(1, bin.subarray(0, 40000)), frame(2, Buffer.from('warn\n')), frame(1, bin.subarray(40000)), frame(1, Buffer.alloc(0))]);
  for (const step of [1, 7, 8, 9, 4096, wire.length]) {
    out.length = 0;
    err.length = 0;
    const d = new Demuxer();
    for (let i = 0; i < wire.length; i += step) d.push(wire.subarray(i, i + step), (s, p) => (s === 2 ? err : out).push(Buffer.from(p)));
    assert.deepEqual(Buffer.concat(out), bin, `step ${step}`);
    assert.equal(Buffer.concat(err).toString(), 'warn\n');
    assert.equal(d.pending(), 0);
  }
});

test('demuxer, property: any frames cut at any points come out byte-exact and in order; pending() is 0 only between frames', () => {
  const frames = fc.array(fc.record({ stream: fc.constantFrom(1, 2), size: fc.nat({ max: 70_000 }) }), { maxLength: 12 });
  fc.assert(
    fc.property(frames, fc.array(fc.nat(), { maxLength: 20 }), fc.nat(), (spec, rawCuts, seed) => {
      const payloads = spec.map((f, k) => Buffer.from(Array.from({ length: f.size }, (_, i) => (i * 7 + k * 13 + seed) & 0xff)));
      const wire = Buffer.concat(spec.map((f, k) => frame(f.stream, payloads[k])));
      const cuts = [...new Set(rawCuts.map((c) => (wire.length ? c % wire.length : 0)))].sort((a, b) => a - b);
      const got: { stream: number; bytes: Buffer }[] = [];
      const d = new Demuxer();
      let at = 0;
      for (const end of [...cuts, wire.length]) {
        d.push(wire.subarray(at, end), (stream, p) => {
          assert.ok(p.length > 0, 'no empty payloads');
          const last = got[got.length - 1];
          if (last && last.stream === stream) last.bytes = Buffer.concat([last.bytes, p]);
          else got.push({ stream, bytes: Buffer.from(p) });
        });
        at = end;
      }
      assert.equal(d.pending(), 0);
      // What the engine sent, with empty frames dropped and same-stream neighbours merged, as the wire order has it.
      const want: { stream: number; bytes: Buffer }[] = [];
      spec.forEach((f, k) => {
        if (!f.size) return;
        const last = want[want.length - 1];
        if (last && last.stream === f.stream) last.bytes = Buffer.concat([last.bytes, payloads[k]]);
        else want.push({ stream: f.stream, bytes: payloads[k] });
      });
      assert.deepEqual(got, want);
    }),
    { numRuns: 300 },
  );
  const d = new Demuxer();
  d.push(frame(1, Buffer.alloc(10)).subarray(0, 3), () => {});
  assert.equal(d.pending(), 5, 'inside a header: the header bytes still missing');
  d.push(frame(1, Buffer.alloc(10)).subarray(3, 12), () => {});
  assert.equal(d.pending(), 6, 'inside a payload: the payload bytes still missing');
});

/** The engine's side of a hijacked exec: serves WIRE in 64 KiB reads as the reader asks, and counts pause() calls. */
function engineSocket(wire: Buffer): { sock: Duplex; pauses: () => number } {
  let at = 0;
  let pauses = 0;
  const sock = new Duplex({
    read() {
      if (at >= wire.length) return void this.push(null);
      this.push(wire.subarray(at, at + 65536));
      at += 65536;
    },
    write(_c, _e, cb) {
      cb();
    },
  });
  const pause = sock.pause.bind(sock);
  sock.pause = () => {
    pauses++;
    return pause();
  };
  return { sock, pauses: () => pauses };
}

/** A stdout that takes each write only after `delayMs`, like a slow reader at the end of a socket. */
function slowWriter(delayMs: number, into: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      into.push(Buffer.from(chunk));
      setTimeout(cb, delayMs);
    },
  });
}

test('relay without a TTY: a slow stdout pauses the engine socket, the queue stays bounded, every byte arrives in order', async () => {
  const FRAMES = 160; // 160 frames of 32 KiB: 5 MiB, cut into 64 KiB socket reads like the engine's
  const payload = (k: number) => Buffer.alloc(32 * 1024, k & 0xff);
  const wire = Buffer.concat(Array.from({ length: FRAMES }, (_, k) => frame(k % 10 === 9 ? 2 : 1, payload(k))));
  const { sock, pauses } = engineSocket(wire);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = slowWriter(1, out);
  const stderr = slowWriter(0, err);
  let maxQueued = 0;
  const sample = setInterval(() => (maxQueued = Math.max(maxQueued, stdout.writableLength)), 1);
  const hangups: string[] = [];
  let first = 0;
  await relay(sock, { stdin: Readable.from([]), stdout, stderr }, false, (why) => hangups.push(why), () => first++);
  clearInterval(sample);
  await new Promise<void>((resolve) => (stdout.writableLength ? stdout.once('drain', resolve) : resolve()));
  const want = (s: number) => Buffer.concat(Array.from({ length: FRAMES }, (_, k) => k).filter((k) => (k % 10 === 9 ? 2 : 1) === s).map(payload));
  assert.ok(Buffer.concat(out).equals(want(1)), 'stdout byte-exact and in order');
  assert.ok(Buffer.concat(err).equals(want(2)), 'stderr byte-exact and in order');
  assert.equal(first, 1, 'first byte reported once');
  assert.deepEqual(hangups, []);
  assert.ok(pauses() > 0, 'the socket was paused while stdout was behind');
  assert.ok(maxQueued <= 256 * 1024 + 65536, `stdout never queued more than the limit plus one read (max ${maxQueued})`);
});

test('relay without a TTY: a stdout whose writes complete a moment later (a pipe briefly full) pauses the socket per 256 KiB queued, not per frame', async () => {
  const FRAMES = 64; // 2 MiB
  const wire = Buffer.concat(Array.from({ length: FRAMES }, (_, k) => frame(1, Buffer.alloc(32 * 1024, k))));
  const { sock, pauses } = engineSocket(wire);
  let bytes = 0;
  const stdout = new Writable({
    write(c: Buffer, _e, cb) {
      bytes += c.length;
      setImmediate(cb);
    },
  });
  await relay(sock, { stdin: Readable.from([]), stdout, stderr: stdout }, false, () => {});
  await new Promise<void>((resolve) => (stdout.writableLength ? stdout.once('drain', resolve) : resolve()));
  assert.equal(bytes, FRAMES * 32 * 1024);
  assert.ok(pauses() <= (FRAMES * 32) / 256 + 1, `paused ${pauses()} times for ${FRAMES} frames`);
});

test('relay without a TTY: the payloads of one socket read reach stdout in one writev, not one write per frame piece', async () => {
  // 16 frames of 24 KiB: each 64 KiB read holds two or three frame pieces.
  const wire = Buffer.concat(Array.from({ length: 16 }, (_, k) => frame(1, Buffer.alloc(24 * 1024, k))));
  const { sock } = engineSocket(wire);
  const calls: number[] = []; // pieces per call to the stream's writer
  let bytes = 0;
  const stdout = new Writable({
    write(c: Buffer, _e, cb) {
      calls.push(1);
      bytes += c.length;
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.length);
      for (const { chunk } of chunks) bytes += (chunk as Buffer).length;
      cb();
    },
  });
  await relay(sock, { stdin: Readable.from([]), stdout, stderr: stdout }, false, () => {});
  assert.equal(bytes, 16 * 24 * 1024);
  assert.equal(calls.length, Math.ceil(wire.length / 65536), 'one call per socket read');
  assert.ok(calls.some((n) => n > 1), `several pieces per call: ${calls.join(' ')}`);
});
