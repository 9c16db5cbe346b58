// doshctl against a real doshd, real users and real containers: top users, describe user, get networks,
// get sessions --watch, completion, the not-root and doshd-not-running errors, and -o json of every listing.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, asUserScript, BUSYBOX, containerPids, doshctl, DOSHCTL, Doshd, removeContainersOf, run, sessionsOf, su, until, endSuite } from './harness.ts';

const U = 'dtc-dora';
const C = `dosh-${U}`;
const MiB = 1024 * 1024;
let doshd: Doshd;
let holder: ChildProcess;
let live = '';

const out = async (...args: string[]) => {
  const r = await doshctl(...args);
  assert.equal(r.code, 0, `doshctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
};
const json = async (...args: string[]) => JSON.parse(await out(...args, '-o', 'json'));

before(async () => {
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\nDOCKERPARAMETERS=-m 256m\n`).start();
  assert.equal((await su(U, 'exit 3')).code, 3); // an ended session for describe user
  holder = spawn('su', ['-', U, '-c', 'sleep 7575'], { stdio: 'ignore' });
  await until('the sleep to run', () => containerPids(C, 'sleep 7575').length === 1 || undefined);
  live = (await sessionsOf(U)).find((s) => s.status.phase === 'Running')!.metadata.name;
});

after(async () => {
  holder?.kill('SIGTERM');
  await endSuite(doshd, [U]);
});

test('top users shows her CPU as a rate, memory against her limit, and her sessions', async () => {
  const busy = spawn('su', ['-', U, '-c', 'timeout 15 sh -c "while :; do :; done"'], { stdio: 'ignore' });
  try {
    await until('the busy loop', () => containerPids(C, 'while').length > 0 || undefined);
    const line = (await out('top', 'users', '--sort-by', 'cpu')).split('\n').find((l) => l.startsWith(`${U} `));
    assert.ok(line, 'a row for the user');
    const [, cpu, , limit, , , sessions] = line.split(/\s+/);
    assert.ok(Number(cpu.replace(/m$/, '')) >= 200, `a busy loop shows as at least 200m, got ${cpu}`);
    assert.equal(limit, '256Mi');
    assert.equal(sessions, '2');
    const row = (await json('top', 'users', '--sort-by', 'memory')).items.find((i: { user: string }) => i.user === U);
    assert.equal(row.memoryLimitBytes, 256 * MiB);
    assert.ok(row.memoryWorkingSetBytes > 0 && row.pids >= 2, JSON.stringify(row));
    assert.equal(row.uid, (await run('id', ['-u', U])).stdout.toString().trim());
    assert.deepEqual(row.containers, [C]);
  } finally {
    busy.kill('SIGTERM');
    await until('the busy loop to end', () => containerPids(C, 'while').length === 0, 30_000);
  }
});

test('describe user: identity, container, resource use, live and ended sessions', async () => {
  const text = await out('describe', 'user', U);
  const uid = (await run('id', ['-u', U])).stdout.toString().trim();
  assert.match(text, new RegExp(`^Name: +${U}$`, 'm'));
  assert.match(text, new RegExp(`^UID: +${uid}$`, 'm'));
  assert.match(text, new RegExp(`^  Name: +${C}$`, 'm'));
  assert.match(text, /^ {2}State: +running/m);
  assert.match(text, /^ {2}Policy: +current$/m);
  assert.match(text, /limit 256Mi/);
  assert.match(text, new RegExp(`^  ${live} +Running`, 'm'));
  assert.match(text, /Recently Ended Sessions:\n +NAME.*\n.*(Succeeded|Failed)/);
  const d = await json('describe', 'user', U);
  assert.equal(d.identity.uid, Number(uid));
  assert.equal(d.containers[0].name, C);
  assert.equal(d.containers[0].outdated, false);
  assert.equal(d.containers[0].usage.memoryLimitBytes, 256 * MiB);
  assert.deepEqual(d.sessions.map((s: { name: string }) => s.name), [live]);
  assert.ok(d.endedSessions.some((s: { exitCode: number }) => s.exitCode === 3), JSON.stringify(d.endedSessions));
  const none = await doshctl('describe', 'user', 'dtc-nobody-here');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /not known to this host/);
});

test('get networks lists the network her container is on, with her as a user of it', async () => {
  const line = (await out('get', 'networks')).split('\n').find((l) => l.startsWith('bridge '));
  assert.ok(line?.includes(U) || line?.includes('more'), line);
  const net = (await json('get', 'networks')).items.find((n: { name: string }) => n.name === 'bridge');
  assert.ok(net.users.includes(U));
  assert.ok(net.containers.some((c: { name: string; user: string }) => c.name === C && c.user === U));
  assert.match(await out('get', 'networks', 'bridge', '-o', 'wide'), /SUBNETS/);
  assert.equal((await doshctl('get', 'networks', 'dtc-no-such-net')).code, 1);
});

test('get sessions --watch prints the table, then a line for a new login, and stops on SIGINT', async () => {
  const w = spawn(DOSHCTL, ['get', 'sessions', '--user', U, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  w.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  const closed = new Promise<number | null>((r) => w.on('close', r));
  try {
    await until('the table', () => text.includes(live) || undefined);
    assert.match(text, /^NAME +USER +PHASE/);
    const before = (await sessionsOf(U)).map((s) => s.metadata.name);
    assert.equal((await su(U, 'true')).code, 0);
    const added = (await sessionsOf(U)).map((s) => s.metadata.name).find((n) => !before.includes(n))!;
    await until('a line for the new session', () => new RegExp(`^${added} +${U} +(Succeeded|Running|Pending)`, 'm').test(text) || undefined);
    await until('its end', () => new RegExp(`^${added} +${U} +Succeeded`, 'm').test(text) || undefined);
    w.kill('SIGINT');
    assert.equal(await closed, 0);
  } finally {
    w.kill('SIGKILL');
  }
});

test('completion bash is valid bash and completes commands, flag values and live session names', async () => {
  const script = await out('completion', 'bash');
  const dir = mkdtempSync(path.join(tmpdir(), 'dtc-comp-'));
  try {
    writeFileSync(path.join(dir, 'c.bash'), script);
    assert.equal((await run('bash', ['-n', path.join(dir, 'c.bash')])).code, 0);
    const complete = async (...words: string[]) => {
      const r = await run('bash', ['-c', `source ${dir}/c.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _doshctl; printf '%s\\n' "\${COMPREPLY[@]}"`]);
      return r.stdout.toString().split('\n').filter(Boolean);
    };
    assert.deepEqual(await complete('doshctl', 'to'), ['top']);
    assert.ok((await complete('doshctl', 'get', '')).includes('networks'));
    assert.deepEqual(await complete('doshctl', 'top', 'users', '--sort-by', ''), ['cpu', 'memory']);
    assert.ok((await complete('doshctl', 'get', 'sessions', '-')).includes('--watch'));
    assert.ok((await complete('doshctl', 'describe', 'session', '')).includes(live));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(await out('completion', 'zsh'), /compdef _doshctl doshctl/);
  assert.equal((await doshctl('completion', 'fish')).code, 2);
});

test('a non-root caller is told to run doshctl as root, not shown an errno', async () => {
  for (const cmd of ['get sessions', 'top users', 'get networks']) {
    const r = await asUserScript(U, `${DOSHCTL} ${cmd}`);
    assert.equal(r.code, 4, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /^Error: doshctl must run as root/);
    assert.doesNotMatch(r.stderr, /EACCES/);
  }
  assert.equal((await asUserScript(U, `${DOSHCTL} version`)).code, 0);
});

test('commands that need doshd say it is not running, for a missing and for a stale doshd.json', async () => {
  const store = mkdtempSync(path.join(tmpdir(), 'dtc-store-'));
  try {
    let r = await doshctl('--store', store, 'delete', 'session', live);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /doshd is not running \(no .*doshd\.json\)/);
    writeFileSync(path.join(store, 'doshd.json'), JSON.stringify({ pid: 999999, startTime: '1', node: 'x', version: '0', startedAt: '2020-01-01T00:00:00Z' }));
    r = await doshctl('--store', store, 'policy', 'status');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /doshd is not running \(pid 999999/);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
  assert.equal((await sessionsOf(U)).find((s) => s.metadata.name === live)?.status.phase, 'Running', 'nothing was deleted');
});

test('-o json of every listing parses, with the documented top-level shape', async () => {
  for (const args of [['get', 'sessions'], ['get', 'containers'], ['get', 'networks'], ['top', 'users'], ['describe', 'user', U], ['get', 'sessions', live]]) {
    const v = await json(...args);
    assert.equal(v.apiVersion === 'v1' || v.apiVersion === 'dosh.io/v1alpha1', true, args.join(' '));
    assert.ok(Array.isArray(v.items) || v.kind, args.join(' '));
  }
});
