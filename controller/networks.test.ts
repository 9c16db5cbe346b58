// Networks of a user's container against the fake engine: extra --networks connected before start, her own network
// (networkPerUser) created when first needed, and the collection of the networks doshd made, by label only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basePolicy, World } from '../test/fakes/world.ts';
import { InvalidError } from '../lib/errors.ts';

const withNetworks = (mode: string, extra: string[]) => basePolicy({ create: { HostConfig: { ...basePolicy().create.HostConfig, NetworkMode: mode } }, extraNetworks: extra });
const idOf = (w: World, name = 'dosh-ann') => w.engine.containers.get(name)!.id.slice(0, 4);

test('extra networks are connected after the container is created and before it is started', async () => {
  const w = new World();
  w.engine.seedNetwork('a');
  w.engine.seedNetwork('b');
  w.engine.seedNetwork('c');
  w.policyFor = () => withNetworks('a', ['b', 'c']);
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const id = idOf(w);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'create dosh-ann', `connect b ${id}`, `connect c ${id}`, `start ${id}`, `exec ${id} 1001:1001: /bin/sh -l -c id`]);
  assert.equal(w.engine.containers.get('dosh-ann')!.body!.HostConfig?.NetworkMode, 'a');
  assert.equal(w.get(s.metadata.name).status.phase, 'Ready');
  // A running container is reused as it is: nothing is connected again.
  w.engine.actions = [];
  await w.controller.syncSession(w.login().metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `exec ${id} 1001:1001: /bin/sh -l -c id`]);
});

test('a missing extra network refuses the login naming the network, and leaves no container behind', async () => {
  const w = new World();
  w.engine.seedNetwork('a');
  w.policyFor = () => withNetworks('a', ['gone']);
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  // The engine connects a created container to a missing network without complaint; the start then fails.
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'create dosh-ann', 'connect gone c200', 'start c200', 'remove c200']);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Failed');
  assert.equal(got.status.reason, 'NetworkNotFound');
  assert.match(got.status.message!, /network gone .*does not exist/);
  assert.equal(w.engine.containers.size, 0);
});

test('a missing first network (NetworkMode) refuses the login naming the network, not the image', async () => {
  const w = new World();
  w.policyFor = () => withNetworks('nonet', []);
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.reason, 'NetworkNotFound');
  assert.match(got.status.message!, /network nonet /);
  assert.equal(w.engine.containers.size, 0);
});

test('networkPerUser: her own labelled network is created when first needed and is her container\'s NetworkMode', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ networkPerUser: true });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const id = idOf(w);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'inspect-net dosh-net-ann', 'create-net dosh-net-ann', 'create dosh-ann', `start ${id}`, `exec ${id} 1001:1001: /bin/sh -l -c id`]);
  assert.deepEqual(w.engine.networks.get('dosh-net-ann')!.labels, { 'dosh.io/managed': 'true', 'dosh.io/user': 'ann', 'dosh.io/node': 'node1' });
  assert.equal(w.engine.containers.get('dosh-ann')!.body!.HostConfig?.NetworkMode, 'dosh-net-ann');
  assert.ok(w.events.of(`Session/${s.metadata.name}`).some((e) => /NetworkCreated: created network dosh-net-ann/.test(e)));
  // Running: reused without looking at the network again.
  w.engine.actions = [];
  await w.controller.syncSession(w.login().metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `exec ${id} 1001:1001: /bin/sh -l -c id`]);
  // Stopped: the network is checked (it exists) before the start.
  w.engine.setState('dosh-ann', 'exited');
  w.engine.actions = [];
  await w.controller.syncSession(w.login().metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'inspect-net dosh-net-ann', `start ${id}`, `exec ${id} 1001:1001: /bin/sh -l -c id`]);
});

test('networkPerUser: a network of that name that DoSH does not manage refuses the login and is left alone', async () => {
  const w = new World();
  w.engine.seedNetwork('dosh-net-ann');
  w.policyFor = () => basePolicy({ networkPerUser: true });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'inspect-net dosh-net-ann']);
  assert.equal(w.get(s.metadata.name).status.reason, 'NameTaken');
  assert.match(w.get(s.metadata.name).status.message!, /network named dosh-net-ann exists that DoSH does not manage/);
});

test('housekeeping removes the networks doshd made once no container uses them, and never one without the label', async () => {
  const w = new World();
  w.policyFor = () => basePolicy({ networkPerUser: true });
  w.engine.seedNetwork('by-hand'); // the sysadmin's, unused
  w.engine.seedNetwork('by-hand-labelled-elsewhere', { 'dosh.io/managed': 'true', 'dosh.io/node': 'node2' });
  w.engine.seedNetwork('dosh-net-gone', { 'dosh.io/managed': 'true', 'dosh.io/user': 'gone', 'dosh.io/node': 'node1' });
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  w.engine.actions = [];
  await w.controller.housekeeping();
  assert.deepEqual(w.engine.actions, ['remove-net dosh-net-gone'], 'her network is in use; the unused managed one goes');
  assert.ok(w.engine.networks.has('dosh-net-ann'));

  // Logged out, container stopped but not yet collected: a stopped container still counts as using the network.
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', endedAt: new Date(w.clock.now()).toISOString() } }));
  w.engine.setState('dosh-ann', 'exited');
  w.engine.actions = [];
  await w.controller.housekeeping();
  assert.ok(w.engine.networks.has('dosh-net-ann'));

  // After the idle timeout the container is collected, and then her network, in the same pass.
  const id = idOf(w);
  await w.clock.advance(60_000);
  w.engine.actions = [];
  await w.controller.housekeeping();
  assert.deepEqual(w.engine.actions, [`remove ${id}`, 'remove-net dosh-net-ann']);
  assert.deepEqual([...w.engine.networks.keys()].sort(), ['by-hand', 'by-hand-labelled-elsewhere']);
  assert.ok(w.events.of('User/ann').some((e) => /GarbageCollected: removed network dosh-net-ann/.test(e)));
  w.engine.actions = [];
  await w.controller.housekeeping();
  assert.deepEqual(w.engine.actions, [], 'nothing else is ever removed');
});

test('a user\'s network is kept while a login of hers is live, even before her container exists', async () => {
  const w = new World();
  w.engine.seedNetwork('dosh-net-ann', { 'dosh.io/managed': 'true', 'dosh.io/user': 'ann', 'dosh.io/node': 'node1' });
  w.login(); // Pending: its sync will use the network
  await w.controller.housekeeping();
  assert.ok(w.engine.networks.has('dosh-net-ann'));
});

test('a stopped container whose network was removed meanwhile refuses the login naming the network, and is kept', async () => {
  const w = new World();
  w.engine.seedNetwork('a');
  w.engine.seedNetwork('b');
  w.policyFor = () => withNetworks('a', ['b']);
  await w.controller.syncSession(w.login().metadata.name);
  const c = w.engine.containers.get('dosh-ann')!;
  c.state = 'exited';
  w.engine.networks.delete('b');
  w.engine.actions = [];
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', `start ${c.id.slice(0, 4)}`]);
  assert.equal(w.get(s.metadata.name).status.reason, 'NetworkNotFound');
  assert.match(w.get(s.metadata.name).status.message!, /network b /);
  assert.ok(w.engine.containers.has('dosh-ann'));
});

const DATANET = { name: 'datanet', driver: 'bridge', subnet: '10.213.7.0/24', gateway: '10.213.7.1', internal: true, options: {} };
const declared = (mode: string, extra: string[] = []) => ({ ...withNetworks(mode, extra), declaredNetworks: [DATANET] });

test('a declared network is created, labelled as doshd\'s, before the container that needs it, and then reused', async () => {
  const w = new World();
  w.engine.seedNetwork('a');
  w.policyFor = () => declared('a', ['datanet']);
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  const id = idOf(w);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'inspect-net datanet', 'create-net datanet 10.213.7.0/24', 'create dosh-ann', `connect datanet ${id}`, `start ${id}`, `exec ${id} 1001:1001: /bin/sh -l -c id`]);
  assert.deepEqual(w.engine.networks.get('datanet')!.labels, { 'dosh.io/managed': 'true', 'dosh.io/node': 'node1' });
  assert.ok(w.events.of(`Session/${s.metadata.name}`).some((e) => /NetworkCreated: created network datanet as the policy declares it/.test(e)));
  // Another user's container uses the same network: it is not created twice.
  w.users.set('bob', { ...w.users.get('ann')!, name: 'bob', uid: 1002 });
  w.engine.actions = [];
  await w.controller.syncSession(w.login('bob').metadata.name);
  assert.deepEqual(w.engine.actions.slice(0, 3), ['inspect dosh-bob', 'inspect-net datanet', 'create dosh-bob']);
});

test('a declared network that exists already (made by hand) is used as it is, and never collected', async () => {
  const w = new World();
  w.engine.seedNetwork('datanet');
  w.policyFor = () => declared('datanet');
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions.slice(0, 3), ['inspect dosh-ann', 'inspect-net datanet', 'create dosh-ann']);
  w.store.delete(s.metadata.name);
  await w.controller.housekeeping();
  await w.clock.advance(60_000);
  await w.controller.housekeeping();
  await w.controller.housekeeping();
  assert.equal(w.engine.containers.size, 0);
  assert.ok(w.engine.networks.has('datanet'));
});

test('a declaration the engine refuses refuses the login with the network\'s name, and creates no container', async () => {
  const w = new World();
  w.engine.networkError = new InvalidError('create network datanet: Pool overlaps with other one on this address space');
  w.policyFor = () => declared('datanet');
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.engine.actions, ['inspect dosh-ann', 'inspect-net datanet', 'create-net datanet 10.213.7.0/24']);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.phase, 'Failed');
  assert.equal(got.status.reason, 'NetworkInvalid');
  assert.match(got.status.message!, /network datanet that the policy declares could not be created: .*Pool overlaps/);
});

test('a declared network doshd made goes once unused, but not while a login is being admitted', async () => {
  const w = new World();
  w.engine.seedNetwork('datanet', { 'dosh.io/managed': 'true', 'dosh.io/node': 'node1' });
  const s = w.login(); // Pending: it may have made sure of the network and not yet created its container
  await w.controller.housekeeping();
  assert.ok(w.engine.networks.has('datanet'));
  w.store.delete(s.metadata.name);
  w.engine.actions = [];
  await w.controller.housekeeping();
  assert.deepEqual(w.engine.actions, ['remove-net datanet']);
});
