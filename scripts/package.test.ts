// The Debian package's sources agree with the code: one version everywhere, man pages that name every doshd flag,
// doshctl command and dosh.conf key, and the paths the tests assume (test/lib/installed.ts) are the package's.
// (The package itself is built, checked by lintian and installed by test/integration/package.test.ts and
// test/e2e/debian-package.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './layers.ts';
import { VERSION } from '../lib/version.ts';
import { DOSHD_HELP } from '../controller/config.ts';
import { COMMANDS } from '../cli/commands/index.ts';
import { LEGACY_KEYS } from '../policy/legacy.ts';
import { installKind, LAYOUTS } from '../test/lib/installed.ts';

const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

test('one version: package.json, lib/version.ts and the top of debian/changelog', () => {
  const pkg = JSON.parse(read('package.json')).version;
  const deb = /^dosh \(([^)]+)\) /.exec(read('debian/changelog'))?.[1];
  assert.equal(VERSION, pkg);
  assert.equal(deb, pkg);
});

test('each man page source in docs/man/ has the title line debian/rules fills in, and its name says its section', () => {
  const pages = readdirSync(path.join(ROOT, 'docs/man')).sort();
  assert.deepEqual(pages, ['dosh.1.md', 'dosh.conf.5.md', 'doshctl.8.md', 'doshd.8.md']);
  for (const p of pages) {
    const [, name, section] = /^(.+)\.(\d)\.md$/.exec(p)!;
    assert.equal(read(`docs/man/${p}`).split('\n')[0], `% ${name.toUpperCase()} ${section} "" "DoSH" "DoSH"`, p);
  }
});

test('doshd(8) describes every flag of doshd --help', () => {
  const page = read('docs/man/doshd.8.md');
  const flags = [...DOSHD_HELP.matchAll(/^ {2}(?:-h, )?(--[a-z-]+)/gm)].map((m) => m[1]);
  assert.ok(flags.length >= 20, `only ${flags.length} flags read from the help`);
  assert.deepEqual(flags.filter((f) => !page.includes(`**${f}**`)), []);
});

test('doshctl(8) describes every doshctl command', () => {
  const page = read('docs/man/doshctl.8.md');
  const missing = COMMANDS.map((c) => c.path.join(' ')).filter((words) => !page.includes(`**${words}`));
  assert.deepEqual(missing, []);
});

test('dosh.conf(5) describes every dosh.conf key', () => {
  const page = read('docs/man/dosh.conf.5.md');
  assert.deepEqual(LEGACY_KEYS.filter((k) => !page.includes(`**${k}**`)), []);
});

test('the package puts its programs where the tests look for them (test/lib/installed.ts), and install-system where its layout says', () => {
  const rules = read('debian/rules');
  const pkg = LAYOUTS.package;
  assert.match(rules, /install -m 0755 dist\/dosh \$\(PKG\)\/usr\/bin\/dosh$/m);
  assert.equal(pkg.dosh, '/usr/bin/dosh');
  assert.match(rules, new RegExp(`ln -s \\.\\./lib/dosh/doshd\\.mjs \\$\\(PKG\\)${pkg.doshd}$`, 'm'));
  assert.match(rules, new RegExp(`ln -s \\.\\./lib/dosh/doshctl\\.mjs \\$\\(PKG\\)${pkg.doshctl}$`, 'm'));
  assert.match(rules, new RegExp(`s\\|@DOSHD@\\|${pkg.doshd}\\|`));
  const system = read('scripts/install-system.sh');
  assert.match(system, /^PREFIX=\/usr\/local$/m);
  assert.equal(LAYOUTS.system.doshd, '/usr/local/bin/doshd');
  assert.match(system, /s\|@DOSHD@\|\$PREFIX\/bin\/doshd\|/);
  assert.equal(installKind({}), 'package');
  assert.equal(installKind({ DOSH_INSTALL: 'system' }), 'system');
  assert.throws(() => installKind({ DOSH_INSTALL: 'usr-local' }), /DOSH_INSTALL must be package or system, not "usr-local"/);
});
