// Security, end to end, the host around her container: a user attacks what DoSH keeps on the host. She
// cannot write, link or symlink into the store, forge a Session object anyone accepts, plant anything on the paths the
// helper touches (traced with strace), signal, trace or read another user's login through its pids, use doshctl or the
// docker CLI, or read the policy, the sudoers drop-in, the store or other users' sessions; doshd listens on loopback
// only. Each attempt's refusal is asserted, and nothing happens to anyone else. The users, doshd and checks are
// security-kit.ts's.
// needs: docker busybox dosh
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { parentPid } from '../../lib/proc.ts';
import { asUser, asUserScript, BUSYBOX, DOSH, METRICS_PORT, pidAlive, run, sh, shellQuote, STORE, su, until } from './harness.ts';
import { assertAllRefused, attempts, describe, EVIL_IMAGE, HELPER, inspect, out, runningLogin, securitySuite, SESSIONS, sessionsRaw } from './security-kit.ts';

const sec = securitySuite('dsh', { strace: true });
const { A, V, uid, assertNoForeignEffects, assertDoshdHealthy } = sec;

// ---------------------------------------------------------------------------------------------------------------
// The store and the helper's paths

test('she cannot list, write, link or symlink into /run/dosh or its directories (Permission denied), and nothing appears there', { timeout: 60_000 }, async () => {
  const vFile = path.join(SESSIONS, `${sec.vSession.metadata.name}.json`);
  const names = ['dts-sec-x', `${A}-00000000aa.json`, `.tmp-${A}-00000000aa-x`, `.lock-${A}-00000000aa`, 'cordon.json'];
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
  const forgedName = `${V}-f0f0f0f0f0`;
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
      assert.ok(!sec.doshd.logText().includes(n), `doshd never saw ${n}`);
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
  const trace = path.join(sec.work, 'helper.strace');
  try {
    const r = await run('strace', ['-f', '-qq', '-s', '4096', '-e', 'signal=none', '-e', 'trace=%file,%process,connect,bind', '-o', trace, 'su', '-', A, '-s', '/bin/bash', '-c', `cd ${plant} && exec ${DOSH} -c 'id -u'`], { timeoutMs: 120_000 });
    assert.equal(out(r), `${uid(A)}\n`, `the traced login worked: ${describe(r)}`);
    assert.ok(!existsSync(`${plant}/pwned`), 'her node_modules was not loaded');
    // strace -f pads the pid to five columns ("2743  execve"), so the separator is one space only once pids reach
    // five digits: a fresh machine has four-digit pids. One space everywhere from here on.
    const lines = readFileSync(trace, 'utf8').split('\n').map((l) => l.replace(/^(\d+)\s+/, '$1 '));
    // The helper's process (from its execve on) and every thread or child it starts. With -f, a call another thread
    // interrupts is printed in two parts ("<unfinished ...>", then "<... execve resumed>").
    const start = lines.findIndex((l) => new RegExp(`^\\d+ execve\\("${HELPER}", .*(\\) = 0|<unfinished \\.\\.\\.>)$`).test(l));
    const execves = lines.filter((l) => /execve/.test(l)).map((l) => l.slice(0, 200));
    assert.ok(start >= 0, `the trace shows the helper starting; execve lines seen:\n${execves.join('\n')}`);
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
  const vHelper = sec.vSession.spec.helper.pid;
  const vSudo = parentPid(vHelper)!;
  const vExec = sec.vSession.status.execPid!;
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
  assert.equal(sec.vLogin.exitCode, null, 'V\'s login still runs');
});

/** The TCP sockets listening on this host now ("ADDRESS:PORT"). */
function tcpListeners(): Set<string> {
  return new Set(sh('ss -ltnH').split('\n').map((l) => l.trim().split(/\s+/)[3]).filter(Boolean));
}

test('SIGUSR1 and SIGUSR2 sent to her own sudo from the moment the helper starts until her login ends never open a debugger (nothing new listens on TCP); her login runs or ends, and only hers', { timeout: 120_000 }, async () => {
  // Plain Node opens its inspector (a root debugger on 127.0.0.1:9229) on SIGUSR1, and sudo passes on what its user
  // sends it. Five logins under a stream of both. (SIGALRM is not passed on: sudo takes it as its own command
  // timeout and ends the login, which is hers to end.)
  const baseline = tcpListeners();
  const seen = new Set<string>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      for (const l of tcpListeners()) if (!baseline.has(l)) seen.add(l);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  // FROM: "start" sends SIGUSR1 (the attack; a SIGUSR2 there would end the helper before any debugger opened) from the moment sudo's child has become node and started its second thread (Node's
  // signal watchdog: its SIGUSR1 handler is in place, and no JavaScript has run yet, so none of the helper's own
  // handlers: the window an attacker aims at); "running" from the moment her command has printed.
  const waitStart = `until c=$(cat /proc/$d/task/$d/children 2>/dev/null) && [ -n "$c" ] || ! kill -0 $d 2>/dev/null; do :; done
c=\${c%% *}
threads() { local k v; while read -r k v; do [ "$k" = Threads: ] && { echo "$v"; return; }; done </proc/$c/status; } 2>/dev/null
until { read -r comm </proc/$c/comm && [ "$comm" = node ] && [ "$(threads)" -ge 2 ]; } 2>/dev/null || ! kill -0 $d 2>/dev/null; do :; done`;
  const script = (from: 'start' | 'running') => `out=$(mktemp)
${DOSH} -c 'echo started; sleep 1; echo done' >"$out" 2>&1 &
d=$!
${from === 'start' ? waitStart : 'until grep -q started "$out" || ! kill -0 $d 2>/dev/null; do sleep 0.01; done'}
n=0
while kill -0 $d 2>/dev/null; do for s in ${from === 'start' ? 'USR1' : 'USR1 USR2'}; do kill -$s $d 2>/dev/null; done; n=$((n+1)); sleep 0.005; done
wait $d; rc=$?
echo "rc=$rc signals=$n"; cat "$out"; rm -f "$out"`;
  try {
    for (const from of ['start', 'running', 'start', 'running', 'start'] as const) {
      const r = await asUserScript(A, script(from), { timeoutMs: 60_000 });
      const m = /^rc=(\d+) signals=(\d+)\n([\s\S]*)$/.exec(out(r));
      assert.ok(m, describe(r));
      assert.doesNotMatch(out(r) + r.stderr, /Debugger listening/, `no inspector opened: ${describe(r)}`);
      if (from === 'running') {
        assert.deepEqual([m[1], m[3]], ['0', 'started\ndone\n'], `the helper takes the signals and goes on: ${describe(r)}`);
        assert.ok(Number(m[2]) > 20, `a stream of signals was sent (${m[2]} rounds)`);
      } else {
        assert.ok(m[1] === '0' ? m[3] === 'started\ndone\n' : !m[3].includes('done'), describe(r));
      }
    }
  } finally {
    polling = false;
    await poll;
  }
  assert.deepEqual([...seen], [], 'no TCP listener appeared while the signals ran (a Node inspector listens on 127.0.0.1:9229)');
  await until('her logins to be over', () => !sessionsRaw(A).some((s) => s.status.phase === 'Running' && s.spec.command?.includes('echo done')) || undefined, 30_000);
  assertNoForeignEffects();
  await assertDoshdHealthy();
});

// ---------------------------------------------------------------------------------------------------------------
// doshctl and the docker CLI

test('doshctl as a non-root user is refused (exit 4, or permission denied) and changes nothing', { timeout: 120_000 }, async () => {
  const cordoned = existsSync(`${STORE}/cordon.json`);
  const needsRoot = [
    ['get', 'sessions'],
    ['get', 'sessions', '--user', V, '-o', 'json'],
    ['get', 'containers'],
    ['describe', 'session', sec.vSession.metadata.name],
    ['describe', 'user', V],
    ['delete', 'session', sec.vSession.metadata.name],
    ['cordon', '--message', 'dts'],
    ['uncordon'],
    ['drain', '--grace-period', '0', '--message', 'dts'],
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
    [['policy', 'check'], /permission denied/i],
    [['policy', 'explain', V], /permission denied/i],
  ] as const) {
    const r = await asUser(A, ['/usr/local/bin/doshctl', ...args]);
    assert.notEqual(r.code, 0, `doshctl ${args.join(' ')}: ${describe(r)}`);
    assert.match(r.stderr, re, describe(r));
    assert.doesNotMatch(out(r), new RegExp(`${BUSYBOX}|${V}`), 'nothing of the policy or the sessions is shown');
  }
  assert.equal(existsSync(`${STORE}/cordon.json`), cordoned, 'the node was not cordoned or uncordoned');
  const v = sessionsRaw(V).find((s) => s.metadata.name === sec.vSession.metadata.name)!;
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

// ---------------------------------------------------------------------------------------------------------------
// Secrets

test('her host account cannot read the policy, the sudoers drop-in, the store or other users\' sessions (Permission denied); doshd serves metrics on loopback only', { timeout: 60_000 }, async () => {
  const rows = await attempts(A, [
    'cat /etc/dosh/dosh.conf',
    'ls /etc/dosh',
    'cat /etc/dosh/helper.conf',
    'ls /etc/dosh/conf.d',
    `cat ${sec.doshd.config}`,
    `ls ${sec.doshd.dir}`,
    'cat /etc/sudoers.d/dosh',
    'cat /etc/sudoers',
    `cat ${STORE}/doshd.json`,
    `cat ${STORE}/policy-status.json`,
    `cat ${SESSIONS}/${sec.vSession.metadata.name}.json`,
    `ls ${STORE}/events`,
    `ls ${STORE}/quarantine`,
  ]);
  assertAllRefused(rows, /Permission denied/);
  const mode = (p: string) => statSync(p).mode & 0o7777;
  assert.equal(mode('/etc/dosh'), 0o700);
  if (existsSync('/etc/dosh/dosh.conf')) assert.equal(mode('/etc/dosh/dosh.conf') & 0o077, 0, '/etc/dosh/dosh.conf is not group/other readable');
  assert.equal(mode('/etc/sudoers.d/dosh'), 0o440);
  assert.equal(mode(sec.doshd.dir), 0o700);
  assert.equal(mode(sec.doshd.config), 0o600);
  assert.equal(mode(`${SESSIONS}/${sec.vSession.metadata.name}.json`), 0o600);

  // doshd's default metrics address is loopback, and the doshd of this test listens on nothing else.
  const help = await run('/usr/local/bin/doshd', ['--help']);
  assert.match(out(help) + help.stderr, /--metrics-address[^\n]*default 127\.0\.0\.1:9469/);
  const listening = sh('ss -Hltnp').split('\n').filter((l) => l.includes(`pid=${sec.doshd.pid},`));
  assert.ok(listening.length >= 1, `doshd's listening sockets: ${sh('ss -Hltnp')}`);
  for (const l of listening) assert.match(l.trim().split(/\s+/)[3], new RegExp(`^(127\\.[0-9.]+|\\[::1\\]):${METRICS_PORT}$`), `doshd listens on loopback only: ${l}`);
});
