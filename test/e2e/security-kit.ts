// Shared kit of the security end-to-end tests (security-identity, security-host and security-container
// .test.ts): a user who tries to break out. Every attempt is refused (its exit status and message asserted) or
// ignored, and each test checks that nothing happened: no session or container for another user or for root, her
// container exactly the policy's (image, name, user, mounts, capabilities), other logins untouched. The policy is the
// shipped default (etc/dosh.conf) with a local image.
//
// securitySuite() registers, for the test file that calls it, the before/after hooks every such file needs (its own
// users, doshd, the other user's long-running login, and, on request, strace and the escalation image) and returns
// the state and the assertions bound to that file's users. Each file names its users with its own prefix and removes
// everything it made in its after hook.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  addUser,
  asUserScript,
  BUSYBOX,
  DEBIAN,
  delUser,
  Doshd,
  pidAlive,
  readyz,
  REPO,
  removeContainersOf,
  sessionFilesOf,
  sh,
  shellQuote,
  STORE,
  su,
  until,
  type Result,
} from './harness.ts';
import { DEFAULT_TOOLBOX } from '../../api/toolbox.ts';
import { TOOLBOX_MOUNT as TOOLBOX_TARGET } from '../../api/constants.ts';

/** The one mount doshd adds to every container (the harness's doshd runs with its default --toolbox). */
const TOOLBOX_MOUNT = { Type: 'bind', Source: DEFAULT_TOOLBOX, Target: TOOLBOX_TARGET, ReadOnly: true };

export const SESSIONS = `${STORE}/sessions`;
export const EVIL_IMAGE = 'dts-sec-evil:latest'; // exists (a tag of the test image), so a flag that named it would work
export const ESCALATE_IMAGE = 'dts-sec-escalate:latest';
const BUILD_CONTAINER = 'dts-sec-build';
export const V_COMMAND = 'exec sleep 4243';
export const WHOAMI = 'id -u; id -g';

/** The shipped default policy (etc/dosh.conf) with the local test image, no host conf.d, and (when given) E's section. */
function policy(E: string | undefined): string {
  const shipped = readFileSync(path.join(REPO, 'etc/dosh.conf'), 'utf8');
  assert.match(shipped, /^CONTAINERIMAGE=/m);
  assert.match(shipped, /^DOCKERPARAMETERS=-v \/etc\/passwd:\/etc\/passwd:ro -v \/etc\/group:\/etc\/group:ro -v \/home\/\$USER:\/home\/\$USER -w \/home\/\$USER$/m, 'etc/dosh.conf mounts what expectedBinds() says');
  return `${shipped
    .replace(/^CONTAINERIMAGE=.*$/m, `CONTAINERIMAGE=${BUSYBOX}`)
    .replace(/^CONF=.*$/m, '# (CONF= removed by test/e2e/security-kit.ts: nothing from the host\'s conf.d)')}
IDLETIMEOUT=0
${E ? `
[user:${E}]
CONTAINERIMAGE=${ESCALATE_IMAGE}
CONTAINERCOMMAND=/bin/bash
` : ''}`;
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

export interface RawSession {
  metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  spec: { user: string; uid: number; command?: string; relay: { pid: number; startTime: string } };
  status: { phase: string; reason?: string; execPid?: number; container?: { name: string; image: string } };
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers that depend on no file's users

export const out = (r: Result) => r.stdout.toString();
export const describe = (r: Result) => `exit ${r.code} signal ${r.signal}\nstdout: ${JSON.stringify(out(r).slice(0, 800))}\nstderr: ${JSON.stringify(r.stderr.slice(0, 1500))}`;

export function sessionsRaw(user: string): RawSession[] {
  return sessionFilesOf(user).flatMap((f) => {
    try {
      return [JSON.parse(readFileSync(path.join(SESSIONS, f), 'utf8')) as RawSession];
    } catch {
      return [];
    }
  });
}

export function runningLogin(user: string, command: string): Promise<RawSession> {
  return until(`${user}'s login "${command}" to be Running`, () => sessionsRaw(user).find((s) => s.spec.command === command && s.status.phase === 'Running' && (s.status.execPid ?? 0) > 0), 30_000);
}

export function inspect(name: string): any {
  const r = spawnSync('docker', ['inspect', name], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout)[0] : undefined;
}

/** Runs each bash snippet as USER on the host; one row per snippet with its exit status and its output (stdout and stderr). */
export async function attempts(user: string, snippets: string[]): Promise<{ cmd: string; rc: number; out: string }[]> {
  const script = snippets.map((c, i) => `o=$( { ${c} ; } 2>&1 ); printf '%s\\0%s\\0%s\\0' ${i} "$?" "$o"`).join('\n');
  const r = await asUserScript(user, script);
  const f = out(r).split('\0');
  const rows: { cmd: string; rc: number; out: string }[] = [];
  for (let i = 0; i + 2 < f.length; i += 3) rows.push({ cmd: snippets[Number(f[i])], rc: Number(f[i + 1]), out: f[i + 2] });
  assert.equal(rows.length, snippets.length, `every attempt ran: ${describe(r)}`);
  return rows;
}

/** Every attempt failed, with a message matching RE. */
export function assertAllRefused(rows: { cmd: string; rc: number; out: string }[], re: RegExp): void {
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
export function probeFields(text: string): Record<string, string> {
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
// The hooks, and what depends on the file's users

export interface SecuritySuite {
  /** The attacker. */
  readonly A: string;
  /** Another user, logged in (a long command) for the whole file. */
  readonly V: string;
  /** A user whose policy image carries a setuid-root binary, a file-capability binary and sudo (only with `escalation`). */
  readonly E: string;
  /** The following are set by the before hook. */
  doshd: Doshd;
  /** Root's scratch directory (the escalation image's build context, strace output). */
  work: string;
  vLogin: ChildProcess;
  vSession: RawSession;
  uid(user: string): string;
  gid(user: string): string;
  /** USER's container is exactly what the policy gives her: name, image, identity, labels, mounts and confinement. Returns its id. */
  assertPolicyContainer(user: string, image: string): string;
  /** Nothing was created for anyone but the users who logged in: no session of V beyond her own login, none of root, no container of root, of uid 0 or of the lure image. */
  assertNoForeignEffects(): void;
  assertDoshdHealthy(): Promise<void>;
}

/**
 * Registers the file's before/after hooks for the users PREFIX-ann (A), PREFIX-vic (V) and, with `escalation`,
 * PREFIX-eve (E, whose image dts-sec-escalate is built in before). `strace` installs strace when missing.
 */
export function securitySuite(prefix: string, opts: { escalation?: boolean; strace?: boolean } = {}): SecuritySuite {
  const A = `${prefix}-ann`;
  const V = `${prefix}-vic`;
  const E = `${prefix}-eve`;
  const USERS = opts.escalation ? [A, V, E] : [A, V];
  const ids = new Map<string, { uid: string; gid: string }>();
  let vFiles: string[]; // V's session files once her long login runs: none may appear while A attacks
  const uid = (u: string) => ids.get(u)!.uid;
  const gid = (u: string) => ids.get(u)!.gid;

  const s: SecuritySuite = {
    A,
    V,
    E,
    doshd: undefined as unknown as Doshd,
    work: '',
    vLogin: undefined as unknown as ChildProcess,
    vSession: undefined as unknown as RawSession,
    uid,
    gid,
    assertPolicyContainer(user: string, image: string): string {
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
      // The one mount doshd adds to every container: its toolbox of file-transfer programs, read-only.
      assert.deepEqual(hc.Mounts ?? [], [TOOLBOX_MOUNT], `${what}: no --mount but the toolbox, read-only`);
      assert.deepEqual(hc.Binds ?? [], expectedBinds(user), `${what}: exactly the policy's bind mounts`);
      assert.deepEqual(
        c.Mounts.map((m: { Source: string; Destination: string; RW: boolean }) => `${m.Source}:${m.Destination}:${m.RW ? 'rw' : 'ro'}`).sort(),
        [...expectedBinds(user).map((b) => (b.endsWith(':ro') ? b : `${b}:rw`)), `${TOOLBOX_MOUNT.Source}:${TOOLBOX_MOUNT.Target}:ro`].sort(),
        `${what}: nothing else mounted`,
      );
      return c.Id;
    },
    assertNoForeignEffects(): void {
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
      const v = sessionsRaw(V).find((x) => x.metadata.name === s.vSession.metadata.name);
      assert.equal(v?.status.phase, 'Running', 'the other user\'s login still runs');
      assert.ok(pidAlive(s.vSession.status.execPid!), 'the other user\'s command still runs');
    },
    async assertDoshdHealthy(): Promise<void> {
      assert.ok(pidAlive(s.doshd.pid), 'doshd is alive');
      assert.ok(await readyz(), 'doshd answers /readyz');
    },
  };

  before(async () => {
    for (const u of USERS) addUser(u);
    for (const u of USERS) ids.set(u, { uid: sh(`id -u ${u}`).trim(), gid: sh(`id -g ${u}`).trim() });
    removeContainersOf(...USERS, 'root');
    if (opts.strace) sh(`command -v strace >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; }; }`);
    sh(`docker tag ${BUSYBOX} ${EVIL_IMAGE}`);
    s.work = mkdtempSync('/tmp/dts-sec-');
    if (opts.escalation) buildEscalationImage(s.work);

    s.doshd = await new Doshd(policy(opts.escalation ? E : undefined)).start();
    for (const u of opts.escalation ? [A, E] : [A]) {
      const r = await su(u, 'true');
      assert.equal(r.code, 0, `${u}'s first login: ${r.stderr}`);
    }
    // V stays logged in, running one long command, for the whole file.
    s.vLogin = spawn('su', ['-', V, '-c', V_COMMAND], { stdio: ['pipe', 'ignore', 'ignore'] });
    s.vSession = await runningLogin(V, V_COMMAND);
    vFiles = sessionFilesOf(V);
  });

  after(async () => {
    const { vLogin, doshd, work } = s;
    for (const x of sessionsRaw(V).concat(sessionsRaw(A)).filter((x) => x.status.phase === 'Running')) spawnSync('kill', ['-HUP', String(x.spec.relay.pid)]);
    if (vLogin && vLogin.exitCode === null) await until('V\'s login to end', () => vLogin.exitCode !== null, 15_000).catch(() => vLogin.kill('SIGKILL'));
    await doshd?.stop();
    removeContainersOf(...USERS, 'root');
    if (opts.escalation) spawnSync('docker', ['rm', '-f', BUILD_CONTAINER], { stdio: 'ignore' });
    for (const u of USERS) delUser(u);
    sh(`docker rmi ${EVIL_IMAGE} ${opts.escalation ? ESCALATE_IMAGE : ''} >/dev/null 2>&1 || true`);
    if (work) rmSync(work, { recursive: true, force: true });
    // With doshd stopped: the sessions of the users that no longer exist.
    const mine = new RegExp(`^(${USERS.join('|')})-[0-9a-f]+\\.json$`);
    for (const f of readdirSync(SESSIONS)) if (mine.test(f)) rmSync(path.join(SESSIONS, f), { force: true });
    doshd?.cleanup();
  });

  return s;
}
