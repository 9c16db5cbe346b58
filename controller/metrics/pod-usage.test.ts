// The kubernetes backend's per-user usage against a fake API: pods as the API server lists them, summaries as the
// kubelets answer. The real kubelet's summary: test/e2e/pods.test.ts scrapes doshd's /metrics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { cachedPodUsage, podUsage, quantityBytes, type PodUsageApi } from './pod-usage.ts';
import { UserMetrics } from './user-metrics.ts';
import type { NodeSummary } from '../../kube/types.ts';

const pod = (user: string, node: string, extra: { phase?: string; uid?: string; memory?: string; ns?: string } = {}): V1Pod => ({
  metadata: { name: `dosh-${user}`, namespace: extra.ns ?? 'dosh', uid: extra.uid ?? `uid-${user}`, labels: { 'dosh.io/managed': 'true', 'dosh.io/user': user, 'dosh.io/uid': '1500' } },
  spec: { nodeName: node, containers: [{ name: 'dosh', resources: extra.memory ? { limits: { memory: extra.memory } } : {} }] },
  status: { phase: extra.phase ?? 'Running' },
});

const stats = (user: string, uid = `uid-${user}`): NonNullable<NodeSummary['pods']>[number] => ({
  podRef: { name: `dosh-${user}`, namespace: 'dosh', uid },
  cpu: { usageCoreNanoSeconds: 2_500_000_000 },
  memory: { usageBytes: 3000, workingSetBytes: 2000 },
  network: { interfaces: [{ name: 'eth0', rxBytes: 10, txBytes: 20 }, { name: 'lo', rxBytes: 99, txBytes: 99 }] },
  process_stats: { process_count: 3 },
});

function api(pods: Record<string, V1Pod[]>, summaries: Record<string, NodeSummary | Error>) {
  const calls: string[] = [];
  const a: PodUsageApi = {
    listPods: async (ns, sel) => {
      calls.push(`list ${ns} ${sel}`);
      if (!pods[ns]) throw new Error(`forbidden: ${ns}`);
      return pods[ns];
    },
    nodeSummary: async (node) => {
      calls.push(`summary ${node}`);
      const s = summaries[node];
      if (s instanceof Error) throw s;
      return s ?? {};
    },
  };
  return { a, calls };
}

test('quantityBytes: binary and decimal units and exponents; anything else is no limit', () => {
  assert.equal(quantityBytes('512Mi'), 512 * 2 ** 20);
  assert.equal(quantityBytes('1G'), 1e9);
  assert.equal(quantityBytes('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(quantityBytes('1e3'), 1000);
  assert.equal(quantityBytes('1000'), 1000);
  for (const bad of [undefined, '', 'lots', '1m', '-1Gi', '1 Gi']) assert.equal(quantityBytes(bad), undefined, String(bad));
});

test('podUsage: one summary per cluster node, matched by namespace, name and uid; pods not running or of another uid left out', async () => {
  const { a, calls } = api(
    { dosh: [pod('ann', 'k1', { memory: '256Mi' }), pod('bob', 'k2'), pod('cid', 'k1', { phase: 'Pending' }), pod('dan', 'k1', { uid: 'uid-new' })] },
    { k1: { pods: [stats('ann'), stats('dan', 'uid-old')] }, k2: { pods: [stats('bob')] } },
  );
  const rows = await podUsage(a, ['dosh']);
  assert.deepEqual(calls, ['list dosh dosh.io/managed=true', 'summary k1', 'summary k2']);
  assert.deepEqual(rows, [
    { user: 'ann', uid: '1500', node: 'k1', usage: { cpuSeconds: 2.5, memoryUsageBytes: 3000, memoryWorkingSetBytes: 2000, networkReceiveBytes: 10, networkTransmitBytes: 20, pids: 3, memoryLimitBytes: 256 * 2 ** 20 } },
    { user: 'bob', uid: '1500', node: 'k2', usage: { cpuSeconds: 2.5, memoryUsageBytes: 3000, memoryWorkingSetBytes: 2000, networkReceiveBytes: 10, networkTransmitBytes: 20, pids: 3 } },
  ]);
});

test('podUsage: a kubelet that reports the pod\'s own CPU and memory as 0 (its cgroup unseen) gives its containers\' sum instead', async () => {
  const blind = { ...stats('ann'), cpu: { usageCoreNanoSeconds: 0 }, memory: { usageBytes: 0, workingSetBytes: 0 }, containers: [{ name: 'dosh', cpu: { usageCoreNanoSeconds: 37_000_000 }, memory: { usageBytes: 700, workingSetBytes: 512 } }, { name: 'side', cpu: { usageCoreNanoSeconds: 3_000_000 }, memory: { workingSetBytes: 8 } }] };
  const { a } = api({ dosh: [pod('ann', 'k1')] }, { k1: { pods: [blind] } });
  const [row] = await podUsage(a, ['dosh']);
  assert.equal(row.usage.cpuSeconds, 0.04);
  assert.equal(row.usage.memoryWorkingSetBytes, 520);
  assert.equal(row.usage.memoryUsageBytes, 700);
  const idle = { ...stats('ann'), cpu: { usageCoreNanoSeconds: 0 }, containers: [] };
  const { a: b } = api({ dosh: [pod('ann', 'k1')] }, { k1: { pods: [idle] } });
  assert.equal((await podUsage(b, ['dosh']))[0].usage.cpuSeconds, 0, 'no container figures: the pod\'s own, 0');
});

test('podUsage: a kubelet that cannot be read leaves out its node\'s pods, a namespace that cannot be listed its own; nothing readable at all is an error', async () => {
  const { a } = api({ dosh: [pod('ann', 'k1'), pod('bob', 'k2')] }, { k1: new Error('kubelet down'), k2: { pods: [stats('bob')] } });
  assert.deepEqual((await podUsage(a, ['dosh', 'lab'])).map((r) => r.user), ['bob']);
  await assert.rejects(podUsage(a, ['lab']), /forbidden: lab/);
  const { a: noRight } = api({ dosh: [pod('ann', 'k1'), pod('bob', 'k2')] }, { k1: new Error('nodes "k1" is forbidden'), k2: new Error('nodes "k2" is forbidden') });
  await assert.rejects(podUsage(noRight, ['dosh']), /nodes "k1" is forbidden/, 'no kubelet readable: said, not silently empty');
  assert.deepEqual(await podUsage(a, []), [], 'no namespace served yet: nothing asked, nothing wrong');
});

test('cachedPodUsage: scrapes within the ttl share one read; a failed read is asked again', async () => {
  let t = 0;
  let fail = true;
  const { a, calls } = api({ dosh: [] }, {});
  const flaky: PodUsageApi = { ...a, listPods: async (ns, sel) => (fail ? Promise.reject(new Error('down')) : a.listPods(ns, sel)) };
  const read = cachedPodUsage(flaky, () => ['dosh'], () => t, 5000);
  await assert.rejects(read());
  fail = false;
  await read();
  await read();
  t = 5001;
  await read();
  assert.deepEqual(calls, ['list dosh dosh.io/managed=true', 'list dosh dosh.io/managed=true']);
});

test('UserMetrics with pods: a pod\'s series carry its cluster node beside the containers\' own; a pod read that fails leaves the containers\' series', async () => {
  const registry = new Registry();
  const errors: string[] = [];
  let podsFail = false;
  const m = new UserMetrics({
    registry,
    // The same user with a container on this login node (moving to the kubernetes backend): two rows, kept apart.
    list: async () => [{ id: 'c1', labels: { 'dosh.io/managed': 'true', 'dosh.io/user': 'ann', 'dosh.io/uid': '1500' }, pid: 1 }],
    layout: { root: '/nonexistent', driver: 'systemd', version: 2 } as never,
    read: () => ({ cpuSeconds: 1, memoryUsageBytes: 10, memoryWorkingSetBytes: 5, memoryLimitBytes: 2048, oomKills: 0, pids: 1, blkioReadBytes: 0, blkioWriteBytes: 0 }),
    pods: async () => (podsFail ? Promise.reject(new Error('API down')) : [{ user: 'ann', uid: '1500', node: 'k1', usage: { cpuSeconds: 2.5, memoryLimitBytes: 1024 } }]),
    onError: (e) => errors.push(String(e)),
  });
  await m.collect();
  const text = await registry.metrics();
  assert.match(text, /^dosh_user_cpu_seconds_total\{user="ann",uid="1500",pod_node="k1"\} 2\.5$/m);
  assert.match(text, /^dosh_user_memory_limit_bytes\{user="ann",uid="1500",pod_node="k1"\} 1024$/m);
  assert.match(text, /^dosh_user_cpu_seconds_total\{user="ann",uid="1500"\} 1$/m, 'her container\'s own, not summed into the pod\'s');
  assert.match(text, /^dosh_user_memory_limit_bytes\{user="ann",uid="1500"\} 2048$/m);
  podsFail = true;
  const after = await registry.metrics();
  assert.doesNotMatch(after, /pod_node=/);
  assert.match(after, /^dosh_user_cpu_seconds_total\{user="ann",uid="1500"\} 1$/m, 'the containers\' series stay');
  assert.deepEqual(errors, ['Error: API down']);
});
