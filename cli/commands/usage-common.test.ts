import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectCgroup, memFs } from '../../lib/cgroup-usage.ts';
import { bytes, millicores, usageByUser } from './usage-common.ts';

test('usage per user: her containers summed, limits the largest, stopped and unmanaged ones left out', () => {
  const R = '/sys/fs/cgroup';
  const files: Record<string, string> = { [`${R}/cgroup.controllers`]: 'cpu memory pids' };
  const cg = (id: string, mem: number, limit: string, cpuUsec: number) => {
    const d = `${R}/system.slice/docker-${id}.scope`;
    Object.assign(files, { [`${d}/memory.current`]: `${mem}\n`, [`${d}/memory.max`]: limit, [`${d}/memory.stat`]: 'inactive_file 100\n', [`${d}/cpu.stat`]: `usage_usec ${cpuUsec}\n`, [`${d}/pids.current`]: '3\n', [`${d}/pids.max`]: 'max\n' });
  };
  cg('a1', 1100, '268435456\n', 2_000_000);
  cg('a2', 600, 'max\n', 500_000);
  cg('b1', 300, 'max\n', 0);
  const layout = detectCgroup(R, { fs: memFs(files), procRoot: '/proc' });
  const m = (user: string) => ({ 'dosh.io/managed': 'true', 'dosh.io/user': user, 'dosh.io/uid': '1001' });
  const rows = usageByUser(layout, [
    { id: 'a1', name: 'dosh-ann', labels: m('ann') },
    { id: 'a2', name: 'dosh-ann-old', labels: m('ann') },
    { id: 'b1', name: 'dosh-bob', labels: { ...m('bob'), 'dosh.io/managed': 'false' } },
    { id: 'gone', name: 'dosh-cat', labels: m('cat') },
  ]);
  assert.deepEqual([...rows.keys()], ['ann']);
  const ann = rows.get('ann')!;
  assert.equal(ann.cpuSeconds, 2.5);
  assert.equal(ann.memoryWorkingSetBytes, 1500);
  assert.equal(ann.memoryLimitBytes, 268435456);
  assert.equal(ann.pids, 6);
  assert.equal(ann.pidsLimit, null);
  assert.deepEqual(ann.containers, ['dosh-ann', 'dosh-ann-old']);
});

test('quantities as kubectl prints them', () => {
  assert.equal(bytes(256 * 1024 * 1024), '256Mi');
  assert.equal(bytes(12 * 1024 ** 3), '12Gi');
  assert.equal(bytes(640 * 1024), '640Ki');
  assert.equal(bytes(null), '<none>');
  assert.equal(millicores(0.2504), '250m');
});
