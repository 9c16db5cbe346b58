// zod's codec, as doshd and doshctl read the store: the schema's value, or every issue with its path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { zodCodec } from './codec.ts';

test('zodCodec: the schema\'s value (defaults filled) or every issue with its path', () => {
  const schema = z.object({ a: z.number(), b: z.object({ c: z.string() }), d: z.array(z.string()).default([]) });
  assert.deepEqual(zodCodec(schema).decode({ a: 1, b: { c: 'x' } }), { ok: true, value: { a: 1, b: { c: 'x' }, d: [] } });
  assert.deepEqual(zodCodec(schema).decode({ a: 'x', b: {} }), { ok: false, error: 'a: Invalid input: expected number, received string; b.c: Invalid input: expected string, received undefined' });
});
