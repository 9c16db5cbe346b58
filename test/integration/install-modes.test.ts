// After `bash scripts/install-system.sh`, every installed file, and the store doshd creates, has exactly the owner and
// mode that the table "Installed files and their modes" of docs/SECURITY.md states (the table is parsed here, so the
// documentation and the installation cannot drift apart), and no directory above them is writable by anyone but root.
// needs: docker busybox
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOC = path.join(ROOT, 'docs/SECURITY.md');
const STORE = '/run/dosh';
const LIB = '/usr/local/lib/dosh';

interface Row {
  path: string;
  kind: 'file' | 'directory' | 'socket' | 'symlink';
  target?: string;
  uid: number;
  gid: number;
  mode?: number;
  line: number;
}

/** The rows of the table under "## Installed files and their modes" in docs/SECURITY.md. */
function docTable(): Row[] {
  const lines = readFileSync(DOC, 'utf8').split('\n');
  const start = lines.findIndex((l) => /^## Installed files and their modes\s*$/.test(l));
  assert.ok(start >= 0, `${DOC} has no "## Installed files and their modes" section`);
  const rows: Row[] = [];
  let inTable = false;
  for (let i = start + 1; i < lines.length && !/^## /.test(lines[i]); i++) {
    const l = lines[i];
    if (!l.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = l.split('|').slice(1, -1).map((c) => c.trim());
    if (cells[0] === 'path' || /^-+$/.test(cells[0])) continue;
    const where = `${path.basename(DOC)}:${i + 1}`;
    const p = /^`([^`]+)`$/.exec(cells[0])?.[1] ?? '';
    assert.ok(p?.startsWith('/'), `${where}: the path must be one absolute path in backquotes: ${l}`);
    const kind = /^(file|directory|socket|symlink)(?: to `([^`]+)`)?$/.exec(cells[1]);
    assert.ok(kind, `${where}: kind must be file, directory, socket or "symlink to \`TARGET\`": ${l}`);
    const owner = /^([a-z_][a-z0-9_-]*):([a-z_][a-z0-9_-]*)$/.exec(cells[2]);
    assert.ok(owner, `${where}: owner must be USER:GROUP: ${l}`);
    const uid = Number(spawnSync('id', ['-u', owner[1]], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('getent', ['group', owner[2]], { encoding: 'utf8' }).stdout.split(':')[2]);
    assert.ok(Number.isInteger(uid) && Number.isInteger(gid), `${where}: unknown owner ${cells[2]}`);
    let mode: number | undefined;
    if (kind[1] === 'symlink') assert.equal(cells[3], '', `${where}: a symlink has no mode of its own`);
    else {
      assert.match(cells[3], /^[0-7]{4}$/, `${where}: mode must be four octal digits like 0755 (4755: setuid)`);
      mode = parseInt(cells[3], 8);
    }
    rows.push({ path: p, kind: kind[1] as Row['kind'], target: kind[2], uid, gid, mode, line: i + 1 });
  }
  assert.ok(rows.length >= 10, `only ${rows.length} rows parsed from the table in ${DOC}`);
  return rows;
}

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

/** What is wrong with PATH against ROW (empty when it matches). */
function check(row: Row, p: string): string[] {
  let st: Stats;
  try {
    st = lstatSync(p);
  } catch {
    return [`${p}: missing (docs/SECURITY.md:${row.line})`];
  }
  const problems: string[] = [];
  const is = row.kind === 'file' ? st.isFile() : row.kind === 'directory' ? st.isDirectory() : row.kind === 'socket' ? st.isSocket() : st.isSymbolicLink();
  if (!is) problems.push(`${p}: not a ${row.kind}`);
  if (st.uid !== row.uid || st.gid !== row.gid) problems.push(`${p}: owned by ${st.uid}:${st.gid}, the doc says ${row.uid}:${row.gid}`);
  if (row.mode !== undefined && (st.mode & 0o7777) !== row.mode) problems.push(`${p}: mode ${octal(st.mode)}, the doc says ${octal(row.mode)}`);
  if (row.kind === 'symlink' && st.isSymbolicLink() && readlinkSync(p) !== row.target) problems.push(`${p}: points to ${readlinkSync(p)}, the doc says ${row.target}`);
  return problems;
}

/** The paths a row stands for under ROOTDIR (the store rows may be checked on another store): a `*` in the last component is a glob. */
function expand(row: Row, from = '', to = ''): string[] {
  const p = from && row.path.startsWith(from) ? to + row.path.slice(from.length) : row.path;
  const base = path.basename(p);
  if (!base.includes('*')) return [p];
  const re = new RegExp(`^${base.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  const dir = path.dirname(p);
  return existsSync(dir) ? readdirSync(dir).filter((f) => re.test(f)).map((f) => path.join(dir, f)) : [];
}

const isStoreRow = (r: Row) => r.path === STORE || r.path.startsWith(`${STORE}/`);

let rows: Row[];
let scratch = '';
let doshd: ReturnType<typeof spawn> | undefined;

before(() => {
  rows = docTable();
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/install-system.sh')], { cwd: ROOT, encoding: 'utf8', timeout: 10 * 60_000 });
  assert.equal(r.status, 0, `install-system.sh failed:\n${r.stderr}`);
});

after(() => {
  if (doshd?.pid && doshd.exitCode === null) doshd.kill('SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('every file install-system.sh puts in place has the owner, mode and kind docs/SECURITY.md states', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const row of rows.filter((r) => !isStoreRow(r))) {
    for (const p of expand(row)) {
      problems.push(...check(row, p));
      checked++;
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 15, `only ${checked} installed paths checked`);
  // The one line install-system adds to a system file.
  assert.ok(readFileSync('/etc/shells', 'utf8').split('\n').includes('/usr/local/bin/dosh'), '/etc/shells lists /usr/local/bin/dosh');
});

test(`the table lists every file in ${LIB} and /usr/local/share/doc/dosh (a new installed file must be documented)`, () => {
  const documented = new Set(rows.map((r) => r.path));
  const missing: string[] = [];
  for (const dir of [LIB, '/usr/local/share/doc/dosh']) for (const f of readdirSync(dir)) if (!documented.has(path.join(dir, f))) missing.push(path.join(dir, f));
  assert.deepEqual(missing, [], 'installed but not in the table of docs/SECURITY.md');
});

test('no directory above an installed file or the store is writable by anyone but root (nobody can swap the login shell)', () => {
  const problems: string[] = [];
  const seen = new Set<string>();
  const walk = (p: string) => {
    for (let d = path.dirname(p); ; d = path.dirname(d)) {
      if (!seen.has(d)) {
        seen.add(d);
        const st = lstatSync(d);
        if (st.isSymbolicLink()) walk(path.join(realpathSync(d), 'x'));
        else if (st.uid !== 0 || st.mode & 0o022) problems.push(`${d}: owner ${st.uid}, mode ${octal(st.mode)}`);
      }
      if (d === '/') break;
    }
  };
  for (const row of rows) for (const p of expand(row)) walk(p);
  // doshd's interpreter too: it runs as root. (#!NODE: named by absolute path, never found through PATH.)
  const node = readFileSync(path.join(LIB, 'doshd.mjs'), 'utf8').split('\n', 1)[0].slice(2).trim();
  assert.match(node, /^\/.*node$/, 'doshd names node by absolute path');
  walk(node);
  walk(realpathSync(node));
  const nodeSt = statSync(realpathSync(node));
  if (nodeSt.uid !== 0 || nodeSt.mode & 0o022) problems.push(`${node}: owner ${nodeSt.uid}, mode ${octal(nodeSt.mode)}`);
  assert.deepEqual(problems, []);
  assert.ok(seen.has('/usr/local/lib') && seen.has('/usr/local/bin'), 'the walk covered the installed paths');
});

test('the store doshd creates has the owner and modes docs/SECURITY.md states (a fresh store, and /run/dosh when it exists)', async () => {
  const storeRows = rows.filter(isStoreRow);
  assert.ok(storeRows.some((r) => r.path === STORE), `the table has a row for ${STORE}`);
  // The installed doshd on a store of its own (another node name: it must not touch this host's containers).
  scratch = `/run/dts-install-modes-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { mode: 0o700 });
  const store = path.join(scratch, 'store');
  const policy = path.join(scratch, 'dosh.conf');
  writeFileSync(policy, 'CONTAINERIMAGE=dosh-test/busybox:latest\n', { mode: 0o600 });
  const proc = spawn('/usr/local/bin/doshd', ['--store', store, '--config', policy, '--metrics-address', '', '--node', `dts-install-modes-${process.pid}`, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  doshd = proc;
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  for (let i = 0; i < 400 && !(existsSync(path.join(store, 'doshd.json')) && existsSync(path.join(store, 'policy-status.json'))); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(proc.exitCode, null, `doshd exited: ${log}`);
  assert.ok(existsSync(path.join(store, 'doshd.json')), `doshd did not write its record; log: ${log}`);
  const problems: string[] = [];
  let checked = 0;
  for (const row of storeRows) {
    for (const p of expand(row, STORE, store)) {
      if (row.kind === 'file' && !existsSync(p) && !['doshd.json', 'policy-status.json'].includes(path.basename(p))) continue; // idle.json: once a container is idle
      problems.push(...check(row, p));
      checked++;
    }
  }
  proc.kill('SIGTERM');
  await exited;
  // The host's own store, as doshd (or systemd) left it, session files included.
  if (existsSync(STORE)) {
    for (const row of storeRows) {
      for (const p of expand(row)) {
        if (!row.path.includes('*') && !existsSync(p) && (row.kind === 'file' || row.kind === 'socket')) continue; // doshd.json and api.sock go with doshd
        problems.push(...check(row, p));
        checked++;
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 6, `only ${checked} store paths checked`);
});
