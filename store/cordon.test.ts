import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileCordon } from './cordon.ts';
import { cordonFile } from './layout.ts';

test('cordon: set, read back (by another instance, as doshd reads what doshctl wrote), cleared; root-only file', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dosh-cordon-'));
  const doshctl = new FileCordon(root);
  const doshd = new FileCordon(root);
  assert.equal(doshd.message(), undefined);
  doshctl.set('maintenance until 14:00', '2026-11-30T12:00:00.000Z');
  assert.equal(doshd.message(), 'maintenance until 14:00');
  assert.equal(statSync(cordonFile(root)).mode & 0o777, 0o600);
  doshctl.clear();
  assert.equal(doshd.message(), undefined);
  doshctl.clear(); // clearing twice is fine
});
