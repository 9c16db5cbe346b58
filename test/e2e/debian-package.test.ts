// The Debian package where it will run: a clean Debian 13 root made by debootstrap (dosh-test/debian:trixie), in a
// container whose users' containers run on this host's engine (its socket mounted). In order: `apt-get install
// ./dosh.deb` resolves every dependency from Debian's archive, doshctl and doshd run on Debian's Node.js, and with no
// init system nothing starts; purge and autoremove leave the root as it was. Then, over an `npm run install-system`
// install with its doshd serving a login: the install is replaced, the policy kept without a prompt, the login goes
// on. Then an upgrade to a newer build (the same files with a higher version) with logins open: doshd is restarted,
// the open logins end with their own exit statuses, new logins are served by the new doshd. Last, purge keeps the
// users' containers with DOSH_KEEP_CONTAINERS=yes and removes them otherwise.
//
// The container gets CAP_SYS_PTRACE (doshd reads /proc/PID/exe of each login's relay, a setuid process) and its own
// pid namespace (no session here is ended by a signal, which doshd sends by host pid). Its host name is the node
// name, which the containers it makes carry, so nothing of this host's own doshd is touched. It needs Debian's archive
// (apt-get update, about 20 MB of Node.js); everything it makes goes with it.
// needs: docker busybox trixie
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BUSYBOX, REPO, until } from './harness.ts';

const IMAGE = 'dosh-test/debian:trixie';
const NAME = `dts-pkg-${process.pid}`;
const U = 'dtspkg1';
const POLICY = `CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n# the administrator changed this file\n`;
const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0';

let debs = '';
let versionA = '';
let versionB = '';

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, timeout = 10 * 60_000): Out {
  const r = spawnSync('bash', ['-c', cmd], { cwd: REPO, encoding: 'utf8', timeout, maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A script run as root in the Debian 13 container, stdin closed (so a conffile prompt would fail, not wait) or INPUT. */
function dx(script: string, timeout = 5 * 60_000, input?: string): Out {
  const args = ['exec', ...(input === undefined ? [] : ['-i']), NAME, 'bash', '-c', `set -eo pipefail; ${script}`];
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout, maxBuffer: 1 << 26, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function ok(script: string, timeout?: number, input?: string): string {
  const r = dx(script, timeout, input);
  assert.equal(r.code, 0, `${script}\nexit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

/** What the container's doshd said and holds, for a failure's message. */
function diagnose(): string {
  return dx('tail -n 20 /var/log/doshd-local.log /var/log/dosh/doshd.log 2>/dev/null; doshctl get sessions -o wide 2>&1 || true').stdout;
}

const describe = (r: Out) => `exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`;

/** Every path in the container's root, but the kernel's and the test's own mounts. */
function tree(): Set<string> {
  const out = ok("find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /debs \\) -prune -o -print | LC_ALL=C sort");
  return new Set(out.split('\n').filter(Boolean));
}

/** The doshd serving the container's store, as its record says. */
function doshdRecord(): { pid: number; version: string; node: string } {
  return JSON.parse(ok('cat /run/dosh/doshd.json'));
}

/** Those of PATHS that exist in the container (links included). */
function present(...paths: string[]): string[] {
  return ok(`for p in ${paths.join(' ')}; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done`).split('\n').filter(Boolean);
}

function doshdRuns(pid: number): boolean {
  return dx(`kill -0 ${pid}`).code === 0;
}

/** A login of U through su in the container, held open: it prints "started", reads a line, prints it and exits CODE. */
class OpenLogin {
  readonly child: ChildProcess;
  out = '';
  readonly done: Promise<number | null>;
  constructor(code: number) {
    this.child = spawn('docker', ['exec', '-i', NAME, 'su', '-', U, '-c', `echo started; read line; echo "got $line"; exit ${code}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.done = new Promise((r) => this.child.on('close', (c) => r(c)));
  }
  async started(): Promise<void> {
    await until('a login that says "started"', () => this.out.includes('started')).catch((e: Error) => {
      throw new Error(`${e.message} (so far: ${JSON.stringify(this.out)})\n${diagnose()}`);
    });
  }
  /** Sends its line, returns its exit status. */
  async finish(): Promise<number | null> {
    this.child.stdin!.end('go\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }
}

function containersOfNode(): string[] {
  return sh(`docker ps -aq --filter label=dosh.io/node=${NAME}`).stdout.split('\n').filter(Boolean);
}

before(() => {
  debs = mkdtempSync(path.join(tmpdir(), 'dosh-debs-'));
  // A: the package of this tree (the dosh step built it, or it is built now); B: the same files as a newer version.
  const a = sh('bash scripts/package-deb.sh --no-lintian');
  assert.equal(a.code, 0, describe(a));
  const debA = a.stdout.trim().split('\n').at(-1)!;
  versionA = sh(`dpkg-deb -f ${debA} Version`).stdout.trim();
  versionB = `${versionA}+dts1`;
  const b = sh(`bash scripts/package-deb.sh --no-lintian --version ${versionB} --out ${debs}`);
  assert.equal(b.code, 0, describe(b));
  copyFileSync(debA, path.join(debs, 'a.deb'));
  copyFileSync(b.stdout.trim().split('\n').at(-1)!, path.join(debs, 'b.deb'));
  sh(`docker rm -f ${NAME}`);
  const r = sh(`docker run -d --name ${NAME} --hostname ${NAME} --init --cap-add SYS_PTRACE -v /var/run/docker.sock:/var/run/docker.sock -v ${debs}:/debs:ro ${IMAGE} sleep infinity`);
  assert.equal(r.code, 0, describe(r));
});

after(() => {
  sh(`docker rm -f ${NAME}`);
  for (const id of containersOfNode()) sh(`docker rm -f ${id}`);
  sh(`docker network ls -q --filter label=dosh.io/node=${NAME} | xargs -r docker network rm`);
  if (debs) rmSync(debs, { recursive: true, force: true });
});

let before0: Set<string>;

test('apt-get install ./dosh.deb in a clean Debian 13 root takes every dependency from Debian; doshctl and doshd run on Debian\'s Node.js; nothing starts without an init system', { timeout: 10 * 60_000 }, () => {
  before0 = tree();
  ok('apt-get update -qq');
  const install = dx(`${APT} install --no-install-recommends /debs/a.deb`);
  assert.equal(install.code, 0, describe(install));
  // Only dosh itself comes from a local file: every package it pulled in is one of the archive's.
  const local = ok("apt list --installed 2>/dev/null | grep ',local\\]' || true").trim().split('\n').filter(Boolean);
  assert.deepEqual(local.map((l) => l.split('/')[0]), ['dosh'], local.join('\n'));
  assert.match(ok("dpkg-query -W -f '${Version}' nodejs"), /^20\./, "Debian 13's nodejs is 20");
  assert.equal(ok('dpkg -S /usr/bin/node | cut -d: -f1').trim(), 'nodejs');
  assert.equal(ok('doshctl version').trim(), `doshctl ${versionA}`);
  assert.match(ok('doshd --help'), /^Usage: doshd \[flags\]$/m);
  assert.equal(ok('doshd --version').trim(), `doshd ${versionA}`);
  assert.equal(ok('head -n1 /usr/lib/dosh/doshd.mjs').trim(), '#!/usr/bin/node');
  // What the package puts in place (the rest: docs/SECURITY.md's table, checked on the test host).
  assert.equal(ok('stat -c "%a %U:%G" /usr/bin/dosh /etc/dosh /etc/dosh/dosh.conf'), '4755 root:root\n700 root:root\n600 root:root\n');
  assert.match(ok('cat /etc/shells'), /^\/usr\/bin\/dosh$/m);
  assert.match(ok('ls /usr/share/man/man1 /usr/share/man/man5 /usr/share/man/man8'), /dosh\.1\.gz[\s\S]*dosh\.conf\.5\.gz[\s\S]*doshctl\.8\.gz\s+doshd\.8\.gz/);
  // Enabled for both init systems, started by neither: in a container without an init system invoke-rc.d starts
  // nothing unless /usr/sbin/policy-rc.d says so.
  ok('ls /etc/rc2.d/S01doshd /etc/systemd/system/multi-user.target.wants/doshd.service');
  assert.match(install.stdout + install.stderr, /invoke-rc\.d: .*(block|policy)/i);
  assert.equal(dx('/etc/init.d/doshd status').code, 3, 'doshd is not running');
});

test('purge, then autoremove, leave the root as it was before the install', { timeout: 5 * 60_000 }, () => {
  const purge = dx(`${APT} purge dosh`);
  assert.equal(purge.code, 0, describe(purge));
  ok(`${APT} autoremove --purge`);
  assert.equal(dx('dpkg-query -W dosh').code, 1, 'dpkg has forgotten dosh (no config-files state)');
  const after0 = tree();
  // apt's and dpkg's own records and caches change with any install; nothing else may.
  const bookkeeping = /^\/var\/(lib\/apt|lib\/dpkg|cache\/(apt|debconf|ldconfig)|log)(\/|$)/;
  const added = [...after0].filter((p) => !before0.has(p) && !bookkeeping.test(p));
  const removed = [...before0].filter((p) => !after0.has(p) && !bookkeeping.test(p));
  assert.deepEqual({ added, removed }, { added: [], removed: [] });
  assert.doesNotMatch(ok('cat /etc/shells'), /dosh/);
});

let login1: OpenLogin;
let localDoshd = 0;
let packageDoshd = 0;

test('installed over an npm run install-system install whose doshd serves an open login: the install is replaced, the policy kept without a prompt, the login goes on', { timeout: 10 * 60_000 }, async () => {
  ok(`${APT} install --no-install-recommends nodejs`);
  // What install-system puts in place (docs/SECURITY.md, its table), made from the package's own files.
  ok(`dpkg-deb -x /debs/a.deb /tmp/a
    install -d /usr/local/lib/dosh /usr/local/share/doc/dosh /etc/systemd/system /etc/sudoers.d
    install -m 0755 /tmp/a/usr/lib/dosh/doshd.mjs /tmp/a/usr/lib/dosh/doshctl.mjs /usr/local/lib/dosh/
    install -m 0755 /tmp/a/usr/lib/dosh/dosh-kube.mjs /usr/local/lib/dosh/
    install -m 0644 /tmp/a/usr/share/doc/dosh/examples/dosh.conf /usr/local/lib/dosh/dosh.conf.default
    install -m 4755 /tmp/a/usr/bin/dosh /usr/local/bin/dosh
    ln -s /usr/local/lib/dosh/doshd.mjs /usr/local/bin/doshd
    ln -s /usr/local/lib/dosh/doshctl.mjs /usr/local/bin/doshctl
    zcat /tmp/a/usr/share/doc/dosh/README.md.gz >/usr/local/share/doc/dosh/README.md
    sed -e 's|^ExecStart=/usr/sbin/doshd|ExecStart=/usr/local/bin/doshd|' /tmp/a/lib/systemd/system/doshd.service >/etc/systemd/system/doshd.service
    mkdir -p /etc/systemd/system/multi-user.target.wants
    ln -s /etc/systemd/system/doshd.service /etc/systemd/system/multi-user.target.wants/doshd.service
    echo 'ALL ALL=(root) NOPASSWD: /usr/local/lib/dosh/dosh-helper.mjs' >/etc/sudoers.d/dosh
    echo /usr/local/bin/dosh >>/etc/shells
    rm -rf /tmp/a
    useradd -m -s /usr/local/bin/dosh ${U}`);
  ok('install -d -m 0700 /etc/dosh /etc/dosh/conf.d && cat >/etc/dosh/dosh.conf && chmod 0600 /etc/dosh/dosh.conf', undefined, POLICY);
  spawnSync('docker', ['exec', '-d', NAME, 'sh', '-c', 'exec /usr/local/bin/doshd --store /run/dosh --config /etc/dosh/dosh.conf >/var/log/doshd-local.log 2>&1']);
  localDoshd = await until('install-system\'s doshd to serve the store', () => dx('cat /run/dosh/doshd.json').code === 0 && doshdRecord().pid);
  login1 = new OpenLogin(7);
  await login1.started();

  // Services may start here: the administrator's local policy (a container has no init system to ask).
  ok('printf "#!/bin/sh\\nexit 0\\n" >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d');
  const install = dx(`${APT} install --no-install-recommends /debs/a.deb`);
  assert.equal(install.code, 0, describe(install));
  assert.equal(ok('cat /etc/dosh/dosh.conf'), POLICY, 'the administrator\'s policy is kept');
  assert.equal(ok('stat -c %a /etc/dosh/dosh.conf').trim(), '600');
  assert.deepEqual(ok('ls /etc/dosh').split('\n').filter(Boolean), ['conf.d', 'dosh.conf'], 'no dpkg-new, dpkg-dist or adopt file left');
  assert.equal(ok('readlink /usr/local/bin/dosh').trim(), '/usr/bin/dosh', 'install-system\'s relay became a link to the package\'s');
  assert.deepEqual(present('/usr/local/lib/dosh', '/usr/local/bin/doshd', '/usr/local/bin/doshctl', '/usr/local/share/doc/dosh', '/etc/sudoers.d/dosh', '/etc/systemd/system/doshd.service'), []);
  ok('test -f /etc/systemd/system/doshd.service.dpkg-old');
  assert.equal(ok('readlink /etc/systemd/system/multi-user.target.wants/doshd.service').trim(), '/lib/systemd/system/doshd.service', 'enabled: the package\'s unit, not install-system\'s');
  assert.ok(!doshdRuns(localDoshd), 'install-system\'s doshd was stopped');
  // Stopped before dpkg put the shipped default in place for a moment: it never loaded another policy than hers.
  assert.equal(ok('grep -c \'"policy loaded"\' /var/log/doshd-local.log || true').trim(), '1', ok('cat /var/log/doshd-local.log'));
  packageDoshd = await until('the package\'s doshd to serve the store', () => {
    const r = dx('cat /run/dosh/doshd.json');
    return r.code === 0 && JSON.parse(r.stdout).pid !== localDoshd && JSON.parse(r.stdout).pid;
  });
  assert.match(ok(`tr '\\0' ' ' </proc/${packageDoshd}/cmdline`), /^\/usr\/bin\/node \/usr\/sbin\/doshd --store \/run\/dosh --config \/etc\/dosh\/dosh\.conf --log-format json/);
  assert.equal(doshdRecord().node, NAME);
  // An account whose shell is install-system's path logs in through the link.
  const r = dx(`su - ${U} -c 'echo second login'`);
  assert.equal(r.code, 0, describe(r));
  assert.equal(r.stdout, 'second login\n');
  assert.ok(!login1.out.includes('got'), 'the first login is still open');
});

test('an upgrade with logins open restarts doshd; the logins end with their own exit statuses; new logins are served by the new version', { timeout: 10 * 60_000 }, async () => {
  const login2 = new OpenLogin(8);
  await login2.started();
  const upgrade = dx(`${APT} install --no-install-recommends /debs/b.deb`);
  assert.equal(upgrade.code, 0, describe(upgrade));
  const rec = await until('the new doshd to serve the store', () => {
    const r = dx('cat /run/dosh/doshd.json');
    return r.code === 0 && JSON.parse(r.stdout).pid !== packageDoshd && (JSON.parse(r.stdout) as { pid: number; version: string });
  });
  assert.equal(rec.version, versionB);
  assert.ok(!doshdRuns(packageDoshd), 'the old doshd is gone');
  assert.equal(dx('/etc/init.d/doshd status').code, 0);
  assert.equal(ok('doshctl version').trim(), `doshctl ${versionB}`);
  assert.equal(ok('cat /etc/dosh/dosh.conf'), POLICY, 'the upgrade kept the administrator\'s policy');

  // Both logins were open across the restart (the first across the install too); the new doshd gives their statuses.
  assert.equal(await login1.finish(), 7, login1.out);
  assert.match(login1.out, /^started\ngot go\n$/);
  assert.equal(await login2.finish(), 8, login2.out);
  assert.match(login2.out, /^started\ngot go\n$/);

  const r = dx(`su - ${U} -c 'echo new login'`);
  assert.equal(r.code, 0, describe(r));
  assert.equal(r.stdout, 'new login\n');
  assert.equal(doshdRecord().pid, rec.pid, 'one doshd, the new one, served it');
  // The relay that ran it is the newer package's.
  assert.equal(ok('md5sum /usr/bin/dosh | cut -d" " -f1').trim(), ok("grep ' usr/bin/dosh$' /var/lib/dpkg/info/dosh.md5sums | cut -d' ' -f1").trim());
  assert.equal(ok("dpkg-query -W -f '${Version}' dosh"), versionB);
  const sessions = JSON.parse(ok('doshctl get sessions -o json')).items as { status: { phase: string; exitCode?: number } }[];
  assert.deepEqual(sessions.map((s) => s.status.exitCode).filter((c) => c === 7 || c === 8).sort(), [7, 8], 'the store recorded both exit statuses');
});

test('purge keeps the users\' containers with DOSH_KEEP_CONTAINERS=yes, and removes them by default, with /etc/dosh, the store and the log', { timeout: 10 * 60_000 }, () => {
  assert.equal(containersOfNode().length, 1, 'the user\'s container');
  const keep = dx(`DOSH_KEEP_CONTAINERS=yes ${APT} purge dosh`);
  assert.equal(keep.code, 0, describe(keep));
  assert.match(keep.stdout, /DOSH_KEEP_CONTAINERS=yes: the users' containers are left/);
  assert.equal(containersOfNode().length, 1, 'kept');
  assert.deepEqual(present('/etc/dosh', '/run/dosh', '/var/log/dosh', '/usr/local/bin/dosh', '/etc/init.d/doshd'), []);
  assert.doesNotMatch(ok('cat /etc/shells'), /dosh/);

  ok(`${APT} install --no-install-recommends /debs/a.deb`);
  const purge = dx(`${APT} purge dosh`);
  assert.equal(purge.code, 0, describe(purge));
  assert.match(purge.stdout, new RegExp(`removed the container dosh-${U}`));
  assert.deepEqual(containersOfNode(), [], 'no container of this node is left');
  assert.deepEqual(present('/etc/dosh', '/run/dosh', '/var/log/dosh', '/run/doshd.pid', '/etc/rc2.d/S01doshd'), []);
});
