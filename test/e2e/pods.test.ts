// Logins into pods: doshd with a Kubernetes connection, users whose policy says BACKEND=kubernetes, on a real
// single-node cluster (scripts/lib/k8s-cluster.sh). Each login goes through the real su and the installed relay,
// whose exec start doshd's bridge carries over the API server's exec WebSocket into the user's one pod.
// needs: docker busybox dosh k8s
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, delUser, Doshd, doshctl, REPO, run, storeSessions, su, Tmux, until } from './harness.ts';
import { startCluster, type Cluster } from '../lib/k8s-cluster.ts';
import { SecondNode } from './second-node.ts';

const [PIA, PEG, IDA, MAX] = ['dpo-pia', 'dpo-peg', 'dpo-ida', 'dpo-max'];
const HOOKS = mkdtempSync(path.join(tmpdir(), 'dosh-pods-hooks-'));
const POLICY = `BACKEND=kubernetes\nCONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\n[user:${PEG}]\nDOCKERPARAMETERS=--memory 200g\n[user:${IDA}]\nIDLETIMEOUT=2\n[user:${MAX}]\nMAXSESSIONSECONDS=3\nRUNSCRIPTS=true\nSCRIPTSFOLDER=${HOOKS}\n`;
let rig: Cluster;
let work: string;
let doshd: Doshd;
let B: SecondNode;
let doshdB: Doshd;

const kubectl = async (...args: string[]) => {
  const r = await rig.kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dosh-pods-e2e-'));
  rig = await startCluster(path.join(work, 'k8s'));
  await rig.importImages(BUSYBOX);
  await kubectl('apply', '-f', `${REPO}/crds/`);
  await kubectl('create', 'namespace', 'dosh-e2e');
  await kubectl('create', 'namespace', 'dosh');
  await until('the CRDs to be served', async () => (await rig.kubectl('get', 'sessions', '-A')).code === 0 || undefined);
  for (const u of [PIA, PEG, IDA, MAX]) addUser(u);
  writeFileSync(path.join(HOOKS, '10log'), `#!/bin/sh\necho "$1 $2 $DOSH_USER $DOSH_CONTAINER_NAME" >> ${HOOKS}/ran\n`, { mode: 0o755 });
  const flags = ['--kubeconfig', rig.kubeconfig, '--kube-namespace', 'dosh-e2e', '--kill-grace', '1'];
  doshd = await new Doshd(POLICY, flags).start();
  // A second login node of the same fleet (test/e2e/second-node.ts): its own doshd, store and host name.
  B = new SecondNode('dpo-node-b', '/run/dosh-e2e-pods-b', 19489, work).prepare();
  doshdB = await new Doshd(POLICY, [...flags, ...B.flags], 'dosh.conf', { store: B.store, port: B.port }).start();
}, { timeout: 45 * 60_000 });

after(async () => {
  await doshdB?.stop();
  doshdB?.cleanup();
  B?.cleanup();
  await doshd?.stop();
  await rig?.stop();
  for (const u of [PIA, PEG, IDA, MAX]) delUser(u);
  rmSync(HOOKS, { recursive: true, force: true });
  doshd?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A login through su that runs until it is ended, once it has started: its exit status to come, and its stderr so far. */
async function longLogin(user: string): Promise<{ exited: Promise<number | null>; stderr: () => string }> {
  let stderr = '';
  const login = spawn('su', ['-', user, '-c', 'echo started; sleep 600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  login.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((r) => login.on('close', r));
  await new Promise<void>((r) => login.stdout.once('data', () => r()));
  return { exited, stderr: () => stderr };
}

test('su - USER -c CMD runs in her pod, as her uid, with her stdin, and returns the exit status', { timeout: 120_000 }, async () => {
  const uid = (await run('id', ['-u', PIA])).stdout.toString().trim();
  const earlier = new Set(storeSessions().map((x) => x.metadata.name));
  const r = await su(PIA, 'id -u; hostname; cat; echo to-stderr >&2; exit 3', { input: 'from her stdin\n', timeoutMs: 60_000 });
  assert.equal(r.code, 3, `stdout ${JSON.stringify(r.stdout.toString())}, stderr ${JSON.stringify(r.stderr)}, doshd: ${readFileSync(doshd.log, 'utf8').split('\n').slice(-15).join('\n')}`);
  assert.equal(r.stdout.toString(), `${uid}\ndosh-${PIA}\nfrom her stdin\n`);
  assert.equal(r.stderr, 'to-stderr\n');
  const pod = JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'json'));
  assert.equal(pod.spec.securityContext.runAsUser, Number(uid));
  assert.equal(pod.metadata.labels['dosh.io/user'], PIA);
  const s = storeSessions().find((x) => x.spec.user === PIA && !earlier.has(x.metadata.name));
  assert.equal(s?.status.exitCode, 3);
  // The next login reaches the same pod.
  const again = await su(PIA, 'echo again', { timeoutMs: 30_000 });
  assert.equal(again.code, 0, again.stderr);
  const after = JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'json'));
  assert.equal(after.metadata.uid, pod.metadata.uid);
});

test('a login on a terminal: a pty in her pod with the size of hers, following a resize, and her exit status', { timeout: 120_000 }, async () => {
  const t = new Tmux('dpo-tty').start(`su - ${PIA}`, 97, 31);
  try {
    await t.waitFor(/\$\s*$/m, 60_000);
    t.send('echo "host=$(hostname) tty=$(tty)"; stty size');
    await t.waitFor(new RegExp(`host=dosh-${PIA} tty=/dev/pts/\\d+\\n31 97$`, 'm'));
    // The size goes to her pod on the exec's resize channel.
    await t.resizeSeen(120, 40);
    t.send('exit 5');
    assert.equal(await t.exitStatus(), 5);
  } finally {
    t.kill();
  }
});

test('doshctl delete session ends a pod login and tells her', { timeout: 120_000 }, async () => {
  const { exited, stderr } = await longLogin(PIA);
  const live = storeSessions().find((x) => x.spec.user === PIA && x.status.phase === 'Running');
  assert.ok(live, 'her session runs');
  const del = await doshctl('delete', 'session', live.metadata.name);
  assert.equal(del.code, 0, del.stderr);
  assert.notEqual(await exited, 0);
  assert.match(stderr(), /ended by an administrator/);
});

test('per-user metrics of a pod login: the kubelet\'s figures for her pod, under her user, uid and cluster node', { timeout: 120_000 }, async () => {
  const { exited } = await longLogin(PIA);
  const uid = (await run('id', ['-u', PIA])).stdout.toString().trim();
  const node = (await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'jsonpath={.spec.nodeName}')).trim();
  const series = (text: string, name: string) => new RegExp(`^${name}\\{user="${PIA}",uid="${uid}",pod_node="${node}"\\} (\\S+)$`, 'm').exec(text)?.[1];
  // The kubelet's summary comes from its cAdvisor housekeeping: a new pod's figures appear within a few seconds.
  const text = await until('her pod\'s series', async () => {
    const t = await (await fetch(`http://127.0.0.1:${doshd.where.port}/metrics`)).text();
    return series(t, 'dosh_user_memory_working_set_bytes') !== undefined && series(t, 'dosh_user_cpu_seconds_total') !== undefined ? t : undefined;
  }, 60_000);
  assert.ok(Number(series(text, 'dosh_user_memory_working_set_bytes')) > 0, 'her pod uses memory');
  assert.ok(Number(series(text, 'dosh_user_cpu_seconds_total')) > 0, 'and some CPU');
  const live = storeSessions().find((x) => x.spec.user === PIA && x.status.phase === 'Running');
  assert.equal((await doshctl('delete', 'session', live!.metadata.name)).code, 0);
  await exited;
});

test('kubectl delete of her Session resource ends a pod login on its node and tells her', { timeout: 120_000 }, async () => {
  const { exited, stderr } = await longLogin(PIA);
  const live = storeSessions().find((x) => x.spec.user === PIA && x.status.phase === 'Running');
  assert.ok(live, 'her session runs');
  const name = await until('her session as a resource', async () => (await kubectl('get', 'sessions', '-n', 'dosh-e2e', '-l', `dosh.io/session=${live.metadata.name}`, '-o', 'jsonpath={.items[0].metadata.name}')).trim() || undefined);
  await kubectl('delete', 'session', '-n', 'dosh-e2e', name, '--wait=false');
  assert.notEqual(await exited, 0);
  assert.match(stderr(), /ended by an administrator/);
});

test('a pod the cluster cannot schedule: her login is refused with the scheduler\'s words', { timeout: 120_000 }, async () => {
  const earlier = new Set(storeSessions().map((x) => x.metadata.name));
  // Her section's --memory 200g is her pod's limit, and so its request: more than the node has.
  const r = await su(PEG, 'true', { timeoutMs: 60_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the cluster has no node for dpo-peg's pod dosh\/dosh-dpo-peg: 0\/1 nodes are available: 1 Insufficient memory/);
  const s = storeSessions().find((x) => x.spec.user === PEG && !earlier.has(x.metadata.name));
  assert.equal(s?.status.reason, 'PodUnschedulable');
});

test('her pod deleted under a login: the login ends saying so, and her next login gets a new pod', { timeout: 120_000 }, async () => {
  const { exited, stderr } = await longLogin(PIA);
  const before = JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'json'));
  await kubectl('delete', 'pod', '-n', 'dosh', `dosh-${PIA}`, '--grace-period=1', '--wait=false');
  assert.notEqual(await exited, 0);
  assert.match(stderr(), new RegExp(`the session was cut: her pod dosh/dosh-${PIA} (is being deleted|was deleted)`));
  const next = await su(PIA, 'hostname', { timeoutMs: 60_000 });
  assert.equal(next.code, 0, next.stderr);
  const now = JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'json'));
  assert.notEqual(now.metadata.uid, before.metadata.uid);
});

test('her pod evicted through the Eviction API under a login: the login ends naming the eviction, in the cluster\'s words', { timeout: 120_000 }, async () => {
  const { exited, stderr } = await longLogin(PIA);
  const eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: `dosh-${PIA}`, namespace: 'dosh' }, deleteOptions: { gracePeriodSeconds: 2 } };
  const r = await rig.kubectlIn(JSON.stringify(eviction), 'create', '--raw', `/api/v1/namespaces/dosh/pods/dosh-${PIA}/eviction`, '-f', '-');
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(await exited, 0);
  assert.match(stderr(), new RegExp(`the session was cut: her pod dosh/dosh-${PIA} was evicted \\(EvictionByEvictionAPI: `));
});

test('the policy\'s maximum session lifetime ends a pod login, and her hook scripts run at preexec and exec, naming her pod', { timeout: 120_000 }, async () => {
  const r = await su(MAX, 'echo in; sleep 60', { timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout.toString(), 'in\n');
  assert.match(r.stderr, /maximum session lifetime/);
  await until('the exec hook', () => (existsSync(`${HOOKS}/ran`) && readFileSync(`${HOOKS}/ran`, 'utf8').includes('exec ')) || undefined);
  const pod = `dosh/dosh-${MAX}`;
  // The container's own moments (prerun, run, prestart, start) are the engine's: a pod is made by the cluster.
  assert.equal(readFileSync(`${HOOKS}/ran`, 'utf8'), `preexec ${pod} ${MAX} ${pod}\nexec ${pod} ${MAX} ${pod}\n`);
});

test('a Session resource made through the API is no login: doshd makes no pod for it', { timeout: 60_000 }, async () => {
  // A mirrored session of this node, copied under another name for another user, as someone with rights on the
  // namespace could write it: only a login through the relay makes doshd act.
  const items = JSON.parse(await kubectl('get', 'sessions', '-n', 'dosh-e2e', '-o', 'json')).items;
  assert.ok(items.length > 0, 'the logins above are mirrored');
  const forged = { apiVersion: items[0].apiVersion, kind: 'Session', metadata: { name: 'forged-1', namespace: 'dosh-e2e', labels: { ...items[0].metadata.labels, 'dosh.io/user': 'dpo-zed' } }, spec: { ...items[0].spec, user: 'dpo-zed' } };
  const r = await rig.kubectlIn(JSON.stringify(forged), 'apply', '-f', '-');
  assert.equal(r.code, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 4000));
  assert.equal((await kubectl('get', 'pods', '-n', 'dosh', '-l', 'dosh.io/user=dpo-zed', '-o', 'name')).trim(), '');
  assert.equal(storeSessions().some((s) => s.spec.user === 'dpo-zed'), false, 'nothing in the node\'s store either');
  await kubectl('delete', 'session', '-n', 'dosh-e2e', 'forged-1');
});

test('idle collection: her pod stays while a login runs in it, and goes once it has been idle past her IDLETIMEOUT', { timeout: 180_000 }, async () => {
  const gone = async () => {
    const r = await rig.kubectl('get', 'pod', '-n', 'dosh', `dosh-${IDA}`, '-o', 'jsonpath={.metadata.deletionTimestamp}');
    return r.code !== 0 || r.stdout !== '';
  };
  // Past QUIET_MS (30 s), under which no pod is deleted whatever its idle timeout.
  const login = su(IDA, 'sleep 36', { timeoutMs: 90_000 });
  await until('her pod', async () => (await rig.kubectl('get', 'pod', '-n', 'dosh', `dosh-${IDA}`)).code === 0 || undefined, 40_000);
  await new Promise((res) => setTimeout(res, 33_000));
  assert.equal(await gone(), false, 'kept under a live login, past the 2 s idle timeout and the 30 s floor');
  assert.equal((await login).code, 0);
  await until('her idle pod to be deleted', async () => (await gone()) || undefined, 60_000).catch(async (e: Error) => {
    const fleet = await rig.kubectl('get', 'sessions', '-n', 'dosh-e2e', '-l', `dosh.io/user=${IDA}`, '-o', 'jsonpath={range .items[*]}{.metadata.name} {.metadata.creationTimestamp} {.status.phase}{"\\n"}{end}');
    const p = await rig.kubectl('get', 'pod', '-n', 'dosh', `dosh-${IDA}`, '-o', 'jsonpath={.metadata.labels} {.metadata.annotations}');
    throw new Error(`${e.message}; her sessions in the fleet:\n${fleet.stdout}\nher pod: ${p.stdout}\ndoshd: ${readFileSync(doshd.log, 'utf8').split('\n').slice(-40).join('\n')}`);
  });
  const ev = await doshctl('events', '--for', `user/${IDA}`);
  assert.match(ev.stdout.toString(), new RegExp(`removed pod dosh/dosh-${IDA}, idle for \\d+ s \\(idle timeout 2 s\\)`));
});

test('two login nodes reach her one pod: logins on both at once share it, and each node records its own', { timeout: 120_000 }, async () => {
  const [a, b] = await Promise.all([su(PIA, 'echo from-a > /tmp/a; hostname', { timeoutMs: 60_000 }), B.su(PIA, 'echo from-b > /tmp/b; hostname', { timeoutMs: 60_000 })]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, `node B: ${b.stderr}`);
  assert.equal(a.stdout.toString(), `dosh-${PIA}\n`);
  assert.equal(b.stdout.toString(), `dosh-${PIA}\n`);
  const both = await B.su(PIA, 'cat /tmp/a /tmp/b', { timeoutMs: 60_000 });
  assert.equal(both.stdout.toString(), 'from-a\nfrom-b\n', 'one pod: each login sees what the other wrote');
  const pods = JSON.parse(await kubectl('get', 'pods', '-n', 'dosh', '-l', `dosh.io/user=${PIA}`, '-o', 'json')).items;
  assert.equal(pods.length, 1);
  const mirrored = JSON.parse(await kubectl('get', 'sessions', '-n', 'dosh-e2e', '-l', `dosh.io/user=${PIA}`, '-o', 'json')).items;
  const nodes = new Set(mirrored.filter((m: { status?: { container?: { pod?: { name: string } } } }) => m.status?.container?.pod?.name === `dosh-${PIA}`).map((m: { spec: { node: string } }) => m.spec.node));
  assert.ok(nodes.has('dpo-node-b') && nodes.size === 2, `sessions into her pod from both nodes: ${[...nodes].join(', ')}`);
});

test('a policy rollout: her pod is kept under a login, deleted once it is idle, and her next login gets one made from the new policy', { timeout: 180_000 }, async () => {
  const pod = async () => JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'json'));
  const { exited, stderr } = await longLogin(PIA);
  const old = await pod();
  const loads = () => readFileSync(doshd.log, 'utf8').split('"msg":"policy loaded"').length;
  const before = loads();
  // Both login nodes take the new policy, as a DoshPolicy would make them: a node still on the old one would find
  // the new pod outdated in turn (docs/INSTALL.md).
  const rolled = `${POLICY}[user:${PIA}]\nDOCKERPARAMETERS=--env ROLLED=1\n`;
  doshd.setPolicy(rolled);
  doshdB.setPolicy(rolled);
  await until('the new policy to be loaded', async () => loads() > before || undefined, 20_000);
  // Past the quiet time (QUIET_MS, 30 s) a pod with no login would be gone: hers has one.
  await new Promise((res) => setTimeout(res, 34_000));
  assert.equal((await pod()).metadata.uid, old.metadata.uid, 'not replaced under her login');
  const live = storeSessions().find((x) => x.spec.user === PIA && x.status.phase === 'Running');
  assert.ok(live, `her login still runs: ${stderr()}`);
  const conditions = (live as unknown as { status: { conditions: { type: string; status: string; message: string }[] } }).status.conditions;
  assert.deepEqual(conditions.filter((c) => c.type === 'ContainerOutdated').map((c) => [c.status, c.message]), [['True', 'the pod predates the current policy']], 'her session says so');
  assert.equal((await doshctl('delete', 'session', live.metadata.name)).code, 0);
  await exited;
  await until('her outdated pod to be deleted', async () => {
    const r = await rig.kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'jsonpath={.metadata.uid} {.metadata.deletionTimestamp}');
    return r.code !== 0 || r.stdout !== `${old.metadata.uid} ` || undefined;
  }, 60_000);
  const ev = await doshctl('events', '--for', `user/${PIA}`);
  assert.match(ev.stdout.toString(), new RegExp(`removed idle pod dosh/dosh-${PIA}, which predates the policy`));
  const next = await su(PIA, 'echo in', { timeoutMs: 60_000 });
  assert.equal(next.code, 0, next.stderr);
  const made = await pod();
  assert.notEqual(made.metadata.uid, old.metadata.uid);
  assert.ok(made.spec.containers[0].env.some((e: { name: string; value: string }) => e.name === 'ROLLED' && e.value === '1'), 'made from the new policy');
});
