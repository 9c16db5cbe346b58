// Her pod on a real single-node cluster (scripts/lib/k8s-cluster.sh: kube-apiserver, scheduler, kubelet and
// containerd): made by server-side apply through kube/client.ts, run with her identity and the secure defaults,
// shared by two login nodes that ask at once, and refused with the scheduler's own words when no node fits; and a
// login's stream carried into it by the real session relay (the sanitizer build, as nobody) through doshd's exec
// bridge (controller/pods/exec-bridge.ts) and the API server's exec WebSocket.
// needs: docker busybox k8s
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeClient } from '../../kube/client.ts';
import { realClock } from '../../lib/clock.ts';
import { RefusedError } from '../../lib/errors.ts';
import { resolveText, user } from '../../policy/testkit.ts';
import { loadYamlPolicy } from '../../policy/yaml.ts';
import { memoryIO } from '../../policy/io.ts';
import { resolvePolicy } from '../../policy/resolve.ts';
import { UserPods } from '../../controller/pods/user-pods.ts';
import { PodExecBridge } from '../../controller/pods/exec-bridge.ts';
import { Msg } from '../../api/relay-protocol.ts';
import { realRandom } from '../../lib/clock.ts';
import { FakeDoshd, makeRig, runRelay, runRelayOnTty, type Rig } from '../../shell/testkit.ts';
import { startCluster, type Cluster } from '../lib/k8s-cluster.ts';

const BUSYBOX = 'dosh-test/busybox:latest';
// Accounts of the policy only: a pod runs as numbers, which need not name anyone on the node.
const ANN = user('ann', ['staff', 'video'], 1500);
const BEN = user('ben', [], 1600);
const CAL = user('cal', [], 1700);
const conf = (extra = '') => `BACKEND=kubernetes\nCONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\n${extra}`;

let rig: Cluster;
let dir: string;
const nodes: UserPods[] = [];
let relay: Rig;
let bridge: PodExecBridge;
let bridgeSocket: string;

async function kubectl(...args: string[]): Promise<string> {
  const r = await rig.kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dosh-pods-'));
  rig = await startCluster(dir);
  await rig.importImages(BUSYBOX);
  await kubectl('create', 'namespace', 'dosh');
  // Two login nodes: each its own client, as two doshd would have.
  for (const name of ['login1', 'login2']) {
    const api = await KubeClient.load({ kubeconfig: rig.kubeconfig, fieldManager: `doshd-${name}` });
    nodes.push(new UserPods({ api, clock: realClock, readyTimeoutMs: 90_000, pollMs: 200 }));
  }
  relay = makeRig();
  bridge = new PodExecBridge({ api: await KubeClient.load({ kubeconfig: rig.kubeconfig, fieldManager: 'doshd-login1' }), random: realRandom });
  bridgeSocket = path.join(relay.dir, 'pods.sock');
  await bridge.listen(bridgeSocket);
  chmodSync(bridgeSocket, 0o666); // the test relay runs as nobody and is not setuid
}, { timeout: 45 * 60_000 });

after(async () => {
  bridge?.close();
  await rig?.stop();
  rmSync(dir, { recursive: true, force: true });
  if (relay) rmSync(relay.dir, { recursive: true, force: true });
});

/**
 * A doshd that admits the relay's login to an exec of the bridge, sizes a terminal once the stream has started (as
 * doshd does), and answers the stream's end with the exit status the bridge read from the status channel.
 */
function bridgingDoshd(execId: string, size?: { rows: number; cols: number }): Promise<FakeDoshd> {
  return new FakeDoshd(relay, (conn) => {
    conn.send(Msg.Admit, { Session: 'ann-1', ExecId: execId, EngineSocket: bridgeSocket, RelaySocket: path.join(relay.store, 'relays', 'ann-1.sock'), Tty: size ? 1 : 0 });
    conn.onFrame((f) => {
      if (f.frame.type === Msg.Started && size) bridge.resize(execId, size.rows, size.cols);
      if (f.frame.type === Msg.StreamEnd) conn.end(Msg.Exit, { ExitCode: bridge.inspect(execId)?.exitCode ?? 255 });
    });
  }).start();
}

test('her pod runs as her uid, gid and groups, with no capability, no privilege escalation and the RuntimeDefault seccomp profile', { timeout: 120_000 }, async () => {
  const pod = await nodes[0].ensure(resolveText(conf(), ANN), ANN);
  assert.equal(pod.name, 'dosh-ann');
  assert.equal(pod.node, rig.node);
  assert.equal(pod.outdated, false);
  const id = await kubectl('exec', '-n', 'dosh', 'dosh-ann', '-c', 'dosh', '--', 'id');
  assert.match(id, /^uid=1500 gid=1500 groups=1500,2000,2001\b/);
  const status = await kubectl('exec', '-n', 'dosh', 'dosh-ann', '-c', 'dosh', '--', 'cat', '/proc/self/status');
  assert.match(status, /^CapEff:\s+0000000000000000$/m);
  assert.match(status, /^CapBnd:\s+0000000000000000$/m);
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  assert.match(status, /^Seccomp:\s+2$/m);
  const spec = JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', 'dosh-ann', '-o', 'json'));
  assert.equal(spec.spec.automountServiceAccountToken, false);
  assert.equal(spec.spec.containers[0].volumeMounts?.some((m: { mountPath: string }) => m.mountPath.includes('serviceaccount')) ?? false, false, 'no token mounted');
});

test('two login nodes asking at once get one pod: the API server orders their applies', { timeout: 120_000 }, async () => {
  const policy = resolveText(conf(), BEN);
  const [a, b] = await Promise.all([nodes[0].ensure(policy, BEN), nodes[1].ensure(policy, BEN)]);
  assert.equal(a.uid, b.uid);
  assert.deepEqual([a.outdated, b.outdated], [false, false]);
  const pods = JSON.parse(await kubectl('get', 'pods', '-n', 'dosh', '-l', 'dosh.io/user=ben', '--show-managed-fields', '-o', 'json')).items;
  assert.equal(pods.length, 1);
  const managers = pods[0].metadata.managedFields.filter((f: { operation: string }) => f.operation === 'Apply').map((f: { manager: string }) => f.manager);
  assert.deepEqual(managers, ['doshd'], 'one shared field manager');
});

test('a node whose policy differs uses the pod that is there, marked outdated; a delete holds only for the pod as it was read', { timeout: 120_000 }, async () => {
  const first = await nodes[0].ensure(resolveText(conf(), BEN), BEN);
  const other = await nodes[1].ensure(resolveText(conf('DOCKERPARAMETERS=-e EDITOR=vi\n'), BEN), BEN);
  assert.equal(other.uid, first.uid);
  assert.equal(other.outdated, true);
  const api = await KubeClient.load({ kubeconfig: rig.kubeconfig, fieldManager: 'collector' });
  const read = await api.readPod('dosh', 'dosh-ben');
  await api.annotatePod('dosh', 'dosh-ben', { 'dosh.io/in-use': new Date().toISOString() });
  for (const [uid, rv, what] of [['not-its-uid', undefined, 'another uid'], [other.uid, read.metadata!.resourceVersion, 'a pod changed since it was read']] as const) {
    await api.deletePod('dosh', 'dosh-ben', uid, rv, 1).then(
      () => assert.fail(`a delete with ${what} must not succeed`),
      (e: Error) => assert.equal(e.name, 'ConflictError', what),
    );
  }
  await api.deletePod('dosh', 'dosh-ben', other.uid, undefined, 1);
  const gone = await rig.kubectl('get', 'pod', '-n', 'dosh', 'dosh-ben', '-o', 'jsonpath={.metadata.deletionTimestamp}');
  assert.ok(gone.code !== 0 || gone.stdout !== '', 'deleted or being deleted');
});

test('no node fits her nodeSelector: refused with the scheduler\'s message', { timeout: 60_000 }, async () => {
  const Y = '/etc/dosh.yaml';
  const text = `version: 1\ndefaults:\n  backend: kubernetes\n  image: ${BUSYBOX}\n  command: /bin/sh\n  pod:\n    nodeSelector: { dosh.io/pool: gpu }\n`;
  const policy = resolvePolicy(loadYamlPolicy(Y, memoryIO({ [Y]: text })), CAL);
  const short = new UserPods({ api: await KubeClient.load({ kubeconfig: rig.kubeconfig, fieldManager: 'x' }), clock: realClock, readyTimeoutMs: 8000, pollMs: 200 });
  await assert.rejects(short.ensure(policy, CAL), (e: RefusedError) => {
    assert.equal(e.reason, 'PodUnschedulable', e.message);
    assert.match(e.message, /^the cluster has no node for cal's pod dosh\/dosh-cal: 0\/1 nodes are available: .*node affinity\/selector/);
    return true;
  });
});

test('the relay into her pod through the bridge: stdin byte for byte and half-closed, stdout and stderr apart, the exit status from the status channel', { timeout: 120_000 }, async () => {
  const pod = await nodes[0].ensure(resolveText(conf(), ANN), ANN);
  const input = randomBytes(256 * 1024);
  const id = bridge.create({ namespace: pod.namespace, pod: pod.name, container: 'dosh' }, ['/bin/sh', '-c', 'cat; echo warning >&2; exit 7'], false);
  const doshd = await bridgingDoshd(id);
  try {
    const r = await runRelay(relay, { args: ['-c', 'ignored: doshd chose the exec'], input }).done;
    assert.equal(r.code, 7, r.stderr);
    assert.ok(r.stdout.equals(input), `stdout byte for byte (${r.stdout.length} of ${input.length})`);
    assert.equal(r.stderr, 'warning\n');
    assert.deepEqual(bridge.inspect(id), { running: false, exitCode: 7 });
  } finally {
    await doshd.stop();
  }
});

test('the relay on a terminal into her pod: a pty there, the size doshd set, her uid', { timeout: 120_000 }, async () => {
  const pod = await nodes[0].ensure(resolveText(conf(), ANN), ANN);
  const id = bridge.create({ namespace: pod.namespace, pod: pod.name, container: 'dosh' }, ['/bin/sh', '-c', 'sleep 1; stty size; id -u; tty'], true);
  const doshd = await bridgingDoshd(id, { rows: 33, cols: 111 });
  try {
    const r = await runRelayOnTty(relay, 33, 111).done;
    assert.equal(r.code, 0, r.stdout.toString());
    assert.match(r.stdout.toString(), /33 111\r\n1500\r\n\/dev\/pts\/\d+\r\n/);
  } finally {
    await doshd.stop();
  }
});
