// Security, end to end (issue 7): a user who tries to break out. Every attempt is refused (its exit status and
// message asserted) or ignored, and each test checks that nothing happened: no session or container for another user
// or for root, her container exactly the policy's (image, name, user, mounts, capabilities), other logins untouched.
// What badinput.test.ts already covers (forged SUDO_*/DOCKER_*/NODE_*/LD_*/PATH, sudo -E, the helper without sudo,
// root, the sudoers rule, forged argv0 and flags, garbage TERM/LANG, huge arguments, corrupt store files) is not
// repeated here. The policy is the shipped default (etc/dosh.conf) with a local image.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { parentPid } from '../../lib/proc.ts';
import {
  addUser,
  asUser,
  asUserScript,
  BUSYBOX,
  DEBIAN,
  delUser,
  DOSH,
  Doshd,
  METRICS_PORT,
  pidAlive,
  readyz,
  REPO,
  removeContainersOf,
  run,
  sessionFilesOf,
  sh,
  shellQuote,
  ssh,
  sshOpts,
  STORE,
  su,
  until,
  type Result,
} from './harness.ts';

const A = 'dts-ann'; // the attacker
const V = 'dts-vic'; // another user, logged in (a long command) for the whole file
const E = 'dts-eve'; // a user whose policy image carries a setuid-root binary, a file-capability binary and sudo
const USERS = [A, V, E];
const HELPER = '/usr/local/lib/dosh/dosh-helper.mjs';
const SESSIONS = `${STORE}/sessions`;
const EVIL_IMAGE = 'dts-sec-evil:latest'; // exists (a tag of the test image), so a flag that named it would work
const ESCALATE_IMAGE = 'dts-sec-escalate:latest';
const BUILD_CONTAINER = 'dts-sec-build';
const V_COMMAND = 'exec sleep 4243';
const WHOAMI = 'id -u; id -g';

/** The shipped default policy (etc/dosh.conf) with the local test image, no host conf.d, and E's section. */
function policy(): string {
  const shipped = readFileSync(path.join(REPO, 'etc/dosh.conf'), 'utf8');
  assert.match(shipped, /^CONTAINERIMAGE=/m);
  assert.match(shipped, /^DOCKERPARAMETERS=-v \/etc\/passwd:\/etc\/passwd:ro -v \/etc\/group:\/etc\/group:ro -v \/home\/\$USER:\/home\/\$USER -w \/home\/\$USER$/m, 'etc/dosh.conf mounts what expectedBinds() says');
  return `${shipped
    .replace(/^CONTAINERIMAGE=.*$/m, `CONTAINERIMAGE=${BUSYBOX}`)
    .replace(/^CONF=.*$/m, '# (CONF= removed by test/e2e/security.test.ts: nothing from the host\'s conf.d)')}
IDLETIMEOUT=0

[user:${E}]
CONTAINERIMAGE=${ESCALATE_IMAGE}
CONTAINERCOMMAND=/bin/bash
`;
}
const expectedBinds = (u: string) => ['/etc/passwd:/etc/passwd:ro', '/etc/group:/etc/group:ro', `/home/${u}:/home/${u}`];

// A static probe: prints its identity and capabilities, then tries what privilege would allow (setuid(0), opening a
// root-only file). `probe --set-file-caps FILE` gives FILE the file capabilities cap_setuid,cap_dac_override+ep (a
// version-2 security.capability xattr), so the image needs no setcap.
const PROBE_C = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--set-file-caps") == 0) {
    uint32_t cap[5] = {0x02000001u, (1u << 1) | (1u << 7), 0, 0, 0};
    if (setxattr(argv[2], "security.capability", cap, sizeof cap, 0) != 0) { perror("setxattr"); return 1; }
    return 0;
  }
  uid_t r, e, s;
  getresuid(&r, &e, &s);
  printf("ruid=%d euid=%d suid=%d\n", (int)r, (int)e, (int)s);
  char line[256];
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10)) fputs(line, stdout);
  if (f) fclose(f);
  printf("setuid0=%s\n", setuid(0) == 0 ? "ok" : strerror(errno));
  int fd = open("/root-only", O_RDONLY);
  printf("open=%s\n", fd >= 0 ? "ok" : strerror(errno));
  return 0;
}
`;

let doshd: Doshd;
let work: string; // root's scratch directory: the escalation image's build context
let vLogin: ChildProcess;
let vSession: RawSession;
let vFiles: string[]; // V's session files once her long login runs: none may appear while A attacks
const ids = new Map<string, { uid: string; gid: string }>();
const uid = (u: string) => ids.get(u)!.uid;
const gid = (u: string) => ids.get(u)!.gid;

interface RawSession {
  metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  spec: { user: string; uid: number; command?: string; helper: { pid: number; startTime: string } };
  status: { phase: string; reason?: string; execPid?: number; container?: { name: string; image: string } };
}

before(async () => {
  for (const u of USERS) addUser(u);
  for (const u of USERS) ids.set(u, { uid: sh(`id -u ${u}`).trim(), gid: sh(`id -g ${u}`).trim() });
  removeContainersOf(...USERS, 'root');
  sh(`command -v strace >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; }; }`);
  sh(`docker tag ${BUSYBOX} ${EVIL_IMAGE}`);
  work = mkdtempSync('/tmp/dts-sec-');
  buildEscalationImage(work);

  doshd = await new Doshd(policy()).start();
  for (const u of [A, E]) {
    const r = await su(u, 'true');
    assert.equal(r.code, 0, `${u}'s first login: ${r.stderr}`);
  }
  // V stays logged in, running one long command, for the whole file.
  vLogin = spawn('su', ['-', V, '-c', V_COMMAND], { stdio: ['pipe', 'ignore', 'ignore'] });
  vSession = await runningLogin(V, V_COMMAND);
  vFiles = sessionFilesOf(V);
});

after(async () => {
  for (const s of sessionsRaw(V).concat(sessionsRaw(A)).filter((s) => s.status.phase === 'Running')) {
    const sudo = parentPid(s.spec.helper.pid);
    if (sudo) spawnSync('kill', ['-HUP', String(sudo)]);
  }
  if (vLogin && vLogin.exitCode === null) await until('V\'s login to end', () => vLogin.exitCode !== null, 15_000).catch(() => vLogin.kill('SIGKILL'));
  await doshd?.stop();
  removeContainersOf(...USERS, 'root');
  spawnSync('docker', ['rm', '-f', BUILD_CONTAINER], { stdio: 'ignore' });
  for (const u of USERS) delUser(u);
  sh(`docker rmi ${EVIL_IMAGE} ${ESCALATE_IMAGE} >/dev/null 2>&1 || true`);
  if (work) rmSync(work, { recursive: true, force: true });
  // With doshd stopped: the sessions of the users that no longer exist.
  for (const f of readdirSync(SESSIONS)) if (/^dts-(ann|vic|eve)-[0-9a-f]+\.json$/.test(f)) rmSync(path.join(SESSIONS, f), { force: true });
  doshd?.cleanup();
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const out = (r: Result) => r.stdout.toString();
const describe = (r: Result) => `exit ${r.code} signal ${r.signal}\nstdout: ${JSON.stringify(out(r).slice(0, 800))}\nstderr: ${JSON.stringify(r.stderr.slice(0, 1500))}`;

function sessionsRaw(user: string): RawSession[] {
  return sessionFilesOf(user).flatMap((f) => {
    try {
      return [JSON.parse(readFileSync(path.join(SESSIONS, f), 'utf8')) as RawSession];
    } catch {
      return [];
    }
  });
}

function runningLogin(user: string, command: string): Promise<RawSession> {
  return until(`${user}'s login "${command}" to be Running`, () => sessionsRaw(user).find((s) => s.spec.command === command && s.status.phase === 'Running' && (s.status.execPid ?? 0) > 0), 30_000);
}

function inspect(name: string): any {
  const r = spawnSync('docker', ['inspect', name], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout)[0] : undefined;
}

/** USER's container is exactly what the policy gives her: name, image, identity, labels, mounts and confinement. Returns its id. */
function assertPolicyContainer(user: string, image: string): string {
  const c = inspect(`dosh-${user}`);
  assert.ok(c, `dosh-${user} exists`);
  const what = `dosh-${user}`;
  assert.equal(c.Name, `/dosh-${user}`);
  assert.equal(c.Config.Image, image, `${what}: the policy's image`);
  assert.equal(c.Config.User, `${uid(user)}:${gid(user)}`, `${what}: runs as her uid:gid`);
  assert.equal(c.Config.Labels['dosh.io/user'], user);
  assert.equal(c.Config.Labels['dosh.io/uid'], uid(user));
  const hc = c.HostConfig;
  assert.equal(hc.Privileged, false, `${what}: not privileged`);
  assert.deepEqual(hc.CapAdd ?? [], [], `${what}: no capability added`);
  assert.deepEqual(hc.CapDrop, ['ALL'], `${what}: every capability dropped`);
  assert.ok((hc.SecurityOpt ?? []).includes('no-new-privileges:true'), `${what}: no-new-privileges (${JSON.stringify(hc.SecurityOpt)})`);
  assert.ok(!(hc.SecurityOpt ?? []).some((o: string) => /unconfined/.test(o)), `${what}: seccomp/apparmor kept (${JSON.stringify(hc.SecurityOpt)})`);
  for (const k of ['PidMode', 'UTSMode', 'UsernsMode']) assert.equal(hc[k], '', `${what}: ${k}`);
  for (const k of ['IpcMode', 'NetworkMode']) assert.ok(hc[k] !== 'host' && !String(hc[k]).startsWith('container:'), `${what}: ${k} ${hc[k]}`);
  assert.deepEqual(hc.Devices ?? [], [], `${what}: no devices`);
  assert.deepEqual(hc.VolumesFrom ?? [], []);
  assert.deepEqual(hc.Mounts ?? [], [], `${what}: no --mount`);
  assert.deepEqual(hc.Binds ?? [], expectedBinds(user), `${what}: exactly the policy's bind mounts`);
  assert.deepEqual(
    c.Mounts.map((m: { Source: string; Destination: string; RW: boolean }) => `${m.Source}:${m.Destination}:${m.RW ? 'rw' : 'ro'}`).sort(),
    expectedBinds(user).map((b) => (b.endsWith(':ro') ? b : `${b}:rw`)).sort(),
    `${what}: nothing else mounted`,
  );
  return c.Id;
}

/** Nothing was created for anyone but the users who logged in: no session of V beyond her own login, none of root, no container of root, of uid 0 or of the lure image. */
function assertNoForeignEffects(): void {
  assert.deepEqual(sessionFilesOf(V), vFiles, 'no session was created for the other user');
  assert.deepEqual(sessionFilesOf('root'), [], 'no session was created for root');
  assert.equal(inspect('dosh-root'), undefined, 'no container for root');
  assert.equal(sh('docker ps -aq --filter label=dosh.io/uid=0').trim(), '', 'no DoSH container labelled uid 0');
  const lure = sh(`docker ps -a --format '{{.Names}} {{.Image}}'`).split('\n').filter((l) => l.endsWith(` ${EVIL_IMAGE}`));
  assert.deepEqual(lure, [], 'no container runs the image she named');
  for (const u of [A, V]) {
    const names = sh(`docker ps -a --filter label=dosh.io/user=${u} --format '{{.Names}}'`).split('\n').filter(Boolean);
    assert.ok(names.every((n) => n === `dosh-${u}`), `${u}'s only container is dosh-${u}: ${names.join(', ')}`);
  }
  const v = sessionsRaw(V).find((s) => s.metadata.name === vSession.metadata.name);
  assert.equal(v?.status.phase, 'Running', 'the other user\'s login still runs');
  assert.ok(pidAlive(vSession.status.execPid!), 'the other user\'s command still runs');
}

async function assertDoshdHealthy(): Promise<void> {
  assert.ok(pidAlive(doshd.pid), 'doshd is alive');
  assert.ok(await readyz(), 'doshd answers /readyz');
}

/** Runs each bash snippet as USER on the host; one row per snippet with its exit status and its output (stdout and stderr). */
async function attempts(user: string, snippets: string[]): Promise<{ cmd: string; rc: number; out: string }[]> {
  const script = snippets.map((c, i) => `o=$( { ${c} ; } 2>&1 ); printf '%s\\0%s\\0%s\\0' ${i} "$?" "$o"`).join('\n');
  const r = await asUserScript(user, script);
  const f = out(r).split('\0');
  const rows: { cmd: string; rc: number; out: string }[] = [];
  for (let i = 0; i + 2 < f.length; i += 3) rows.push({ cmd: snippets[Number(f[i])], rc: Number(f[i + 1]), out: f[i + 2] });
  assert.equal(rows.length, snippets.length, `every attempt ran: ${describe(r)}`);
  return rows;
}

/** Every attempt failed, with a message matching RE. */
function assertAllRefused(rows: { cmd: string; rc: number; out: string }[], re: RegExp): void {
  const bad = rows.filter((r) => r.rc === 0 || !re.test(r.out));
  assert.deepEqual(bad, [], `attempts that were not refused with ${re}`);
}

/** dts-sec-escalate: the Debian test image plus a setuid-root probe, a probe with file capabilities, and this host's sudo with a rule that lets everyone run anything as root without a password. */
function buildEscalationImage(dir: string): void {
  writeFileSync(path.join(dir, 'probe.c'), PROBE_C);
  sh(`cd ${dir} && { cc -static -O2 -o probe probe.c 2>/dev/null || cc -O2 -o probe probe.c; }`);
  // sudo's files as dpkg installed them on this host (Debian 12, like the image), without directories.
  sh(`dpkg -L sudo | while IFS= read -r f; do if [ -L "$f" ] || { [ -e "$f" ] && [ ! -d "$f" ]; }; then printf '%s\\n' "\${f#/}"; fi; done >${dir}/sudo.list && tar -C / --no-recursion -cpf ${dir}/sudo.tar -T ${dir}/sudo.list`);
  const script = `set -e
tar -xpf /ctx/sudo.tar -C /
printf 'Defaults env_reset\\nroot ALL=(ALL:ALL) ALL\\n@includedir /etc/sudoers.d\\n' >/etc/sudoers && chmod 0440 /etc/sudoers
echo 'ALL ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/dts-all && chmod 0440 /etc/sudoers.d/dts-all
printf 'auth sufficient pam_permit.so\\naccount sufficient pam_permit.so\\nsession optional pam_permit.so\\n' >/etc/pam.d/sudo
install -o root -g root -m 4755 /ctx/probe /usr/local/bin/suid-probe
install -o root -g root -m 0755 /ctx/probe /usr/local/bin/cap-probe
/ctx/probe --set-file-caps /usr/local/bin/cap-probe
echo 'dosh-test secret' >/root-only && chmod 0600 /root-only
`;
  spawnSync('docker', ['rm', '-f', BUILD_CONTAINER], { stdio: 'ignore' });
  sh(`docker run --name ${BUILD_CONTAINER} -v ${dir}:/ctx:ro ${DEBIAN} bash -c ${shellQuote(script)}`);
  sh(`docker commit ${BUILD_CONTAINER} ${ESCALATE_IMAGE} >/dev/null && docker rm ${BUILD_CONTAINER} >/dev/null`);
}

/** The key=value lines and Cap*: lines the probe printed. */
function probeFields(text: string): Record<string, string> {
  const f: Record<string, string> = {};
  for (const l of text.split(/\r?\n/)) {
    const status = /^(Cap(?:Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):\s*(\S*)$/.exec(l);
    const result = /^(setuid0|open)=(.*)$/.exec(l);
    if (status) f[status[1]] = status[2];
    else if (result) f[result[1]] = result[2];
    else if (l.startsWith('ruid=')) for (const kv of l.split(' ')) f[kv.split('=')[0]] = kv.split('=')[1];
  }
  return f;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Another identity, another image, other flags

test('su - USER -c with other users\' names, root and docker flags as extra arguments: they reach her shell as words; she runs as herself in the policy\'s container', { timeout: 120_000 }, async () => {
  removeContainersOf(A); // the container is made during the attempts, the only moment they could shape it
  for (const extra of [['--', '--user', 'root'], ['--', '--privileged', '-v', '/:/host', '--uid', '0'], [V, 'root'], ['--', `--image=${EVIL_IMAGE}`, '--name', `dosh-${V}`]]) {
    const r = await run('su', ['-', A, '-c', `${WHOAMI}; echo "[$0|$*]"`, ...extra]);
    const words = extra[0] === '--' ? extra.slice(1) : extra;
    assert.equal(r.code, 0, describe(r));
    assert.equal(out(r), `${uid(A)}\n${gid(A)}\n[${words[0]}|${words.slice(1).join(' ')}]\n`, describe(r));
  }
  assertPolicyContainer(A, BUSYBOX);
  assertNoForeignEffects();
});

test('the helper through sudo with --user root, --uid 0, -u root, --privileged: refused with "invalid option" and exit 2, before any session exists', { timeout: 120_000 }, async () => {
  const before = sessionFilesOf(A);
  const cases: [string[], RegExp][] = [
    [['-dosh', '--user', 'root'], /^dosh: --user: invalid option$/m],
    [['dosh', '--user', 'root', '-c', 'id -u'], /^dosh: --user: invalid option$/m],
    [['dosh', '--uid', '0', '-c', 'id -u'], /^dosh: --uid: invalid option$/m],
    [['-dosh', '--uid=0'], /^dosh: --uid=0: invalid option$/m],
    [['-dosh', '-u', 'root'], /^dosh: -u: invalid option$/m],
    [[V, '--user', V, '-c', 'id -u'], /^dosh: --user: invalid option$/m],
    [['dosh', '-v', '/:/host', '-c', 'id -u'], /^dosh: -v: invalid option$/m],
    [['dosh', '--privileged', '--pid=host', '-c', 'id -u'], /^dosh: --privileged: invalid option$/m],
  ];
  for (const [args, msg] of cases) {
    const r = await asUser(A, ['/usr/bin/sudo', '-n', HELPER, ...args]);
    assert.equal(r.code, 2, `${JSON.stringify(args)}: ${describe(r)}`);
    assert.match(r.stderr, msg, describe(r));
    assert.equal(out(r), '', describe(r));
  }
  assert.deepEqual(sessionFilesOf(A).filter((f) => !before.includes(f)), [], 'a refused invocation creates no session');
  assertNoForeignEffects();
});

test('other users\' names and root as argv0 or arguments of the helper: she still runs as herself, in her own container', { timeout: 120_000 }, async () => {
  const id = assertPolicyContainer(A, BUSYBOX);
  for (const args of [
    [V, '-c', WHOAMI],
    ['root', '-c', WHOAMI],
    [`-${V}`, '-c', WHOAMI],
    [`dosh-${V}`, '-c', WHOAMI],
    ['-dosh', '-c', WHOAMI, V, 'root', `dosh-${V}`],
    ['-dosh', '-lc', WHOAMI, '--', '--user', 'root'],
  ]) {
    const r = await asUser(A, ['/usr/bin/sudo', '-n', HELPER, ...args]);
    assert.equal(r.code, 0, `${JSON.stringify(args)}: ${describe(r)}`);
    assert.equal(out(r), `${uid(A)}\n${gid(A)}\n`, `${JSON.stringify(args)}: ${describe(r)}`);
  }
  assert.equal(assertPolicyContainer(A, BUSYBOX), id, 'the same container');
  assertNoForeignEffects();
});

const FLAG_VALUES = ['--privileged', '-v /:/host', '--user=0', '--volume=/var/run/docker.sock:/s', EVIL_IMAGE, `--image=${EVIL_IMAGE}`, '-u', 'root'];

test('TERM, LANG and SSH_ORIGINAL_COMMAND holding image names and docker flags (launcher, ssh pty, ssh SetEnv, a forced command in authorized_keys) change nothing', { timeout: 240_000 }, async () => {
  removeContainersOf(A);
  const show = `${WHOAMI}; echo "[\${SSH_ORIGINAL_COMMAND-unset}]"`;
  const expect = `${uid(A)}\n${gid(A)}\n[unset]\n`;
  for (const v of FLAG_VALUES) {
    const r = await asUser(A, [DOSH, '-c', show], { env: { TERM: v, LANG: v, SSH_ORIGINAL_COMMAND: v } });
    assert.equal(out(r), expect, `TERM/LANG/SSH_ORIGINAL_COMMAND=${v}: ${describe(r)}`);
    const viaSu = await run('su', ['-', A, '-c', show], { env: { PATH: process.env.PATH, HOME: '/root', TERM: v, SSH_ORIGINAL_COMMAND: v } });
    assert.equal(out(viaSu), expect, `su with TERM=${v}: ${describe(viaSu)}`);
    const pty = await run('ssh', ['-tt', ...sshOpts(), '-o', `SetEnv=LANG="${v}" SSH_ORIGINAL_COMMAND="${v}"`, `${A}@127.0.0.1`, show], { env: { PATH: process.env.PATH, HOME: '/root', TERM: v } });
    assert.equal(out(pty).replace(/\r/g, ''), expect, `ssh -tt with TERM=${v}: ${describe(pty)}`);
  }
  // She may put a forced command and environment= options in front of her own key: sshd then sets
  // SSH_ORIGINAL_COMMAND to what the client asked for, and runs the forced command through her shell (dosh).
  const ak = `/home/${A}/.ssh/authorized_keys`;
  const original = readFileSync(ak);
  try {
    const set = await asUserScript(A, `sed -i 's|^ssh-|command="id -u; env",environment="DOSH_IMAGE=${EVIL_IMAGE}",environment="DOCKER_HOST=tcp://127.0.0.1:1" ssh-|' ~/.ssh/authorized_keys && head -c 120 ~/.ssh/authorized_keys`);
    assert.match(out(set), /^command="id -u; env"/, describe(set));
    for (const asked of ['--privileged -v /:/host id -u', `docker run --rm -v /:/host ${EVIL_IMAGE} id -u`, '--user 0']) {
      const r = await ssh(A, asked, { extra: ['--'] }); // else ssh would parse a command starting with '-' as its options
      assert.equal(r.code, 0, describe(r));
      const lines = out(r).split('\n');
      assert.equal(lines[0], uid(A), describe(r));
      assert.ok(!lines.some((l) => /^(SSH_ORIGINAL_COMMAND|DOSH_|DOCKER_HOST)/.test(l)), `no forced variable reached her container: ${describe(r)}`);
    }
  } finally {
    writeFileSync(ak, original, { mode: 0o600 });
    sh(`chown ${A}: ${ak}`);
  }
  assertPolicyContainer(A, BUSYBOX);
  assertNoForeignEffects();
});

test('files in her home (~/.dosh.conf, ~/.config/dosh*, ~/.docker/config.json and a docker context on another host) are not read: her new container is the policy\'s', { timeout: 180_000 }, async () => {
  const evilConf = `CONTAINERIMAGE=${EVIL_IMAGE}\nCONTAINERCOMMAND=/bin/sh\nDOCKERPARAMETERS=--privileged -v /:/host -u 0 --pid host\nPREFIXNAME=dts-sec-evil-\nALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true\nINHERIT=false\n[user:${A}]\nCONTAINERIMAGE=${EVIL_IMAGE}\n`;
  const evilYaml = `image: ${EVIL_IMAGE}\ndockerParameters: "--privileged -v /:/host"\n`;
  // The docker CLI's context store names a context's directory by the sha256 of its name.
  const ctxHash = sh(`printf %s dts-evil | sha256sum`).split(' ')[0];
  const files: Record<string, string> = {
    '.dosh.conf': evilConf,
    '.dosh.yaml': evilYaml,
    '.doshrc': evilConf,
    '.config/dosh/dosh.conf': evilConf,
    '.config/dosh/dosh.yaml': evilYaml,
    '.config/dosh/helper.conf': 'STORE=/tmp\nDOCKER_SOCKET=/tmp/dts-evil.sock\n',
    '.config/dosh.conf': evilConf,
    '.docker/config.json': JSON.stringify({ currentContext: 'dts-evil', proxies: { default: { httpProxy: 'http://127.0.0.1:1' } } }),
    [`.docker/contexts/meta/${ctxHash}/meta.json`]: JSON.stringify({ Name: 'dts-evil', Metadata: {}, Endpoints: { docker: { Host: 'tcp://127.0.0.1:1', SkipTLSVerify: true } } }),
  };
  const write = Object.entries(files)
    .map(([f, text]) => `mkdir -p "$(dirname ~/${f})" && printf '%s' ${shellQuote(text)} >~/${f}`)
    .join(' && ');
  const w = await asUserScript(A, `${write} && echo written`);
  assert.equal(out(w), 'written\n', describe(w));
  for (const f of Object.keys(files)) assert.equal(String(statSync(`/home/${A}/${f}`).uid), uid(A), `${f} is hers`);
  try {
    removeContainersOf(A);
    const viaSu = await su(A, WHOAMI);
    assert.equal(out(viaSu), `${uid(A)}\n${gid(A)}\n`, describe(viaSu));
    const viaSsh = await ssh(A, WHOAMI);
    assert.equal(out(viaSsh), `${uid(A)}\n${gid(A)}\n`, describe(viaSsh));
    const viaLauncher = await asUser(A, [DOSH, '-c', WHOAMI]);
    assert.equal(out(viaLauncher), `${uid(A)}\n${gid(A)}\n`, describe(viaLauncher));
    assertPolicyContainer(A, BUSYBOX);
    assert.equal(sh(`docker ps -aq --filter name=dts-sec-evil-`).trim(), '', 'no container with her PREFIXNAME');
    assertNoForeignEffects();
  } finally {
    await asUserScript(A, 'rm -rf ~/.dosh.conf ~/.dosh.yaml ~/.doshrc ~/.config ~/.docker');
  }
});

test('DOSH_* and policy-named variables (launcher, sudo, su -m, ssh SetEnv) change nothing and do not reach her container', { timeout: 180_000 }, async () => {
  removeContainersOf(A);
  const env: Record<string, string> = {
    DOSH_IMAGE: EVIL_IMAGE,
    DOSH_USER: V,
    DOSH_UID: '0',
    DOSH_GID: '0',
    DOSH_GROUPS: '0,27',
    DOSH_CONTAINER_NAME: `dosh-${V}`,
    DOSH_CONTAINER_ID: inspect(`dosh-${V}`).Id,
    DOSH_SESSION: vSession.metadata.name,
    DOSH_DOCKERPARAMETERS: '--privileged -v /:/host',
    DOSH_PRIVILEGED: 'true',
    DOSH_CONFIG: '/tmp/dts-evil.conf',
    DOSH_STORE: '/tmp',
    DOSH_DOCKER_SOCKET: '/tmp/dts-evil.sock',
    DOSH_NODE: 'elsewhere',
    DOSH_PHASE: 'preexec',
    CONTAINERIMAGE: EVIL_IMAGE,
    DOCKERPARAMETERS: '--privileged -v /:/host',
    PREFIXNAME: 'dts-sec-evil-',
    ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK: 'true',
  };
  const show = `${WHOAMI}; env | grep -E '^(DOSH_|CONTAINERIMAGE|DOCKERPARAMETERS|PREFIXNAME|ALLOW_UNSAFE)' || echo none`;
  const expect = `${uid(A)}\n${gid(A)}\nnone\n`;
  const results: [string, Result][] = [
    ['launcher', await asUser(A, [DOSH, '-c', show], { env })],
    ['sudo helper', await asUser(A, ['/usr/bin/sudo', '-n', HELPER, 'dosh', '-c', show], { env })],
    ['su -m (environment kept by su)', await run('su', ['-m', A, '-c', show], { env: { PATH: process.env.PATH, HOME: '/root', ...env } })],
    ['ssh SetEnv', await ssh(A, show, { extra: ['-o', `SetEnv=${Object.entries(env).map(([k, v]) => `${k}=${v.replace(/ /g, '_')}`).join(' ')}`] })],
  ];
  for (const [how, r] of results) assert.equal(out(r), expect, `${how}: ${describe(r)}`);
  assertPolicyContainer(A, BUSYBOX);
  assert.equal(sh(`docker ps -aq --filter name=dts-sec-evil-`).trim(), '');
  assertNoForeignEffects();
});

// ---------------------------------------------------------------------------------------------------------------
// 2. The store and the helper's paths

test('she cannot list, write, link or symlink into /run/dosh or its directories (Permission denied), and nothing appears there', { timeout: 60_000 }, async () => {
  const vFile = path.join(SESSIONS, `${vSession.metadata.name}.json`);
  const names = ['dts-sec-x', 'dts-ann-00000000aa.json', '.tmp-dts-ann-00000000aa-x', '.lock-dts-ann-00000000aa', 'cordon.json'];
  const rows = await attempts(A, [
    `echo forged >/tmp/dts-sec-forged-$$.json`, // her own file in /tmp: allowed, the material for what follows
    ...['', '/sessions', '/quarantine', '/events'].flatMap((d) => [
      `ls ${STORE}${d}`,
      `touch ${STORE}${d}/${names[0]}`,
      `mkdir ${STORE}${d}/${names[0]}.d`,
      `ln -s /etc/shadow ${STORE}${d}/${names[1]}`,
      `ln -s /tmp/dts-sec-forged-$$.json ${STORE}${d}/${names[2]}`,
      `ln /tmp/dts-sec-forged-$$.json ${STORE}${d}/${names[3]}`,
      `cp /tmp/dts-sec-forged-$$.json ${STORE}${d}/${names[4]}`,
      `mv /tmp/dts-sec-forged-$$.json ${STORE}${d}/${names[1]}`,
    ]),
    `echo '{}' >${vFile}`,
    `rm -f ${vFile}`,
    `mv ${vFile} /tmp/`,
    `ln ${vFile} /tmp/dts-sec-stolen-$$.json`,
    `ln -sf /tmp ${STORE}/sessions`,
    `rm -f /tmp/dts-sec-forged-$$.json; false`, // tidy up, reported as refused on purpose
  ]);
  assert.equal(rows[0].rc, 0, rows[0].out);
  assertAllRefused(rows.slice(1, -1), /Permission denied/);
  for (const d of [STORE, SESSIONS, `${STORE}/quarantine`, `${STORE}/events`]) {
    const st = lstatSync(d);
    assert.ok(st.isDirectory() && st.uid === 0 && (st.mode & 0o777) === 0o700, `${d} is root's, 0700 (${(st.mode & 0o777).toString(8)})`);
    for (const n of names) for (const suffix of ['', '.d']) assert.ok(!existsSync(path.join(d, n + suffix)) || (d === STORE && n === 'cordon.json'), `${d}/${n}${suffix} must not exist`);
  }
  assert.ok(!existsSync(`${STORE}/cordon.json`) || lstatSync(`${STORE}/cordon.json`).uid === 0, 'no cordon file of hers');
  const st = lstatSync(vFile);
  assert.ok(st.isFile() && st.uid === 0 && (st.mode & 0o777) === 0o600, `${vFile} is root's, 0600`);
  assertNoForeignEffects();
});

test('a Session object she forges (for another user and for root, already Ready) is accepted nowhere: not by the store, the helper, doshctl or doshd', { timeout: 120_000 }, async () => {
  const forgedName = 'dts-vic-f0f0f0f0f0';
  const forged = (user: string, u: number) => ({
    apiVersion: 'dosh.io/v1alpha1',
    kind: 'Session',
    metadata: { name: user === 'root' ? 'root-f0f0f0f0f0' : forgedName, labels: { 'dosh.io/user': user }, annotations: {}, resourceVersion: '1', generation: 1, creationTimestamp: new Date().toISOString() },
    spec: { user, uid: u, gid: u, node: sh('hostname').trim(), mode: 'command', login: false, command: 'id -u', args: [], tty: false, term: 'dumb', helper: { pid: 1, startTime: '1' } },
    status: { phase: 'Ready', conditions: [], container: { id: inspect(`dosh-${V}`).Id, name: `dosh-${V}`, image: EVIL_IMAGE }, exec: { argv: ['/bin/sh', '-c', 'id -u'], env: [], user: '0:0' } },
  });
  const dir = `/tmp/dts-sec-forge-${process.pid}`;
  const prep = await asUserScript(A, `mkdir -p ${dir} && printf '%s' ${shellQuote(JSON.stringify(forged(V, Number(uid(V)))))} >${dir}/${forgedName}.json && printf '%s' ${shellQuote(JSON.stringify(forged('root', 0)))} >${dir}/root-f0f0f0f0f0.json && chmod -R a+rX ${dir} && echo ok`);
  assert.equal(out(prep), 'ok\n', describe(prep));
  try {
    // Into the store: refused by the filesystem.
    assertAllRefused(await attempts(A, [`cp ${dir}/*.json ${SESSIONS}/`, `ln -s ${dir}/${forgedName}.json ${SESSIONS}/${forgedName}.json`, `cp ${dir}/*.json ${STORE}/`]), /Permission denied/);
    // doshctl pointed at her directory: refused before it reads anything.
    for (const args of [['--store', dir, 'get', 'sessions'], ['--store', dir, 'delete', 'session', forgedName], ['--store', dir, 'describe', 'session', forgedName]]) {
      const r = await asUser(A, ['/usr/local/bin/doshctl', ...args]);
      assert.equal(r.code, 4, `doshctl ${args.join(' ')}: ${describe(r)}`);
      assert.match(r.stderr, /doshctl must run as root/, describe(r));
    }
    // To the helper it is only a path for her own shell, in her own container (where /tmp is the container's).
    const asScript = await asUser(A, ['/usr/bin/sudo', '-n', HELPER, 'dosh', `${dir}/${forgedName}.json`]);
    assert.notEqual(asScript.code, 0, describe(asScript));
    assert.match(asScript.stderr, /can't open|No such file/, describe(asScript));
    const asStdin = await asUser(A, ['/usr/bin/sudo', '-n', HELPER, 'dosh', '-s'], { input: readFileSync(`${dir}/${forgedName}.json`) });
    assert.doesNotMatch(out(asStdin), /^0$/m, describe(asStdin));
    const asArg = await asUser(A, [DOSH, '-c', 'id -u', `${dir}/${forgedName}.json`, `${STORE}/sessions/${forgedName}.json`]);
    assert.equal(out(asArg), `${uid(A)}\n`, describe(asArg));
    // Nothing of it anywhere doshd looks, and doshd never heard of it.
    for (const n of [forgedName, 'root-f0f0f0f0f0']) {
      assert.ok(!existsSync(path.join(SESSIONS, `${n}.json`)), `${n} is not in the store`);
      assert.ok(!readdirSync(`${STORE}/quarantine`).some((f) => f.startsWith(n)), `${n} is not in the quarantine`);
      assert.ok(!doshd.logText().includes(n), `doshd never saw ${n}`);
    }
    assertNoForeignEffects();
    await assertDoshdHealthy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Why she could plant or change something at P (or on the way to it), or undefined: a path component that is hers, a directory she can write (sticky /tmp included), a file she can write. */
function plantable(p: string, me: { uid: number; gids: number[] }, depth = 0): string | undefined {
  const writable = (st: Stats) => st.uid === me.uid || (st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && me.gids.includes(st.gid));
  const chain = ['/'];
  for (const part of p.split('/').filter(Boolean)) chain.push(path.join(chain[chain.length - 1], part));
  for (let i = 0; i < chain.length; i++) {
    let st: Stats;
    try {
      st = lstatSync(chain[i]);
    } catch {
      return undefined; // does not exist; every directory above it was checked
    }
    if (st.uid === me.uid) return `${chain[i]} is hers`;
    if (st.isSymbolicLink()) {
      if (depth > 8) return `${chain[i]}: too many symlinks`;
      let real: string;
      try {
        real = realpathSync(chain[i]);
      } catch {
        return undefined;
      }
      return plantable(path.join(real, ...chain.slice(i + 1).map((c) => path.basename(c))), me, depth + 1);
    }
    if (st.isDirectory() && writable(st)) return `${chain[i]} is a directory she can write (mode ${(st.mode & 0o7777).toString(8)})`;
    if (i === chain.length - 1 && st.isFile() && writable(st)) return `${chain[i]} is a file she can write`;
  }
  return undefined;
}

test('the helper touches no path she could plant a symlink in or change (strace of a login from a directory of hers, with symlinks planted in /tmp and her home)', { timeout: 180_000 }, async () => {
  const plant = `/tmp/dts-sec-plant-${process.pid}`;
  const tmpLinks = ['/tmp/dosh', '/tmp/dosh.log', '/tmp/dosh-helper.log', '/tmp/.dosh.lock', '/tmp/docker.sock', `/tmp/dosh-${uid(A)}`, '/tmp/doshd.json', '/tmp/package.json', '/tmp/node_modules'];
  const setup = `set -e
mkdir -p ${plant}/node_modules/dockerode ${plant}/sessions
ln -s /etc/shadow ${plant}/package.json
echo 'require("fs").writeFileSync("${plant}/pwned", "x")' >${plant}/node_modules/dockerode/index.js
ln -s /etc/shadow ${plant}/.npmrc
for l in ${tmpLinks.join(' ')}; do ln -sfn /etc/shadow "$l" 2>/dev/null || true; done
mkdir -p ~/.node_modules ~/.node_libraries ~/.docker
ln -sfn /etc/shadow ~/.docker/config.json
echo planted`;
  const s = await asUserScript(A, setup);
  assert.equal(out(s), 'planted\n', describe(s));
  const trace = path.join(work, 'helper.strace');
  try {
    const r = await run('strace', ['-f', '-qq', '-s', '4096', '-e', 'signal=none', '-e', 'trace=%file,%process,connect,bind', '-o', trace, 'su', '-', A, '-s', '/bin/bash', '-c', `cd ${plant} && exec ${DOSH} -c 'id -u'`], { timeoutMs: 120_000 });
    assert.equal(out(r), `${uid(A)}\n`, `the traced login worked: ${describe(r)}`);
    assert.ok(!existsSync(`${plant}/pwned`), 'her node_modules was not loaded');

    // The helper's process (from its execve on) and every thread or child it starts.
    const lines = readFileSync(trace, 'utf8').split('\n');
    const start = lines.findIndex((l) => new RegExp(`^\\d+ execve\\("${HELPER}", .*\\) = 0$`).test(l));
    assert.ok(start >= 0, 'the trace shows the helper starting');
    const pids = new Set([lines[start].split(' ')[0]]);
    const paths = new Map<string, string>(); // path -> one line that used it
    const relative: string[] = [];
    for (const l of lines.slice(start)) {
      const m = /^(\d+) (?:<\.\.\. )?([a-z0-9_]+)[( ]/.exec(l);
      if (!m || !pids.has(m[1])) continue;
      const call = m[2];
      const child = /\b(clone3?|fork|vfork)\b.*= (\d+)$/.exec(l);
      if (child) pids.add(child[2]);
      if (call === 'getcwd' || l.includes(' resumed>')) continue;
      let args: string[];
      if (call === 'connect' || call === 'bind') args = [...l.matchAll(/sun_path="([^"]*)"/g)].map((x) => x[1]);
      else {
        const strs = [...l.replace(/ = .*$/, '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]);
        args = call.startsWith('execve') || call.startsWith('readlink') ? strs.slice(0, 1) : strs;
      }
      for (const a of args) {
        if (a === '') continue;
        if (!a.startsWith('/')) {
          if (/\(AT_FDCWD, /.test(l) || !/at2?$/.test(call)) relative.push(l);
          continue;
        }
        if (!paths.has(a)) paths.set(a, l);
      }
    }
    const all = [...paths.keys()];
    assert.ok(all.some((p) => p.startsWith(`${SESSIONS}/`)), `the trace shows the helper writing its session: ${all.join(' ')}`);
    assert.ok(all.some((p) => /docker\.sock$/.test(p)), `the trace shows the helper connecting to the engine: ${all.join(' ')}`);
    assert.deepEqual(relative, [], 'the helper resolves no path relative to her working directory');
    const me = { uid: Number(uid(A)), gids: sh(`id -G ${A}`).trim().split(/\s+/).map(Number) };
    const problems = all.filter((p) => !/^\/(proc|sys)\//.test(p)).flatMap((p) => {
      const why = plantable(p, me);
      return why ? [`${p}: ${why} (${paths.get(p)})`] : [];
    });
    assert.deepEqual(problems, [], 'paths the helper touched that she controls');
    assert.ok(all.length > 20, `${all.length} paths traced`);
  } finally {
    rmSync(plant, { recursive: true, force: true });
    for (const l of tmpLinks) if (lstatSafe(l)?.uid === Number(uid(A))) rmSync(l, { force: true });
    await asUserScript(A, 'rm -rf ~/.node_modules ~/.node_libraries ~/.docker');
    rmSync(trace, { force: true });
  }
  assertNoForeignEffects();
});

function lstatSafe(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

test('no pid she can reach lets her signal, trace or read another user\'s login; signalling her own sudo (which she may) ends only her own login', { timeout: 180_000 }, async () => {
  const vHelper = vSession.spec.helper.pid;
  const vSudo = parentPid(vHelper)!;
  const vExec = vSession.status.execPid!;
  assert.ok(vSudo > 1 && pidAlive(vSudo) && pidAlive(vHelper) && pidAlive(vExec), 'V\'s sudo, helper and command run');
  // From her host account.
  const rows = await attempts(A, [
    ...['HUP', 'TERM', 'KILL', 'STOP'].flatMap((sig) => [vSudo, vHelper, vExec].map((p) => `kill -${sig} ${p}`)),
    `cat /proc/${vHelper}/environ`,
    `ls /proc/${vHelper}/fd`,
    `cat /proc/${vSudo}/environ`,
    `ls /proc/${vExec}/root/`,
    `cat /proc/${vExec}/environ`,
    `strace -p ${vHelper} -e trace=none -o /dev/null`,
  ]);
  assertAllRefused(rows, /Operation not permitted|Permission denied/);
  // From inside her container: those pids are not in her pid namespace.
  const inside = await su(A, `for p in ${vSudo} ${vHelper} ${vExec}; do kill -9 $p; echo "rc=$?"; done`);
  assert.equal(out(inside), 'rc=1\nrc=1\nrc=1\n', describe(inside));
  assert.match(inside.stderr, /No such process/, describe(inside));

  // Her own logins: sudo keeps her as its real uid, so she may signal it; it forwards HUP to the helper, and a killed
  // sudo leaves the helper without its parent. Either way only her own login ends.
  for (const [sig, cmd] of [['HUP', 'exec sleep 4244'], ['KILL', 'exec sleep 4245']] as const) {
    const login = spawn('su', ['-', A, '-c', cmd], { stdio: ['pipe', 'ignore', 'ignore'] });
    const mine = await runningLogin(A, cmd);
    assert.equal(mine.spec.uid, Number(uid(A)));
    // The pid recorded for her helper is the real helper: a root process running dosh-helper.mjs.
    const status = readFileSync(`/proc/${mine.spec.helper.pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+0\s+0\s+0\s+0$/m, 'her helper runs as root');
    assert.ok(readFileSync(`/proc/${mine.spec.helper.pid}/cmdline`, 'utf8').includes(HELPER));
    const sudo = parentPid(mine.spec.helper.pid)!;
    const k = await asUserScript(A, `kill -${sig} ${sudo}; echo "rc=$?"`);
    assert.equal(out(k), 'rc=0\n', `she may signal her own sudo: ${describe(k)}`);
    await until(`her login (${sig}) to end`, () => {
      const now = sessionsRaw(A).find((s) => s.metadata.name === mine.metadata.name);
      return !pidAlive(mine.status.execPid!) && (now?.status.phase === 'Failed' || now?.status.phase === 'Succeeded');
    }, 30_000);
    await until('her su to exit', () => login.exitCode !== null || login.signalCode !== null, 15_000).catch(() => login.kill('SIGKILL'));
    assertNoForeignEffects();
  }
  assert.ok(pidAlive(vSudo) && pidAlive(vHelper) && pidAlive(vExec), 'V\'s sudo, helper and command still run');
  assert.equal(vLogin.exitCode, null, 'V\'s login still runs');
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Other users' containers and sessions

test('doshctl as a non-root user is refused (exit 4, or permission denied) and changes nothing', { timeout: 120_000 }, async () => {
  const cordoned = existsSync(`${STORE}/cordon.json`);
  const needsRoot = [
    ['get', 'sessions'],
    ['get', 'sessions', '--user', V, '-o', 'json'],
    ['get', 'containers'],
    ['describe', 'session', vSession.metadata.name],
    ['describe', 'user', V],
    ['delete', 'session', vSession.metadata.name],
    ['cordon', '--message', 'dts'],
    ['uncordon'],
    ['events', '--for', `user/${V}`],
    ['top', 'users'],
    ['policy', 'status'],
  ];
  for (const args of needsRoot) {
    const r = await asUser(A, ['/usr/local/bin/doshctl', ...args]);
    assert.equal(r.code, 4, `doshctl ${args.join(' ')}: ${describe(r)}`);
    assert.match(r.stderr, /doshctl must run as root/, describe(r));
    assert.equal(out(r), '');
  }
  // Commands without a declared need still hit the store's or the policy's permissions.
  for (const [args, re] of [
    [['drain', '--grace-period', '0', '--message', 'dts'], /permission denied/i],
    [['policy', 'check'], /permission denied/i],
    [['policy', 'explain', V], /permission denied/i],
  ] as const) {
    const r = await asUser(A, ['/usr/local/bin/doshctl', ...args]);
    assert.notEqual(r.code, 0, `doshctl ${args.join(' ')}: ${describe(r)}`);
    assert.match(r.stderr, re, describe(r));
    assert.doesNotMatch(out(r), new RegExp(`${BUSYBOX}|${V}`), 'nothing of the policy or the sessions is shown');
  }
  assert.equal(existsSync(`${STORE}/cordon.json`), cordoned, 'the node was not cordoned or uncordoned');
  const v = sessionsRaw(V).find((s) => s.metadata.name === vSession.metadata.name)!;
  assert.equal(v.metadata.deletionTimestamp, undefined, 'V\'s session was not deleted');
  assert.equal(v.metadata.annotations?.['dosh.io/message'], undefined, 'V was not sent a message');
  assertNoForeignEffects();
});

test('the docker CLI as her is refused at the socket; she is not in its group; the engine listens on no TCP port; she cannot exec into another user\'s container', { timeout: 120_000 }, async () => {
  const sock = statSync('/var/run/docker.sock');
  assert.equal(sock.uid, 0, 'the socket is root\'s');
  assert.equal(sock.mode & 0o007, 0, 'others have no access to the socket');
  const groups = sh(`id -G ${A}`).trim().split(/\s+/).map(Number);
  assert.ok(!groups.includes(sock.gid), `she is not in the socket's group (${sock.gid})`);
  const containersBefore = sh(`docker ps -aq --no-trunc | sort`);
  const denied = await attempts(A, [
    'docker ps',
    `docker exec dosh-${V} id -u`,
    `docker exec -u 0 dosh-${A} id -u`,
    `docker run --rm -v /:/host ${EVIL_IMAGE} id -u`,
    `docker -H unix:///var/run/docker.sock exec dosh-${V} id`,
  ]);
  assertAllRefused(denied, /permission denied/i);
  const tcp = await attempts(A, ['DOCKER_HOST=tcp://127.0.0.1:2375 docker ps', 'DOCKER_HOST=tcp://127.0.0.1:2376 docker ps']);
  assertAllRefused(tcp, /connection refused|Cannot connect/i);
  assert.equal(sh(`docker ps -aq --no-trunc | sort`), containersBefore, 'no container was created or removed');
  assertNoForeignEffects();
});

test('inside her container she sees only her own processes, and neither the store, other homes nor the docker socket', { timeout: 60_000 }, async () => {
  const r = await su(A, `for p in /proc/[0-9]*; do echo "$(awk '/^Uid:/{print $2}' $p/status 2>/dev/null)|$(tr '\\0' ' ' <$p/cmdline 2>/dev/null)"; done; echo ---; for f in ${STORE} ${SESSIONS}/${vSession.metadata.name}.json /home/${V} /var/run/docker.sock /run/docker.sock /proc/${vSession.status.execPid}; do ls -d $f 2>&1; done; true`);
  assert.equal(r.code, 0, describe(r));
  const [procs, files] = out(r).split('---\n');
  const rows = procs.split('\n').filter((l) => l.includes('|') && !l.startsWith('|'));
  assert.ok(rows.length >= 2, `her container's processes: ${procs}`);
  for (const row of rows) assert.equal(row.split('|')[0], uid(A), `every process she sees is hers: ${row}`);
  assert.ok(!procs.includes(V_COMMAND.replace('exec ', '')), 'V\'s command is not visible');
  assert.ok(rows.some((l) => /docker-init|tini/.test(l)), `the init process: ${procs}`);
  const fileLines = files.split('\n').filter(Boolean);
  assert.equal(fileLines.length, 6, files);
  for (const l of fileLines) assert.match(l, /No such file or directory/, l);
  const shadow = readFileSync('/etc/shadow', 'utf8').split('\n')[0];
  const s = await su(A, 'cat /etc/shadow');
  assert.ok(!out(s).includes(shadow), 'the host\'s /etc/shadow is not readable');
});

// ---------------------------------------------------------------------------------------------------------------
// 4. Escalation inside the container

test('the escalation image does escalate outside DoSH (the control): its setuid probe gets euid 0, its capability probe gets capabilities, its sudo gives root', { timeout: 60_000 }, async () => {
  const r = await run('docker', ['run', '--rm', '-u', `${uid(E)}:${gid(E)}`, '-v', '/etc/passwd:/etc/passwd:ro', '-v', '/etc/group:/etc/group:ro', ESCALATE_IMAGE, 'bash', '-c', 'suid-probe; echo ---; cap-probe; echo ---; sudo -n id -u']);
  const [suid, cap, sudo] = out(r).split('---\n');
  assert.equal(probeFields(suid).euid, '0', `setuid probe: ${describe(r)}`);
  assert.equal(probeFields(suid).open, 'ok');
  assert.equal(probeFields(cap).CapEff, '0000000000000082', `capability probe: ${describe(r)}`);
  assert.equal(probeFields(cap).open, 'ok');
  assert.equal(sudo, '0\n', `sudo: ${describe(r)}`);
});

test('inside her container: CapEff=CapBnd=0, NoNewPrivs=1, seccomp on; the setuid-root binary, the file-capability binary, sudo and user namespaces give nothing', { timeout: 120_000 }, async () => {
  const st = await su(E, 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status');
  assert.equal(st.code, 0, describe(st));
  const f = probeFields(out(st));
  for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(f[k], '0000000000000000', `${k}: ${out(st)}`);
  assert.equal(f.NoNewPrivs, '1');
  assert.equal(f.Seccomp, '2', 'Docker\'s default seccomp filter is on');

  const suid = await su(E, 'ls -l /usr/local/bin/suid-probe; suid-probe');
  assert.match(out(suid), /^-rwsr-xr-x .* root root .*suid-probe$/m, 'the probe is setuid root in her container too');
  const p = probeFields(out(suid));
  assert.deepEqual([p.ruid, p.euid, p.suid], [uid(E), uid(E), uid(E)], describe(suid));
  assert.equal(p.CapEff, '0000000000000000');
  assert.equal(p.setuid0, 'Operation not permitted');
  assert.equal(p.open, 'Permission denied');

  // With every capability out of the bounding set, the kernel refuses to exec a binary whose file capabilities would
  // be lost (EPERM); had it run, it would have to show no capability.
  const cap = await su(E, 'cap-probe');
  if (cap.code === 0) {
    const c = probeFields(out(cap));
    assert.equal(c.CapEff, '0000000000000000', describe(cap));
    assert.notEqual(c.open, 'ok', describe(cap));
  } else assert.match(cap.stderr, /Operation not permitted/, describe(cap));

  for (const cmd of ['sudo -n id -u', 'sudo -n cat /root-only', 'sudo -n -s id -u']) {
    const s = await su(E, cmd);
    assert.notEqual(s.code, 0, `${cmd}: ${describe(s)}`);
    assert.match(s.stderr, /no new privileges/, describe(s));
    assert.doesNotMatch(out(s), /^0$|dosh-test secret/m, describe(s));
  }
  const direct = await su(E, 'cat /root-only');
  assert.notEqual(direct.code, 0);
  assert.match(direct.stderr, /Permission denied/, describe(direct));
  const userns = await su(E, 'unshare -Ur id -u');
  assert.notEqual(userns.code, 0, describe(userns));
  assert.match(userns.stderr, /Operation not permitted/, describe(userns));
  // The same through ssh with a terminal (sudo behaves differently with one).
  const tty = await run('ssh', ['-tt', ...sshOpts(), `${E}@127.0.0.1`, 'sudo -n id -u; echo "rc=$?"']);
  assert.match(out(tty), /no new privileges/, describe(tty));
  assert.match(out(tty), /rc=1/, describe(tty));
  assert.doesNotMatch(out(tty).replace(/\r/g, ''), /^0$/m, describe(tty));

  assertPolicyContainer(E, ESCALATE_IMAGE);
  assertNoForeignEffects();
});

// ---------------------------------------------------------------------------------------------------------------
// 5. Secrets

test('her host account cannot read the policy, the sudoers drop-in, the store or other users\' sessions (Permission denied); doshd serves metrics on loopback only', { timeout: 60_000 }, async () => {
  const rows = await attempts(A, [
    'cat /etc/dosh/dosh.conf',
    'ls /etc/dosh',
    'cat /etc/dosh/helper.conf',
    'ls /etc/dosh/conf.d',
    `cat ${doshd.config}`,
    `ls ${doshd.dir}`,
    'cat /etc/sudoers.d/dosh',
    'cat /etc/sudoers',
    `cat ${STORE}/doshd.json`,
    `cat ${STORE}/policy-status.json`,
    `cat ${SESSIONS}/${vSession.metadata.name}.json`,
    `ls ${STORE}/events`,
    `ls ${STORE}/quarantine`,
  ]);
  assertAllRefused(rows, /Permission denied/);
  const mode = (p: string) => statSync(p).mode & 0o7777;
  assert.equal(mode('/etc/dosh'), 0o700);
  if (existsSync('/etc/dosh/dosh.conf')) assert.equal(mode('/etc/dosh/dosh.conf') & 0o077, 0, '/etc/dosh/dosh.conf is not group/other readable');
  assert.equal(mode('/etc/sudoers.d/dosh'), 0o440);
  assert.equal(mode(doshd.dir), 0o700);
  assert.equal(mode(doshd.config), 0o600);
  assert.equal(mode(`${SESSIONS}/${vSession.metadata.name}.json`), 0o600);

  // doshd's default metrics address is loopback, and the doshd of this test listens on nothing else.
  const help = await run('/usr/local/bin/doshd', ['--help']);
  assert.match(out(help) + help.stderr, /--metrics-address[^\n]*default 127\.0\.0\.1:9469/);
  const listening = sh('ss -Hltnp').split('\n').filter((l) => l.includes(`pid=${doshd.pid},`));
  assert.ok(listening.length >= 1, `doshd's listening sockets: ${sh('ss -Hltnp')}`);
  for (const l of listening) assert.match(l.trim().split(/\s+/)[3], new RegExp(`^(127\\.[0-9.]+|\\[::1\\]):${METRICS_PORT}$`), `doshd listens on loopback only: ${l}`);
});
