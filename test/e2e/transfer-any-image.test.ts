// File transfer into images that have no sftp-server, scp or rsync of their own: busybox (a shell, none of the three)
// and a distroless-like image (no shell at all: one static program to keep the container up, glibc, /etc). OpenSSH's
// scp (the SFTP protocol and -O), sftp and rsync go through the test sshd and DoSH's toolbox, the host's own programs
// run as the user inside her container; what cannot work says why; and the toolbox reaches no path of the host.
// needs: docker busybox dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, Doshd, doshctl, endSuite, removeContainersOf, run, scpOpts, sessionsOf, sh, sha256File, ssh, sshCommand, until, type Result, type StoredSession } from './harness.ts';

const DISTROLESS = 'dosh-test/distroless-like:latest';
const BB = 'dtx-bea';
const DL = 'dtx-dora';
const work = mkdtempSync(path.join(tmpdir(), 'dtx-work-'));
/** A file of the host that no policy mounts: nothing that runs in her container may reach it. */
const hostOnly = mkdtempSync(path.join(tmpdir(), 'dtx-host-only-'));
const POLICY = `CONTAINERIMAGE=${BUSYBOX}
CONTAINERCOMMAND=/bin/sh
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /home/$USER:/home/$USER -w /home/$USER
IDLETIMEOUT=0
[user:${DL}]
CONTAINERIMAGE=${DISTROLESS}
CONTAINERCOMMAND=/pause
`;
let doshd: Doshd;

const ok = (r: Result, what: string) => assert.equal(r.code, 0, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
const host = (u: string) => `${u}@127.0.0.1`;
const scp = (...args: string[]) => run('scp', [...scpOpts(), ...args]);
const sftp = (u: string, batch: string) => run('sftp', [...scpOpts(), '-b', '-', host(u)], { input: batch });
const rsync = (...args: string[]) => run('rsync', ['-e', sshCommand(), ...args]);

/** The distroless-like image: a static program that waits (its only binary), the host's glibc as distroless/base has one, /etc. */
function buildDistroless(): void {
  const root = path.join(work, 'distroless-root');
  for (const d of ['etc', 'tmp', 'home', 'lib/x86_64-linux-gnu', 'lib64']) mkdirSync(path.join(root, d), { recursive: true });
  chmodSync(path.join(root, 'tmp'), 0o1777);
  writeFileSync(path.join(work, 'pause.c'), '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n');
  sh(`cc -static -O2 -o ${root}/pause ${work}/pause.c`);
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  for (const lib of ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']) copyFileSync(lib, path.join(root, lib));
  sh(`tar --numeric-owner -C ${root} -c . | docker import -c 'CMD ["/pause"]' - ${DISTROLESS} >/dev/null`);
}

/** Her sessions started since `before`, once all have ended. */
async function newSessions(user: string, before: Set<string>): Promise<StoredSession[]> {
  return until(
    `${user}'s transfer sessions to end`,
    async () => {
      const s = (await sessionsOf(user)).filter((x) => !before.has(x.metadata.name));
      return s.length > 0 && s.every((x) => x.status.phase === 'Succeeded' || x.status.phase === 'Failed') ? s : undefined;
    },
    10_000,
  );
}
const names = async (u: string) => new Set((await sessionsOf(u)).map((s) => s.metadata.name));

before(() => {
  buildDistroless();
  writeFileSync(path.join(hostOnly, 'secret'), 'host only\n');
  chmodSync(hostOnly, 0o755);
  for (const u of [BB, DL]) {
    addUser(u);
    removeContainersOf(u);
  }
  return new Doshd(POLICY).start().then((d) => void (doshd = d));
});

after(async () => {
  await endSuite(doshd, [BB, DL]);
  sh(`docker rmi -f ${DISTROLESS} >/dev/null 2>&1 || true`);
  rmSync(work, { recursive: true, force: true });
  rmSync(hostOnly, { recursive: true, force: true });
});

for (const [user, image] of [
  [BB, BUSYBOX],
  [DL, DISTROLESS],
] as const) {
  test(`${image}: scp (SFTP and -O), sftp and rsync both ways, byte for byte, each run by the toolbox in her container`, async () => {
    const before = await names(user);
    const src = path.join(work, `${user}.bin`);
    writeFileSync(src, randomBytes(3 << 20));
    const home = `/home/${user}`;
    ok(await scp(src, `${host(user)}:up.bin`), 'scp up (SFTP)');
    assert.equal(sha256File(`${home}/up.bin`), sha256File(src));
    assert.equal(sh(`stat -c %U ${home}/up.bin`).trim(), user, 'written as her');
    ok(await scp('-O', `${host(user)}:up.bin`, `${src}.O`), 'scp -O down');
    assert.equal(sha256File(`${src}.O`), sha256File(src));
    ok(await scp('-O', src, `${host(user)}:upO.bin`), 'scp -O up');
    assert.equal(sha256File(`${home}/upO.bin`), sha256File(src));
    ok(await sftp(user, `put ${src} sftp.bin\nget sftp.bin ${src}.sftp\nls -l\n`), 'sftp put, get, ls');
    assert.equal(sha256File(`${src}.sftp`), sha256File(src));

    const tree = path.join(work, `${user}-tree`);
    mkdirSync(path.join(tree, 'sub dir'), { recursive: true });
    writeFileSync(path.join(tree, 'a.txt'), 'alpha\n');
    writeFileSync(path.join(tree, 'sub dir', 'b.bin'), randomBytes(200_000));
    ok(await rsync('-a', `${tree}/`, `${host(user)}:tree/`), 'rsync up');
    ok(await rsync('-a', `${host(user)}:tree/`, `${tree}-back/`), 'rsync down');
    assert.equal(sh(`cd ${tree}-back && find . -type f -exec sha256sum {} + | sort -k2`), sh(`cd ${tree} && find . -type f -exec sha256sum {} + | sort -k2`));

    const ran = await newSessions(user, before);
    const show = JSON.stringify(ran.map((s) => [s.spec.command, s.status.phase, s.status.message, s.status.exec]), null, 1);
    assert.ok(ran.every((s) => s.status.phase === 'Succeeded'), show);
    for (const tool of ['sftp-server', 'scp', 'rsync']) {
      const mine = ran.filter((s) => s.status.exec?.tool?.name === tool);
      assert.ok(mine.length > 0, `${tool} ran: ${show}`);
      for (const s of mine) {
        assert.deepEqual(s.status.exec?.tool, { name: tool, source: 'toolbox' }, show);
        assert.match(s.status.exec!.shell.at(-1)!, new RegExp(`^/\\.dosh/toolbox/[0-9a-f]{16}/bin/${tool}$`));
        assert.equal(s.status.container?.image, image);
      }
    }
  });
}

test('what cannot work says why: scp -O with a wildcard into an image without scp; the refusal is the session\'s too', async () => {
  const before = await names(BB);
  const r = await scp('-O', `${host(BB)}:*.bin`, work);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /dosh: the image .*busybox.* has no scp .*without a shell.*a wildcard.*scp without -O/, r.stderr);
  const [s] = await newSessions(BB, before);
  assert.equal(s.status.reason, 'TransferUnavailable');
  // Without -O the same wildcard works: the client expands it through SFTP.
  ok(await scp(`${host(BB)}:up*.bin`, `${work}/`), 'scp of a wildcard (SFTP)');
});

test('the toolbox reaches no host path: paths resolve in her container, the toolbox is read-only and holds only its programs', async () => {
  const secret = path.join(hostOnly, 'secret');
  // The host's file is not there for any of the tools, nor through the toolbox's own directory.
  const viaScp = await scp(`${host(BB)}:${secret}`, `${work}/leak-scp`);
  assert.notEqual(viaScp.code, 0, 'scp fetched a host-only file');
  const viaSftp = await sftp(BB, `get ${secret} ${work}/leak-sftp\n`);
  assert.notEqual(viaSftp.code, 0, 'sftp fetched a host-only file');
  const viaRsync = await rsync(`${host(BB)}:/.dosh/toolbox/../..${secret}`, `${work}/leak-rsync`);
  assert.notEqual(viaRsync.code, 0, 'rsync fetched a host-only file');
  for (const f of ['leak-scp', 'leak-sftp', 'leak-rsync']) assert.throws(() => readFileSync(path.join(work, f)), f);
  // What she sees of the toolbox: its programs and libraries, read-only, hers to run and no one's to change.
  const list = await ssh(BB, 'cd /.dosh/toolbox && find . -mindepth 1 | sort && touch x 2>&1; for d in */bin; do touch $d/x; done 2>&1; id -u');
  ok(list, 'list the toolbox');
  const out = list.stdout.toString();
  const files = out.split('\n').filter((l) => l.startsWith('./'));
  assert.ok(files.every((f) => /^\.\/([0-9a-f]{16}(\/(bin|lib)(\/[\w.+-]+)?)?|current\.json)$/.test(f)), out);
  assert.ok(files.some((f) => /\/bin\/rsync$/.test(f)) && files.some((f) => /\/lib\/libc\.so\.6$/.test(f)), out);
  assert.match(out, /Read-only file system[\s\S]*Read-only file system/);
  // And the mount is hers alone to read: no container sees another's files through it (the toolbox holds none).
  assert.equal(sh(`docker inspect -f '{{range .Mounts}}{{if eq .Destination "/.dosh/toolbox"}}{{.RW}} {{.Source}}{{end}}{{end}}' dosh-${BB}`).trim(), 'false /var/lib/dosh/toolbox');
});

test('doshctl policy check looks at the images: the toolbox serves busybox and the distroless image; an image not here is named', async () => {
  const file = path.join(work, 'check.conf');
  writeFileSync(file, `${POLICY}[user:dtx-nobody]\nCONTAINERIMAGE=dosh-test/not-here:1\n`);
  const r = await doshctl('policy', 'check', file);
  ok(r, 'policy check');
  assert.match(r.stderr, /check\.conf:9: image dosh-test\/not-here:1 is not on this host/, r.stderr);
  assert.doesNotMatch(r.stderr, /has no (sftp-server|scp|rsync)/, r.stderr);
  assert.doesNotMatch(r.stderr, /cannot start/, r.stderr);
});
