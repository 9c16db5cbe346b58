import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from './layout.ts';

test('the small JSON files: written whole or not at all, read as undefined when missing or torn', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-layout-'));
  const file = path.join(dir, 'idle.json');
  assert.equal(readJsonFile(file), undefined);
  writeJsonFileAtomic(file, { a: 1 });
  assert.deepEqual(readJsonFile(file), { a: 1 });
  writeFileSync(file, '{"a":');
  assert.equal(readJsonFile(file), undefined);
  // A value that cannot be written (a cycle) leaves the old file and no temp file.
  writeJsonFileAtomic(file, { a: 2 });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => writeJsonFileAtomic(file, cyclic), TypeError);
  assert.deepEqual(readJsonFile(file), { a: 2 });
  assert.deepEqual(readdirSync(dir), ['idle.json']);
});
