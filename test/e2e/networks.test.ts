// Networks with a real doshd and real users: NETWORKPERUSER gives each user a bridge of her own (users' containers
// cannot reach each other), `--network a --network b` attaches the container to both, and once the containers are
// collected (IDLETIMEOUT=2) doshd removes the networks it made, and never the one the test made by hand.
// Traffic only goes between the test's own containers, on networks the test (or doshd for the test's users) made.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { addUser, BUSYBOX, containerIds, containerPids, delUser, Doshd, removeContainersOf, sh, su, until } from './harness.ts';

const ANN = 'dtn-ann';
const BOB = 'dtn-bob';
const CAT = 'dtn-cat';
const USERS = [ANN, BOB, CAT];
// Subnets in a range chosen for this test; the networks are removed before and after.
const NETS: [string, string][] = [['dtn-a', '10.214.1.0/24'], ['dtn-b', '10.214.2.0/24'], ['dtn-byhand', '10.214.3.0/24']];
const OWN = (u: string) => `dosh-net-${u}`;
const PORT = 7411;
let doshd: Doshd;

function removeNetworks(): void {
  for (const n of [...NETS.map(([n]) => n), ...USERS.map(OWN)]) spawnSync('docker', ['network', 'rm', n], { stdio: 'ignore' });
}

function networkExists(name: string): boolean {
  return spawnSync('docker', ['network', 'inspect', name], { stdio: 'ignore' }).status === 0;
}

function ipOn(container: string, network: string): string {
  return sh(`docker inspect -f '{{(index .NetworkSettings.Networks "${network}").IPAddress}}' ${container}`).trim();
}

before(async () => {
  for (const u of USERS) addUser(u);
  removeContainersOf(...USERS);
  removeNetworks();
  for (const [n, subnet] of NETS) sh(`docker network create --subnet ${subnet} ${n}`);
  doshd = await new Doshd(
    `CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=2\n` +
      `[user:${ANN}]\nNETWORKPERUSER=true\n[user:${BOB}]\nNETWORKPERUSER=true\n` +
      `[user:${CAT}]\nDOCKERPARAMETERS=--network dtn-a --network dtn-b\n`,
  ).start();
});

after(async () => {
  await doshd.stop();
  removeContainersOf(...USERS);
  removeNetworks();
  for (const u of USERS) delUser(u);
  doshd.cleanup();
});

test('NETWORKPERUSER: each user gets a labelled network of her own, and cannot reach the other user\'s container', async () => {
  // Bob's login listens (and keeps his container up) while Ann's login tries to reach it.
  // busybox nc has no -z: a connection is proven by the greeting the listener sends.
  const listener = su(BOB, `echo hello-from-bob | timeout 30 nc -l -p ${PORT}`);
  const bobIp = await until('bob\'s container on his own network', () => {
    const id = containerIds(`dosh.io/user=${BOB}`)[0];
    return id && networkExists(OWN(BOB)) ? ipOn(`dosh-${BOB}`, OWN(BOB)) || undefined : undefined;
  });
  await until('bob\'s listener', () => containerPids(`dosh-${BOB}`, `nc -l -p ${PORT}`).length > 0);
  const labels = JSON.parse(sh(`docker network inspect -f '{{json .Labels}}' ${OWN(BOB)}`));
  assert.equal(labels['dosh.io/managed'], 'true');
  assert.equal(labels['dosh.io/user'], BOB);
  assert.ok(labels['dosh.io/node']);
  assert.equal(sh(`docker inspect -f '{{.HostConfig.NetworkMode}}' dosh-${BOB}`).trim(), OWN(BOB));

  const fromAnn = await su(ANN, `timeout 5 nc -w 2 ${bobIp} ${PORT} </dev/null; ip route | grep -c ^default`);
  assert.doesNotMatch(fromAnn.stdout.toString(), /hello-from-bob/, 'ann reached bob\'s container');
  assert.match(fromAnn.stdout.toString(), /^1$/m, 'ann keeps a default route (outbound access through the bridge\'s NAT)');
  assert.ok(networkExists(OWN(ANN)), 'ann has her own network too');
  assert.notEqual(sh(`docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' ${OWN(ANN)}`).trim(), sh(`docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' ${OWN(BOB)}`).trim());

  // The listener was really there: bob's own second login reaches it on the same address.
  const fromBob = await su(BOB, `timeout 5 nc -w 2 ${bobIp} ${PORT} </dev/null`);
  assert.match(fromBob.stdout.toString(), /hello-from-bob/, fromBob.stderr.toString());
  await listener;
});

test('--network a --network b: the container has an address on both networks', async () => {
  const r = await su(CAT, 'ip -o -4 addr');
  assert.equal(r.code, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /inet 10\.214\.1\./);
  assert.match(r.stdout.toString(), /inet 10\.214\.2\./);
  assert.equal(sh(`docker inspect -f '{{.HostConfig.NetworkMode}}' dosh-${CAT}`).trim(), 'dtn-a');
});

test('a network that does not exist refuses the login with its name', async () => {
  spawnSync('docker', ['rm', '-f', `dosh-${CAT}`], { stdio: 'ignore' });
  sh('docker network rm dtn-b');
  try {
    const r = await su(CAT, 'echo should-not-run');
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout.toString(), /should-not-run/);
    assert.match(r.stderr.toString(), /network dtn-b .*does not exist/, doshd.logText().split('\n').slice(-30).join('\n'));
    assert.equal(containerIds(`dosh.io/user=${CAT}`).length, 0, 'nothing half-made is left behind');
  } finally {
    sh(`docker network create --subnet 10.214.2.0/24 dtn-b`);
  }
});

test('collected containers\' networks are removed by GC; networks made by hand never are', async () => {
  await until('the idle containers to be collected', () => USERS.every((u) => containerIds(`dosh.io/user=${u}`).length === 0), 30_000);
  await until('the users\' own networks to be removed', () => !networkExists(OWN(ANN)) && !networkExists(OWN(BOB)), 20_000);
  assert.match(doshd.logText(), /removed unused network/);
  // A few more passes: the test's own networks (no dosh.io/managed label) stay.
  await doshd.afterPasses(3);
  for (const [n] of NETS) assert.ok(networkExists(n), `${n} was removed`);
});
