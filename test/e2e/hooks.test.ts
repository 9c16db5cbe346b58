// Hook scripts written the way the original DoSH documents them run unchanged: one connects the user's container to
// an extra network at `run`, one removes the container at logout (`exec`) when nothing else runs in it.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, containerIds, delUser, Doshd, removeContainersOf, sh, su, until } from './harness.ts';

const U = 'dth-hal';
const NET = 'dth-datanet';
const scripts = mkdtempSync(path.join(tmpdir(), 'dth-scripts-'));
const failing = mkdtempSync(path.join(tmpdir(), 'dth-failing-'));
let doshd: Doshd;

const ADD_INTERFACE = `#!/bin/bash
# 00addinterface, as in the original's documentation: connect the container to an extra network.
COMMAND=$1
CONTAINER=$2
shift
shift
NEWNETWORK=${NET}
case "$COMMAND" in
  run) docker network connect "$NEWNETWORK" "$CONTAINER";;
esac
`;
const DELETE_CONTAINER = `#!/bin/bash
# 00deletecontainer: remove the container at logout when no other process runs in it.
COMMAND=$1
CONTAINER=$2
shift
shift
case "$COMMAND" in
  exec)
    N=$(docker top "$CONTAINER" -eo pid | tail -n +2 | wc -l)
    if [ "$N" -le 2 ]; then docker rm -f "$CONTAINER" >/dev/null; fi;;
esac
`;

before(async () => {
  addUser(U);
  removeContainersOf(U);
  spawnSync('docker', ['network', 'rm', NET], { stdio: 'ignore' });
  sh(`docker network create --subnet 10.213.7.0/24 ${NET}`);
  writeFileSync(path.join(scripts, '00addinterface'), ADD_INTERFACE);
  writeFileSync(path.join(scripts, '01deletecontainer'), DELETE_CONTAINER);
  writeFileSync(path.join(scripts, 'README'), 'not executable: never run');
  for (const f of ['00addinterface', '01deletecontainer']) chmodSync(path.join(scripts, f), 0o755);
  writeFileSync(path.join(failing, '10deny'), '#!/bin/bash\n[ "$1" = preexec ] && { echo "quota exceeded for $DOSH_USER"; exit 3; }\nexit 0\n');
  chmodSync(path.join(failing, '10deny'), 0o755);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\nRUNSCRIPTS=true\nSCRIPTSFOLDER=${scripts}\n`).start();
});

after(async () => {
  await doshd.stop();
  removeContainersOf(U);
  spawnSync('docker', ['network', 'rm', NET], { stdio: 'ignore' });
  delUser(U);
  doshd.cleanup();
  rmSync(scripts, { recursive: true, force: true });
  rmSync(failing, { recursive: true, force: true });
});

test('the run hook connects the container to the extra network before the login runs', async () => {
  const r = await su(U, 'ip -o addr | grep -c "inet 10.213.7."');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), '1\n', 'an address on the extra network, seen from inside the login');
});

test('the exec hook removes the container at logout when nothing else runs in it', async () => {
  await su(U, 'true');
  await until('the container to be removed by the hook', () => containerIds(`dosh.io/user=${U}`).length === 0);
  assert.match(doshd.logText(), /"moment":"exec","script":"[^"]*01deletecontainer"/);
  assert.doesNotMatch(doshd.logText(), /README/);
});

test('a failing preexec hook refuses the login with a clear message', async () => {
  doshd.setPolicy(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\nRUNSCRIPTS=true\nSCRIPTSFOLDER=${failing}\n`);
  await until('the new policy', async () => /policy loaded/.test(doshd.logText().split('\n').slice(-20).join('\n')) || undefined);
  await until('the refusal', async () => {
    const r = await su(U, 'echo should-not-run');
    return r.code !== 0 && /10deny \(preexec\) failed with exit status 3/.test(r.stderr) ? r : undefined;
  });
  assert.match(doshd.logText(), /quota exceeded for dth-hal/);
});
