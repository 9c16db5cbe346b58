// Logins into pods: doshd with a Kubernetes connection, users whose policy says BACKEND=kubernetes, on a real
// single-node cluster (scripts/lib/k8s-cluster.sh). Each login goes through the real su and the installed relay,
// whose exec start doshd's bridge carries over the API server's exec WebSocket into the user's one pod.
// needs: docker busybox dosh k8s
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, delUser, Doshd, doshctl, REPO, run, storeSessions, su, until } from './harness.ts';
import { startCluster, type Cluster } from '../lib/k8s-cluster.ts';

const [PIA, PEG, IDA] = ['dpo-pia', 'dpo-peg', 'dpo-ida'];
const POLICY = `BACKEND=kubernetes\nCONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\n[user:${PEG}]\nDOCKERPARAMETERS=--memory 200g\n[user:${IDA}]\nIDLETIMEOUT=2\n`;
let rig: Cluster;
let work: string;
let doshd: Doshd;

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
  for (const u of [PIA, PEG, IDA]) addUser(u);
  doshd = await new Doshd(POLICY, ['--kubeconfig', rig.kubeconfig, '--kube-namespace', 'dosh-e2e', '--kill-grace', '1']).start();
}, { timeout: 45 * 60_000 });

after(async () => {
  await doshd?.stop();
  await rig?.stop();
  for (const u of [PIA, PEG, IDA]) delUser(u);
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
  const r = await su(PIA, 'id -u; hostname; cat; echo to-stderr >&2; exit 3', { input: 'from her stdin\n', timeoutMs: 60_000 });
  assert.equal(r.code, 3, `stdout ${JSON.stringify(r.stdout.toString())}, stderr ${JSON.stringify(r.stderr)}, doshd: ${readFileSync(doshd.log, 'utf8').split('\n').slice(-15).join('\n')}`);
  assert.equal(r.stdout.toString(), `${uid}\ndosh-${PIA}\nfrom her stdin\n`);
  assert.equal(r.stderr, 'to-stderr\n');
  const pod = JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'json'));
  assert.equal(pod.spec.securityContext.runAsUser, Number(uid));
  assert.equal(pod.metadata.labels['dosh.io/user'], PIA);
  const s = storeSessions().find((x) => x.spec.user === PIA);
  assert.equal(s?.status.exitCode, 3);
  // The next login reaches the same pod.
  const again = await su(PIA, 'echo again', { timeoutMs: 30_000 });
  assert.equal(again.code, 0, again.stderr);
  const after = JSON.parse(await kubectl('get', 'pod', '-n', 'dosh', `dosh-${PIA}`, '-o', 'json'));
  assert.equal(after.metadata.uid, pod.metadata.uid);
});

test('a login on a terminal: a pty in her pod with the size of hers', { timeout: 120_000 }, async () => {
  const r = await run('script', ['-qfec', `stty rows 31 cols 97; su - ${PIA} -c 'sleep 1; stty size; tty'`, '/dev/null'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout.toString());
  assert.match(r.stdout.toString(), /31 97\r\n\/dev\/pts\/\d+\r\n/);
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

test('a pod the cluster cannot schedule: her login is refused with the scheduler\'s words', { timeout: 120_000 }, async () => {
  // Her section's --memory 200g is her pod's limit, and so its request: more than the node has.
  const r = await su(PEG, 'true', { timeoutMs: 60_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the cluster has no node for dpo-peg's pod dosh\/dosh-dpo-peg: 0\/1 nodes are available: 1 Insufficient memory/);
  const s = storeSessions().find((x) => x.spec.user === PEG);
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

test('a Session resource made through the API is no login: doshd makes no pod for it', { timeout: 60_000 }, async () => {
  // A mirrored session of this node, copied under another name for another user, as someone with rights on the
  // namespace could write it: only a login through the relay makes doshd act.
  const items = JSON.parse(await kubectl('get', 'sessions', '-n', 'dosh-e2e', '-o', 'json')).items;
  assert.ok(items.length > 0, 'the logins above are mirrored');
  const forged = { apiVersion: items[0].apiVersion, kind: 'Session', metadata: { name: 'forged-1', namespace: 'dosh-e2e', labels: items[0].metadata.labels }, spec: { ...items[0].spec, user: 'dpo-zed' } };
  const r = await rig.kubectlIn(JSON.stringify(forged), 'apply', '-f', '-');
  assert.equal(r.code, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 4000));
  assert.equal((await kubectl('get', 'pods', '-n', 'dosh', '-l', 'dosh.io/user=dpo-zed', '-o', 'name')).trim(), '');
  assert.equal(storeSessions().some((s) => s.spec.user === 'dpo-zed'), false, 'nothing in the node\'s store either');
});

test('idle collection: her pod stays while a login runs in it, and goes once it has been idle past her IDLETIMEOUT', { timeout: 120_000 }, async () => {
  const gone = async () => {
    const r = await rig.kubectl('get', 'pod', '-n', 'dosh', `dosh-${IDA}`, '-o', 'jsonpath={.metadata.deletionTimestamp}');
    return r.code !== 0 || r.stdout !== '';
  };
  const login = su(IDA, 'sleep 6', { timeoutMs: 60_000 });
  await until('her pod', async () => (await rig.kubectl('get', 'pod', '-n', 'dosh', `dosh-${IDA}`)).code === 0 || undefined, 40_000);
  await new Promise((res) => setTimeout(res, 4500));
  assert.equal(await gone(), false, 'kept under a live login, past the 2 s idle timeout');
  assert.equal((await login).code, 0);
  await until('her idle pod to be deleted', async () => (await gone()) || undefined, 30_000);
  const ev = await doshctl('events', '--for', `user/${IDA}`);
  assert.match(ev.stdout.toString(), new RegExp(`removed pod dosh/dosh-${IDA}, idle for \\d+ s \\(idle timeout 2 s\\)`));
});
