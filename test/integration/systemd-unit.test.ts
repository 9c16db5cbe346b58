// The installed doshd.service (made from etc/doshd.service.in by the package or by install-system) passes
// `systemd-analyze verify` (where systemd-analyze exists: Debian has it even when systemd is not PID 1), and keeps the
// hardening and the KillMode that logins rely on.
// needs: dosh
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { INSTALLED } from '../lib/installed.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TEMPLATE = path.join(ROOT, 'etc/doshd.service.in');
const UNIT = INSTALLED.unit;
const hasAnalyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).status === 0;

function verify(file: string) {
  // --man=no: Documentation= is the package's man page or install-system's README, not checked here; nothing else is
  // skipped.
  return spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8', timeout: 60_000 });
}

test(`systemd-analyze verify ${UNIT}: no errors, no warnings`, { skip: !hasAnalyze && 'systemd-analyze is not installed' }, () => {
  // verify checks that ExecStart's binary exists: the test command's dosh step installed it.
  assert.ok(existsSync(UNIT), `${UNIT} is not installed`);
  const r = verify(UNIT);
  assert.equal(r.status, 0, r.stderr);
  const complaints = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() && !/^Running in chroot|ignoring request/i.test(l));
  assert.deepEqual(complaints, [], 'systemd-analyze verify printed warnings');
});

test('systemd-analyze verify catches a broken unit here (the check above is real)', { skip: !hasAnalyze && 'systemd-analyze is not installed' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-unit-'));
  try {
    const bad = path.join(dir, 'doshd.service');
    writeFileSync(bad, readFileSync(UNIT, 'utf8').replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/doshd'));
    const r = verify(bad);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nonexistent\/doshd/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the installed unit is the template with its two places filled in, and keeps what doshd and the logins need', () => {
  const unit = readFileSync(UNIT, 'utf8');
  const template = readFileSync(TEMPLATE, 'utf8');
  const doc = INSTALLED.kind === 'package' ? 'man:doshd(8)' : `file://${INSTALLED.doc}/README.md`;
  assert.equal(unit, template.replace('@DOSHD@', INSTALLED.doshd).replace('@DOCUMENTATION@', doc));
  const get = (k: string) => unit.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1];
  assert.equal(get('ExecStart'), `${INSTALLED.doshd} --store /run/dosh --config /etc/dosh/dosh.conf --log-format json $DOSHD_OPTS`);
  assert.equal(get('EnvironmentFile'), '-/etc/default/doshd');
  assert.equal(get('KillMode'), 'process', 'sessions outlive a restart of doshd');
  assert.equal(get('RuntimeDirectory'), 'dosh');
  assert.equal(get('RuntimeDirectoryPreserve'), 'yes', 'the store survives a restart');
  for (const k of ['NoNewPrivileges', 'ProtectKernelModules', 'ProtectKernelTunables', 'RestrictSUIDSGID']) assert.equal(get(k), 'yes', k);
  // doshd reads /proc of every process and signals logins: these would break it.
  for (const k of ['ProtectProc', 'PrivateUsers', 'PrivatePIDs']) assert.equal(get(k), undefined, `${k} breaks doshd`);
});
