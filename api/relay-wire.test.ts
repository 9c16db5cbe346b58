import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import fc from 'fast-check';
import { encodeFrame, FrameError, FrameReader, splitFrames } from './relay-wire.ts';
import { Field, FRAME_MAX, Msg } from './relay-protocol.ts';
import { PROTOCOL_HEADER, protocolHeader } from '../scripts/gen-protocol.ts';

test('shell/protocol.h is what gen:protocol makes from api/relay-protocol.ts (run npm run gen:protocol)', () => {
  assert.equal(fs.readFileSync(PROTOCOL_HEADER, 'utf8'), protocolHeader());
});

test('every message type and field tag is distinct and fits a byte; relay-to-doshd types are below 64', () => {
  const types = Object.values(Msg);
  assert.equal(new Set(types).size, types.length);
  const tags = Object.values(Field).map((f) => f.tag);
  assert.equal(new Set(tags).size, tags.length);
  for (const n of [...types, ...tags]) assert.ok(n > 0 && n < 256);
});

test('a frame reads back: numbers by their size, strings as UTF-8, repeated fields in order, across any split', () => {
  fc.assert(
    fc.property(fc.array(fc.string(), { maxLength: 6 }), fc.nat(), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.nat({ max: 200 }), (args, uid, bytes, cut) => {
      const wire = Buffer.concat([encodeFrame(Msg.Login, { Uid: uid % 2 ** 32, Arg: args, BytesIn: bytes, Argv0: '-dosh' }), encodeFrame(Msg.Started)]);
      const at = Math.min(cut, wire.length);
      const first = splitFrames(wire.subarray(0, at), FRAME_MAX);
      const second = splitFrames(Buffer.concat([first.rest, wire.subarray(at)]), FRAME_MAX);
      const frames = [...first.frames, ...second.frames];
      assert.equal(second.rest.length, 0);
      assert.deepEqual(frames.map((f) => f.type), [Msg.Login, Msg.Started]);
      const r = new FrameReader(frames[0]);
      assert.equal(r.u32('Uid'), uid % 2 ** 32);
      assert.equal(r.u64('BytesIn'), bytes);
      assert.deepEqual(r.all('Arg').map((b) => b.toString('utf8')), args.map((a) => Buffer.from(a, 'utf8').toString('utf8')));
      assert.equal(r.bytes('Argv0')?.toString(), '-dosh');
      assert.equal(r.bytes('Term'), undefined);
    }),
    { numRuns: 300 },
  );
});

test('garbage is a FrameError, never a crash: oversized and empty frames, fields running past their frame, numbers of the wrong size', () => {
  const big = Buffer.alloc(4);
  big.writeUInt32BE(FRAME_MAX + 1);
  assert.throws(() => splitFrames(big, FRAME_MAX), FrameError);
  assert.throws(() => splitFrames(Buffer.from([0, 0, 0, 0]), FRAME_MAX), FrameError);
  assert.throws(() => splitFrames(Buffer.from([0, 0, 0, 8, Msg.Login, 2, 0, 0, 0, 9, 1, 2]), FRAME_MAX), FrameError);
  const [f] = splitFrames(Buffer.from([0, 0, 0, 8, Msg.Resize, Field.Rows.tag, 0, 0, 0, 2, 1, 2]), FRAME_MAX).frames;
  assert.throws(() => new FrameReader(f).u32('Rows'), FrameError);
  assert.throws(() => encodeFrame(Msg.Resize, { Rows: 'xx' }), TypeError);
  assert.throws(() => encodeFrame(Msg.Resize, { Rows: -1 }), TypeError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        for (const fr of splitFrames(Buffer.from(bytes), 1024).frames) new FrameReader(fr).u32('Uid');
      } catch (e) {
        assert.ok(e instanceof FrameError, String(e));
      }
    }),
  );
});
