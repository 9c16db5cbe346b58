// The cgroup usage reader (lib/cgroup-usage.ts) against a real container of the real engine, on this host's cgroup
// version and driver.
// needs: docker busybox
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { detectCgroup, readUsage } from '../../lib/cgroup-usage.ts';


const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
test('readUsage on this host sees a container that fills 50 MiB of shared memory, against its 64 MiB limit', { timeout: 60_000 }, async () => {
  const name = `dtu-x-${process.pid}`;
  try {
    const id = docker('run', '-d', '--name', name, '-m', '64m', 'dosh-test/busybox:latest', 'sh', '-c', 'dd if=/dev/zero of=/dev/shm/f bs=1M count=50; sleep 1000');
    const pid = Number(docker('inspect', '-f', '{{.State.Pid}}', id));
    const layout = detectCgroup();
    let u = readUsage(layout, id, pid);
    for (let i = 0; i < 100 && (u?.memoryUsageBytes ?? 0) < 50 * 2 ** 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      u = readUsage(layout, id, pid);
    }
    assert.ok(u, `no cgroup found for ${id} (${layout.version}, ${layout.templates.map((t) => t(id)).join(', ')})`);
    assert.ok(u.memoryUsageBytes >= 50 * 2 ** 20, `memory usage ${u.memoryUsageBytes}`);
    assert.ok(u.memoryWorkingSetBytes >= 50 * 2 ** 20, `working set ${u.memoryWorkingSetBytes} (shmem is not inactive file)`);
    assert.equal(u.memoryLimitBytes, 64 * 2 ** 20);
    assert.ok(u.cpuSeconds > 0);
    assert.ok(u.pids >= 1);
    assert.equal(u.oomKills, 0);
    assert.equal(typeof u.networkReceiveBytes, 'number');
    assert.equal(readUsage(layout, id)?.networkReceiveBytes, u.networkReceiveBytes, 'pid found from cgroup.procs');
  } finally {
    try {
      docker('rm', '-f', name);
    } catch {
      // never created
    }
  }
});
