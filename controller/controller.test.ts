// syncSession against a fake engine, /proc and clock (and a real store in a temp dir): the exact actions it takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANN, basePolicy, World } from '../test/fakes/world.ts';
import { LABEL_HASH } from '../api/labels.ts';
import { desiredContainer } from './container-spec.ts';
import { InvalidError, RefusedError } from '../lib/errors.ts';

test('first login: creates and starts the container, then marks the session Ready with the planned exec', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'create dosh-ann', 'start c100', 'exec c100 1001:1001: /bin/sh -l -c id']);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Ready');
  assert.equal(got.status.execId, 'e2', 'the relay only has to start it');
  assert.equal(got.status.container?.name, 'dosh-ann');
  assert.deepEqual(got.status.exec?.shell, ['/bin/sh'], 'her arguments stay in the spec, once');
  assert.equal(got.status.exec?.user, '1001:1001');
  const body = w.engine.containers.get('dosh-ann')!.body!;
  assert.equal(body.User, '1001:1001');
  assert.deepEqual(body.HostConfig?.GroupAdd, ['2000']);
  assert.deepEqual(body.HostConfig?.CapDrop, ['ALL']);
  assert.equal(got.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
});

test('sync is idempotent: a second sync of a Ready session does nothing', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  w.engine.actions = [];
  const rv = w.get(s.metadata.name).metadata.resourceVersion;
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions, []);
  assert.equal(w.get(s.metadata.name).metadata.resourceVersion, rv);
});

test('a running container with the same policy is reused; a stopped one is started', async () => {
  const w = new World();
  const want = desiredContainer(basePolicy(), ANN, 'node1');
  const c = w.engine.seed('dosh-ann', want.body.Labels!, false);
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const exec = `exec ${c.id.slice(0, 4)} 1001:1001: /bin/sh -l -c id`;
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `start ${c.id.slice(0, 4)}`, exec]);
  w.engine.actions = [];
  await w.controller.syncSession(w.login().metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', exec]);
});

test('an outdated container is recreated when no session uses it, and kept under a logged-in user', async () => {
  const w = new World();
  const old = desiredContainer(basePolicy({ image: 'busybox:old' }), ANN, 'node1');
  const c = w.engine.seed('dosh-ann', old.body.Labels!);
  const busy = w.login();
  await w.controller.syncSession(busy.metadata.name); // Ready on the old container
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `remove ${c.id.slice(0, 4)}`, 'create dosh-ann', 'start c200', 'exec c200 1001:1001: /bin/sh -l -c id']);
  // Now make the policy change again while `busy` is Ready: the container must stay.
  w.policyFor = () => basePolicy({ command: ['/bin/bash'] });
  w.engine.actions = [];
  const second = w.login();
  await w.controller.syncSession(second.metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'exec c200 1001:1001: /bin/sh -l -c id'], 'the kept container runs the shell it was made with');
  assert.equal(w.get(second.metadata.name).status.phase, 'Ready');
  assert.notEqual(w.engine.containers.get('dosh-ann')!.labels[LABEL_HASH], desiredContainer(basePolicy({ command: ['/bin/bash'] }), ANN, 'node1').hash);
});

test('refusals end the session with a reason and a message, and touch no container', async () => {
  const cases: [string, (w: World) => void, RegExp][] = [
    ['Cordoned', (w) => (w.cordonMessage = 'maintenance until 14:00'), /maintenance until 14:00/],
    ['PolicyError', (w) => (w.policyFor = () => { throw new RefusedError('PolicyError', 'no policy for you'); }), /no policy for you/],
    ['ImageNotFound', (w) => (w.policyFor = () => basePolicy({ image: 'nope:1' })), /image nope:1/],
    ['NameTaken', (w) => w.engine.seed('dosh-ann', {}), /does not manage/],
  ];
  // Another user's container under her name (two users given one name by PREFIXNAME), running or stopped, current
  // or from an older policy: never entered, started or replaced for her.
  for (const running of [true, false]) {
    for (const hash of ['other-hash', undefined]) {
      cases.push(['NameTaken', (w) => {
        const c = w.engine.seed('dosh-ann', { 'dosh.io/managed': 'true', 'dosh.io/user': 'sann', 'dosh.io/uid': '1234', 'dosh.io/node': 'node1' }, running);
        c.labels['dosh.io/policy-hash'] = hash ?? desiredContainer(basePolicy(), ANN, 'node1').hash;
      }, /belongs to another account.*remove it.*PREFIXNAME/]);
    }
  }
  for (const [reason, arrange, msg] of cases) {
    const w = new World();
    arrange(w);
    const s = w.login();
    await w.controller.syncSession(s.metadata.name);
    const got = w.get(s.metadata.name);
    assert.equal(got.status.phase, 'Failed', reason);
    assert.equal(got.status.reason, reason);
    assert.match(got.status.message ?? '', msg);
    assert.ok(!w.engine.actions.some((a) => a.startsWith('start') || a.startsWith('exec') || a.startsWith('remove')), `${reason}: nothing started or removed: ${w.engine.actions.join(', ')}`);
    assert.doesNotMatch(got.status.message ?? '', /sann|1234/, 'the other user is not named to her');
    assert.ok(reason === 'NameTaken' || !w.engine.containers.has('dosh-ann'), `${reason}: no container left`);
  }
});

test('a user unknown to NSS, or whose uid does not match, is refused', async () => {
  const w = new World();
  const s = w.login('ann', { uid: 1002 });
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.reason, 'UnknownUser');
});

test('a user whose groups NSS cannot resolve is refused (GroupsUnresolved) before anything is created', async () => {
  const w = new World();
  w.lookupError = new RefusedError('GroupsUnresolved', 'the groups of ann cannot be resolved (no group name for gid 2001)');
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'GroupsUnresolved');
  assert.match(got.status.message ?? '', /gid 2001/);
  assert.deepEqual(w.engine.actions, []);
});

test('a session whose relay died is ended and its processes hung up, then killed after the grace period', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Running', execPid: 7000, execPidStartTime: '77' } }));
  w.proc.add(7000, '77');
  w.proc.add(7001, '78', 7000);
  w.proc.procs.delete(s.spec.relay.pid);
  w.proc.add(s.spec.relay.pid, 'reused-by-another-process');
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Failed');
  assert.equal(got.status.reason, 'RelayGone');
  assert.deepEqual(w.proc.signals, ['SIGHUP 7000', 'SIGHUP 7001']);
});

test('an administrator delete ends the session', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date(w.clock.now()).toISOString() } }));
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.reason, 'Deleted');
});

test('ended by an administrator or by its lifetime, what the login left running (its cgroup) is killed after the grace; a hang-up or an exit leaves it, and a collected session removes its cgroup', async () => {
  const w = new World({ killGraceMs: 5000 });
  w.policyFor = () => basePolicy({ maxSessionSeconds: 3600 });
  const run = async (end: (name: string) => Promise<void>) => {
    const s = w.login();
    await w.controller.syncSession(s.metadata.name);
    w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Running', cgroup: `/cg/c/dosh-${s.metadata.name}` } }));
    await end(s.metadata.name);
    return s.metadata.name;
  };
  const deleted = await run(async (n) => {
    w.store.mutate(n, (cur) => ({ ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date(w.clock.now()).toISOString() } }));
    await w.controller.syncSession(n);
  });
  assert.equal(w.get(deleted).status.reason, 'Deleted');
  assert.deepEqual(w.cgroups.actions, [], 'her processes get the grace period first');
  await w.clock.advance(5000);
  assert.deepEqual(w.cgroups.actions, [`kill /cg/c/dosh-${deleted}`]);

  const hungUp = await run((n) => w.controller.endSessionNamed(n, 'ClientGone', 'the client went away (SIGHUP)'));
  await w.clock.advance(5000);
  assert.equal(w.get(hungUp).status.reason, 'ClientGone');
  assert.deepEqual(w.cgroups.actions, [`kill /cg/c/dosh-${deleted}`], 'a hang-up leaves her nohup jobs');

  const expired = await run(async (n) => {
    await w.clock.advance(3600_000);
    await w.controller.syncSession(n);
  });
  assert.equal(w.get(expired).status.reason, 'MaxLifetime');
  await w.clock.advance(5000);
  assert.deepEqual(w.cgroups.actions.at(-1), `kill /cg/c/dosh-${expired}`);

  w.cgroups.actions = [];
  await w.clock.advance(3600_000);
  for (const n of [deleted, hungUp, expired]) {
    await w.controller.syncSession(n);
    await w.controller.syncSession(n);
  }
  assert.deepEqual(w.cgroups.actions.sort(), [deleted, expired, hungUp].map((n) => `remove /cg/c/dosh-${n}`).sort());
});

test('transient engine errors requeue with backoff; the session stays Pending', async () => {
  const w = new World();
  w.engine.down = true;
  const s = w.login();
  w.controller.enqueueSession(s.metadata.name);
  await w.controller.processNextWorkItem();
  assert.equal(w.get(s.metadata.name).status.phase, 'Pending');
  assert.equal(w.controller.queue.retries(s.metadata.name), 1);
  w.engine.down = false;
  await w.clock.advance(50);
  await w.controller.processNextWorkItem();
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  assert.equal(w.controller.queue.retries(s.metadata.name), 0);
});

test('an engine that stays down refuses the login after a few retries, with a clear reason', async () => {
  const w = new World();
  w.engine.down = true;
  const s = w.login();
  w.controller.enqueueSession(s.metadata.name);
  for (let i = 0; i < 6; i++) {
    await w.controller.processNextWorkItem();
    await w.clock.advance(2000);
  }
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'EngineUnavailable');
  assert.match(got.status.message ?? '', /Docker engine is not answering/);
});

test('ended sessions are deleted after the retention period', async () => {
  const w = new World();
  const s = w.login();
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', endedAt: new Date(w.clock.now()).toISOString() } }));
  await w.controller.syncSession(s.metadata.name);
  assert.ok(w.store.get(s.metadata.name));
  await w.clock.advance(60_000);
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.store.get(s.metadata.name), undefined);
});

test('an idle container is removed only after the idle timeout, and never while a session is live', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  await w.controller.collector.collect(w.store.list());
  assert.ok(w.engine.containers.has('dosh-ann'), 'live session keeps it');
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', endedAt: new Date(w.clock.now()).toISOString() } }));
  await w.controller.collector.collect(w.store.list());
  await w.clock.advance(59_000);
  await w.controller.collector.collect(w.store.list());
  assert.ok(w.engine.containers.has('dosh-ann'), 'kept within the timeout');
  await w.clock.advance(1_000);
  await w.controller.collector.collect(w.store.list());
  assert.equal(w.engine.containers.has('dosh-ann'), false);
});

test('IDLETIMEOUT=0 keeps the container forever', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ idleTimeoutSeconds: 0 });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  w.store.delete(s.metadata.name);
  await w.controller.collector.collect([]);
  await w.clock.advance(365 * 86400_000);
  await w.controller.collector.collect([]);
  assert.ok(w.engine.containers.has('dosh-ann'));
});

test('many simultaneous first logins of one user share one container', async () => {
  const w = new World();
  const sessions = Array.from({ length: 20 }, () => w.login());
  await Promise.all(sessions.map((s) => w.controller.syncSession(s.metadata.name)));
  assert.equal(w.engine.actions.filter((a) => a.startsWith('create')).length, 1);
  assert.ok(sessions.every((s) => w.get(s.metadata.name).status.phase === 'Ready'));
});

test('the maximum number of sessions per user refuses the one too many, counting only earlier live sessions', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ maxSessionsPerUser: 2 });
  const [a, b, c] = [w.login(), w.login(), w.login()];
  await w.controller.syncSession(c.metadata.name);
  assert.equal(w.get(c.metadata.name).status.reason, 'TooManySessions');
  assert.match(w.get(c.metadata.name).status.message ?? '', /the most the policy allows \(2\)/);
  await w.controller.syncSession(a.metadata.name);
  await w.controller.syncSession(b.metadata.name);
  assert.equal(w.get(a.metadata.name).status.phase, 'Ready');
  assert.equal(w.get(b.metadata.name).status.phase, 'Ready');
});

test('the maximum session lifetime ends the session at its deadline', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ maxSessionSeconds: 60 });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.deadline, new Date(w.clock.now() + 60_000).toISOString());
  await w.clock.advance(59_000);
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  await w.clock.advance(1_000);
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.reason, 'MaxLifetime');
});

test('hooks run at the original moments with the original arguments', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ runScripts: true, scriptsFolder: '/etc/dosh/scripts', dockerArgs: ['-m', '2G'] });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const id = w.engine.containers.get('dosh-ann')!.id;
  assert.deepEqual(w.hookCalls, [
    'prerun dosh-ann -u 1001:1001 -m 2G -id --name dosh-ann busybox:latest /bin/sh',
    `run ${id} -u 1001:1001 -m 2G -id --name dosh-ann busybox:latest /bin/sh`,
    'preexec dosh-ann /bin/sh -l -c id',
  ]);
  w.hookCalls = [];
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', endedAt: new Date(w.clock.now()).toISOString() } }));
  await w.controller.syncSession(s.metadata.name);
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.hookCalls, ['exec dosh-ann /bin/sh -l -c id'], 'the exec hook runs once');
  w.hookCalls = [];
  w.engine.setState('dosh-ann', 'exited');
  await w.controller.syncSession(w.login().metadata.name);
  assert.deepEqual(w.hookCalls.map((c) => c.split(' ').slice(0, 2).join(' ')), ['prestart dosh-ann', 'start dosh-ann', 'preexec dosh-ann']);
});

test('a failing pre hook refuses the login with its message and leaves nothing half-made', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ runScripts: true, scriptsFolder: '/etc/dosh/scripts' });
  w.hookResult = (m) => (m === 'prerun' ? { ok: false, runs: [], failure: 'hook script /etc/dosh/scripts/10quota (prerun) failed with exit status 3' } : { ok: true, runs: [] });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'HookFailed');
  assert.match(got.status.message ?? '', /10quota \(prerun\) failed with exit status 3/);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann']);
});

test('a container the engine refuses ends the login at once with the engine\'s message, not a timeout', async () => {
  const w = new World();
  w.engine.createError = new InvalidError('create container dosh-ann: invalid CapAdd: unknown capability: "CAP_BOGUS"');
  const s = w.login();
  w.controller.enqueueSession(s.metadata.name);
  await w.controller.processNextWorkItem();
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'EngineRefused');
  assert.match(got.status.message ?? '', /unknown capability/);
  assert.equal(w.controller.queue.retries(s.metadata.name), 0);
});

test('a session on an outdated container says so in a condition', async () => {
  const w = new World();
  const first = w.login();
  await w.controller.syncSession(first.metadata.name);
  w.policyFor = () => basePolicy({ command: ['/bin/bash'] });
  const second = w.login();
  await w.controller.syncSession(second.metadata.name);
  const c = w.get(second.metadata.name).status.conditions.find((x) => x.type === 'ContainerOutdated');
  assert.equal(c?.status, 'True');
  assert.equal(w.get(first.metadata.name).status.conditions.find((x) => x.type === 'ContainerOutdated'), undefined);
});

test('after a policy change, live sessions on a container that no longer matches are marked outdated', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  await w.controller.policyChanged();
  assert.equal(w.get(s.metadata.name).status.conditions.find((x) => x.type === 'ContainerOutdated'), undefined);
  w.policyFor = () => basePolicy({ image: 'busybox:new' });
  await w.controller.policyChanged();
  assert.equal(w.get(s.metadata.name).status.conditions.find((x) => x.type === 'ContainerOutdated')?.status, 'True');
  assert.ok(w.engine.containers.has('dosh-ann'), 'never recreated under her');
});

test('events of a first login, then of its end (recorded once)', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.events.of(`Session/${s.metadata.name}`), [
    'Normal Admitted: login of ann (command) admitted, image busybox:latest',
    'Normal ContainerCreated: created container dosh-ann from image busybox:latest',
    'Normal ContainerStarted: started container dosh-ann',
    'Normal Ready: container dosh-ann is running; ready 0 ms after the login started',
  ]);
  assert.equal(w.events.events.length, 4);
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', reason: 'Exited', exitCode: 0, endedAt: new Date(w.clock.now()).toISOString() } }));
  await w.controller.syncSession(s.metadata.name);
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.events.of(`Session/${s.metadata.name}`).slice(4), ['Normal Ended: session ended with exit code 0']);
});

test('events of a refused login: one Warning with the reason, and no Ended', async () => {
  const w = new World();
  w.cordonMessage = 'maintenance until 14:00';
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.events.events, [{ type: 'Warning', reason: 'Refused', object: `Session/${s.metadata.name}`, message: 'login of ann refused (Cordoned): maintenance until 14:00' }]);
});

test('events of a recreated container, a failing hook, a vanished relay and a collected container', async () => {
  const w = new World();
  const c = w.engine.seed('dosh-ann', desiredContainer(basePolicy({ image: 'busybox:old' }), ANN, 'node1').body.Labels!);
  const first = w.login();
  await w.controller.syncSession(first.metadata.name);
  assert.ok(w.events.of(`Session/${first.metadata.name}`).includes('Normal ContainerRecreated: removed container dosh-ann, which predates the current policy, to create it again'), c.id);
  w.proc.procs.delete(first.spec.relay.pid);
  await w.controller.syncSession(first.metadata.name);
  await w.controller.syncSession(first.metadata.name);
  assert.deepEqual(w.events.of(`Session/${first.metadata.name}`).slice(-2), [
    'Warning RelayGone: the login program (dosh) exited without ending the session',
    'Normal Ended: session ended (RelayGone): the login program (dosh) exited without ending the session',
  ]);

  w.policyFor = () => basePolicy({ runScripts: true, scriptsFolder: '/etc/dosh/scripts' });
  w.hookResult = (m) => (m === 'preexec' ? { ok: false, runs: [{ script: '/etc/dosh/scripts/10quota', moment: 'preexec', exitCode: 3, signal: null, timedOut: false, durationMs: 12, output: '' }], failure: '10quota failed' } : { ok: true, runs: [] });
  const second = w.login();
  await w.controller.syncSession(second.metadata.name);
  assert.deepEqual(w.events.of(`Session/${second.metadata.name}`).slice(-2), [
    'Warning HookFailed: preexec hook /etc/dosh/scripts/10quota exited with status 3 after 12 ms',
    "Warning Refused: login of ann refused (HookFailed): login refused by the administrator's preexec hook: 10quota failed",
  ]);

  await w.controller.housekeeping();
  await w.clock.advance(60_000);
  await w.controller.housekeeping();
  assert.deepEqual(w.events.of('User/ann'), ['Normal GarbageCollected: removed container dosh-ann, idle for 60 s (idle timeout 60 s)']);
  assert.equal(w.events.sweeps.length, 2, 'housekeeping sweeps expired events');
});

test('metrics: live sessions per user, and session duration and first byte observed once when a session is deleted', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  await w.controller.housekeeping();
  assert.match(await w.metrics.registry.getSingleMetricAsString('dosh_user_sessions'), /dosh_user_sessions\{user="ann"\} 1/);
  const created = Date.parse(s.metadata.creationTimestamp);
  w.store.mutate(s.metadata.name, (cur) => ({
    ...cur,
    status: { ...cur.status, phase: 'Succeeded', startedAt: new Date(created + 100).toISOString(), firstByteAt: new Date(created + 250).toISOString(), endedAt: new Date(created + 30_000).toISOString() },
  }));
  await w.controller.housekeeping();
  assert.doesNotMatch(await w.metrics.registry.getSingleMetricAsString('dosh_user_sessions'), /user="ann"/);
  await w.clock.advance(90_000);
  await w.controller.syncSession(s.metadata.name);
  await w.controller.syncSession(s.metadata.name);
  assert.match(await w.metrics.registry.getSingleMetricAsString('dosh_session_duration_seconds'), /^dosh_session_duration_seconds_count 1$/m);
  assert.match(await w.metrics.registry.getSingleMetricAsString('dosh_login_first_byte_seconds'), /^dosh_login_first_byte_seconds_bucket\{le="0.25"\} 1$/m);
});

test('an account whose login shell is not DoSH\'s is refused (NotDoshShell) before anything is made; a policy that allows it lets her in', async () => {
  const w = new World();
  const s = w.login('ann', { loginShell: false });
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'NotDoshShell');
  assert.match(got.status.message!, /ann's login shell is \/usr\/local\/bin\/dosh, not DoSH's.*ALLOWOTHERSHELL=true/);
  assert.deepEqual(w.engine.actions, [], 'no container made, nothing asked of the engine');
  w.policyFor = () => basePolicy({ allowOtherShell: true });
  const t = w.login('ann', { loginShell: false });
  await w.controller.syncSession(t.metadata.name);
  assert.equal(w.get(t.metadata.name).status.phase, 'Ready');
});
