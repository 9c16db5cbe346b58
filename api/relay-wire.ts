// Encoding and decoding the relay's frames (api/relay-protocol.ts): doshd's side of what shell/wire.c does in C.
import { Field, type FieldName, type MsgType } from './relay-protocol.ts';

export type FieldValues = Partial<Record<FieldName, number | bigint | string | Buffer | readonly (string | Buffer)[]>>;

/** A decoded frame: its type and its raw fields in order (a tag may repeat, as Arg does). */
export interface Frame {
  type: number;
  fields: { tag: number; value: Buffer }[];
}

const byTag = new Map<number, FieldName>(Object.entries(Field).map(([k, v]) => [v.tag, k as FieldName]));

/** One frame; strings go as UTF-8, arrays as repeated fields, numbers by the field's kind. */
export function encodeFrame(type: MsgType, values: FieldValues = {}): Buffer {
  const parts: Buffer[] = [];
  for (const [name, raw] of Object.entries(values) as [FieldName, FieldValues[FieldName]][]) {
    if (raw === undefined) continue;
    const { tag, kind } = Field[name];
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      let value: Buffer;
      if (kind === 'u32') {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new TypeError(`field ${name}: ${String(v)} is not a 32-bit unsigned number`);
        value = Buffer.alloc(4);
        value.writeUInt32BE(n);
      } else if (kind === 'u64') {
        value = Buffer.alloc(8);
        value.writeBigUInt64BE(BigInt(v as number | bigint));
      } else {
        value = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
      }
      const head = Buffer.alloc(5);
      head[0] = tag;
      head.writeUInt32BE(value.length, 1);
      parts.push(head, value);
    }
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = type;
  return Buffer.concat([head, body]);
}

export class FrameError extends Error {
  override name = 'FrameError';
}

/** Splits complete frames off the front of a buffer; returns them and what is left. Throws FrameError on garbage. */
export function splitFrames(buf: Buffer, max: number): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 4) {
    const n = buf.readUInt32BE(off);
    if (n < 1 || n > max) throw new FrameError(`frame of ${n} bytes (at most ${max})`);
    if (buf.length - off - 4 < n) break;
    frames.push(decodeBody(buf.subarray(off + 4, off + 4 + n)));
    off += 4 + n;
  }
  return { frames, rest: buf.subarray(off) };
}

function decodeBody(body: Buffer): Frame {
  const fields: Frame['fields'] = [];
  let off = 1;
  while (off < body.length) {
    if (body.length - off < 5) throw new FrameError('a field header cut short');
    const tag = body[off];
    const n = body.readUInt32BE(off + 1);
    off += 5;
    if (n > body.length - off) throw new FrameError(`field ${tag} of ${n} bytes runs past its frame`);
    fields.push({ tag, value: body.subarray(off, off + n) });
    off += n;
  }
  return { type: body[0], fields };
}

/** Typed access to a frame's fields; a field of the wrong size is a FrameError. */
export class FrameReader {
  constructor(readonly frame: Frame) {}

  private raw(name: FieldName): Buffer[] {
    const { tag } = Field[name];
    return this.frame.fields.filter((f) => f.tag === tag).map((f) => f.value);
  }

  u32(name: FieldName): number | undefined {
    const v = this.raw(name)[0];
    if (v === undefined) return undefined;
    if (v.length !== 4) throw new FrameError(`field ${name} is ${v.length} bytes, not 4`);
    return v.readUInt32BE(0);
  }

  u64(name: FieldName): bigint | undefined {
    const v = this.raw(name)[0];
    if (v === undefined) return undefined;
    if (v.length !== 8) throw new FrameError(`field ${name} is ${v.length} bytes, not 8`);
    return v.readBigUInt64BE(0);
  }

  bytes(name: FieldName): Buffer | undefined {
    return this.raw(name)[0];
  }

  all(name: FieldName): Buffer[] {
    return this.raw(name);
  }
}

/** For logs and errors: a frame's field names. */
export function fieldNames(frame: Frame): string[] {
  return frame.fields.map((f) => byTag.get(f.tag) ?? `#${f.tag}`);
}
