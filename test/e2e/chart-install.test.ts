// The Helm chart installed on a real single-node Kubernetes (scripts/lib/k8s-cluster.sh): `helm install` with the
// doshd image built here (imported into the cluster's containerd), logins through the real su on this host served
// by the chart's doshd (the pod shares the host's store /run/dosh through a hostPath, and the host's process table),
// a user added after doshd started, `helm upgrade` with a changed value under a live login, `helm test`, and
// `helm uninstall` leaving only what docs/INSTALL.md says it keeps.
//
// The cluster has no kube-proxy: doshd runs with hostNetwork and reaches the API server at 127.0.0.1 (the chart's
// kubernetesApi value), as the chart documents for such clusters.
// needs: docker busybox dosh k8s helm
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, containerIds, delUser, REPO, removeContainersOf, run, sh, stopAnyDoshd, STORE, su, until, type Result } from './harness.ts';
import { startCluster, type Cluster } from '../lib/k8s-cluster.ts';

const NS = 'dosh-e2e-chart';
const RELEASE = 'dosh';
const [EVE, FAY, GUS] = ['dch-eve', 'dch-fay', 'dch-gus'];
const USERS = [EVE, FAY, GUS];
const IMAGE = 'dosh/doshd:local';
// The pod shares the host's network: a port of its own (the chart binds it to loopback with hostNetwork).
const METRICS_PORT = 19499;

let rig: Cluster;
let work: string;
let helmBin: string;
let installed = false;

/** One login as USER running CMD, as a user would make it: through the host's login shell (su - USER -c CMD). */
function login(user: string, cmd: string): Promise<Result> {
  return su(user, cmd, { timeoutMs: 120_000 });
}

function helm(...args: string[]): Promise<Result> {
  const env = { PATH: process.env.PATH, HOME: work, KUBECONFIG: rig.kubeconfig, HELM_CONFIG_HOME: `${work}/helm/config`, HELM_CACHE_HOME: `${work}/helm/cache`, HELM_DATA_HOME: `${work}/helm/data` };
  return run(helmBin, args, { env, timeoutMs: 6 * 60_000 });
}

async function kubectl(...args: string[]): Promise<string> {
  const r = await rig.kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const json = async (...args: string[]) => JSON.parse(await kubectl(...args, '-o', 'json'));

function values(extra: Record<string, unknown> = {}): string {
  const port = new URL(rig.server).port;
  const v = {
    image: { repository: IMAGE.split(':')[0], tag: IMAGE.split(':')[1], pullPolicy: 'Never' },
    hostNetwork: true,
    kubernetesApi: { host: '127.0.0.1', port: Number(port) },
    hostPaths: { config: `${work}/policy` },
    metrics: { port: METRICS_PORT },
    doshd: { resyncInterval: 1, endedRetention: 30, extraArgs: ['--kube-resync=1'] },
    ...extra,
  };
  const f = path.join(work, `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(v));
  return f;
}

/** The doshd pod of the release (the one not being deleted), once Ready. */
async function doshdPod(): Promise<{ name: string; uid: string; args: string[] }> {
  return until('the doshd pod to be Ready', async () => {
    const pods = (await json('-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/component=doshd')).items.filter((p: any) => !p.metadata.deletionTimestamp);
    const p = pods.find((x: any) => x.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    return p ? { name: p.metadata.name, uid: p.metadata.uid, args: p.spec.containers[0].args } : undefined;
  }, 120_000);
}

/** The doshd serving the host's store: the process /run/dosh/doshd.json names, and the pod (by cgroup) it runs in. */
function storeDoshd(): { pid: number; podUid: string | undefined } {
  const { pid } = JSON.parse(readFileSync(`${STORE}/doshd.json`, 'utf8'));
  const cgroup = existsSync(`/proc/${pid}/cgroup`) ? readFileSync(`/proc/${pid}/cgroup`, 'utf8') : '';
  return { pid, podUid: /kubepods\/[^/]+\/pod([0-9a-f-]+)\//.exec(cgroup)?.[1] };
}

type Item = { metadata: { name: string; finalizers?: string[] }; spec: { user: string }; status?: { phase?: string } };
const sessionsOf = async (user: string): Promise<Item[]> => (await json('-n', NS, 'get', 'sessions')).items.filter((i: Item) => i.spec.user === user);

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dosh-chart-'));
  const h = await run('bash', [`${REPO}/scripts/lib/ensure-helm.sh`], { timeoutMs: 20 * 60_000 });
  assert.equal(h.code, 0, h.stderr);
  helmBin = h.stdout.toString().trim();
  const img = await run('bash', [`${REPO}/scripts/lib/build-doshd-image.sh`, 'doshd'], { timeoutMs: 10 * 60_000 });
  assert.equal(img.code, 0, img.stderr);
  rig = await startCluster(path.join(work, 'k8s'));
  await rig.importImages(IMAGE);
  await kubectl('label', 'node', rig.node, 'dosh.io/login-node=true');
  // The policy the chart's doshd reads (hostPaths.config), and users that exist before doshd starts.
  mkdirSync(`${work}/policy`, { mode: 0o755 });
  writeFileSync(`${work}/policy/dosh.conf`, `CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, { mode: 0o644 });
  for (const u of [EVE, FAY]) addUser(u);
  removeContainersOf(...USERS);
  // One doshd per store: the chart's owns the host's /run/dosh now.
  stopAnyDoshd();
});

after(async () => {
  if (installed) await helm('uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '3m');
  await rig?.kubectl('delete', 'namespace', NS, '--wait=true', '--timeout=90s');
  await rig?.kubectl('delete', 'crd', 'sessions.dosh.io', 'doshpolicies.dosh.io', '--timeout=60s');
  await rig?.stop();
  removeContainersOf(...USERS);
  for (const u of USERS) delUser(u);
  for (const f of existsSync(`${STORE}/sessions`) ? sh(`ls -1 ${STORE}/sessions`).split('\n') : []) if (USERS.some((u) => f.startsWith(`${u}-`))) rmSync(`${STORE}/sessions/${f}`, { force: true });
  rmSync(work, { recursive: true, force: true });
});

test('helm install: doshd Ready on the node; a login through su is served by the pod\'s doshd and mirrored', { timeout: 300_000 }, async () => {
  const r = await helm('install', RELEASE, `${REPO}/charts/dosh`, '-n', NS, '--create-namespace', '-f', values(), '--wait', '--timeout', '3m');
  assert.equal(r.code, 0, r.stderr);
  installed = true;
  assert.match(r.stdout.toString(), /doshd reaches the API server at 127\.0\.0\.1:\d+ \(kubernetesApi\)/, 'NOTES');
  assert.doesNotMatch(r.stdout.toString(), /not implemented/);
  const pod = await doshdPod();
  const out = await login(EVE, 'echo in-container; id -u');
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.toString(), `in-container\n${sh(`id -u ${EVE}`).trim()}\n`);
  assert.equal(storeDoshd().podUid, pod.uid, 'the store is served by the chart\'s doshd');
  const mirrored = await until('the login as a Session resource', async () => (await sessionsOf(EVE)).find((s) => s.status?.phase === 'Succeeded'), 30_000);
  assert.deepEqual(mirrored.metadata.finalizers ?? [], [], 'an ended session holds no finalizer');
});

test('a user added after doshd started logs in (the host\'s /etc is mounted as a directory)', { timeout: 120_000 }, async () => {
  const before = (await doshdPod()).name;
  addUser(GUS); // useradd writes a new /etc/passwd and renames it into place
  const out = await login(GUS, 'echo new-user');
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.toString(), 'new-user\n');
  assert.equal((await doshdPod()).name, before, 'the same pod, not restarted');
});

test('helm upgrade with a changed value: a new doshd pod with it, and a login that was running goes on across it', { timeout: 300_000 }, async () => {
  const old = await doshdPod();
  const live = login(FAY, 'echo started; sleep 25; echo still-here');
  await until('the live login to run', async () => (await sessionsOf(FAY)).find((s) => s.status?.phase === 'Running'), 60_000);
  const r = await helm('upgrade', RELEASE, `${REPO}/charts/dosh`, '-n', NS, '-f', values({ doshd: { logLevel: 'debug', resyncInterval: 1, endedRetention: 30, extraArgs: ['--kube-resync=1'] } }), '--wait', '--timeout', '3m');
  assert.equal(r.code, 0, r.stderr);
  const next = await until('the upgraded pod', async () => {
    const p = await doshdPod();
    return p.uid !== old.uid ? p : undefined;
  }, 120_000);
  assert.ok(next.args.includes('--log-level=debug'), `${next.args}`);
  assert.equal(storeDoshd().podUid, next.uid, 'the new pod serves the store');
  const done = await live;
  assert.equal(done.code, 0, done.stderr);
  assert.equal(done.stdout.toString(), 'started\nstill-here\n');
  await until('the new doshd to mirror its end', async () => (await sessionsOf(FAY)).some((s) => s.status?.phase === 'Succeeded') || undefined, 30_000);
  const after = await login(FAY, 'echo after-upgrade');
  assert.equal(after.stdout.toString(), 'after-upgrade\n', after.stderr);
});

test('helm test: the chart\'s test pod finds doshd Ready on the login node and the Session resources listed', { timeout: 180_000 }, async () => {
  const r = await helm('test', RELEASE, '-n', NS, '--timeout', '2m');
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout.toString(), /TEST SUITE:\s+dosh-test[\s\S]*Phase:\s+Succeeded/);
  // Its objects are gone once it succeeded.
  assert.equal((await kubectl('-n', NS, 'get', 'pods,serviceaccounts,roles,rolebindings,configmaps', '-l', 'app.kubernetes.io/component in (test,hooks)', '-o', 'name')).trim(), '');
});

test('helm uninstall with a login running: nothing of the release is left but what docs/INSTALL.md keeps; the login runs to its end', { timeout: 300_000 }, async () => {
  const live = login(EVE, 'echo started; sleep 20; echo survived');
  const held = await until('a live Session resource with its finalizer', async () => (await sessionsOf(EVE)).find((s) => s.status?.phase === 'Running' && s.metadata.finalizers?.includes('dosh.io/session-ended')), 60_000);
  assert.ok(held);
  const r = await helm('uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '3m');
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  installed = false;
  // Nothing of the release, its hooks included, in the namespace or the cluster.
  const left = await kubectl('-n', NS, 'get', 'all,serviceaccounts,roles,rolebindings,configmaps,sessions', '-o', 'name');
  assert.deepEqual(left.split('\n').filter((l) => l && !/^(configmap\/kube-root-ca\.crt|serviceaccount\/default)$/.test(l)), []);
  assert.equal((await kubectl('get', 'clusterroles,clusterrolebindings', '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name')).trim(), '');
  // The namespace can go: no finalizer holds it.
  await kubectl('delete', 'namespace', NS, '--timeout=90s');
  // What INSTALL.md says stays: the CRDs, the host's store, the users' containers.
  await kubectl('get', 'crd', 'sessions.dosh.io', 'doshpolicies.dosh.io');
  assert.ok(existsSync(`${STORE}/sessions`));
  assert.equal(containerIds(`dosh.io/user=${EVE}`).length, 1, 'her container stays');
  // Her command ran to its end through her login's own stream; with no doshd left to answer, her login shell cannot
  // learn its exit status, and says so (a doshd running again by then would have told it).
  const done = await live;
  assert.equal(done.stdout.toString(), 'started\nsurvived\n');
  assert.equal(done.code, 255);
  assert.match(done.stderr, /the exit status of the command is unknown: the DoSH controller \(doshd\) did not answer/);
});
