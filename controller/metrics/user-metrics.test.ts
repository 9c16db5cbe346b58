import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { detectCgroup, memFs } from '../../lib/cgroup-usage.ts';
import { type ManagedContainer, USER_METRIC_NAMES, UserMetrics } from './user-metrics.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

const netDev = (rx: number, tx: number) =>
  `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  5000 5 0 0 0 0 0 0  5000 5 0 0 0 0 0 0
  eth0: ${rx} 5 0 0 0 0 0 0 ${tx} 3 0 0 0 0 0 0
`;

/** A cgroup v2 host (systemd driver) with one container per given id. */
function host(cs: { id: string; pid: number; cpuUsec: number; mem: number; inactive: number; max: string; pids: number; pidsMax: string; r: number; w: number; oom: number; rx: number; tx: number }[]) {
  const files: Record<string, string> = { '/cg/cgroup.controllers': 'cpu io memory pids\n', '/cg/cgroup.procs': '1\n', '/cg/system.slice/cgroup.procs': '' };
  for (const c of cs) {
    const d = `/cg/system.slice/docker-${c.id}.scope`;
    Object.assign(files, {
      [`${d}/cgroup.procs`]: `${c.pid}\n`,
      [`${d}/cpu.stat`]: `usage_usec ${c.cpuUsec}\nuser_usec 0\nsystem_usec 0\n`,
      [`${d}/memory.current`]: `${c.mem}\n`,
      [`${d}/memory.max`]: `${c.max}\n`,
      [`${d}/memory.stat`]: `anon 0\nfile 0\ninactive_file ${c.inactive}\n`,
      [`${d}/memory.events`]: `low 0\nhigh 0\nmax 0\noom 0\noom_kill ${c.oom}\n`,
      [`${d}/pids.current`]: `${c.pids}\n`,
      [`${d}/pids.max`]: `${c.pidsMax}\n`,
      [`${d}/io.stat`]: `8:0 rbytes=${c.r} wbytes=${c.w} rios=1 wios=1 dbytes=0 dios=0\n`,
      [`/proc/${c.pid}/net/dev`]: netDev(c.rx, c.tx),
    });
  }
  return detectCgroup('/cg', { fs: memFs(files), procRoot: '/proc' });
}

const labels = (user: string, uid: number) => ({ 'dosh.io/managed': 'true', 'dosh.io/user': user, 'dosh.io/uid': String(uid), 'dosh.io/node': 'n1' });

const layout = host([
  { id: A, pid: 100, cpuUsec: 12_500_000, mem: 104857600, inactive: 4857600, max: '268435456', pids: 4, pidsMax: '512', r: 4096, w: 8192, oom: 0, rx: 1500, tx: 700 },
  { id: B, pid: 200, cpuUsec: 250_000, mem: 8388608, inactive: 0, max: 'max', pids: 1, pidsMax: 'max', r: 0, w: 0, oom: 2, rx: 10, tx: 20 },
]);

const ALICE = { id: A, labels: labels('alice', 1000), pid: 100 };
const BOB = { id: B, labels: labels('bob', 1001) }; // no pid: the first process of its cgroup is used
const CAROL_STOPPED = { id: C, labels: labels('carol', 1002), pid: 0 };
const UNMANAGED = { id: A, labels: { 'dosh.io/user': 'mallory' }, pid: 100 };

function setup(list: ManagedContainer[]) {
  const registry = new Registry();
  let calls = 0;
  const errors: unknown[] = [];
  const m = new UserMetrics({
    registry,
    layout,
    list: async () => {
      calls++;
      return list;
    },
    onError: (e) => errors.push(e),
  });
  return { registry, m, calls: () => calls, errors };
}

const BOTH = `# HELP dosh_user_cpu_seconds_total CPU time used by the user's container, in seconds.
# TYPE dosh_user_cpu_seconds_total counter
dosh_user_cpu_seconds_total{user="alice",uid="1000"} 12.5
dosh_user_cpu_seconds_total{user="bob",uid="1001"} 0.25

# HELP dosh_user_network_receive_bytes_total Bytes received by the user's container on all interfaces but lo.
# TYPE dosh_user_network_receive_bytes_total counter
dosh_user_network_receive_bytes_total{user="alice",uid="1000"} 1500
dosh_user_network_receive_bytes_total{user="bob",uid="1001"} 10

# HELP dosh_user_network_transmit_bytes_total Bytes sent by the user's container on all interfaces but lo.
# TYPE dosh_user_network_transmit_bytes_total counter
dosh_user_network_transmit_bytes_total{user="alice",uid="1000"} 700
dosh_user_network_transmit_bytes_total{user="bob",uid="1001"} 20

# HELP dosh_user_blkio_read_bytes_total Bytes read from block devices by the user's container.
# TYPE dosh_user_blkio_read_bytes_total counter
dosh_user_blkio_read_bytes_total{user="alice",uid="1000"} 4096
dosh_user_blkio_read_bytes_total{user="bob",uid="1001"} 0

# HELP dosh_user_blkio_write_bytes_total Bytes written to block devices by the user's container.
# TYPE dosh_user_blkio_write_bytes_total counter
dosh_user_blkio_write_bytes_total{user="alice",uid="1000"} 8192
dosh_user_blkio_write_bytes_total{user="bob",uid="1001"} 0

# HELP dosh_user_oom_kills_total Processes of the user's container killed by the OOM killer.
# TYPE dosh_user_oom_kills_total counter
dosh_user_oom_kills_total{user="alice",uid="1000"} 0
dosh_user_oom_kills_total{user="bob",uid="1001"} 2

# HELP dosh_user_memory_working_set_bytes Memory of the user's container that cannot be reclaimed without swapping: usage minus inactive file cache.
# TYPE dosh_user_memory_working_set_bytes gauge
dosh_user_memory_working_set_bytes{user="alice",uid="1000"} 100000000
dosh_user_memory_working_set_bytes{user="bob",uid="1001"} 8388608

# HELP dosh_user_memory_usage_bytes Memory charged to the user's container, page cache included.
# TYPE dosh_user_memory_usage_bytes gauge
dosh_user_memory_usage_bytes{user="alice",uid="1000"} 104857600
dosh_user_memory_usage_bytes{user="bob",uid="1001"} 8388608

# HELP dosh_user_memory_limit_bytes Memory limit of the user's container; no series when unlimited.
# TYPE dosh_user_memory_limit_bytes gauge
dosh_user_memory_limit_bytes{user="alice",uid="1000"} 268435456

# HELP dosh_user_pids Processes and threads in the user's container.
# TYPE dosh_user_pids gauge
dosh_user_pids{user="alice",uid="1000"} 4
dosh_user_pids{user="bob",uid="1001"} 1

# HELP dosh_user_pids_limit Limit on processes and threads in the user's container; no series when unlimited.
# TYPE dosh_user_pids_limit gauge
dosh_user_pids_limit{user="alice",uid="1000"} 512
`;

describe('UserMetrics', () => {
  it('exposes exactly these series for two users, skipping stopped and unmanaged containers', async () => {
    const { registry, calls } = setup([BOB, CAROL_STOPPED, UNMANAGED, ALICE]);
    assert.equal(await registry.metrics(), BOTH);
    assert.equal(calls(), 1, 'one list per scrape, shared by all eleven metrics');
    assert.deepEqual(
      (await registry.getMetricsAsJSON()).map((x) => x.name),
      USER_METRIC_NAMES,
    );
  });

  it("drops a user's series once her container is gone, and brings them back with it", async () => {
    const list = [ALICE, BOB];
    const { registry } = setup(list);
    assert.match(await registry.metrics(), /user="bob"/);
    list.pop();
    const text = await registry.metrics();
    assert.doesNotMatch(text, /bob|1001/);
    assert.equal(text.split('\n').filter((l) => l.startsWith('dosh_user_')).length, 11, 'alice keeps all eleven series');
    list.push(BOB);
    assert.equal(await registry.metrics(), BOTH);
  });

  it('adds up usage of a user with two containers (a recreate in progress) and keeps the larger limit', async () => {
    const { m, registry } = setup([ALICE, { id: B, labels: labels('alice', 1000) }]);
    await m.collect();
    const get = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels.user, v.value]);
    assert.deepEqual(await get('dosh_user_cpu_seconds_total'), [['alice', 12.75]]);
    assert.deepEqual(await get('dosh_user_memory_usage_bytes'), [['alice', 104857600 + 8388608]]);
    assert.deepEqual(await get('dosh_user_memory_limit_bytes'), [['alice', 268435456]]);
    assert.deepEqual(await get('dosh_user_oom_kills_total'), [['alice', 2]]);
  });

  it('serves no per-user series, and reports, when listing fails', async () => {
    const registry = new Registry();
    const errors: unknown[] = [];
    let fail = false;
    new UserMetrics({
      registry,
      layout,
      list: async () => {
        if (fail) throw new Error('engine down');
        return [ALICE];
      },
      onError: (e) => errors.push(e),
    });
    assert.match(await registry.metrics(), /user="alice"/);
    fail = true;
    const text = await registry.metrics();
    assert.doesNotMatch(text, /alice/);
    assert.match(text, /# TYPE dosh_user_pids gauge/);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /engine down/);
  });

  it('shares one run between concurrent collects', async () => {
    const { m, calls } = setup([ALICE]);
    await Promise.all([m.collect(), m.collect(), m.collect()]);
    assert.equal(calls(), 1);
    await m.collect();
    assert.equal(calls(), 2);
  });
});
