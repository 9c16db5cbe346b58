import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Demuxer } from './relay.ts';

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
