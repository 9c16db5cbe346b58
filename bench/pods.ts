// bench/pods: what a login into a pod costs (the kubernetes backend), side by side in one run (hyperfine) on the
// test cluster (scripts/lib/k8s-cluster.sh: one node, containerd, everything on loopback): DoSH's warm login through
// su against `kubectl exec` into a running pod, and its cold login (her pod deleted first) against `kubectl run` and a
// wait until the pod is Ready. Run with `npm run bench:pods` (root; installs and starts what it needs).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, delUser, Doshd, REPO } from '../test/e2e/harness.ts';
import { startCluster, type Cluster } from '../test/lib/k8s-cluster.ts';
import { hyperfine, type Result } from './hyperfine.ts';
import { runBench } from './run.ts';

const RUNS = Number(process.env.BENCH_N ?? 30);
const COLD_RUNS = Math.max(5, Math.ceil(RUNS / 3));
const USER = 'dosh-bench-pod';
const NS = 'dosh';

let rig: Cluster | undefined;
let doshd: Doshd | undefined;
let work: string | undefined;

async function main(): Promise<void> {
  work = mkdtempSync(path.join(tmpdir(), 'bench-pods-'));
  rig = await startCluster(path.join(work, 'k8s'));
  await rig.importImages(BUSYBOX);
  const k = `kubectl --kubeconfig ${rig.kubeconfig} -n ${NS}`;
  const must = (cmd: string) => {
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    return r.stdout;
  };
  must(`kubectl --kubeconfig ${rig.kubeconfig} apply -f ${REPO}/crds/ >/dev/null && kubectl --kubeconfig ${rig.kubeconfig} create namespace ${NS} >/dev/null && kubectl --kubeconfig ${rig.kubeconfig} create namespace dosh-bench >/dev/null`);
  addUser(USER);
  doshd = await new Doshd(`BACKEND=kubernetes\nCONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`, ['--kubeconfig', rig.kubeconfig, '--kube-namespace', 'dosh-bench', '--log-level', 'warn']).start();
  // The floor: a pod of the same image, made and exec'd into with kubectl.
  const podRun = (name: string) => `${k} run ${name} --image=${BUSYBOX} --image-pull-policy=IfNotPresent --restart=Never --command -- sleep 2147483647 >/dev/null`;
  must(`${podRun('floor')} && ${k} wait --for=condition=Ready pod/floor --timeout=120s >/dev/null`);
  must(`su - ${USER} -c true`);

  const warm = hyperfine(
    [
      { name: 'kubectl exec', run: `${k} exec floor -- true` },
      { name: 'DoSH warm', run: `su - ${USER} -c true` },
    ],
    RUNS,
  );
  // hyperfine runs commands without a shell (-N): the cold ones are scripts of their own.
  const bash = (script: string) => `bash -c '${script}'`;
  // Deleted at once (no grace): the next login or run finds no pod and makes one.
  const del = (name: string) => bash(`${k} delete pod ${name} --grace-period=0 --force --ignore-not-found --wait=true >/dev/null 2>&1`);
  const cold = hyperfine(
    [
      { name: 'kubectl run + wait', run: bash(`${podRun('floor-run')} && ${k} wait --for=condition=Ready pod/floor-run --timeout=120s >/dev/null`), prepare: del('floor-run') },
      { name: 'DoSH cold', run: `su - ${USER} -c true`, prepare: del(`dosh-${USER}`) },
    ],
    COLD_RUNS,
  );

  const f = (x: number) => `${x.toFixed(1)} ms`;
  const row = (m: Map<string, Result>, name: string, floor: string, label: string) => {
    const x = m.get(name)!;
    console.log(`| ${label} | ${f(x.median)} | ± ${x.stddev.toFixed(1)} | ${(x.median / m.get(floor)!.median).toFixed(2)} |`);
  };
  const version = must(`kubectl --kubeconfig ${rig.kubeconfig} version -o json`);
  console.log(`bench/pods: ${RUNS} runs warm, ${COLD_RUNS} cold, ${cpus().length} cores, Kubernetes ${JSON.parse(version).serverVersion.gitVersion}, one node`);
  console.log('');
  console.log('| what | median | σ | ratio |');
  console.log('|---|---|---|---|');
  row(warm, 'kubectl exec', 'kubectl exec', '`kubectl exec P -- true` (floor)');
  row(warm, 'DoSH warm', 'kubectl exec', 'DoSH warm into her pod: `su - U -c true`');
  row(cold, 'kubectl run + wait', 'kubectl run + wait', '`kubectl run` + `kubectl wait` Ready (cold floor)');
  row(cold, 'DoSH cold', 'kubectl run + wait', 'DoSH cold (her pod deleted first)');
}

async function cleanup(): Promise<void> {
  await doshd?.stop();
  doshd?.cleanup();
  await rig?.stop();
  if (spawnSync('bash', ['-c', `id ${USER} >/dev/null 2>&1`]).status === 0) delUser(USER);
  if (work) rmSync(work, { recursive: true, force: true });
}

void runBench('bench/pods', main, cleanup);
