// Networks a dosh.yaml declares, with a real doshd, engine and users: the seed's "datanetwork for the group datanet
// only", declaratively. doshd creates the network (its subnet, gateway, internal flag and bridge name as declared)
// when a member first logs in, members get an interface on it beside the default bridge, others do not, and once
// the containers are collected doshd removes it, and never a declared network the sysadmin made by hand.
// Traffic only goes between the test's own containers, on networks the test (or doshd for the test's users) made.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { addUser, BUSYBOX, containerIds, delUser, Doshd, removeContainersOf, sh, su, until } from './harness.ts';

const MEMBER = 'dtd-ann';
const OTHER = 'dtd-bob';
const LATE = 'dtd-cat';
const USERS = [MEMBER, OTHER, LATE];
const GROUP = 'dtd-datanet';
const NET = 'dtd-datanetwork';
const BYHAND = 'dtd-byhand';
const CLASH = 'dtd-clash';

const POLICY = `version: 1
networks:
  ${NET}:
    subnet: 10.215.7.0/24
    gateway: 10.215.7.200
    internal: true
    options: { com.docker.network.bridge.name: dtd-bridgedata }
  ${BYHAND}:
    subnet: 10.215.8.0/24
  ${CLASH}:
    subnet: 10.215.9.0/25
defaults:
  image: ${BUSYBOX}
  command: /bin/sh
  idleTimeout: 2
rules:
  - match: { groups: [${GROUP}] }
    networks: [bridge, ${NET}, ${BYHAND}]
  - match: { users: [${LATE}] }
    networks: [${CLASH}]
`;

function removeNetworks(): void {
  for (const n of [NET, BYHAND, CLASH, 'dtd-taken']) spawnSync('docker', ['network', 'rm', n], { stdio: 'ignore' });
}

function networkExists(name: string): boolean {
  return spawnSync('docker', ['network', 'inspect', name], { stdio: 'ignore' }).status === 0;
}

let doshd: Doshd;

before(async () => {
  addUser(MEMBER, { groups: [GROUP] });
  addUser(OTHER);
  addUser(LATE);
  removeContainersOf(...USERS);
  removeNetworks();
  // The sysadmin made one declared network by hand (no label): used as it is, never removed.
  sh(`docker network create --subnet 10.215.8.0/24 ${BYHAND}`);
  // And one whose subnet overlaps the one declared for dtd-cat: the engine refuses that declaration.
  sh('docker network create --subnet 10.215.9.0/24 dtd-taken');
  doshd = await new Doshd(POLICY, [], 'dosh.yaml').start();
});

after(async () => {
  await doshd.stop();
  removeContainersOf(...USERS);
  removeNetworks();
  for (const u of USERS) delUser(u);
  spawnSync('groupdel', [GROUP], { stdio: 'ignore' });
  doshd.cleanup();
});

test('a member of the group gets an interface on the declared network beside the default bridge; others do not', async () => {
  assert.equal(networkExists(NET), false, 'not made before it is needed');
  const r = await su(MEMBER, 'ip -o -4 addr');
  assert.equal(r.code, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /inet 10\.215\.7\.\d+\/24/);
  assert.match(r.stdout.toString(), /inet 10\.215\.8\.\d+\/24/);
  assert.match(r.stdout.toString(), /inet 172\.\d+\.\d+\.\d+/, 'the default bridge (NAT) is kept');
  const n = JSON.parse(sh(`docker network inspect ${NET}`))[0];
  assert.equal(n.Internal, true);
  assert.deepEqual(n.IPAM.Config.map((c: { Subnet: string; Gateway: string }) => [c.Subnet, c.Gateway]), [['10.215.7.0/24', '10.215.7.200']]);
  assert.equal(n.Options['com.docker.network.bridge.name'], 'dtd-bridgedata');
  assert.equal(n.Labels['dosh.io/managed'], 'true');
  assert.equal(JSON.parse(sh(`docker network inspect ${BYHAND}`))[0].Labels['dosh.io/managed'], undefined, 'the hand-made one is untouched');

  const o = await su(OTHER, 'ip -o -4 addr');
  assert.equal(o.code, 0, o.stderr.toString());
  assert.doesNotMatch(o.stdout.toString(), /10\.215\./);
});

test('a declaration the engine refuses (an overlapping subnet) refuses that login with the network\'s name', async () => {
  const r = await su(LATE, 'echo should-not-run');
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stdout.toString(), /should-not-run/);
  assert.match(r.stderr.toString(), new RegExp(`network ${CLASH} that the policy declares could not be created`), doshd.logText().split('\n').slice(-20).join('\n'));
  assert.equal(containerIds(`dosh.io/user=${LATE}`).length, 0, 'nothing half-made is left behind');
  // Other logins are not affected.
  assert.equal((await su(OTHER, 'echo fine')).stdout.toString(), 'fine\n');
});

test('the declared network doshd made is removed once its containers are collected; the hand-made one stays', async () => {
  await until('the idle containers to be collected', () => USERS.every((u) => containerIds(`dosh.io/user=${u}`).length === 0), 30_000);
  await until(`${NET} to be removed`, () => !networkExists(NET), 20_000);
  await doshd.afterPasses(3);
  assert.ok(networkExists(BYHAND), `${BYHAND} was removed`);
  assert.ok(networkExists('dtd-taken'));
});
