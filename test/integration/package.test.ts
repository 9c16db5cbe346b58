// npm run package: the Debian package is built from this tree (scripts/package-deb.sh; a build of the same files is
// reused) and lintian finds nothing in it that debian/dosh.lintian-overrides does not justify, and no override that
// has nothing left to override. Its contents are what docs/SECURITY.md and debian/rules say: the setuid relay, the
// policy root's alone as a conffile, man pages that man renders without a warning, doshctl's own completion. On the
// test host, where the test command's dosh step installed it, dpkg finds the installed files intact. The licenses of
// the npm packages bundled into doshd and doshctl are named in its copyright file.
// needs: dosh
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALLED } from '../lib/installed.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let deb = '';

function sh(cmd: string, timeout = 10 * 60_000) {
  const r = spawnSync('bash', ['-c', cmd], { cwd: ROOT, encoding: 'utf8', timeout, maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

before(() => {
  const r = sh('bash scripts/package-deb.sh --no-lintian');
  assert.equal(r.code, 0, r.stderr);
  deb = r.stdout.trim().split('\n').at(-1)!;
});

test('lintian: no error or warning without a justified override, and no override left unused', { timeout: 5 * 60_000 }, () => {
  const r = sh(`lintian --display-info --show-overrides ${deb}`);
  const lines = (r.stdout + r.stderr).split('\n').filter((l) => /^[EWIXNO]: /.test(l));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(lines.filter((l) => /^[EW]: /.test(l)), [], 'errors and warnings without an override');
  assert.deepEqual(lines.filter((l) => /unused-override|mismatched-override/.test(l)), [], 'overrides that match nothing');
  // Every override has its reason: a comment right above it in debian/dosh.lintian-overrides.
  const overrides = readFileSync(path.join(ROOT, 'debian/dosh.lintian-overrides'), 'utf8').split('\n');
  overrides.forEach((l, i) => {
    if (l && !l.startsWith('#')) assert.ok(overrides[i - 1]?.startsWith('#') || overrides[i - 1]?.startsWith('dosh '), `override without a reason above it: ${l}`);
  });
  assert.ok(lines.some((l) => /^O: .*elevated-privileges 4755 root\/root \[usr\/bin\/dosh\]/.test(l)), 'the setuid relay is overridden, not absent');
});

test('the package: the relay setuid root, the policy a conffile of root alone, Depends on Node.js 20 or later', () => {
  const list = sh(`dpkg-deb -c ${deb}`).stdout;
  const entry = (p: string) => list.split('\n').find((l) => l.endsWith(` ./${p}`) || l.endsWith(` ./${p}/`) || l.includes(` ./${p} -> `));
  assert.match(entry('usr/bin/dosh') ?? '', /^-rwsr-xr-x root\/root /);
  assert.match(entry('etc/dosh') ?? '', /^drwx------ root\/root /);
  assert.match(entry('etc/dosh/conf.d') ?? '', /^drwx------ root\/root /);
  assert.match(entry('etc/dosh/dosh.conf') ?? '', /^-rw------- root\/root /);
  assert.match(entry('usr/sbin/doshd') ?? '', / -> \.\.\/lib\/dosh\/doshd\.mjs$/);
  assert.match(entry('usr/sbin/doshctl') ?? '', / -> \.\.\/lib\/dosh\/doshctl\.mjs$/);
  assert.match(entry('lib/systemd/system/doshd.service') ?? '', /^-rw-r--r-- /);
  assert.deepEqual(sh(`dpkg-deb --ctrl-tarfile ${deb} | tar -xOf - ./conffiles`).stdout.trim().split('\n'), ['/etc/default/doshd', '/etc/dosh/dosh.conf', '/etc/init.d/doshd', '/etc/logrotate.d/doshd']);
  assert.equal(sh(`dpkg-deb -f ${deb} Depends`).stdout.trim(), 'nodejs (>= 20)');
  assert.equal(sh(`dpkg-deb -f ${deb} Recommends`).stdout.trim(), 'docker.io | docker-ce');
  assert.equal(readFileSync(path.join(ROOT, 'etc/dosh.conf'), 'utf8'), sh(`dpkg-deb --fsys-tarfile ${deb} | tar -xOf - ./etc/dosh/dosh.conf`).stdout, 'the conffile is etc/dosh.conf');
});

test('the man pages render without a warning; the completion is doshctl\'s own', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-deb-'));
  try {
    assert.equal(sh(`dpkg-deb -x ${deb} ${dir}`).code, 0);
    const pages = ['man1/dosh.1.gz', 'man5/dosh.conf.5.gz', 'man8/doshctl.8.gz', 'man8/doshd.8.gz'];
    assert.deepEqual(readdirSync(`${dir}/usr/share/man`).flatMap((s) => readdirSync(`${dir}/usr/share/man/${s}`).map((f) => `${s}/${f}`)).sort(), pages);
    for (const p of pages) {
      const r = sh(`LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l ${dir}/usr/share/man/${p}`);
      assert.equal(r.code, 0, `${p}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${p}: man's warnings`);
      assert.match(r.stdout, /^NAME\n/m, p);
    }
    const doshd8 = sh(`MANWIDTH=200 man -l ${dir}/usr/share/man/man8/doshd.8.gz`).stdout;
    const version = sh(`dpkg-deb -f ${deb} Version`).stdout.trim();
    assert.match(doshd8, new RegExp(`DoSH ${version.replace(/[.+]/g, '\\$&')}`), 'the page names the package\'s version');
    // The bundled npm packages' licenses are each named in the copyright file, which points at their texts.
    const notices = sh(`zcat ${dir}/usr/share/doc/dosh/THIRD-PARTY-LICENSES.gz`).stdout;
    const licenses = new Set([...notices.matchAll(/^(?:@[^/\s]+\/)?[^\s:]+ [0-9][^\s:]*: (.+)$/gm)].map((m) => m[1]));
    assert.ok(licenses.size >= 2 && notices.includes('dockerode '), `licenses read: ${[...licenses]}`);
    const copyright = readFileSync(`${dir}/usr/share/doc/dosh/copyright`, 'utf8');
    assert.deepEqual([...licenses].filter((l) => !copyright.includes(l)), [], 'licenses of bundled packages that debian/copyright does not name');
    const completion = sh(`node ${dir}/usr/lib/dosh/doshctl.mjs completion bash`).stdout;
    assert.ok(completion.length > 500);
    assert.equal(readFileSync(`${dir}/usr/share/bash-completion/completions/doshctl`, 'utf8'), completion);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the installed package (the dosh step installed it): its files are intact; only the policy and /etc/default/doshd may have been changed', { skip: INSTALLED.kind !== 'package' && 'DOSH_INSTALL=system: the package is not installed' }, () => {
  const r = sh('dpkg --verify dosh');
  const changed = r.stdout.split('\n').filter(Boolean).filter((l) => !/ c \/etc\/(dosh\/dosh\.conf|default\/doshd)$/.test(l));
  assert.deepEqual(changed, [], r.stdout + r.stderr);
  assert.equal(sh("dpkg-query -W -f '${db:Status-Status}' dosh").stdout, 'installed');
});
