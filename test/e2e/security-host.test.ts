// Security, end to end, the host around her container: a user attacks what DoSH keeps on the host. She
// cannot write, link or symlink into the store, reach doshd's session API, forge a Session object anyone accepts,
// plant anything on the paths the setuid login relay touches (traced with strace), hold a root process of her login,
// change what the relay does as root with her signals, limits, descriptors or environment, signal, trace or read
// another user's login (or her own relay's memory) through its pids, use doshctl or the docker CLI, or read the
// policy, the store or other users' sessions; doshd listens on loopback only. Each attempt's refusal is asserted, and nothing happens to anyone else. The users, doshd and checks are
// security-kit.ts's.
// needs: docker busybox dosh
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { parentPid } from '../../lib/proc.ts';
import { asUser, asUserScript, BUSYBOX, DOSH, DOSHCTL, DOSHD, METRICS_PORT, pidAlive, run, sh, shellQuote, STORE, su, until } from './harness.ts';
import { assertAllRefused, attempts, describe, EVIL_IMAGE, inspect, out, runningLogin, securitySuite, SESSIONS, sessionsRaw } from './security-kit.ts';

const sec = securitySuite('dsh', { strace: true });
const { A, V, uid, assertNoForeignEffects, assertDoshdHealthy } = sec;

// ---------------------------------------------------------------------------------------------------------------
// The store, the session API and the relay's paths

test('she cannot list, write, link or symlink into /run/dosh or its directories (Permission denied), and nothing appears there', { timeout: 60_000 }, async () => {
  const vFile = path.join(SESSIONS, `${sec.vSession.metadata.name}.json`);
  const names = ['dts-sec-x', `${A}-00000000aa.json`, `.tmp-${A}-00000000aa-x`, `.lock-${A}-00000000aa`, 'cordon.json'];
  const rows = await attempts(A, [
    `echo forged >/tmp/dts-sec-forged-$$.json`, // her own file in /tmp: allowed, the material for what follows
    // doshd's session API: only root may connect (a Node.js client, as any program of hers would).
    `node -e "require('net').connect('${STORE}/api.sock').on('error', (e) => { console.error(e.code === 'EACCES' ? 'Permission denied' : e.message); process.exit(1); }).on('connect', () => process.exit(0))"`,
    ...['', '/sessions', '/quarantine', '/events', '/relays'].flatMap((d) => [
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
  for (const d of [STORE, SESSIONS, `${STORE}/quarantine`, `${STORE}/events`, `${STORE}/relays`]) {
    const st = lstatSync(d);
    assert.ok(st.isDirectory() && st.uid === 0 && (st.mode & 0o777) === 0o700, `${d} is root's, 0700 (${(st.mode & 0o777).toString(8)})`);
    for (const n of names) for (const suffix of ['', '.d']) assert.ok(!existsSync(path.join(d, n + suffix)) || (d === STORE && n === 'cordon.json'), `${d}/${n}${suffix} must not exist`);
  }
  assert.ok(!existsSync(`${STORE}/cordon.json`) || lstatSync(`${STORE}/cordon.json`).uid === 0, 'no cordon file of hers');
  const st = lstatSync(vFile);
  assert.ok(st.isFile() && st.uid === 0 && (st.mode & 0o777) === 0o600, `${vFile} is root's, 0600`);
  assertNoForeignEffects();
});

test('a Session object she forges (for another user and for root, already Ready) is accepted nowhere: not by the store, the login shell, doshctl or doshd', { timeout: 120_000 }, async () => {
  const forgedName = `${V}-f0f0f0f0f0`;
  const forged = (user: string, u: number) => ({
    apiVersion: 'dosh.io/v1alpha1',
    kind: 'Session',
    metadata: { name: user === 'root' ? 'root-f0f0f0f0f0' : forgedName, labels: { 'dosh.io/user': user }, annotations: {}, resourceVersion: '1', generation: 1, creationTimestamp: new Date().toISOString() },
    spec: { user, uid: u, gid: u, node: sh('hostname').trim(), mode: 'command', login: false, command: 'id -u', args: [], tty: false, term: 'dumb', relay: { pid: 1, startTime: '1' } },
    status: { phase: 'Ready', conditions: [], container: { id: inspect(`dosh-${V}`).Id, name: `dosh-${V}`, image: EVIL_IMAGE }, exec: { shell: ['/bin/sh'], env: [], user: '0:0' } },
  });
  const dir = `/tmp/dts-sec-forge-${process.pid}`;
  const prep = await asUserScript(A, `mkdir -p ${dir} && printf '%s' ${shellQuote(JSON.stringify(forged(V, Number(uid(V)))))} >${dir}/${forgedName}.json && printf '%s' ${shellQuote(JSON.stringify(forged('root', 0)))} >${dir}/root-f0f0f0f0f0.json && chmod -R a+rX ${dir} && echo ok`);
  assert.equal(out(prep), 'ok\n', describe(prep));
  try {
    // Into the store: refused by the filesystem.
    assertAllRefused(await attempts(A, [`cp ${dir}/*.json ${SESSIONS}/`, `ln -s ${dir}/${forgedName}.json ${SESSIONS}/${forgedName}.json`, `cp ${dir}/*.json ${STORE}/`]), /Permission denied/);
    // doshctl pointed at her directory: refused before it reads anything.
    for (const args of [['--store', dir, 'get', 'sessions'], ['--store', dir, 'delete', 'session', forgedName], ['--store', dir, 'describe', 'session', forgedName]]) {
      const r = await asUser(A, [DOSHCTL, ...args]);
      assert.equal(r.code, 4, `doshctl ${args.join(' ')}: ${describe(r)}`);
      assert.match(r.stderr, /doshctl must run as root/, describe(r));
    }
    // To the login shell it is only a path for her own shell, in her own container (where /tmp is the container's).
    const asScript = await asUser(A, [DOSH, `${dir}/${forgedName}.json`]);
    assert.notEqual(asScript.code, 0, describe(asScript));
    assert.match(asScript.stderr, /can't open|No such file/, describe(asScript));
    const asStdin = await asUser(A, [DOSH, '-s'], { input: readFileSync(`${dir}/${forgedName}.json`) });
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

test('the login relay touches no path she could plant a symlink in or change, and resolves none from her working directory (strace of a login from a directory of hers, with symlinks planted in /tmp and her home)', { timeout: 180_000 }, async () => {
  const plant = `/tmp/dts-sec-plant-${process.pid}`;
  const tmpLinks = ['/tmp/dosh', '/tmp/dosh.log', '/tmp/api.sock', '/tmp/.dosh.lock', '/tmp/docker.sock', `/tmp/dosh-${uid(A)}`, '/tmp/doshd.json', '/tmp/helper.conf'];
  const setup = `set -e
mkdir -p ${plant}/sessions ${plant}/relays
ln -s /etc/shadow ${plant}/helper.conf
ln -s ${STORE}/api.sock ${plant}/api.sock
for l in ${tmpLinks.join(' ')}; do ln -sfn /etc/shadow "$l" 2>/dev/null || true; done
mkdir -p ~/.config ~/.docker
ln -sfn /etc/shadow ~/.docker/config.json
echo planted`;
  const s = await asUserScript(A, setup);
  assert.equal(out(s), 'planted\n', describe(s));
  const trace = path.join(sec.work, 'relay.strace');
  try {
    // strace runs as root, so the relay's setuid bit still takes effect under it.
    const r = await run('strace', ['-f', '-qq', '-s', '4096', '-e', 'signal=none', '-e', 'trace=%file,%process,connect,bind,setresuid,setresgid,prctl', '-o', trace, 'su', '-', A, '-s', '/bin/bash', '-c', `cd ${plant} && exec ${DOSH} -c 'id -u'`], { timeoutMs: 120_000 });
    assert.equal(out(r), `${uid(A)}\n`, `the traced login worked: ${describe(r)}`);
    // strace -f pads the pid to five columns ("2743  execve"), so the separator is one space only once pids reach
    // five digits: a fresh machine has four-digit pids. One space everywhere from here on.
    const lines = readFileSync(trace, 'utf8').split('\n').map((l) => l.replace(/^(\d+)\s+/, '$1 '));
    // The relay's process (from its execve on) and its thread. With -f, a call another thread interrupts is
    // printed in two parts ("<unfinished ...>", then "<... execve resumed>").
    const start = lines.findIndex((l) => new RegExp(`^\\d+ execve\\("${DOSH}", .*(\\) = 0|<unfinished \\.\\.\\.>)$`).test(l));
    const execves = lines.filter((l) => /execve/.test(l)).map((l) => l.slice(0, 200));
    assert.ok(start >= 0, `the trace shows the relay starting; execve lines seen:\n${execves.join('\n')}`);
    const pids = new Set([lines[start].split(' ')[0]]);
    const paths = new Map<string, string>(); // path -> one line that used it
    const relative: string[] = [];
    const mine: string[] = [];
    for (const l of lines.slice(start)) {
      const m = /^(\d+) (?:<\.\.\. )?([a-z0-9_]+)[( ]/.exec(l);
      if (!m || !pids.has(m[1])) continue;
      mine.push(l);
      const call = m[2];
      const child = /\b(clone3?|fork|vfork)\b.*= (\d+)$/.exec(l);
      if (child) pids.add(child[2]);
      if (call === 'getcwd' || l.includes(' resumed>')) continue;
      let args: string[];
      if (call === 'connect' || call === 'bind') args = [...l.matchAll(/sun_path="([^"]*)"/g)].map((x) => x[1]);
      else if (call.startsWith('set') || call === 'prctl') continue;
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
    assert.ok(all.includes(`${STORE}/api.sock`), `the trace shows the relay asking doshd: ${all.join(' ')}`);
    assert.ok(all.some((p) => p.startsWith(`${STORE}/relays/`)), `the trace shows the relay's socket for a restarted doshd: ${all.join(' ')}`);
    assert.ok(all.some((p) => /docker\.sock$/.test(p)), `the trace shows the relay starting the exec on the engine: ${all.join(' ')}`);
    assert.deepEqual(relative, [], 'the relay resolves no path relative to her working directory');
    const me = { uid: Number(uid(A)), gids: sh(`id -G ${A}`).trim().split(/\s+/).map(Number) };
    const problems = all.filter((p) => !/^\/(proc|sys)\//.test(p)).flatMap((p) => {
      const why = plantable(p, me);
      return why ? [`${p}: ${why} (${paths.get(p)})`] : [];
    });
    assert.deepEqual(problems, [], 'paths the relay touched that she controls');
    // Every path it touches it touches as root, before the drop; after the drop it opens nothing.
    const drop = mine.findIndex((l) => /setresuid\(/.test(l));
    assert.ok(drop > 0, `the trace shows the drop: ${mine.slice(0, 40).join('\n')}`);
    assert.match(mine[drop], new RegExp(`setresuid\\(${uid(A)}, ${uid(A)}, ${uid(A)}\\)\\s+= 0`));
    const after = mine.slice(drop + 1).filter((l) => /\b(open|openat|connect|bind|execve)\(/.test(l));
    assert.deepEqual(after, [], 'nothing opened, connected, bound or run after the drop');
  } finally {
    rmSync(plant, { recursive: true, force: true });
    for (const l of tmpLinks) if (lstatSafe(l)?.uid === Number(uid(A))) rmSync(l, { force: true });
    await asUserScript(A, 'rm -rf ~/.docker');
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

/** The uids and gids of a process and its status fields, from /proc. */
function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+):\s*(.*)$/.exec(l);
    if (m) out[m[1]] = m[2].trim().replace(/\s+/g, ' ');
  }
  return out;
}

test('once her stream is open no process of her login runs as root: the relay has her uid, gid and groups, no capability, no_new_privs, is not dumpable, holds none of her descriptors, and has no child', { timeout: 120_000 }, async () => {
  const cmd = 'exec sleep 4246';
  const leak = `/tmp/dts-sec-leak-${process.pid}`;
  // Her login through su, with a file of hers open on descriptor 7, as a login program could leave one.
  const login = spawn('su', ['-', A, '-s', '/bin/bash', '-c', `exec 7>${leak}; exec ${DOSH} -c ${shellQuote(cmd)}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    const mine = await runningLogin(A, cmd);
    const relay = mine.spec.relay.pid;
    const st = procStatus(relay);
    const u = uid(A);
    const g = sec.gid(A);
    assert.equal(st.Uid, `${u} ${u} ${u} ${u}`, 'real, effective, saved and file uid are hers');
    assert.equal(st.Gid, `${g} ${g} ${g} ${g}`);
    assert.deepEqual(st.Groups.split(' ').filter(Boolean).sort(), sh(`id -G ${A}`).trim().split(/\s+/).sort(), 'her supplementary groups');
    assert.match(st.CapEff, /^0+$/);
    assert.match(st.CapPrm, /^0+$/);
    assert.equal(st.NoNewPrivs, '1');
    // Not dumpable: the kernel makes its /proc entries root's; she can neither read them nor ptrace it.
    assert.equal(statSync(`/proc/${relay}/fd`).uid, 0, 'its /proc entries are root\'s (not dumpable)');
    const rows = await attempts(A, [`cat /proc/${relay}/environ`, `ls /proc/${relay}/fd`, `cat /proc/${relay}/mem`, `strace -p ${relay} -e trace=none -o /dev/null`, `cat /proc/${relay}/maps`]);
    assertAllRefused(rows, /Operation not permitted|Permission denied/);
    const fds = readdirSync(`/proc/${relay}/fd`).map((fd) => readlinkSync(`/proc/${relay}/fd/${fd}`));
    assert.ok(!fds.includes(leak), `the relay holds none of her files: ${fds.join(', ')}`);
    // Below su, the relay alone: no sudo, no helper, no child of any kind.
    assert.equal(readFileSync(`/proc/${parentPid(relay)}/comm`, 'utf8').trim(), 'su', 'its parent is the login program');
    assert.equal(readFileSync(`/proc/${relay}/task/${relay}/children`, 'utf8').trim(), '', 'no child');
    for (const t of readdirSync(`/proc/${relay}/task`)) assert.equal(procStatus(Number(t)).Uid, `${u} ${u} ${u} ${u}`, `thread ${t} is hers too`);
  } finally {
    login.kill('SIGHUP');
    await until('the login to end', () => login.exitCode !== null || login.signalCode !== null, 15_000).catch(() => login.kill('SIGKILL'));
    rmSync(leak, { force: true });
  }
  assertNoForeignEffects();
});

test('no pid she can reach lets her signal, trace or read another user\'s login; signalling or killing her own relay (which she may) ends only her own login', { timeout: 180_000 }, async () => {
  const vRelay = sec.vSession.spec.relay.pid;
  const vExec = sec.vSession.status.execPid!;
  assert.ok(pidAlive(vRelay) && pidAlive(vExec), 'V\'s relay and command run');
  // From her host account.
  const rows = await attempts(A, [
    ...['HUP', 'TERM', 'KILL', 'STOP'].flatMap((sig) => [vRelay, vExec].map((p) => `kill -${sig} ${p}`)),
    `cat /proc/${vRelay}/environ`,
    `ls /proc/${vRelay}/fd`,
    `ls /proc/${vExec}/root/`,
    `cat /proc/${vExec}/environ`,
    `strace -p ${vRelay} -e trace=none -o /dev/null`,
  ]);
  assertAllRefused(rows, /Operation not permitted|Permission denied/);
  // From inside her container: those pids are not in her pid namespace.
  const inside = await su(A, `for p in ${vRelay} ${vExec}; do kill -9 $p; echo "rc=$?"; done`);
  assert.equal(out(inside), 'rc=1\nrc=1\n', describe(inside));
  assert.match(inside.stderr, /No such process/, describe(inside));

  // Her own logins: the relay's real uid is hers, so she may signal it. HUP is a hang-up; KILL takes the relay away
  // without a word, and doshd, seeing its connection close, ends the login's processes. Either way only hers end.
  for (const [sig, cmd] of [['HUP', 'exec sleep 4244'], ['KILL', 'exec sleep 4245']] as const) {
    const login = spawn('su', ['-', A, '-c', cmd], { stdio: ['pipe', 'ignore', 'ignore'] });
    const mine = await runningLogin(A, cmd);
    assert.equal(mine.spec.uid, Number(uid(A)));
    assert.equal(readFileSync(`/proc/${mine.spec.relay.pid}/comm`, 'utf8').trim(), 'dosh', 'the pid recorded is her relay');
    const k = await asUserScript(A, `kill -${sig} ${mine.spec.relay.pid}; echo "rc=$?"`);
    assert.equal(out(k), 'rc=0\n', `she may signal her own relay: ${describe(k)}`);
    await until(`her login (${sig}) to end`, () => {
      const now = sessionsRaw(A).find((s) => s.metadata.name === mine.metadata.name);
      return !pidAlive(mine.status.execPid!) && (now?.status.phase === 'Failed' || now?.status.phase === 'Succeeded');
    }, 30_000);
    const ended = sessionsRaw(A).find((s) => s.metadata.name === mine.metadata.name)!;
    assert.equal(ended.status.reason, sig === 'HUP' ? 'ClientGone' : 'RelayGone');
    await until('her su to exit', () => login.exitCode !== null || login.signalCode !== null, 15_000).catch(() => login.kill('SIGKILL'));
    assertNoForeignEffects();
  }
  assert.ok(pidAlive(vRelay) && pidAlive(vExec), 'V\'s relay and command still run');
  assert.equal(sec.vLogin.exitCode, null, 'V\'s login still runs');
});

test('what she hands the relay while it is root changes nothing it does: a stream of signals from its first instant, tight resource limits, her descriptors, her environment', { timeout: 120_000 }, async () => {
  // Signals: from the moment the relay has blocked them (its first act; /proc/PID/status is anyone's to read) until
  // her login ends, every signal a user can send that would end or stop a process that did not block them. Her login
  // runs to its end. (One sent before that moment ends her own login, before it has done anything, as for any program.)
  const storm = `out=$(mktemp)
${DOSH} -c 'echo started; sleep 1; echo done' >"$out" 2>&1 &
d=$!
until grep -qE '^SigBlk:[[:space:]]*f' /proc/$d/status 2>/dev/null || ! kill -0 $d 2>/dev/null; do :; done
n=0
while kill -0 $d 2>/dev/null; do for s in USR1 USR2 ALRM PIPE VTALRM PROF TRAP TTIN TTOU TSTP CONT WINCH; do kill -$s $d 2>/dev/null; done; n=$((n+1)); done
wait $d; rc=$?
echo "rc=$rc signals=$n"; cat "$out"; rm -f "$out"`;
  for (let i = 0; i < 3; i++) {
    const r = await asUserScript(A, storm, { timeoutMs: 60_000 });
    const m = /^rc=(\d+) signals=(\d+)\n([\s\S]*)$/.exec(out(r));
    assert.ok(m, describe(r));
    assert.deepEqual([m[1], m[3]], ['0', 'started\ndone\n'], `the login ran to its end under ${m[2]} rounds of signals: ${describe(r)}`);
    assert.ok(Number(m[2]) > 20, `a stream of signals was sent (${m[2]} rounds)`);
  }
  // Limits that leave it no descriptor or no thread: a clear failure of her own login, nothing else.
  const noFds = await asUserScript(A, `ulimit -n 4; exec ${DOSH} -c 'echo ran'`);
  assert.notEqual(noFds.code, 0, describe(noFds));
  assert.match(noFds.stderr, /^dosh: /m, describe(noFds));
  assert.doesNotMatch(out(noFds), /ran/);
  const noThreads = await asUserScript(A, `ulimit -u 1; exec ${DOSH} -c 'echo ran'`);
  assert.ok(noThreads.code === 0 ? out(noThreads) === 'ran\n' : /^dosh: /m.test(noThreads.stderr), `runs, or fails with a message: ${describe(noThreads)}`);
  // Closed standard descriptors: the relay opens /dev/null in their place, so no socket becomes her stdout.
  const closed = await asUserScript(A, `exec 0<&- 2>&-; ${DOSH} -c 'echo ran'`);
  assert.equal(out(closed), 'ran\n', describe(closed));
  // Her environment: what would steer a dynamically linked or Node.js program (the relay is static C) and names of
  // settings; none reaches root or her container.
  const env = await asUser(A, [DOSH, '-c', 'env'], { env: { LD_PRELOAD: '/tmp/x.so', LD_LIBRARY_PATH: '/tmp', GLIBC_TUNABLES: 'glibc.malloc.check=3', MALLOC_CHECK_: '3', NODE_OPTIONS: '--inspect', DOSH_STORE: '/tmp', STORE: '/tmp', DOCKER_HOST: 'tcp://127.0.0.1:1' } });
  assert.equal(env.code, 0, describe(env));
  assert.doesNotMatch(out(env), /LD_PRELOAD|LD_LIBRARY_PATH|GLIBC_TUNABLES|MALLOC_CHECK_|NODE_OPTIONS|DOSH_STORE|^STORE=|DOCKER_HOST/m, 'none of her variables reach her container');
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
    const r = await asUser(A, [DOSHCTL, ...args]);
    assert.equal(r.code, 4, `doshctl ${args.join(' ')}: ${describe(r)}`);
    assert.match(r.stderr, /doshctl must run as root/, describe(r));
    assert.equal(out(r), '');
  }
  // Commands without a declared need still hit the store's or the policy's permissions.
  for (const [args, re] of [
    [['policy', 'check'], /permission denied/i],
    [['policy', 'explain', V], /permission denied/i],
  ] as const) {
    const r = await asUser(A, [DOSHCTL, ...args]);
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

test('her host account cannot read the policy, the store or other users\' sessions (Permission denied); doshd serves metrics on loopback only', { timeout: 60_000 }, async () => {
  const rows = await attempts(A, [
    'cat /etc/dosh/dosh.conf',
    'ls /etc/dosh',
    'cat /etc/dosh/helper.conf',
    'ls /etc/dosh/conf.d',
    `cat ${sec.doshd.config}`,
    `ls ${sec.doshd.dir}`,
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
  assert.equal(mode(`${STORE}/api.sock`), 0o600);
  assert.equal(mode(sec.doshd.dir), 0o700);
  assert.equal(mode(sec.doshd.config), 0o600);
  assert.equal(mode(`${SESSIONS}/${sec.vSession.metadata.name}.json`), 0o600);

  // doshd's default metrics address is loopback, and the doshd of this test listens on nothing else.
  const help = await run(DOSHD, ['--help']);
  assert.match(out(help) + help.stderr, /--metrics-address[^\n]*default 127\.0\.0\.1:9469/);
  const listening = sh('ss -Hltnp').split('\n').filter((l) => l.includes(`pid=${sec.doshd.pid},`));
  assert.ok(listening.length >= 1, `doshd's listening sockets: ${sh('ss -Hltnp')}`);
  for (const l of listening) assert.match(l.trim().split(/\s+/)[3], new RegExp(`^(127\\.[0-9.]+|\\[::1\\]):${METRICS_PORT}$`), `doshd listens on loopback only: ${l}`);
});
