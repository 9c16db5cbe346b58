// The Docker engine restarted or stopped under DoSH: live sessions end with a clear message and status, doshd keeps
// running and reconnects, logins while the engine is down fail quickly and say why, and the next login works.
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { addUser, BUSYBOX, containerPids, Doshd, METRICS_PORT, REPO, removeContainersOf, sh, su, until, endSuite } from './harness.ts';

const U = 'dtf-fay';
let doshd: Doshd;

function stopEngine(): void {
  const pid = Number(readFileSync('/var/run/docker.pid', 'utf8'));
  process.kill(pid, 'SIGTERM');
  sh(`for i in $(seq 200); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1`);
}

function startEngine(): void {
  sh(`bash ${REPO}/scripts/lib/ensure-docker.sh`);
}

before(async () => {
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`).start();
});

after(async () => {
  startEngine();
  await endSuite(doshd, [U]);
});

test('an engine restart during a session ends it with a clear message; doshd reconnects and the next login works', async () => {
  const login = spawn('su', ['-', U, '-c', 'sleep 8181'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  login.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => login.on('close', r));
  await until('the session to run', () => containerPids(`dosh-${U}`, 'sleep 8181').length === 1 || undefined);
  stopEngine();
  startEngine();
  // The engine records SIGKILL (137) when it goes down in order; 255 when it vanished before saying anything.
  assert.ok([137, 255].includes((await exited) ?? -1));
  assert.match(stderr, /session was cut: .*the Docker engine stopped or restarted/);
  assert.ok(doshd.pid && sh(`ps -o pid= -p ${doshd.pid}`).trim(), 'doshd was not restarted');
  const r = await until('a login after the restart', async () => {
    const x = await su(U, 'echo back');
    return x.code === 0 ? x : undefined;
  });
  assert.equal(r.stdout.toString(), 'back\n');
});

test('with the engine stopped, a login fails within seconds naming the engine, and /readyz says why', async () => {
  stopEngine();
  try {
    const t0 = performance.now();
    const r = await su(U, 'true');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Docker engine is not answering/);
    assert.ok(performance.now() - t0 < 15_000, `refused after ${performance.now() - t0} ms`);
    const ready = await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /docker engine/);
  } finally {
    startEngine();
  }
  const r = await until('a login once the engine is back', async () => {
    const x = await su(U, 'echo up');
    return x.code === 0 ? x : undefined;
  });
  assert.equal(r.stdout.toString(), 'up\n');
});
