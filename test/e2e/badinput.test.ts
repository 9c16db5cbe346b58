// Bad input, end to end: real users, real su/sshd, the installed login relay (setuid), a real doshd and engine. Every attempt ends in either a working session as the user herself or a clear refusal; never another
// identity, another image, a stack trace, or a doshd that stops answering.
// needs: docker busybox dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  addUser,
  asUser,
  asUserScript,
  BUSYBOX,
  delUser,
  DOSH,
  Doshd,
  doshctl,
  pidAlive,
  readyz,
  removeContainersOf,
  run,
  shellQuote,
  sessionFilesOf,
  sh,
  sleep,
  ssh,
  sshOpts,
  STORE,
  su,
  until,
  type Result,
} from './harness.ts';

const U = 'dtb-una'; // the user who tries everything
const V = 'dtb-vic'; // another user, whose identity U tries to take; never logs in
const W = 'dtb-wes'; // a user whose policy gives her container a small stack (a small ARG_MAX)
const HELPER_CONF = '/etc/dosh/helper.conf';
const SESSIONS = `${STORE}/sessions`;
const QUARANTINE = `${STORE}/quarantine`;
const EVIL_IMAGE = 'dtb-evil:latest';
const POLICY = `# bad-input tests
CONTAINERIMAGE=${BUSYBOX}
CONTAINERCOMMAND=/bin/sh
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /home/$USER:/home/$USER -w /home/$USER
IDLETIMEOUT=0

[user:${W}]
INHERIT=true
DOCKERPARAMETERS=--ulimit stack=524288
`;

let doshd: Doshd;
let evil: string; // attacker's files: a preload library, node preload scripts, fake binaries
let markers: string; // anything that runs the attacker's code leaves a file here
let helperConfBackup: { data: Buffer; mode: number } | undefined;
const uid = (u: string) => sh(`id -u ${u}`).trim();
const gid = (u: string) => sh(`id -g ${u}`).trim();

before(async () => {
  for (const u of [U, V, W]) addUser(u);
  removeContainersOf(U, V, W);
  if (existsSync(HELPER_CONF)) helperConfBackup = { data: readFileSync(HELPER_CONF), mode: statSync(HELPER_CONF).mode & 0o7777 };
  sh(`docker tag ${BUSYBOX} ${EVIL_IMAGE}`);

  evil = mkdtempSync('/tmp/dtb-evil-');
  chmodSync(evil, 0o755);
  markers = path.join(evil, 'markers');
  mkdirSync(markers);
  chmodSync(markers, 0o777);
  // NODE_OPTIONS --require / --import payloads.
  writeFileSync(path.join(evil, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(markers)} + '/node-require-' + process.pid, 'uid ' + process.getuid());\n`, { mode: 0o644 });
  writeFileSync(path.join(evil, 'evil.mjs'), `import fs from 'node:fs'; fs.writeFileSync(${JSON.stringify(markers)} + '/node-import-' + process.pid, 'uid ' + process.getuid());\n`, { mode: 0o644 });
  // NODE_PATH payloads named like a Node program's dependencies (none may be loaded by anything of the login).
  for (const mod of ['dockerode', 'zod', 'yaml', 'chokidar']) {
    mkdirSync(path.join(evil, 'node_modules', mod), { recursive: true });
    writeFileSync(path.join(evil, 'node_modules', mod, 'index.js'), `require('fs').writeFileSync(${JSON.stringify(markers)} + '/node-path-${mod}-' + process.pid, 'x');\n`, { mode: 0o644 });
  }
  // LD_PRELOAD payload: only a root process loading it counts (the launcher legitimately runs as the user).
  writeFileSync(
    path.join(evil, 'evil.c'),
    `#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void) {
  if (geteuid() != 0 && getuid() != 0) return;
  char p[512]; snprintf(p, sizeof p, "${markers}/ld-preload-%d", (int)getpid());
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644); if (fd >= 0) { write(fd, "root\\n", 5); close(fd); }
}
`,
  );
  sh(`cc -shared -fPIC -o ${evil}/evil.so ${evil}/evil.c && chmod 0755 ${evil}/evil.so`);
  // PATH payloads: fake programs a careless privileged process might look up through PATH.
  mkdirSync(path.join(evil, 'bin'));
  for (const prog of ['node', 'sudo', 'docker', 'sh', 'bash', 'env', 'id', 'cat', 'getent', 'su', 'runc', 'ps']) {
    writeFileSync(path.join(evil, 'bin', prog), `#!/bin/sh\necho "$0 $(/usr/bin/id -u)" > ${markers}/path-${prog}-$$\nexit 97\n`, { mode: 0o755 });
  }

  doshd = await new Doshd(POLICY).start();
  // Warm her container, so the later cases measure bad input, not a first start.
  const r = await su(U, 'true');
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await doshd.stop();
  restoreHelperConf();
  removeContainersOf(U, V, W);
  for (const u of [U, V, W]) delUser(u);
  sh(`docker rmi ${EVIL_IMAGE} >/dev/null 2>&1 || true`);
  rmSync(evil, { recursive: true, force: true });
  for (const f of readdirSync(QUARANTINE)) if (/^dtb-|^DTB/.test(f)) rmSync(path.join(QUARANTINE, f), { recursive: true, force: true });
  // With doshd stopped: the stray entries, and the ended sessions of the users that no longer exist.
  for (const f of readdirSync(SESSIONS)) if (/^dtb-corrupt|^DTB|^dtb-(una|vic|wes)-[0-9a-f]+\.json$/.test(f)) rmSync(path.join(SESSIONS, f), { recursive: true, force: true });
  doshd.cleanup();
});

function restoreHelperConf(): void {
  if (helperConfBackup) writeFileSync(HELPER_CONF, helperConfBackup.data, { mode: helperConfBackup.mode });
  else rmSync(HELPER_CONF, { force: true });
}

function writeHelperConf(text: string): void {
  writeFileSync(`${HELPER_CONF}.dtb-new`, text, { mode: 0o644 });
  renameSync(`${HELPER_CONF}.dtb-new`, HELPER_CONF);
}

const out = (r: Result) => r.stdout.toString();
const describe = (r: Result) => `exit ${r.code} signal ${r.signal}\nstdout: ${JSON.stringify(out(r).slice(0, 500))}\nstderr: ${JSON.stringify(r.stderr.slice(0, 1500))}`;

/** No Node.js stack trace, internal error or raw exception in what the user sees. */
function assertNoTrace(r: Result): void {
  const all = `${out(r)}\n${r.stderr}`;
  assert.doesNotMatch(all, /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m, `a stack trace reached the user:\n${describe(r)}`);
  assert.doesNotMatch(all, /node:internal|Uncaught|\b(TypeError|ReferenceError|SyntaxError|RangeError)\b|ERR_[A-Z_]{4,}/, `an internal error reached the user:\n${describe(r)}`);
}

/** The session ran as U herself: her uid, her gid, her name and home. */
async function assertRunsAsU(r: Result): Promise<void> {
  assert.equal(r.code, 0, describe(r));
  assert.equal(out(r), `${uid(U)}\n${gid(U)}\n${U}|/home/${U}\n`, describe(r));
}
const WHOAMI = 'id -u; id -g; echo "$USER|$HOME"';

/** A clear refusal: non-zero status, a message, nothing on stdout that looks like a root or foreign identity. */
function assertRefused(r: Result, message?: RegExp): void {
  assert.notEqual(r.code, 0, `expected a refusal:\n${describe(r)}`);
  assert.ok(r.stderr.trim().length > 0, `a refusal must say why:\n${describe(r)}`);
  if (message) assert.match(r.stderr, message, describe(r));
  assert.doesNotMatch(out(r), /uid=0|^0$/m, describe(r));
  assertNoTrace(r);
}

function assertNoMarkers(): void {
  const found = readdirSync(markers);
  assert.deepEqual(found, [], `attacker code ran: ${found.map((f) => `${f}: ${readFileSync(path.join(markers, f), 'utf8').trim()}`).join('; ')}`);
}

async function assertDoshdHealthy(): Promise<void> {
  assert.ok(pidAlive(doshd.pid), `doshd (pid ${doshd.pid}) is gone; log tail:\n${doshd.logText().split('\n').slice(-15).join('\n')}`);
  assert.ok(await readyz(), 'doshd answers /readyz');
}

function newSessionFiles(user: string, before: string[]): string[] {
  const had = new Set(before);
  return sessionFilesOf(user).filter((f) => !had.has(f));
}

// ---------------------------------------------------------------------------------------------------------------
// 1. TERM (and LANG)

const SAFE_TERM = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const GARBAGE_TERMS = [
  '\x1b]0;pwned\x07',
  '\x1b[2J\x1b[31mred\x1b[0m',
  '/etc/passwd',
  '../../../../etc/shadow',
  'xterm;id',
  '$(touch /tmp/dtb-term-pwned)',
  '`id`',
  'xterm\nLD_PRELOAD=/tmp/x.so',
  'xterm vt100',
  '',
  '-',
  'x'.repeat(10_000),
  '%n%n%n%s',
  'ünïcødé',
];

test('TERM set to garbage, escape sequences or a path: the session works and TERM inside is a sanitized terminfo name', { timeout: 180_000 }, async () => {
  for (const term of GARBAGE_TERMS) {
    const r = await run('su', ['-', U, '-c', 'printf "[%s]" "$TERM"'], { env: { PATH: process.env.PATH, HOME: '/root', TERM: term } });
    assert.equal(r.code, 0, `TERM=${JSON.stringify(term)}: ${describe(r)}`);
    const inside = /^\[(.*)\]$/s.exec(out(r))?.[1];
    assert.ok(inside !== undefined && SAFE_TERM.test(inside), `TERM=${JSON.stringify(term)} became ${JSON.stringify(inside)}`);
    assert.notEqual(inside, term);
    assert.ok(!out(r).includes('\x1b') && !r.stderr.includes('\x1b'), `no escape byte reaches the terminal: ${describe(r)}`);
    assertNoTrace(r);
  }
  // The same through the launcher run directly (sudo's env_keep passes TERM).
  const direct = await asUser(U, [DOSH, '-c', 'printf "[%s]" "$TERM"'], { env: { TERM: '\x1b]0;pwned\x07' } });
  assert.equal(direct.code, 0, describe(direct));
  assert.match(out(direct), /^\[[A-Za-z0-9][A-Za-z0-9._+-]*\]$/, describe(direct));
  // A real terminfo name is kept as it is.
  const good = await run('su', ['-', U, '-c', 'printf "[%s]" "$TERM"'], { env: { PATH: process.env.PATH, HOME: '/root', TERM: 'xterm-256color' } });
  assert.equal(out(good), '[xterm-256color]', describe(good));
  assert.ok(!existsSync('/tmp/dtb-term-pwned'));
});

test('TERM through an ssh terminal (the pty request) is sanitized; LANG through ssh SetEnv is dropped unless it is a locale name', { timeout: 120_000 }, async () => {
  const tt = (term: string) => run('ssh', ['-tt', ...sshOpts(), `${U}@127.0.0.1`, 'printf "[%s]" "$TERM"'], { env: { PATH: process.env.PATH, HOME: '/root', TERM: term } });
  const bad = await tt('\x1b]0;pwned\x07');
  assert.equal(bad.code, 0, describe(bad));
  assert.match(out(bad), /\[xterm\]/, describe(bad));
  assert.ok(!out(bad).includes('pwned'), describe(bad));
  const good = await tt('screen-256color');
  assert.match(out(good), /\[screen-256color\]/, describe(good));

  // The test sshd has AcceptEnv LANG LC_*, so SetEnv=LANG reaches the login; TERM via SetEnv is not accepted by sshd.
  for (const lang of ['\x1b]0;pwned\x07', '$(id)', 'C.UTF-8;id', '../../../etc/shadow', 'C.UTF-8%n%s']) {
    const r = await ssh(U, 'printf "[%s]" "$LANG"', { extra: ['-o', `SetEnv=LANG=${lang}`] });
    assert.equal(r.code, 0, `LANG=${JSON.stringify(lang)}: ${describe(r)}`);
    assert.equal(out(r), '[]', `LANG=${JSON.stringify(lang)} must not reach the container: ${describe(r)}`);
  }
  const okLang = await ssh(U, 'printf "[%s]" "$LANG"', { extra: ['-o', 'SetEnv=LANG=C.UTF-8'] });
  assert.equal(out(okLang), '[C.UTF-8]', describe(okLang));
  await assertDoshdHealthy();
});

// Node's ICU dereferences a null default locale when LANG, LC_ALL or LC_MESSAGES cannot be canonicalized (a language
// subtag of 12 or more letters, an overlong variant), which crashed the Node.js helper of earlier releases; the
// relay passes LANG to doshd as bytes, and sshd's AcceptEnv LANG LC_* (Debian's default) lets any ssh client set them.
const ICU_BREAKERS: [string, string][] = [
  ['LANG', 'abcdefghijkl'],
  ['LANG', 'x'.repeat(5000)],
  ['LANG', `en_US@k=${'a'.repeat(200)}`],
  ['LC_ALL', 'abcdefghijkl'],
  ['LC_MESSAGES', 'abcdefghijkl'],
];

test('a locale a runtime may not parse (LANG/LC_ALL/LC_MESSAGES=abcdefghijkl) still gives her a working login', { timeout: 120_000 }, async () => {
  const problems: string[] = [];
  for (const [k, v] of ICU_BREAKERS) {
    const r = await asUser(U, [DOSH, '-c', WHOAMI], { env: { [k]: v } });
    if (r.code !== 0 || out(r) !== `${uid(U)}\n${gid(U)}\n${U}|/home/${U}\n`) problems.push(`${k}=${v.slice(0, 20)}${v.length > 20 ? '...' : ''} running dosh: exit ${r.code}, stderr ${JSON.stringify(r.stderr.trim().slice(0, 200))}`);
  }
  for (const v of ['abcdefghijkl', `en_US@k=${'a'.repeat(200)}`]) {
    const r = await ssh(U, WHOAMI, { extra: ['-o', `SetEnv=LANG=${v}`] });
    if (r.code !== 0 || out(r) !== `${uid(U)}\n${gid(U)}\n${U}|/home/${U}\n`) problems.push(`LANG=${v.slice(0, 20)}${v.length > 20 ? '...' : ''} through ssh SetEnv: exit ${r.code}, stderr ${JSON.stringify(r.stderr.trim().slice(0, 200))}`);
  }
  await assertDoshdHealthy();
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------------------------------------------
// 2. Thousands of arguments

test('thousands of arguments reach the container shell exactly, through the launcher and through su', { timeout: 120_000 }, async () => {
  const nums = Array.from({ length: 5000 }, (_, i) => String(i + 1));
  const launcher = await asUser(U, [DOSH, '-c', 'echo $# "$1" "${2500}" "${5000}"', 'zero', ...nums]);
  assert.equal(out(launcher), '5000 1 2500 5000\n', describe(launcher));
  assert.equal(launcher.code, 0);

  // su passes extra arguments to the shell after -c CMD, the first one as $0, as bash does.
  const viaSu = await run('su', ['-', U, '-c', 'echo $# "$0" "$1" "${5000}"', 'zero', ...nums]);
  assert.equal(out(viaSu), '5000 zero 1 5000\n', describe(viaSu));

  const many = await asUserScript(U, `exec ${DOSH} -c 'echo $# "$1" "\${50000}"' zero $(seq 50000)`);
  assert.equal(out(many), '50000 1 50000\n', describe(many));

  // Arguments that look like flags, quoting, globs, control and non-ASCII bytes arrive untouched.
  const odd = ['', ' ', 'a b', "it's", '"q"', '\\', '$HOME', '`id`', '$(id)', '*', '\n', 'tab\there', '-c', '--image=evil', '--', '-', 'ünïcødé ✓', '\x1b[31m', '\x7f\x01'];
  const exact = await asUser(U, [DOSH, '-c', `printf '[%s]\\n' "$@"`, 'zero', ...odd]);
  assert.equal(out(exact), odd.map((a) => `[${a}]\n`).join(''), describe(exact));
  await assertDoshdHealthy();
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Huge -c strings and argument lists

test('a -c string as large as Linux lets one argument be (120 KiB) runs', { timeout: 60_000 }, async () => {
  const r = await su(U, `: ${'x'.repeat(120 << 10)}; echo ok`);
  assert.equal(r.code, 0, describe(r));
  assert.equal(out(r), 'ok\n');
});

test('a 1 MiB -c string is refused by the kernel (one argument is at most 128 KiB) with a clear message, and nothing reaches doshd', { timeout: 60_000 }, async () => {
  const before = sessionFilesOf(U);
  const r = await asUserScript(U, `big=$(head -c 1048576 /dev/zero | tr '\\0' x); ${DOSH} -c ": $big; echo ok"; echo "rc=$?"`);
  assert.equal(out(r), 'rc=126\n', describe(r));
  assert.match(r.stderr, /Argument list too long/, describe(r));
  assertNoTrace(r);
  assert.deepEqual(newSessionFiles(U, before), []);
  await assertDoshdHealthy();
});

test('1 MiB of arguments in total (10 x 100 KiB) after -c reaches the container exactly', { timeout: 60_000 }, async () => {
  const r = await asUserScript(U, `a=$(head -c 102400 /dev/zero | tr '\\0' y); exec ${DOSH} -c 'echo $# \${#1} \${#10}; printf %s "$5" | md5sum' zero ${Array(10).fill('"$a"').join(' ')}`);
  assert.equal(r.code, 0, describe(r));
  const md5 = sh(`head -c 102400 /dev/zero | tr '\\0' y | md5sum`).split(' ')[0];
  assert.equal(out(r), `10 102400 102400\n${md5}  -\n`, describe(r));
});

test('argument lists beyond what sudo and the kernel pass (5 MiB with an unlimited stack, 9 MiB, 300000 arguments) are refused clearly, with no session and no harm to doshd', { timeout: 120_000 }, async () => {
  const before = sessionFilesOf(U);
  const mib = (n: number) => `ulimit -s unlimited; a=$(head -c 102400 /dev/zero | tr '\\0' y); set --; for i in $(seq ${n * 10}); do set -- "$@" "$a"; done; ${DOSH} -c 'echo $#' zero "$@"`;
  for (const [what, script] of [
    ['5 MiB', mib(5)],
    ['9 MiB', mib(9)],
    ['300000 arguments', `${DOSH} -c 'echo $#' zero $(seq 300000)`],
  ] as const) {
    const r = await asUserScript(U, script);
    assertRefused(r, /Argument list too long|arguments too long/i);
    assert.equal(out(r), '', `${what}: ${describe(r)}`);
  }
  assert.deepEqual(newSessionFiles(U, before), []);
  await assertDoshdHealthy();
  const still = await su(U, 'echo ok');
  assert.equal(out(still), 'ok\n', describe(still));
});

test('arguments are measured as the session object stores them: 400 KiB of control bytes (4 x 100 KiB, 2.4 MB in JSON) are refused, naming both sizes, with no session', { timeout: 60_000 }, async () => {
  const before = sessionFilesOf(U);
  const r = await asUserScript(U, `a=$(head -c 102400 /dev/zero | tr '\\0' '\\001'); exec ${DOSH} -c 'echo $#' x "$a" "$a" "$a" "$a"`);
  assertRefused(r, /arguments too long \(\d{7} bytes as stored, at most 1048576\)/);
  assert.deepEqual(newSessionFiles(U, before), []);
  const still = await su(U, 'echo ok');
  assert.equal(out(still), 'ok\n', describe(still));
});

test('arguments the container itself cannot exec (policy stack of 512 KiB) end with a clear message, and she can still log in', { timeout: 60_000 }, async () => {
  const r = await asUserScript(W, `a=$(head -c 102400 /dev/zero | tr '\\0' y); exec ${DOSH} -c 'echo $#' zero ${Array(10).fill('"$a"').join(' ')}`);
  assertRefused(r, /argument list too long/i);
  const again = await su(W, 'id -u');
  assert.equal(out(again), `${uid(W)}\n`, describe(again));
  await assertDoshdHealthy();
});

// ---------------------------------------------------------------------------------------------------------------
// 4. Binary stdin

test('binary stdin (every byte value, NULs, CR LF, ^C ^D ^Z ^\\, 5 MiB random) goes through cat byte-identical, via su and ssh', { timeout: 120_000 }, async () => {
  const every = Buffer.alloc(256 * 64, 0).map((_, i) => i % 256);
  const ctrl = Buffer.from([0, 0, 0, 13, 10, 13, 10, 3, 3, 4, 4, 26, 28, 17, 19, 127, 27, 91, 50, 74, 4, 10, 13, 0]);
  const data = Buffer.concat([ctrl, every, ctrl, randomBytes(5 << 20), ctrl, Buffer.from([4])]);
  const viaSu = await su(U, 'cat', { input: data });
  assert.equal(viaSu.code, 0, viaSu.stderr);
  assert.equal(viaSu.stdout.length, data.length);
  assert.ok(viaSu.stdout.equals(data), 'su: byte-identical');
  const viaSsh = await ssh(U, 'cat', { input: data });
  assert.equal(viaSsh.code, 0, viaSsh.stderr);
  assert.ok(viaSsh.stdout.equals(data), 'ssh: byte-identical');
  const viaLauncher = await asUser(U, [DOSH, '-c', 'cat'], { input: data });
  assert.ok(viaLauncher.stdout.equals(data), 'launcher: byte-identical');
});

// ---------------------------------------------------------------------------------------------------------------
// 5. Forged environment

function forgedEnvironments(): [string, Record<string, string>][] {
  return [
    ['SUDO_* claiming root', { SUDO_UID: '0', SUDO_GID: '0', SUDO_USER: 'root', SUDO_COMMAND: '/bin/sh', USER: 'root', LOGNAME: 'root', HOME: '/root' }],
    ['SUDO_* claiming another user', { SUDO_UID: uid(V), SUDO_GID: gid(V), SUDO_USER: V, USER: V, LOGNAME: V, HOME: `/home/${V}` }],
    ['DOCKER_*', { DOCKER_HOST: 'tcp://127.0.0.1:1', DOCKER_CONTEXT: 'evil', DOCKER_CONFIG: evil, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: evil, DOCKER_API_VERSION: '1.0' }],
    ['NODE_OPTIONS --require', { NODE_OPTIONS: `--require ${evil}/evil.js` }],
    ['NODE_OPTIONS --import', { NODE_OPTIONS: `--import ${evil}/evil.mjs` }],
    ['NODE_PATH and NODE_V8_COVERAGE', { NODE_PATH: `${evil}/node_modules`, NODE_V8_COVERAGE: markers, NODE_REDIRECT_WARNINGS: `${markers}/node-warnings` }],
    ['LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT', { LD_PRELOAD: `${evil}/evil.so`, LD_LIBRARY_PATH: evil, LD_AUDIT: `${evil}/evil.so` }],
    ['PATH', { PATH: `${evil}/bin` }],
    ['settings-looking variables', { DOSH_IMAGE: EVIL_IMAGE, CONTAINERIMAGE: EVIL_IMAGE, DOSH_STORE: evil, STORE: evil, DOSH_CONFIG: `${evil}/dosh.conf`, DOCKER_SOCKET: `${evil}/docker.sock` }],
    ['SSH_* and LANG', { SSH_CONNECTION: '\x1b]0;x\x07 $(id) 1 2', SSH_ORIGINAL_COMMAND: 'id', LANG: '../../../etc/shadow' }],
  ];
}

test('forged SUDO_*, DOCKER_*, NODE_*, LD_*, PATH: the login runs as herself, in her container, and no attacker code runs', { timeout: 240_000 }, async () => {
  const before = sessionFilesOf(U);
  for (const [what, env] of forgedEnvironments()) {
    // Set by her (her process runs the setuid relay with them), never by root: root starting su with LD_PRELOAD
    // would load it into su itself, which is root's own doing.
    const viaShell = await asUser(U, [DOSH, '-c', WHOAMI], { env });
    await assertRunsAsU(viaShell).catch((e) => assert.fail(`${what}, running dosh: ${(e as Error).message}`));
    const viaExec = await asUserScript(U, `exec -a -dosh /usr/bin/env ${Object.entries(env).map(([k, v]) => shellQuote(`${k}=${v}`)).join(' ')} ${DOSH} -c ${shellQuote(WHOAMI)}`);
    await assertRunsAsU(viaExec).catch((e) => assert.fail(`${what}, as a login shell: ${(e as Error).message}`));
    assertNoMarkers();
  }
  // Every session she created is hers.
  const mine = sessionFilesOf(U).filter((f) => !before.includes(f));
  assert.ok(mine.length >= forgedEnvironments().length * 2, `sessions created: ${mine.length}`);
  for (const f of mine) {
    const s = JSON.parse(readFileSync(path.join(SESSIONS, f), 'utf8'));
    assert.equal(s.spec.user, U);
    assert.equal(String(s.spec.uid), uid(U));
    if (s.status.container) assert.equal(s.status.container.name, `dosh-${U}`);
  }
  assert.deepEqual(sessionFilesOf(V), [], 'no session for the user she impersonated');
  assert.equal(spawnStatus(`docker inspect dosh-${V}`), 1, 'no container for the user she impersonated');
  assert.equal(sh(`docker inspect -f '{{.Config.Image}}' dosh-${U}`).trim(), BUSYBOX);
  await assertDoshdHealthy();
});

function spawnStatus(cmd: string): number {
  try {
    sh(`${cmd} >/dev/null 2>&1`);
    return 0;
  } catch {
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 6. The login relay without its privilege, and root

test('a copy of the login relay (no setuid bit) is refused with a message that says how it must be installed, and creates no session', { timeout: 60_000 }, async () => {
  const before = sessionFilesOf(U);
  sh(`cp ${DOSH} /home/${U}/dosh-copy && chown ${U} /home/${U}/dosh-copy`);
  try {
    const r = await asUser(U, [`/home/${U}/dosh-copy`, '-c', 'id -u']);
    assertRefused(r, /setuid root/);
    assert.equal(out(r), '');
  } finally {
    sh(`rm -f /home/${U}/dosh-copy`);
  }
  assert.deepEqual(newSessionFiles(U, before), []);
  await assertDoshdHealthy();
});

test('root is not a DoSH user: the login shell run by root is refused by doshd and creates no session', { timeout: 60_000 }, async () => {
  const rootBefore = sessionFilesOf('root');
  const r = await run(DOSH, ['-c', 'id -u']);
  assertRefused(r, /root cannot log in through DoSH/);
  assert.deepEqual(newSessionFiles('root', rootBefore), []);
  await assertDoshdHealthy();
});

// ---------------------------------------------------------------------------------------------------------------
// 7. No sudo in the login path

test('DoSH installs no sudoers rule: sudo gives her nothing, and a link to the relay under another name still logs in only her', { timeout: 120_000 }, async () => {
  assert.equal(existsSync('/etc/sudoers.d/dosh'), false, 'no sudoers drop-in');
  const list = await asUser(U, ['/usr/bin/sudo', '-n', '-l']);
  assert.notEqual(list.code, 0, `sudo -l must give her nothing: ${describe(list)}`);
  sh(`ln -sf ${DOSH} /home/${U}/not-dosh`);
  try {
    const r = await asUser(U, [`/home/${U}/not-dosh`, '-c', WHOAMI]);
    await assertRunsAsU(r);
  } finally {
    sh(`rm -f /home/${U}/not-dosh`);
  }
  assertNoMarkers();
});

// ---------------------------------------------------------------------------------------------------------------
// 8. Forged argv0 and flags

/** Runs the login shell as U with ARGV0 as its argv[0] (exec -a), as a login program would. */
const doshAs = (argv0: string, ...args: string[]) => asUserScript(U, `exec -a ${shellQuote(argv0)} ${DOSH} ${args.map(shellQuote).join(' ')}`);

test('forged argv0 and flags are refused clearly or give her a normal session; never another image', { timeout: 180_000 }, async () => {
  const refusals: [string[], RegExp][] = [
    [['-dosh', '--rcfile', '/etc/shadow'], /--rcfile: invalid option/],
    [['dosh', '--rcfile=/etc/shadow', '-c', 'id -u'], /invalid option/],
    [['dosh', '-c'], /-c: option requires an argument/],
    [['-dosh', '-lc'], /option requires an argument/],
    [['dosh', `--image=${EVIL_IMAGE}`], /invalid option/],
    [['dosh', '--image', EVIL_IMAGE, '-c', 'id -u'], /invalid option/],
    [['dosh', '--privileged', '-c', 'id -u'], /invalid option/],
    [['dosh', '--user=0', '-c', 'id -u'], /invalid option/],
    [['dosh', '-u', '0', '-c', 'id -u'], /invalid option/],
    [['dosh', '-x', '-c', 'id -u'], /invalid option/],
  ];
  for (const [[argv0, ...args], msg] of refusals) {
    const r = await doshAs(argv0, ...args);
    assertRefused(r, msg);
    assert.equal(r.code, 2, `bad options exit 2, as bash's do: ${describe(r)}`);
    assert.match(r.stderr, /^dosh: /m, describe(r));
  }
  // Whatever argv0 claims, and whatever follows the command, the session is hers.
  for (const [argv0, ...args] of [
    ['-dosh', '-lc', WHOAMI],
    [`--image=${EVIL_IMAGE}`, '-c', WHOAMI],
    ['\x1b]0;pwned\x07', '-c', WHOAMI],
    ['', '-c', WHOAMI],
    ['dosh', '-c', WHOAMI, `--image=${EVIL_IMAGE}`, '--privileged', '--user=0'],
    ['dosh', '--login', '--noprofile', '--norc', '-c', WHOAMI],
  ]) {
    const r = await doshAs(argv0, ...args);
    await assertRunsAsU(r).catch((e) => assert.fail(`${JSON.stringify([argv0, ...args])}: ${(e as Error).message}`));
  }
  // A script path runs the container's file, never the host's.
  const shadowLine = readFileSync('/etc/shadow', 'utf8').split('\n')[0];
  const script = await doshAs('dosh', '/etc/shadow');
  assert.ok(!`${out(script)}${script.stderr}`.includes(shadowLine), 'the host /etc/shadow must not be read');
  assertNoTrace(script);

  assert.equal(sh(`docker inspect -f '{{.Config.Image}}' dosh-${U}`).trim(), BUSYBOX, 'her container runs the policy image');
  const images = sh(`docker ps -a --format '{{.Names}} {{.Image}}'`).split('\n').filter((l) => l.endsWith(` ${EVIL_IMAGE}`));
  assert.deepEqual(images, [], 'no container runs the image she asked for');
  await assertDoshdHealthy();
});

// ---------------------------------------------------------------------------------------------------------------
// 9. doshd not running

test('with doshd stopped a login fails after LOGIN_TIMEOUT with a message naming doshd; a login that arrives while doshd is down waits for it', { timeout: 180_000 }, async (t) => {
  try {
    await doshd.stop();
    assert.ok(!(await readyz()));
    writeHelperConf('# written by test/e2e/badinput.test.ts\nLOGIN_TIMEOUT=3\n');
    const down = await su(U, 'echo hi');
    assertRefused(down, /doshd/);
    assert.match(down.stderr, /not running/, describe(down));
    t.diagnostic(`doshd down, LOGIN_TIMEOUT=3: refused after ${Math.round(down.ms)} ms: ${down.stderr.trim().replace(/\n/g, ' | ')}`);
    assert.ok(down.ms >= 2_500 && down.ms <= 6_000, `failed after ${Math.round(down.ms)} ms, expected about 3 s`);
    assert.equal(out(down), '');

    writeHelperConf('# written by test/e2e/badinput.test.ts\nLOGIN_TIMEOUT=20\n');
    const pending = su(U, 'echo hi; id -u');
    await sleep(2_000);
    await doshd.start();
    const late = await pending;
    t.diagnostic(`doshd started 2 s into a login with LOGIN_TIMEOUT=20: exit ${late.code} after ${Math.round(late.ms)} ms; stderr ${JSON.stringify(late.stderr.trim())}`);
    assert.equal(late.code, 0, describe(late));
    assert.equal(out(late), `hi\n${uid(U)}\n`);
    assert.doesNotMatch(late.stderr, /failed|timed out/, describe(late));
    assert.ok(late.ms < 20_000, `waited ${Math.round(late.ms)} ms`);
  } finally {
    restoreHelperConf();
    if (!(await readyz())) await doshd.start();
  }
  await assertDoshdHealthy();
});

// ---------------------------------------------------------------------------------------------------------------
// 10. Corrupt files in the store

/** Drops FILE into the sessions directory whole (written aside, renamed in), as a crash or a careless admin would leave it. */
function drop(name: string, data: string | Buffer): void {
  const tmp = path.join(STORE, `.dtb-drop-${process.pid}`);
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path.join(SESSIONS, name));
}

async function assertQuarantined(name: string, logged: RegExp = /quarantined a corrupt store object/): Promise<void> {
  await until(`${name} to leave the store`, () => !existsSync(path.join(SESSIONS, name)), 10_000).catch(() => assert.fail(`${name} is still in ${SESSIONS}; doshd log tail:\n${doshd.logText().split('\n').slice(-8).join('\n')}`));
  assert.ok(readdirSync(QUARANTINE).some((f) => f.startsWith(`${name}.`) || f === name), `${name} is in ${QUARANTINE}: ${readdirSync(QUARANTINE).join(', ')}`);
  const line = doshd
    .logText()
    .split('\n')
    .find((l) => l.includes(name) && logged.test(l));
  assert.ok(line, `doshd logged the quarantine of ${name}`);
}

test('corrupt session files (garbage, wrong schema, half-written, empty) are quarantined with a log line, and doshd keeps working', { timeout: 120_000 }, async () => {
  const real = sessionFilesOf(U)[0];
  assert.ok(real, 'a session of hers to cut in half');
  const text = readFileSync(path.join(SESSIONS, real), 'utf8');
  drop('dtb-corrupt-garbage.json', Buffer.concat([Buffer.from('\0\xff{{{ not json '), randomBytes(4096)]));
  drop('dtb-corrupt-schema.json', JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'dtb-corrupt-schema' }, spec: { containers: [{ image: EVIL_IMAGE }] } }));
  drop('dtb-corrupt-half.json', text.slice(0, Math.floor(text.length / 2)));
  drop('dtb-corrupt-empty.json', '');
  drop('dtb-corrupt-array.json', '[1,2,3]');
  for (const n of ['garbage', 'schema', 'half', 'empty', 'array']) await assertQuarantined(`dtb-corrupt-${n}.json`);
  await assertDoshdHealthy();
  const r = await su(U, 'echo still-works');
  assert.equal(out(r), 'still-works\n', describe(r));
  const get = await doshctl('get', 'sessions');
  assert.equal(get.code, 0, describe(get));
});

test('a stray entry the store cannot even name (bad file name, a directory) is quarantined too: doshd keeps reconciling, doshctl works, and doshd still starts', { timeout: 180_000 }, async () => {
  const badName = 'DTB_Corrupt Name.json';
  const dir = 'dtb-corrupt-dir.json';
  const problems: string[] = [];
  const logBefore = doshd.logText().length;
  try {
    drop(badName, '{}');
    mkdirSync(path.join(SESSIONS, dir));
    await doshd.afterPasses(3);
    if (!pidAlive(doshd.pid) || !(await readyz())) problems.push('doshd stopped answering /readyz');
    const r = await su(U, 'echo still-works');
    if (out(r) !== 'still-works\n') problems.push(`a login failed: ${describe(r)}`);
    const get = await doshctl('get', 'sessions');
    if (get.code !== 0) problems.push(`doshctl get sessions fails: ${get.stderr.trim()}`);
    const failures = doshd.logText().slice(logBefore).split('\n').filter((l) => /housekeeping failed|reconcile failed/.test(l));
    if (failures.length) problems.push(`doshd logged ${failures.length} failures, e.g. ${failures[0]}`);
    for (const n of [badName, dir]) {
      if (existsSync(path.join(SESSIONS, n))) problems.push(`${JSON.stringify(n)} was not quarantined`);
      else if (!readdirSync(QUARANTINE).some((f) => f.startsWith(`${n}.`))) problems.push(`${JSON.stringify(n)} left the store but is not in ${QUARANTINE}`);
      const logged = doshd.logText().slice(logBefore).split('\n').some((l) => /quarantined a corrupt store object/.test(l) && l.includes(JSON.stringify(path.join(SESSIONS, n)).slice(1, -1)));
      if (!logged) problems.push(`no "quarantined a corrupt store object" log line for ${JSON.stringify(n)}`);
    }
    // A restarted doshd must come up with the stray entries present (the design: never a crash).
    const starting = doshd.start().then(
      () => 'ready',
      (e: Error) => `not ready: ${e.message}`,
    );
    const state = await until('doshd to answer or exit', async () => (!pidAlive(doshd.pid) ? 'exited' : (await readyz()) ? 'ready' : undefined), 20_000).catch(() => 'neither');
    if (state !== 'ready') problems.push(`doshd restarted with the stray entries present ${state}: ${doshd.logText().split('\n').filter(Boolean).slice(-1)[0]}`);
    else await starting;
  } finally {
    rmSync(path.join(SESSIONS, badName), { force: true });
    rmSync(path.join(SESSIONS, dir), { recursive: true, force: true });
    if (!pidAlive(doshd.pid) || !(await readyz())) await doshd.start();
  }
  await assertDoshdHealthy();
  const r = await su(U, 'echo after-restart');
  assert.equal(out(r), 'after-restart\n', describe(r));
  assert.deepEqual(problems, []);
});
