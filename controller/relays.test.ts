// The controller and the logins' control channels (controller/session-api/links.ts, faked by FakeRelays): a restarted
// doshd takes up what the old one left (a login it had not answered, a running one to reattach), drain messages reach
// her terminal, and the session API's wait for an admission ends when the session leaves Pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_MESSAGE } from '../api/labels.ts';
import { World } from '../test/fakes/world.ts';

/** The session as a restarted doshd finds it: in the store, with no connection from its relay. */
function detach(w: World, name: string): void {
  w.relays.attached.delete(name);
}

test('after a restart, a login the old doshd never answered waits for its relay to ask again; it is ended NotAdmitted only a minute on', async () => {
  const w = new World();
  const s = w.login();
  detach(w, s.metadata.name);
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.get(s.metadata.name).status.phase, 'Pending', 'not ended: its relay is alive and may ask again');
  assert.deepEqual(w.engine.actions, [], 'nothing admitted for a relay that is not connected');
  assert.deepEqual(w.relays.reattached, [], 'a Pending session has no relay socket to reattach to');
  await w.clock.advance(61_000);
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Failed');
  assert.equal(got.status.reason, 'NotAdmitted');
});

test('after a restart, a running login is reattached through its relay\'s socket; one whose relay does not answer is ended RelayGone and hung up', async () => {
  const w = new World();
  const a = w.login();
  const b = w.login();
  for (const s of [a, b]) {
    await w.controller.syncSession(s.metadata.name);
    w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Running', startedAt: cur.status.readyAt, execPid: 7000 + cur.spec.relay.pid, execPidStartTime: '70' } }));
    w.proc.add(7000 + s.spec.relay.pid, '70');
    detach(w, s.metadata.name);
  }
  w.relays.reattachAnswer = 'attached';
  await w.controller.syncSession(a.metadata.name);
  assert.deepEqual(w.relays.reattached, [`${a.metadata.name} /nonexistent/relays/${a.metadata.name}.sock`]);
  assert.equal(w.get(a.metadata.name).status.phase, 'Running');
  assert.ok(w.relays.has(a.metadata.name));

  w.relays.reattachAnswer = 'gone';
  await w.controller.syncSession(b.metadata.name);
  const got = w.get(b.metadata.name);
  assert.equal(got.status.reason, 'RelayGone');
  assert.deepEqual(w.proc.signals, [`SIGHUP ${7000 + b.spec.relay.pid}`]);
});

test('a drain message annotated on a live session is sent to its terminal once per text', async () => {
  const w = new World();
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const annotate = (text: string) => w.store.mutate(s.metadata.name, (cur) => ({ ...cur, metadata: { ...cur.metadata, annotations: { ...cur.metadata.annotations, [ANNOTATION_MESSAGE]: text } } }));
  annotate('maintenance at 14:00');
  await w.controller.syncSession(s.metadata.name);
  annotate('now');
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.relays.notices, [`${s.metadata.name}: maintenance at 14:00`, `${s.metadata.name}: now`]);
});

test('settled() resolves when admission has answered (Ready, or refused), not before; endSessionNamed ends only a live session', async () => {
  const w = new World();
  const s = w.login();
  let answered: string | undefined;
  const wait = w.controller.settled(s.metadata.name).then((x) => (answered = x?.status.phase));
  await new Promise((r) => setImmediate(r));
  assert.equal(answered, undefined, 'still Pending');
  w.controller.enqueueSession(s.metadata.name);
  await w.controller.processNextWorkItem();
  await wait;
  assert.equal(answered, 'Ready');

  w.cordonMessage = 'maintenance';
  const t = w.login();
  const refused = w.controller.settled(t.metadata.name);
  w.controller.enqueueSession(t.metadata.name);
  await w.controller.processNextWorkItem();
  assert.equal((await refused)?.status.reason, 'Cordoned');

  await w.controller.endSessionNamed(s.metadata.name, 'ClientGone', 'the client went away (SIGHUP)');
  assert.equal(w.get(s.metadata.name).status.reason, 'ClientGone');
  await w.controller.endSessionNamed(s.metadata.name, 'RelayGone', 'late');
  assert.equal(w.get(s.metadata.name).status.reason, 'ClientGone', 'an ended session keeps its reason');
});
