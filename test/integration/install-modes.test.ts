// DoSH as the test command's dosh step installed it (the Debian package, or npm run install-system with
// DOSH_INSTALL=system): every installed file, and the store doshd creates, has exactly the owner and mode that the
// tables of "Installed files and their modes" in docs/SECURITY.md state (they are parsed here, so the documentation
// and the installation cannot drift apart), every installed file is in them, and no directory above them is writable
// by anyone but root.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALLED } from '../lib/installed.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOC = path.join(ROOT, 'docs/SECURITY.md');
const STORE = '/run/dosh';
const LIB = INSTALLED.lib;
/** The table of the install on this host, and the one of what is made at run time. */
const TABLE = INSTALLED.kind === 'package' ? 'The Debian package' : 'npm run install-system';
const RUNTIME = 'At run time';

interface Row {
  path: string;
  kind: 'file' | 'directory' | 'socket' | 'symlink';
  target?: string;
  uid: number;
  gid: number;
  mode?: number;
  line: number;
}

/** The rows of the table under "### HEADING" in the section "## Installed files and their modes" of docs/SECURITY.md. */
function docTable(heading: string): Row[] {
  const lines = readFileSync(DOC, 'utf8').split('\n');
  const section = lines.findIndex((l) => /^## Installed files and their modes\s*$/.test(l));
  assert.ok(section >= 0, `${DOC} has no "## Installed files and their modes" section`);
  const start = lines.findIndex((l, i) => i > section && l.trim() === `### ${heading}`);
  assert.ok(start >= 0, `${DOC} has no "### ${heading}" table under "## Installed files and their modes"`);
  const rows: Row[] = [];
  let inTable = false;
  for (let i = start + 1; i < lines.length && !/^##/.test(lines[i]); i++) {
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
  assert.ok(rows.length >= 10, `only ${rows.length} rows parsed from the table "${heading}" in ${DOC}`);
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
let runtime: Row[];
let scratch = '';
let doshd: ReturnType<typeof spawn> | undefined;

before(() => {
  rows = docTable(TABLE);
  runtime = docTable(RUNTIME);
});

after(() => {
  if (doshd?.pid && doshd.exitCode === null) doshd.kill('SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test(`every file of the install (${TABLE}) has the owner, mode and kind docs/SECURITY.md states`, () => {
  const problems: string[] = [];
  let checked = 0;
  for (const row of rows) {
    const paths = expand(row);
    if (!paths.length) problems.push(`${row.path}: nothing matches (docs/SECURITY.md:${row.line})`);
    for (const p of paths) {
      problems.push(...check(row, p));
      checked++;
    }
  }
  // What is made at run time outside the store, when it has been (the service started without systemd).
  for (const row of runtime.filter((r) => !isStoreRow(r))) for (const p of expand(row)) if (existsSync(p)) problems.push(...check(row, p));
  assert.deepEqual(problems, []);
  assert.ok(checked >= 15, `only ${checked} installed paths checked`);
  // The one line the install adds to a system file.
  assert.ok(readFileSync('/etc/shells', 'utf8').split('\n').includes(INSTALLED.dosh), `/etc/shells lists ${INSTALLED.dosh}`);
});

/** Whether the table has a row for P: its own path, or a glob in its last part that matches it. */
function documented(p: string): boolean {
  return rows.some((r) => r.path === p || (path.basename(r.path).includes('*') && path.dirname(r.path) === path.dirname(p) && expand(r).includes(p)));
}

test(`the table lists every file the install put in place (a new installed file must be documented)`, () => {
  let files: string[];
  if (INSTALLED.kind === 'package') {
    // Every path dpkg has for the package, but the directories it shares with other packages.
    const r = spawnSync('dpkg', ['-L', 'dosh'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    files = r.stdout.split('\n').filter((p) => p.startsWith('/') && !(statSync(p, { throwIfNoEntry: false })?.isDirectory() && !p.includes('dosh')));
    assert.ok(files.length >= 25, `dpkg -L dosh lists only ${files.length} paths`);
  } else {
    files = [LIB, INSTALLED.doc].flatMap((dir) => readdirSync(dir).map((f) => path.join(dir, f)));
  }
  assert.deepEqual(files.filter((p) => !documented(p)), [], 'installed but not in the table of docs/SECURITY.md');
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
  for (const row of [...rows, ...runtime]) for (const p of expand(row)) if (!row.path.startsWith('/run/') || existsSync(p)) walk(p);
  // doshd's interpreter too: it runs as root. (#!NODE: named by absolute path, never found through PATH.)
  const node = readFileSync(path.join(LIB, 'doshd.mjs'), 'utf8').split('\n', 1)[0].slice(2).trim();
  assert.match(node, /^\/.*node$/, 'doshd names node by absolute path');
  walk(node);
  walk(realpathSync(node));
  const nodeSt = statSync(realpathSync(node));
  if (nodeSt.uid !== 0 || nodeSt.mode & 0o022) problems.push(`${node}: owner ${nodeSt.uid}, mode ${octal(nodeSt.mode)}`);
  assert.deepEqual(problems, []);
  assert.ok(seen.has(path.dirname(INSTALLED.lib)) && seen.has(path.dirname(INSTALLED.dosh)), 'the walk covered the installed paths');
});

test('the store doshd creates has the owner and modes docs/SECURITY.md states (a fresh store, and /run/dosh when it exists)', async () => {
  const storeRows = runtime.filter(isStoreRow);
  assert.ok(storeRows.some((r) => r.path === STORE), `the table has a row for ${STORE}`);
  // The installed doshd on a store of its own (another node name: it must not touch this host's containers).
  scratch = `/run/dts-install-modes-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { mode: 0o700 });
  const store = path.join(scratch, 'store');
  const policy = path.join(scratch, 'dosh.conf');
  writeFileSync(policy, 'CONTAINERIMAGE=dosh-test/busybox:latest\n', { mode: 0o600 });
  const proc = spawn(INSTALLED.doshd, ['--store', store, '--config', policy, '--metrics-address', '', '--node', `dts-install-modes-${process.pid}`, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  // The host's own store, as doshd (or systemd) left it, session files included: what is there must be as stated. What
  // is not is no fault here (a fresh machine's store is an empty tmpfs until a doshd runs; an older doshd made fewer
  // directories); the fresh store above shows what doshd makes.
  if (existsSync(STORE)) {
    for (const row of storeRows) {
      for (const p of expand(row)) {
        if (!existsSync(p)) continue;
        problems.push(...check(row, p));
        checked++;
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 6, `only ${checked} store paths checked`);
});
