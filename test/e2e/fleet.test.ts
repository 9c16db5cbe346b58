// A fleet of two login nodes against a real Kubernetes API server (kube-apiserver on etcd, without a node: started
// by scripts/lib/k8s-cluster.sh start --apiserver-only): each node's doshd mirrors its sessions to Session resources, kubectl and doshctl
// list both nodes' sessions, kubectl delete ends a login on the right node, the DoshPolicy is the policy of both,
// an invalid one is rejected and reported, and logins go on while the API server is down.
// The second node is this host seen through a UTS and mount namespace: its own host name (which the session helper
// records as the session's node) and its own /etc/dosh/helper.conf pointing at the second doshd's store.
// needs: docker busybox debian dosh k8s
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, DEBIAN, delUser, Doshd, doshctl, METRICS_PORT, REPO, removeContainersOf, run, su, until, type Result } from './harness.ts';
import { startCluster, type Cluster } from '../lib/k8s-cluster.ts';
import { SecondNode } from './second-node.ts';

// Node A is doshd with its default node name, the host name.
const NODE_A = hostname();
const NODE_B = 'dosh-e2e-node-b';
const STORE_B = '/run/dosh-e2e-node-b';
const PORT_B = 19479;
const [ANA, BEA, CID, DOT] = ['dtk-ana', 'dtk-bea', 'dtk-cid', 'dtk-dot'];
const USERS = [ANA, BEA, CID, DOT];
const POLICY = `CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=2\n`;
const FLAGS = (kubeconfig: string) => ['--kubeconfig', kubeconfig, '--kube-namespace', 'dosh-e2e', '--kube-resync', '1', '--ended-retention', '2'];

let rig: Cluster;
let work: string;
let nodeA: Doshd;
let nodeB: Doshd;

const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', rig.kubeconfig, ...args]);

let B: SecondNode;
/** Logs in on node B. */
const suB = (user: string, cmd: string): Promise<Result> => B.su(user, cmd);

type Item = { metadata: { name: string; labels: Record<string, string>; finalizers?: string[] }; spec: { user: string; node: string }; status?: { phase?: string; container?: { image?: string } } };

async function resources(): Promise<Item[]> {
  const r = await kubectl('get', 'sessions', '-A', '-o', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()).items;
}

const of = (items: Item[], user: string) => items.filter((i) => i.spec.user === user);

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dosh-fleet-'));
  rig = await startCluster(path.join(work, 'k8s'), { apiserverOnly: true });
  const crds = await kubectl('apply', '-f', `${REPO}/crds/`);
  assert.equal(crds.code, 0, crds.stderr);
  // kube-apiserver admits objects only into namespaces that exist.
  const ns = await kubectl('create', 'namespace', 'dosh-e2e');
  assert.equal(ns.code, 0, ns.stderr);
  await until('the CRDs to be served', async () => (await kubectl('get', 'sessions', '-A')).code === 0 || undefined);
  for (const u of USERS) addUser(u);
  removeContainersOf(...USERS);
  B = new SecondNode(NODE_B, STORE_B, PORT_B, work).prepare();
  nodeA = await new Doshd(POLICY, FLAGS(rig.kubeconfig)).start();
  nodeB = await new Doshd(POLICY, [...FLAGS(rig.kubeconfig), ...B.flags], 'dosh.conf', { store: B.store, port: B.port }).start();
});

after(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  await rig?.stop();
  removeContainersOf(...USERS);
  for (const u of USERS) delUser(u);
  nodeA?.cleanup();
  nodeB?.cleanup();
  B?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test('each node\'s sessions appear as Session resources with their node and user; kubectl and doshctl list both nodes', { timeout: 120_000 }, async () => {
  const a = su(ANA, 'echo a-in; sleep 20; echo a-out');
  const b = suB(BEA, 'echo b-in; sleep 20; echo b-out');
  const items = await until('both sessions Running as resources', async () => {
    const l = await resources();
    return of(l, ANA)[0]?.status?.phase === 'Running' && of(l, BEA)[0]?.status?.phase === 'Running' ? l : undefined;
  });
  const [ra, rb] = [of(items, ANA)[0], of(items, BEA)[0]];
  assert.notEqual(ra.spec.node, NODE_B);
  assert.equal(rb.spec.node, NODE_B);
  assert.equal(rb.metadata.labels['dosh.io/node'], NODE_B);
  assert.equal(ra.metadata.labels['dosh.io/user'], ANA);
  assert.deepEqual(rb.metadata.finalizers, ['dosh.io/session-ended']);
  assert.match(rb.metadata.name, new RegExp(`^${BEA}-[a-z0-9]+\\.${NODE_B}$`));

  const table = (await kubectl('get', 'sessions', '-A')).stdout.toString();
  assert.match(table.split('\n')[0], /NAMESPACE\s+NAME\s+USER\s+NODE\s+PHASE\s+IMAGE/);
  assert.match(table, new RegExp(`${BEA}\\s+${NODE_B}\\s+Running\\s+${BUSYBOX.replace(/[/.]/g, '\\$&')}`));
  for (const alias of ['sess', 'dosh']) {
    const r = await kubectl('get', alias, '-n', 'dosh-e2e');
    assert.equal(r.code, 0, `kubectl get ${alias}: ${r.stderr}`);
    assert.match(r.stdout.toString(), new RegExp(BEA));
  }

  // The installed doshctl, as an admin would run it (its Kubernetes client is the separate dosh-kube.mjs bundle).
  const d = await doshctl('--kubeconfig', rig.kubeconfig, 'get', 'sessions');
  assert.equal(d.code, 0, d.stderr);
  const lines = d.stdout.toString().split('\n');
  assert.match(lines[0], /^NAME\s+NODE\s+USER\s+PHASE/);
  assert.ok(lines.some((l) => l.includes(ANA) && l.includes('Running')) && lines.some((l) => l.includes(BEA) && l.includes(NODE_B)), d.stdout.toString());

  assert.equal((await a).stdout.toString(), 'a-in\na-out\n');
  assert.equal((await b).stdout.toString(), 'b-in\nb-out\n');
  // Ended and collected on the node (--ended-retention 2): the resources go too.
  await until('the ended sessions\' resources to be removed', async () => (of(await resources(), ANA).length + of(await resources(), BEA).length === 0) || undefined, 30_000);
});

test('kubectl delete of a Session ends that login on its node, and only that one', { timeout: 120_000 }, async () => {
  const a = su(ANA, 'echo a-in; sleep 15; echo a-out');
  const b = suB(BEA, 'echo b-in; sleep 60; echo b-out');
  const rb = await until('B\'s session Running as a resource', async () => of(await resources(), BEA).find((i) => i.status?.phase === 'Running'));
  const del = await kubectl('delete', 'session', '-n', 'dosh-e2e', rb.metadata.name, '--wait=false');
  assert.equal(del.code, 0, del.stderr);
  const rB = await b;
  assert.notEqual(rB.code, 0);
  assert.equal(rB.stdout.toString(), 'b-in\n');
  assert.match(rB.stderr, /ended by an administrator/);
  await until('the deleted resource to be gone (finalizer released)', async () => !(await resources()).some((i) => i.metadata.name === rb.metadata.name) || undefined, 30_000);
  const rA = await a;
  assert.equal(rA.code, 0, 'the login on the other node went on');
  assert.equal(rA.stdout.toString(), 'a-in\na-out\n');
});

test('the DoshPolicy is the policy of both nodes; an invalid one is rejected and reported, and the last good one stays', { timeout: 180_000 }, async () => {
  const apply = (spec: string) => run('kubectl', ['--kubeconfig', rig.kubeconfig, 'apply', '-f', '-'], { input: `apiVersion: dosh.io/v1alpha1\nkind: DoshPolicy\nmetadata:\n  name: default\nspec:\n${spec}` });
  const good = await apply(`  version: 1\n  defaults:\n    image: ${DEBIAN}\n    command: /bin/sh\n    idleTimeout: 2\n`);
  assert.equal(good.code, 0, good.stderr);
  const accepted = async (gen: number, status: string) => {
    const r = await kubectl('get', 'doshpolicy', 'default', '-o', 'json');
    const p = JSON.parse(r.stdout.toString());
    return p.status?.observedGeneration === gen && p.status.conditions?.find((c: { type: string }) => c.type === 'Accepted')?.status === status ? p : undefined;
  };
  // The summary settles one round after the last verdict arrives (each node sums up what it has seen).
  const both = `accepted by ${[NODE_A, NODE_B].sort().join(', ')}`;
  const ok = await until('the policy to be accepted by both nodes, the summary settled', async () => {
    const p = await accepted(1, 'True');
    return p?.status.nodes?.length === 2 && p.status.conditions.find((c: { type: string }) => c.type === 'Accepted').message === both ? p : undefined;
  });
  // Each node's own verdict, side by side (a list map: neither node's server-side apply removed the other's entry).
  assert.deepEqual(ok.status.nodes.map((n: { node: string; observedGeneration: number; accepted: boolean }) => [n.node, n.observedGeneration, n.accepted]).sort(), [[NODE_A, 1, true], [NODE_B, 1, true]].sort());
  // A node that left the fleet: its last verdict, on an older generation, does not count; docs/INSTALL.md's patch removes it.
  const stale = { node: 'dosh-e2e-gone', observedGeneration: 0, accepted: false, lastError: 'from before' };
  const add = await kubectl('patch', 'doshpolicy', 'default', '--subresource=status', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/status/nodes/-', value: stale }]));
  assert.equal(add.code, 0, add.stderr);
  const withStale = await until('the stale verdict to be listed', async () => {
    const p = await accepted(1, 'True');
    return p?.status.nodes?.some((n: { node: string }) => n.node === stale.node) ? p : undefined;
  });
  assert.equal(withStale.status.lastError, '', 'a verdict on an older generation does not count');
  const index = withStale.status.nodes.findIndex((n: { node: string }) => n.node === stale.node);
  const rm = await kubectl('patch', 'doshpolicy', 'default', '--subresource=status', '--type=json', '-p', `[{"op":"remove","path":"/status/nodes/${index}"}]`);
  assert.equal(rm.code, 0, rm.stderr);
  const after = await until('the stale verdict to be gone', async () => {
    const p = await accepted(1, 'True');
    return p && !p.status.nodes.some((n: { node: string }) => n.node === stale.node) ? p : undefined;
  });
  assert.equal(after.status.nodes.length, 2, 'both live nodes kept their verdicts');
  const [c, d] = await Promise.all([su(CID, 'cat /etc/debian_version'), suB(DOT, 'cat /etc/debian_version')]);
  assert.equal(c.code, 0, `node A took the cluster policy: ${c.stderr}`);
  assert.equal(d.code, 0, `node B took the cluster policy: ${d.stderr}`);
  assert.match(c.stdout.toString() + d.stdout.toString(), /^\d+\.\d+\n\d+\.\d+\n$/);

  // Refused by the API server itself: the CRD's schema (a structural error).
  const shape = await apply(`  version: 1\n  defaults:\n    image: [not, a, string]\n`);
  assert.notEqual(shape.code, 0);
  assert.match(shape.stderr, /spec\.defaults\.image/);
  // Valid in shape, refused by the nodes: reported in the status with the path, and the last good policy stays.
  const bad = await apply(`  version: 1\n  defaults:\n    image: ${BUSYBOX}\n    resources: { memory: 2X }\n`);
  assert.equal(bad.code, 0, bad.stderr);
  const first = [NODE_A, NODE_B].sort()[0];
  const p = await until('the policy to be rejected by both nodes in its status, the summary settled', async () => {
    const r = await accepted(2, 'False');
    return r?.status.nodes?.every((n: { observedGeneration: number }) => n.observedGeneration === 2) && r.status.lastError.startsWith(`${first}: `) ? r : undefined;
  });
  assert.match(p.status.lastError, new RegExp(`^${first}: .*2X.*defaults\\.resources\\.memory`), 'the first rejecting node by name');
  for (const n of p.status.nodes) assert.match(n.lastError, /2X.*defaults\.resources\.memory/, `${n.node} says why`);
  const again = await su(CID, 'cat /etc/debian_version');
  assert.equal(again.code, 0, 'still the last good policy (Debian)');

  const gone = await kubectl('delete', 'doshpolicy', 'default');
  assert.equal(gone.code, 0, gone.stderr);
  await until('the nodes to take their policy files back', async () => (nodeA.logText().includes('the policy file is in force again') && nodeB.logText().includes('the policy file is in force again')) || undefined);
});

test('an API server that accepts connections but never answers: requests time out, are logged and counted, /readyz and dosh_kube_connected say so; logins go on; it recovers', { timeout: 180_000 }, async () => {
  const readyz = async () => {
    const r = await fetch(`http://127.0.0.1:${METRICS_PORT}/readyz`);
    return { code: r.status, text: await r.text() };
  };
  const metric = async (re: RegExp) => Number(re.exec(await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text())?.[1] ?? NaN);
  assert.equal((await readyz()).code, 200);
  assert.equal(await metric(/^dosh_kube_connected (\S+)$/m), 1);
  await rig.pauseApiServer();
  try {
    // A login writes a session, which the mirror then tries to apply: that request gets no answer.
    const quick = await su(DOT, 'echo hung');
    assert.equal(quick.code, 0, `a login while the API server hangs: ${quick.stderr}`);
    assert.equal(quick.stdout.toString(), 'hung\n');
    const nr = await until('node A to give up on the hung request', async () => {
      const r = await readyz();
      return r.code === 503 ? r : undefined;
    }, 60_000).catch((e) => {
      throw new Error(`${e.message}; node A's log:\n${nodeA.logText().split('\n').slice(-30).join('\n')}`);
    });
    assert.match(nr.text, /kubernetes API https:\/\/127\.0\.0\.1:\d+: not connected: .*no answer from https:\/\/127\.0\.0\.1:\d+ within 15s/);
    // Which request hangs first depends on what the mirror had in flight (the login's apply, or the delete of
    // an earlier test's session): whichever it was is logged and counted under its operation.
    const timedOut = /"msg":"Kubernetes API request timed out","operation":"(\w+)"/.exec(nodeA.logText());
    assert.ok(timedOut, `a timed-out request is logged; node A's log:\n${nodeA.logText().split('\n').slice(-30).join('\n')}`);
    assert.match(nodeA.logText(), /"msg":"Kubernetes API not connected/);
    assert.equal(await metric(/^dosh_kube_connected (\S+)$/m), 0);
    const counted = await metric(new RegExp(`^dosh_kube_requests_total\\{operation="${timedOut[1]}",result="timeout"\\} (\\S+)$`, 'm'));
    assert.ok(counted >= 1, `the ${timedOut[1]} that timed out is counted (${counted})`);
  } finally {
    await rig.resumeApiServer();
  }
  await until('node A to be connected again', async () => (await readyz()).code === 200 || undefined, 90_000);
  assert.equal(await metric(/^dosh_kube_connected (\S+)$/m), 1);
  assert.match(nodeA.logText(), /"msg":"Kubernetes API connected"/);
});

test('with the API server stopped logins go on on both nodes; when it returns the mirror catches up', { timeout: 180_000 }, async () => {
  await rig.stopApiServer();
  const a = su(ANA, 'echo a-in; sleep 8; echo a-out');
  const b = suB(BEA, 'echo b-in; sleep 8; echo b-out');
  const [quick] = await Promise.all([su(CID, 'echo quick')]);
  assert.equal(quick.code, 0, `a login while the API server is down: ${quick.stderr}`);
  assert.equal(quick.stdout.toString(), 'quick\n');
  await until('node A to notice the API server is down', () => /Kubernetes API watch of sessions failed/.test(nodeA.logText()) || undefined, 60_000);
  await rig.startApiServer();
  const items = await until('the sessions started during the outage to appear', async () => {
    const l = await resources().catch(() => []);
    return of(l, ANA).some((i) => i.status?.phase === 'Running') && of(l, BEA).some((i) => i.status?.phase === 'Running') ? l : undefined;
  }, 90_000);
  assert.ok(of(items, BEA).every((i) => i.spec.node === NODE_B));
  assert.equal((await a).code, 0);
  assert.equal((await b).code, 0);
  await until('ended sessions to be removed from the API', async () => (of(await resources(), ANA).length + of(await resources(), BEA).length + of(await resources(), CID).length === 0) || undefined, 60_000);
});
