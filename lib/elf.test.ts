// The ELF interpreter reader against the host's own programs and against damaged input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ElfError, elfInterpreter } from './elf.ts';

test("a dynamic program's interpreter is the loader it runs with; a static program has none", () => {
  const interp = elfInterpreter(readFileSync(process.execPath));
  assert.match(interp ?? '', /^\/.*ld-.*\.so/);
  // The same program with its PT_INTERP header made a PT_LOAD: what a static program looks like.
  const bytes = Buffer.from(readFileSync(process.execPath));
  for (let i = 0, phoff = Number(bytes.readBigUInt64LE(0x20)); i < bytes.readUInt16LE(0x38); i++) {
    if (bytes.readUInt32LE(phoff + i * 56) === 3) bytes.writeUInt32LE(1, phoff + i * 56);
  }
  assert.equal(elfInterpreter(bytes), undefined);
});

test('anything that is not a readable ELF file is an ElfError, never an out-of-bounds read', () => {
  assert.throws(() => elfInterpreter(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(80))), ElfError);
  const head = readFileSync(process.execPath).subarray(0, 64);
  assert.throws(() => elfInterpreter(head), /truncated/);
  for (let n = 0; n < 400; n++) {
    const b = Buffer.from(readFileSync(process.execPath).subarray(0, 4096));
    b[4 + (n % 60)] = (n * 37) & 0xff;
    b[0x38 - (n % 3)] ^= n & 0xff;
    try {
      elfInterpreter(b);
    } catch (e) {
      assert.ok(e instanceof ElfError, String(e));
    }
  }
});
