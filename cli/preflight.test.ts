import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { preflight } from './preflight.ts';
import { CliError, type Command } from './context.ts';
import type { ProcFs } from '../lib/proc.ts';

const cmd = (needs: Command['needs']): Command => ({ path: ['x'], usage: 'doshctl x', summary: '', needs, run: async () => {} });
const stat = (start: string, state = 'S') => `42 (doshd) ${state} 1 ${Array.from({ length: 17 }, () => '0').join(' ')} ${start} 0`;
const procs = (map: Record<number, string>): ProcFs => ({ readStat: (p) => map[p], listPids: () => [], kill: () => {} });

test('not root: a sentence that says so, status 4', () => {
  assert.throws(() => preflight(cmd(['root']), { uid: 1000, storeRoot: '/nonexistent' }), (e) => e instanceof CliError && e.code === 4 && /must run as root/.test(e.message));
  preflight(cmd([]), { uid: 1000, storeRoot: '/nonexistent' });
});

test('doshd: missing record, gone or reused pid, and alive', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dosh-preflight-'));
  try {
    const need = cmd(['doshd']);
    assert.throws(() => preflight(need, { uid: 0, storeRoot: root }), /doshd is not running \(no .*doshd\.json\)/);
    writeFileSync(path.join(root, 'doshd.json'), JSON.stringify({ pid: 42, startTime: '777', node: 'n', version: '0', startedAt: 'then' }));
    assert.throws(() => preflight(need, { uid: 0, storeRoot: root, procFs: procs({}) }), /pid 42, started then/);
    assert.throws(() => preflight(need, { uid: 0, storeRoot: root, procFs: procs({ 42: stat('778') }) }), /is gone/);
    assert.throws(() => preflight(need, { uid: 0, storeRoot: root, procFs: procs({ 42: stat('777', 'Z') }) }), /is gone/);
    preflight(need, { uid: 0, storeRoot: root, procFs: procs({ 42: stat('777') }) });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
