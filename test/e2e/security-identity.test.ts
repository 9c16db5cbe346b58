// Security, end to end, what she can pass: a user tries to become another user or root, or to get another
// image or other docker flags, through everything she controls at login: extra arguments to su and to the login shell,
// argv0, TERM/LANG/SSH_ORIGINAL_COMMAND (launcher, ssh pty, ssh SetEnv, a forced command in her authorized_keys),
// configuration files in her home, DOSH_* and policy-named environment variables. Each attempt is refused or ignored,
// and her container stays exactly the policy's. What badinput.test.ts already covers (forged SUDO_*/DOCKER_*/NODE_*/
// LD_*/PATH, the relay without its setuid bit, root, forged argv0 and flags, garbage TERM/LANG, huge arguments,
// corrupt store files) is not repeated here. The users, doshd and checks are security-kit.ts's.
// needs: docker busybox dosh sshd
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { asUser, asUserScript, BUSYBOX, DOSH, removeContainersOf, run, sessionFilesOf, sh, shellQuote, ssh, sshOpts, STORE, su, type Result } from './harness.ts';
import { describe, EVIL_IMAGE, inspect, out, securitySuite, WHOAMI } from './security-kit.ts';

const sec = securitySuite('dsi');

/** Runs the login shell as A with [ARGV0, ...ARGS] as its argv (exec -a), as a login program would start it. */
const asArgv0 = ([argv0, ...args]: string[]) => asUserScript(A, `exec -a ${shellQuote(argv0)} ${DOSH} ${args.map(shellQuote).join(' ')}`);
const { A, V, uid, gid, assertPolicyContainer, assertNoForeignEffects } = sec;

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

test('the login shell with --user root, --uid 0, -u root, --privileged: refused with "invalid option" and exit 2, before any session exists', { timeout: 120_000 }, async () => {
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
    const r = await asArgv0(args);
    assert.equal(r.code, 2, `${JSON.stringify(args)}: ${describe(r)}`);
    assert.match(r.stderr, msg, describe(r));
    assert.equal(out(r), '', describe(r));
  }
  assert.deepEqual(sessionFilesOf(A).filter((f) => !before.includes(f)), [], 'a refused invocation creates no session');
  assertNoForeignEffects();
});

test('other users\' names and root as argv0 or arguments of the login shell: she still runs as herself, in her own container', { timeout: 120_000 }, async () => {
  const id = assertPolicyContainer(A, BUSYBOX);
  for (const args of [
    [V, '-c', WHOAMI],
    ['root', '-c', WHOAMI],
    [`-${V}`, '-c', WHOAMI],
    [`dosh-${V}`, '-c', WHOAMI],
    ['-dosh', '-c', WHOAMI, V, 'root', `dosh-${V}`],
    ['-dosh', '-lc', WHOAMI, '--', '--user', 'root'],
  ]) {
    const r = await asArgv0(args);
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

test('DOSH_* and policy-named variables (the login shell, su -m, ssh SetEnv) change nothing and do not reach her container', { timeout: 180_000 }, async () => {
  removeContainersOf(A);
  const env: Record<string, string> = {
    DOSH_IMAGE: EVIL_IMAGE,
    DOSH_USER: V,
    DOSH_UID: '0',
    DOSH_GID: '0',
    DOSH_GROUPS: '0,27',
    DOSH_CONTAINER_NAME: `dosh-${V}`,
    DOSH_CONTAINER_ID: inspect(`dosh-${V}`).Id,
    DOSH_SESSION: sec.vSession.metadata.name,
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
    ['dosh', await asUser(A, [DOSH, '-c', show], { env })],
    ['su -m (environment kept by su)', await run('su', ['-m', A, '-c', show], { env: { PATH: process.env.PATH, HOME: '/root', ...env } })],
    ['ssh SetEnv', await ssh(A, show, { extra: ['-o', `SetEnv=${Object.entries(env).map(([k, v]) => `${k}=${v.replace(/ /g, '_')}`).join(' ')}`] })],
  ];
  for (const [how, r] of results) assert.equal(out(r), expect, `${how}: ${describe(r)}`);
  assertPolicyContainer(A, BUSYBOX);
  assert.equal(sh(`docker ps -aq --filter name=dts-sec-evil-`).trim(), '');
  assertNoForeignEffects();
});
