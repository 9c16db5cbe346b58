import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectCgroup, memFs, parseNetDev, readUsage } from './cgroup-usage.ts';

const ID = 'c0ffee'.padEnd(64, '0');
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999       9    0    0    0     0          0         0   999999       9    0    0    0     0       0          0
  eth0:    1000       5    0    0    0     0          0         0      300       3    0    0    0     0       0          0
  eth1:      24       1    0    0    0     0          0         0       76       1    0    0    0     0       0          0
`;

/** A v1 tree: one directory per controller, the container below `rel` in each. */
function v1Tree(rel: string, o: { cpuMount?: string; limit?: string; pidsMax?: string; pid?: number } = {}): Record<string, string> {
  const cpu = o.cpuMount ?? 'cpuacct';
  const t: Record<string, string> = {};
  for (const c of [cpu, 'memory', 'pids', 'blkio']) {
    t[`/cg/${c}/cgroup.procs`] = '1\n';
    t[`/cg/${c}/${rel.split('/')[0]}/cgroup.procs`] = '';
    t[`/cg/${c}/${rel}/cgroup.procs`] = `${o.pid ?? 4242}\n4250\n`;
  }
  Object.assign(t, {
    [`/cg/${cpu}/${rel}/cpuacct.usage`]: '2500000000\n',
    [`/cg/memory/${rel}/memory.usage_in_bytes`]: '104857600\n',
    [`/cg/memory/${rel}/memory.limit_in_bytes`]: `${o.limit ?? '268435456'}\n`,
    [`/cg/memory/${rel}/memory.stat`]: 'cache 20971520\nrss 83886080\ninactive_file 1\ntotal_cache 20971520\ntotal_inactive_file 10485760\ntotal_active_file 0\n',
    [`/cg/memory/${rel}/memory.oom_control`]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
    [`/cg/pids/${rel}/pids.current`]: '7\n',
    [`/cg/pids/${rel}/pids.max`]: `${o.pidsMax ?? '512'}\n`,
    [`/cg/blkio/${rel}/blkio.throttle.io_service_bytes_recursive`]:
      '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\n8:16 Read 1000\n8:16 Write 24\n8:16 Total 1024\nTotal 13312\n',
    [`/proc/${o.pid ?? 4242}/net/dev`]: NET_DEV,
  });
  return t;
}

/** A v2 tree: one unified directory for the container at `rel`. */
function v2Tree(rel: string, o: { max?: string; pidsMax?: string; pid?: number; usage?: number } = {}): Record<string, string> {
  const d = `/cg/${rel}`;
  return {
    '/cg/cgroup.controllers': 'cpuset cpu io memory pids\n',
    '/cg/cgroup.procs': '1\n',
    [`/cg/${rel.split('/')[0]}/cgroup.procs`]: '',
    [`${d}/cgroup.procs`]: `${o.pid ?? 777}\n`,
    [`${d}/cpu.stat`]: 'usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 0\n',
    [`${d}/memory.current`]: `${o.usage ?? 52428800}\n`,
    [`${d}/memory.max`]: `${o.max ?? '67108864'}\n`,
    [`${d}/memory.stat`]: 'anon 40000000\nfile 12428800\nactive_anon 0\ninactive_anon 0\nactive_file 0\ninactive_file 2428800\n',
    [`${d}/memory.events`]: 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n',
    [`${d}/pids.current`]: '3\n',
    [`${d}/pids.max`]: `${o.pidsMax ?? '100'}\n`,
    [`${d}/io.stat`]: '8:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0\n253:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n',
    [`/proc/${o.pid ?? 777}/net/dev`]: NET_DEV,
  };
}

const V1_EXPECTED = {
  cpuSeconds: 2.5,
  memoryUsageBytes: 104857600,
  memoryWorkingSetBytes: 104857600 - 10485760,
  memoryLimitBytes: 268435456,
  oomKills: 3,
  pids: 7,
  pidsLimit: 512,
  blkioReadBytes: 5096,
  blkioWriteBytes: 8216,
  networkReceiveBytes: 1024,
  networkTransmitBytes: 376,
};

const V2_EXPECTED = {
  cpuSeconds: 1.5,
  memoryUsageBytes: 52428800,
  memoryWorkingSetBytes: 50000000,
  memoryLimitBytes: 67108864,
  oomKills: 1,
  pids: 3,
  pidsLimit: 100,
  blkioReadBytes: 1048577,
  blkioWriteBytes: 2097154,
  networkReceiveBytes: 1024,
  networkTransmitBytes: 376,
};

const layoutOf = (files: Record<string, string>) => detectCgroup('/cg', { fs: memFs(files), procRoot: '/proc' });

describe('detectCgroup and readUsage, cgroup v1', () => {
  it('reads a cgroupfs-driver container (docker/<id>)', () => {
    const layout = layoutOf(v1Tree(`docker/${ID}`));
    assert.equal(layout.version, 1);
    assert.equal(layout.mounts.cpu, '/cg/cpuacct');
    assert.deepEqual(readUsage(layout, ID, 4242), V1_EXPECTED);
  });

  it('reads a systemd-driver container with cpu,cpuacct co-mounted', () => {
    const layout = layoutOf(v1Tree(`system.slice/docker-${ID}.scope`, { cpuMount: 'cpu,cpuacct' }));
    assert.equal(layout.mounts.cpu, '/cg/cpu,cpuacct');
    assert.equal(layout.templates[0]('x'), 'system.slice/docker-x.scope');
    assert.deepEqual(readUsage(layout, ID, 4242), V1_EXPECTED);
  });

  it('omits unlimited memory and pids limits', () => {
    const u = readUsage(layoutOf(v1Tree(`docker/${ID}`, { limit: '9223372036854771712', pidsMax: 'max' })), ID, 4242);
    assert.ok(u);
    assert.equal(u.memoryLimitBytes, undefined);
    assert.equal(u.pidsLimit, undefined);
    assert.ok(!('memoryLimitBytes' in u) && !('pidsLimit' in u));
  });

  it('takes the network namespace of the first process in the cgroup when no pid is given', () => {
    const u = readUsage(layoutOf(v1Tree(`docker/${ID}`)), ID);
    assert.equal(u?.networkReceiveBytes, 1024);
  });

  it('omits network counters when the process is gone', () => {
    const u = readUsage(layoutOf(v1Tree(`docker/${ID}`)), ID, 99999);
    assert.ok(u);
    assert.equal(u.networkReceiveBytes, undefined);
    assert.equal(u.networkTransmitBytes, undefined);
    assert.equal(u.cpuSeconds, 2.5);
  });

  it('finds a custom cgroup parent through /proc/<pid>/cgroup', () => {
    const files = v1Tree(`dosh/${ID}`);
    files['/proc/4242/cgroup'] = `12:pids:/dosh/${ID}\n9:memory:/dosh/${ID}\n1:name=systemd:/dosh/${ID}\n0::/\n`;
    const layout = layoutOf(files);
    assert.deepEqual(readUsage(layout, ID, 4242), V1_EXPECTED);
    assert.equal(readUsage(layout, ID), undefined, 'without a pid there is nowhere to look');
  });

  it('returns undefined for a container without a cgroup', () => {
    assert.equal(readUsage(layoutOf(v1Tree(`docker/${ID}`)), 'f'.repeat(64), 1), undefined);
  });

  it('fails clearly when there is no cgroup hierarchy', () => {
    assert.throws(() => layoutOf({}), /no cgroup v1 or v2 hierarchy found at \/cg/);
  });
});

describe('detectCgroup and readUsage, cgroup v2', () => {
  it('reads a systemd-driver container (system.slice/docker-<id>.scope)', () => {
    const layout = layoutOf(v2Tree(`system.slice/docker-${ID}.scope`));
    assert.equal(layout.version, 2);
    assert.equal(layout.templates[0]('x'), 'system.slice/docker-x.scope');
    assert.deepEqual(readUsage(layout, ID, 777), V2_EXPECTED);
  });

  it('reads a cgroupfs-driver container (docker/<id>)', () => {
    const layout = layoutOf(v2Tree(`docker/${ID}`));
    assert.equal(layout.templates[0]('x'), 'docker/x');
    assert.deepEqual(readUsage(layout, ID, 777), V2_EXPECTED);
  });

  it('moves the layout that found a container to the front', () => {
    const files: Record<string, string> = { ...v2Tree(`docker/${ID}`), '/cg/system.slice/cgroup.procs': '' };
    delete files['/cg/docker/cgroup.procs'];
    const layout = layoutOf(files);
    assert.equal(layout.templates[0]('x'), 'system.slice/docker-x.scope');
    assert.deepEqual(readUsage(layout, ID), V2_EXPECTED);
    assert.equal(layout.templates[0]('x'), 'docker/x');
  });

  it('omits "max" limits and floors the working set at 0', () => {
    const u = readUsage(layoutOf(v2Tree(`docker/${ID}`, { max: 'max', pidsMax: 'max', usage: 1000 })), ID, 777);
    assert.ok(u);
    assert.ok(!('memoryLimitBytes' in u) && !('pidsLimit' in u));
    assert.equal(u.memoryWorkingSetBytes, 0);
  });

  it('finds a custom cgroup parent through /proc/<pid>/cgroup', () => {
    const files = { ...v2Tree(`dosh.slice/dosh-${ID}.scope`), '/proc/777/cgroup': `0::/dosh.slice/dosh-${ID}.scope\n` };
    assert.deepEqual(readUsage(layoutOf(files), ID, 777), V2_EXPECTED);
  });
});

describe('parseNetDev', () => {
  it('sums every interface but lo', () => {
    assert.deepEqual(parseNetDev(NET_DEV), [1024, 376]);
    assert.deepEqual(parseNetDev(NET_DEV.split('\n').slice(0, 3).join('\n')), [0, 0]);
  });
});
