// What doshd records when a relay reports: against the World's store, fake engine and fake /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../lib/log.ts';
import { basePolicy, World } from '../../test/fakes/world.ts';
import { SessionRelayEvents } from './relay-events.ts';

async function running(w: World) {
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const ready = w.get(s.metadata.name);
  const ended: string[] = [];
  const ev = new SessionRelayEvents({ store: w.store, engine: w.engine, proc: w.proc, cgroups: w.cgroups, clock: w.clock, log: silentLogger, end: async (n, r, m) => void ended.push(`${n} ${r}: ${m}`) });
  return { s: ready, ev, ended, exec: w.engine.execs.get(ready.status.execId!)! };
}

const tick = () => new Promise((r) => setImmediate(r));

test('Started: the size goes to the engine at once, and Running is recorded with the exec\'s host pid', async () => {
  const w = new World();
  const { s, ev, exec } = await running(w);
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, spec: { ...cur.spec, tty: true } }));
  exec.running = true;
  exec.pid = 9100;
  w.proc.add(9100, '91');
  ev.started(s.metadata.name, { rows: 40, cols: 132 });
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(w.engine.resizes, [`${s.status.execId} 40x132`]);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Running');
  assert.equal(got.status.execPid, 9100);
  assert.equal(got.status.execPidStartTime, '91');
  const init = (await w.engine.inspectContainer(s.status.container!.id)).pid;
  assert.deepEqual(w.cgroups.actions, [`enclose ${s.metadata.name} 9100 init ${init}`], 'the exec gets its own cgroup, told her container\'s init');
  assert.equal(got.status.cgroup, `/cg/c/dosh-${s.metadata.name}`);
});

test('Started on a host without cgroup v2: Running is recorded without a cgroup', async () => {
  const w = new World();
  w.cgroups.available = false;
  const { s, ev, exec } = await running(w);
  Object.assign(exec, { running: true, pid: 9100 });
  w.proc.add(9100, '91');
  ev.started(s.metadata.name, undefined);
  for (let i = 0; i < 5; i++) await tick();
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Running');
  assert.equal(got.status.cgroup, undefined);
});

test('the end of the stream: the exit status from the engine is recorded with the byte counts and answered; a signal passes only SIGINT and SIGQUIT', async () => {
  const w = new World();
  const { s, ev, exec } = await running(w);
  Object.assign(exec, { running: false, exitCode: 3, pid: 9200 });
  w.proc.add(9200, '92');
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, execPid: 9200, execPidStartTime: '92' } }));
  ev.signal(s.metadata.name, 2);
  ev.signal(s.metadata.name, 9);
  assert.deepEqual(w.proc.signals, ['SIGINT 9200'], 'a relay cannot send SIGKILL');
  assert.deepEqual(await ev.streamEnded(s.metadata.name, { in: 5n, out: 700n }, undefined), { code: 3, message: undefined });
  const got = w.get(s.metadata.name);
  assert.deepEqual([got.status.phase, got.status.reason, got.status.exitCode, got.status.bytesIn, got.status.bytesOut], ['Failed', 'Exited', 3, 5, 700]);
  // The store wiped under the login: the exit status still comes from the exec the relay names.
  w.store.delete(s.metadata.name);
  assert.deepEqual(await ev.streamEnded(s.metadata.name, { in: 0n, out: 0n }, s.status.execId), { code: 3, message: undefined });
  assert.equal((await ev.streamEnded(s.metadata.name, { in: 0n, out: 0n }, undefined)).code, 255);
});

test('the end of a session doshd ended (an administrator, its lifetime) answers with that reason\'s message; an engine gone is a cut session (255)', async () => {
  const w = new World();
  const { s, ev, exec } = await running(w);
  Object.assign(exec, { running: false, exitCode: 129 });
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Failed', reason: 'Deleted', message: 'the session was ended by an administrator' } }));
  assert.deepEqual(await ev.streamEnded(s.metadata.name, { in: 0n, out: 0n }, undefined), { code: 129, message: 'the session was ended by an administrator' });
  assert.equal(w.get(s.metadata.name).status.reason, 'Deleted', 'the reason is kept');

  const other = await running(w);
  w.engine.down = true;
  const cut = await other.ev.streamEnded(other.s.metadata.name, { in: 0n, out: 0n }, undefined);
  assert.equal(cut.code, 255);
  assert.match(cut.message!, /the session was cut: the Docker engine stopped or restarted/);
});

test('an exec the runtime never started (126, no process) is told as such, not as her command\'s status; 126 from a process that ran is hers', async () => {
  const w = new World();
  const { s, ev, exec } = await running(w);
  Object.assign(exec, { running: false, exitCode: 126, pid: 0 });
  const r = await ev.streamEnded(s.metadata.name, { in: 0n, out: 90n }, undefined);
  assert.equal(r.code, 126);
  assert.match(r.message ?? '', /the container runtime failed to start its process .*log in again/);
  const ran = await running(w);
  Object.assign(ran.exec, { running: false, exitCode: 126, pid: 9300 });
  assert.deepEqual(await ran.ev.streamEnded(ran.s.metadata.name, { in: 0n, out: 0n }, undefined), { code: 126, message: undefined });
});

test('a hang-up, a failed start and a lost relay end the session with their reasons', async () => {
  const w = new World();
  const { s, ev, ended } = await running(w);
  ev.hangUp(s.metadata.name, 1);
  ev.startFailed(s.metadata.name, 'the Docker engine refused to start the session (HTTP 404): no such exec');
  ev.lost(s.metadata.name, 'its connection closed');
  assert.deepEqual(ended, [
    `${s.metadata.name} ClientGone: the client went away (SIGHUP)`,
    `${s.metadata.name} EngineRefused: the Docker engine refused to start the session (HTTP 404): no such exec`,
    `${s.metadata.name} RelayGone: the login program (dosh) went away without ending the session: its connection closed`,
  ]);
});

test('a pod login: Started records Running without a host process or cgroup; a cut stream says why her pod went; a command\'s own status is hers', async () => {
  const w = new World({}, { pods: true });
  w.policyFor = () => basePolicy({ backend: 'kubernetes' });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const ready = w.get(s.metadata.name);
  const execs = new Map([[ready.status.execId!, { running: true, exitCode: null as number | null, pid: -1 }]]);
  const engine = { ...w.engine, inspectExec: async (id: string) => execs.get(id) ?? w.engine.inspectExec(id), resizeExec: w.engine.resizeExec.bind(w.engine), inspectContainer: w.engine.inspectContainer.bind(w.engine) };
  const why: string[] = [];
  const pods = { why: async (p: { namespace: string; name: string }) => (why.push(`${p.namespace}/${p.name}`), `the session was cut: her pod ${p.namespace}/${p.name} was deleted`) };
  const ev = new SessionRelayEvents({ store: w.store, engine, pods, proc: w.proc, cgroups: w.cgroups, clock: w.clock, log: silentLogger, end: async () => {} });
  ev.started(s.metadata.name, undefined);
  for (let i = 0; i < 5; i++) await tick();
  const got = w.get(s.metadata.name);
  assert.deepEqual([got.status.phase, got.status.execPid, got.status.cgroup], ['Running', undefined, undefined]);
  assert.deepEqual(w.cgroups.actions, []);

  execs.set(ready.status.execId!, { running: false, exitCode: 137, pid: -1 });
  assert.deepEqual(await ev.streamEnded(s.metadata.name, { in: 0n, out: 0n }, undefined), { code: 137, message: 'the session was cut: her pod dosh/dosh-ann was deleted' });
  assert.deepEqual(why, ['dosh/dosh-ann']);

  const again = w.login();
  await w.controller.syncSession(again.metadata.name);
  execs.set(w.get(again.metadata.name).status.execId!, { running: false, exitCode: 3, pid: -1 });
  assert.deepEqual(await ev.streamEnded(again.metadata.name, { in: 0n, out: 0n }, undefined), { code: 3, message: undefined });
  assert.deepEqual(why, ['dosh/dosh-ann'], 'the cluster is not asked about a command that ended by itself');
});
