// File transfer through DoSH: scp (SFTP protocol and legacy -O), sftp, rsync and git over the test sshd. Every one
// of them runs its server side (sftp-server, scp -t/-f, rsync --server, git-receive-pack/git-upload-pack) through
// the user's login shell, so inside her container: the bytes land in the home directory bind-mounted into it.
// needs: docker debian dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  addUser,
  DEBIAN,
  Doshd,
  doshctl,
  removeContainersOf,
  run,
  scpOpts,
  sessionsOf,
  sh,
  sha256File,
  ssh,
  sshCommand,
  until,
  type Result,
  type StoredSession,
  endSuite,
} from './harness.ts';

const U = 'dtt-tove';
const HOME = `/home/${U}`;
const HOST = `${U}@127.0.0.1`;
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
/** A path that exists only inside the container (a read-only bind mount): fetching from it fails on the host. */
const ONLY_IN_CONTAINER = '/dtt-container-only';
const MiB = 1 << 20;

// The host has /tmp/dtt-marker-*, never /dtt-container-only.
const marker = mkdtempSync(path.join(tmpdir(), 'dtt-marker-'));
const POLICY = `CONTAINERIMAGE=${DEBIAN}
CONTAINERCOMMAND=/bin/bash
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /home/$USER:/home/$USER -w /home/$USER -v ${marker}:${ONLY_IN_CONTAINER}:ro
IDLETIMEOUT=0
`;
const work = mkdtempSync(path.join(tmpdir(), 'dtt-work-'));
const proof = randomBytes(4096);
const t0 = new Date().toISOString();
let doshd: Doshd;

const ok = (r: Result, what: string) => assert.equal(r.code, 0, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
const randomFile = (file: string, size: number) => writeFileSync(file, randomBytes(size));
const scp = (...args: string[]) => run('scp', [...scpOpts(), ...args]);
const sftp = (batch: string) => run('sftp', [...scpOpts(), '-b', '-', HOST], { input: batch });
const rsync = (...args: string[]) => run('rsync', ['-e', sshCommand(), ...args]);
const gitEnv = { PATH: process.env.PATH, HOME: '/root', GIT_SSH_COMMAND: sshCommand(), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (cwd: string, ...args: string[]) =>
  run('git', ['-C', cwd, '-c', 'user.name=DoSH Test', '-c', 'user.email=dtt@example.invalid', '-c', 'init.defaultBranch=main', ...args], { env: gitEnv });

/** Names of the user's sessions so far, to tell the ones a transfer starts from older ones. */
async function sessionNames(): Promise<Set<string>> {
  return new Set((await sessionsOf(U)).map((s) => s.metadata.name));
}

/**
 * The sessions started since `before` once they have all ended; asserts that one ran `command` (exactly, or matching
 * the pattern) in her container from the test image, through the policy's shell, and exited 0.
 */
async function assertRanInContainer(before: Set<string>, command: string | RegExp): Promise<StoredSession[]> {
  const fresh = await until(
    'the transfer sessions to end',
    async () => {
      const s = (await sessionsOf(U)).filter((x) => !before.has(x.metadata.name));
      return s.length > 0 && s.every((x) => x.status.phase === 'Succeeded' || x.status.phase === 'Failed') ? s : undefined;
    },
    10_000,
  );
  const matches = (c: string | undefined) => c !== undefined && (typeof command === 'string' ? c === command : command.test(c));
  const mine = fresh.filter((s) => matches(s.spec.command));
  const show = JSON.stringify(fresh.map((s) => ({ command: s.spec.command, status: s.status })), null, 1);
  assert.ok(mine.length > 0, `a session ran ${command}; sessions: ${show}`);
  for (const s of mine) {
    assert.equal(s.spec.mode, 'command');
    assert.equal(s.spec.client, 'ssh');
    assert.equal(s.status.container?.name, `dosh-${U}`, show);
    assert.equal(s.status.container?.image, DEBIAN);
    // The image has each transfer program of its own: doshd runs it directly, with the command's words (the spec
    // holds the command once); anything else runs through the policy's shell (`bash -c COMMAND`).
    const tool = /^(\/\S*\/)?(sftp-server|scp|rsync)\b/.exec(s.spec.command ?? '')?.[2];
    if (tool) {
      assert.deepEqual(s.status.exec?.tool, { name: tool, source: 'image' }, show);
      assert.match(s.status.exec?.shell[0] ?? '', new RegExp(`^/usr/(lib/openssh|bin)/${tool}$`), show);
    } else assert.deepEqual(s.status.exec?.shell, ['/bin/bash'], show);
    assert.equal(s.spec.mode, 'command', show);
    // The exit status comes from the engine's record of the exec in the container. (startedAt/execPid are not
    // asserted: doshd records them off the critical path, so a short exec can end before they are known.)
    assert.equal(s.status.phase, 'Succeeded', show);
    assert.equal(s.status.reason, 'Exited', show);
    assert.equal(s.status.exitCode, 0, show);
  }
  return mine;
}

before(async () => {
  writeFileSync(path.join(marker, 'proof'), proof);
  chmodSync(marker, 0o755);
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(POLICY).start();
  // A bare repository that only the container can see, owned by the user (git refuses repositories of others).
  const uid = Number(sh(`id -u ${U}`));
  const gid = Number(sh(`id -g ${U}`));
  sh(`git init -q --bare -b main ${marker}/seed.git && git -C ${marker} -c user.name=x -c user.email=x@x clone -q seed.git seed 2>/dev/null &&
      cd ${marker}/seed && echo seed > seed && git add seed && git -c user.name=x -c user.email=x@x commit -qm seed && git push -q origin main 2>/dev/null`);
  sh(`chown -R ${uid}:${gid} ${marker}/seed.git`);
  // First login creates the container, so the timed transfers below measure transfers, not the engine.
  ok(await ssh(U, 'true'), 'first login');
});

after(async () => {
  await endSuite(doshd, [U]);
  rmSync(marker, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test('scp (SFTP protocol, the default of OpenSSH 9.2) of a 10 MiB random file lands byte-identical in the home, and back', async () => {
  const src = path.join(work, 'scp-up.bin');
  randomFile(src, 10 * MiB);
  const before = await sessionNames();
  ok(await scp(src, `${HOST}:scp-up.bin`), 'scp up');
  assert.equal(sha256File(`${HOME}/scp-up.bin`), sha256File(src));
  assert.equal(sh(`stat -c %U ${HOME}/scp-up.bin`).trim(), U, 'written by the user in her container');

  ok(await ssh(U, 'cp scp-up.bin scp-down.bin && echo tail >> scp-down.bin'), 'derive a file in the container');
  const back = path.join(work, 'scp-down.bin');
  ok(await scp(`${HOST}:scp-down.bin`, back), 'scp down');
  assert.equal(sha256File(back), sha256File(`${HOME}/scp-down.bin`));
  assert.equal(readFileSync(back).length, 10 * MiB + 5);
  await assertRanInContainer(before, SFTP_SERVER);
});

test('legacy scp -O (scp -t / scp -f on the remote side) both ways', async () => {
  const src = path.join(work, 'scp-legacy.bin');
  randomFile(src, 10 * MiB);
  const before = await sessionNames();
  ok(await scp('-O', src, `${HOST}:scp-legacy.bin`), 'scp -O up');
  assert.equal(sha256File(`${HOME}/scp-legacy.bin`), sha256File(src));
  const back = path.join(work, 'scp-legacy-back.bin');
  ok(await scp('-O', `${HOST}:scp-legacy.bin`, back), 'scp -O down');
  assert.equal(sha256File(back), sha256File(src));
  await assertRanInContainer(before, /^scp( -\w+)* -t( --)? scp-legacy\.bin$/);
  await assertRanInContainer(before, /^scp( -\w+)* -f( --)? scp-legacy\.bin$/);
});

test('sftp -b - put and get of a 10 MiB random file: byte-identical', async () => {
  const src = path.join(work, 'sftp-up.bin');
  const back = path.join(work, 'sftp-back.bin');
  randomFile(src, 10 * MiB);
  const before = await sessionNames();
  const r = await sftp(`put ${src} sftp.bin\nget sftp.bin ${back}\n`);
  ok(r, 'sftp batch');
  assert.equal(sha256File(`${HOME}/sftp.bin`), sha256File(src));
  assert.equal(sha256File(back), sha256File(src));
  await assertRanInContainer(before, SFTP_SERVER);
});

test('rsync -e ssh of a directory: identical tree, and a second run transfers nothing', async () => {
  const src = path.join(work, 'tree');
  mkdirSync(path.join(src, 'sub/deeper'), { recursive: true });
  randomFile(path.join(src, 'big.bin'), 10 * MiB);
  writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  writeFileSync(path.join(src, 'sub/b.txt'), 'bravo\n');
  writeFileSync(path.join(src, 'sub/deeper/c.bin'), randomBytes(777));
  writeFileSync(path.join(src, 'empty'), '');
  const before = await sessionNames();
  const first = await rsync('-a', '--stats', `${src}/`, `${HOST}:tree/`);
  ok(first, 'rsync');
  assert.match(first.stdout.toString(), /Number of regular files transferred: 5\b/);
  const listing = (root: string) => sh(`cd ${root} && find . -printf '%y %s %p\\n' | sort && find . -type f -exec sha256sum {} + | sort -k2`);
  assert.equal(listing(`${HOME}/tree`), listing(src));

  const second = await rsync('-a', '--stats', `${src}/`, `${HOST}:tree/`);
  ok(second, 'second rsync');
  assert.match(second.stdout.toString(), /Number of regular files transferred: 0\b/, second.stdout.toString());
  assert.match(second.stdout.toString(), /Total transferred file size: 0 bytes/);
  await assertRanInContainer(before, /^rsync --server .*\btree\/$/);
});

test('git over ssh: push to a bare repository in the home, clone it back, same commit', async () => {
  const before = await sessionNames();
  ok(await ssh(U, 'git init -q --bare -b main repo.git'), 'git init --bare over ssh');
  assert.ok(existsSync(`${HOME}/repo.git/HEAD`));

  const local = path.join(work, 'local');
  ok(await run('git', ['init', '-q', '-b', 'main', local], { env: gitEnv }), 'git init');
  writeFileSync(path.join(local, 'README'), 'pushed through DoSH\n');
  writeFileSync(path.join(local, 'blob.bin'), randomBytes(256 << 10));
  ok(await git(local, 'add', '.'), 'git add');
  ok(await git(local, 'commit', '-qm', 'first'), 'git commit');
  const head = (await git(local, 'rev-parse', 'HEAD')).stdout.toString().trim();
  ok(await git(local, 'push', '-q', `${HOST}:repo.git`, 'main'), 'git push');

  const remoteHead = await ssh(U, 'git -C repo.git rev-parse main');
  assert.equal(remoteHead.stdout.toString().trim(), head, remoteHead.stderr);

  const clone = path.join(work, 'clone');
  ok(await git(work, 'clone', '-q', `${HOST}:repo.git`, clone), 'git clone');
  assert.equal((await git(clone, 'rev-parse', 'HEAD')).stdout.toString().trim(), head);
  assert.equal(sha256File(path.join(clone, 'blob.bin')), sha256File(path.join(local, 'blob.bin')));
  await assertRanInContainer(before, "git-receive-pack 'repo.git'");
  await assertRanInContainer(before, "git-upload-pack 'repo.git'");
});

test('each tool is served from inside the container: a path only the container has can be fetched by all of them', async () => {
  assert.ok(!existsSync(ONLY_IN_CONTAINER), `the host must not have ${ONLY_IN_CONTAINER}`);
  const want = sha256File(path.join(marker, 'proof'));
  const dir = path.join(work, 'proof');
  mkdirSync(dir);
  ok(await scp(`${HOST}:${ONLY_IN_CONTAINER}/proof`, `${dir}/scp`), 'scp from the container-only path');
  ok(await scp('-O', `${HOST}:${ONLY_IN_CONTAINER}/proof`, `${dir}/scp-O`), 'scp -O from the container-only path');
  ok(await sftp(`get ${ONLY_IN_CONTAINER}/proof ${dir}/sftp\n`), 'sftp from the container-only path');
  ok(await rsync(`${HOST}:${ONLY_IN_CONTAINER}/proof`, `${dir}/rsync`), 'rsync from the container-only path');
  for (const f of ['scp', 'scp-O', 'sftp', 'rsync']) assert.equal(sha256File(`${dir}/${f}`), want, f);
  ok(await git(work, 'clone', '-q', `${HOST}:${ONLY_IN_CONTAINER}/seed.git`, `${dir}/seed`), 'git clone from the container-only path');
  assert.equal(readFileSync(`${dir}/seed/seed`, 'utf8'), 'seed\n');

  // doshctl lists the sessions these logins made, and the container they ran in is the user's, from the test image.
  const r = await doshctl('get', 'sessions', '-o', 'json');
  ok(r, 'doshctl get sessions');
  const all = (JSON.parse(r.stdout.toString()).items as StoredSession[]).filter((s) => s.spec.user === U && s.metadata.creationTimestamp >= t0);
  const sftpServer = all.filter((s) => s.spec.mode === 'command' && s.spec.command === SFTP_SERVER);
  assert.ok(sftpServer.length >= 4, `sftp-server ran in sessions of ${U} (scp and sftp, here and above): ${sftpServer.length}`);
  assert.ok(sftpServer.every((s) => s.status.container?.name === `dosh-${U}`));
  assert.ok(all.every((s) => s.status.phase !== 'Failed'), JSON.stringify(all.filter((s) => s.status.phase === 'Failed').map((s) => [s.spec.command, s.status])));
  const inspect = sh(`docker inspect -f '{{.Config.Image}} {{.State.Running}} {{index .Config.Labels "dosh.io/user"}}' dosh-${U}`).trim();
  assert.equal(inspect, `${DEBIAN} true ${U}`);
});
