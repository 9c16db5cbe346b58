// Two users given one container name by the policy (PREFIXNAME=dosh-s for dtn-bob names his container
// dosh-sdtn-bob, which is user sdtn-bob's own name): the second is refused with a message for the administrator,
// and the first user's container, with her files, is neither entered, nor replaced, nor started for him.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { addUser, BUSYBOX, containerIds, Doshd, removeContainersOf, sh, su, endSuite } from './harness.ts';

const BOB = 'dtn-bob';
const SBOB = 'sdtn-bob';
let doshd: Doshd;

before(async () => {
  addUser(BOB);
  addUser(SBOB);
  removeContainersOf(BOB, SBOB);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n\n[user:${BOB}]\nPREFIXNAME=dosh-s\n`).start();
});

after(async () => {
  await endSuite(doshd, [BOB, SBOB]);
});

test('a container name the policy gives two users: the second login is refused, and the first user\'s container is untouched', async () => {
  const mine = await su(SBOB, 'echo hers >/tmp/secret; id -u');
  assert.equal(mine.stdout.toString(), sh(`id -u ${SBOB}`), mine.stderr);
  const [id] = containerIds(`dosh.io/user=${SBOB}`);
  assert.equal(sh(`docker inspect -f '{{.Name}}' ${id}`).trim(), `/dosh-${SBOB}`);

  const his = await su(BOB, 'cat /tmp/secret');
  assert.notEqual(his.code, 0);
  assert.equal(his.stdout.toString(), '', 'nothing of hers reached him');
  assert.match(his.stderr, new RegExp(`the container dosh-${SBOB} belongs to another account .*PREFIXNAME`));
  assert.match(doshd.logText(), /container name taken by another user/);

  assert.deepEqual(containerIds(`dosh.io/user=${SBOB}`), [id], 'her container is the same one');
  assert.equal(sh(`docker top ${id} -eo pid,args`).includes('cat /tmp/secret'), false);
  const again = await su(SBOB, 'cat /tmp/secret');
  assert.equal(again.stdout.toString(), 'hers\n', 'her files are still there');
});
