// A real single-node Kubernetes cluster (or its API server alone) for the tests: a thin wrapper over
// scripts/lib/k8s-cluster.sh, whose header says what runs, on which addresses, and what the host gets back on stop.
//
//   const k8s = await startCluster(fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-k8s-')));              // a node
//   const api = await startCluster(dir, { apiserverOnly: true });   // etcd + kube-apiserver: CRDs, namespaces, RBAC
//   await k8s.kubectl('get', 'nodes');  await k8s.importImages('dosh/doshd:local');
//   await k8s.stopApiServer(); await k8s.startApiServer();   // everything else goes on; same URL when the port is free
//   await k8s.pauseApiServer(); await k8s.resumeApiServer(); // a hung API server: connections accepted, never answered
//   await k8s.stop();
//
// The first call on a machine builds Kubernetes from source (about 14 minutes on 2 cores from a cold Go cache, see
// docs/ARCHITECTURE.md); then a node is up in about 15 seconds and an API server alone in about 5.
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/lib/k8s-cluster.sh');

/** Runs the script; resolves with its stdout (trimmed), rejects with its stderr (a failed start's log tail). */
function rig(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`k8s-cluster.sh ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  dir: string;
  /** DIR/kubeconfig: the CA, the server URL and a client certificate in group system:masters. */
  kubeconfig: string;
  /** https://127.0.0.1:PORT (read again after startApiServer(): the port changes only if it was taken). */
  server: string;
  /** The node's name (the host name, lower-case), as the session helper records it. Empty with apiserverOnly. */
  node: string;
  kubectl(...args: string[]): Promise<KubectlResult>;
  /** kubectl with stdin. */
  kubectlIn(input: string, ...args: string[]): Promise<KubectlResult>;
  /** Loads images of the Docker engine (by name) or docker-archive files into the node's containerd. */
  importImages(...images: string[]): Promise<void>;
  /** Stops everything and restores the host. */
  stop(): Promise<void>;
  /** Stops only kube-apiserver. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again and waits until it is ready. */
  startApiServer(): Promise<void>;
  /** SIGSTOPs kube-apiserver: its port accepts connections that are never answered (a hung API server). */
  pauseApiServer(): Promise<void>;
  resumeApiServer(): Promise<void>;
}

/** Starts the cluster with state in dir (created if missing) and waits until it is ready. */
export async function startCluster(dir: string, opts: { apiserverOnly?: boolean } = {}): Promise<Cluster> {
  // Up to 40 minutes: the first start on a machine builds Kubernetes from source.
  const kubeconfig = await rig(['start', dir, ...(opts.apiserverOnly ? ['--apiserver-only'] : [])], 40 * 60_000);
  const kubectlIn = (input: string, ...args: string[]) =>
    new Promise<KubectlResult>((resolve, reject) => {
      const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input);
    });
  const handle: Cluster = {
    dir,
    kubeconfig,
    server: await rig(['server', dir], 30_000),
    node: opts.apiserverOnly ? '' : await nodeName(kubeconfig),
    kubectl: (...args) => kubectlIn('', ...args),
    kubectlIn,
    async importImages(...images) {
      await rig(['import', dir, ...images], 10 * 60_000);
    },
    async stop() {
      await rig(['stop', dir], 3 * 60_000);
    },
    async stopApiServer() {
      await rig(['stop-apiserver', dir], 60_000);
    },
    async startApiServer() {
      await rig(['start-apiserver', dir], 3 * 60_000);
      handle.server = await rig(['server', dir], 30_000);
    },
    async pauseApiServer() {
      await rig(['pause-apiserver', dir], 30_000);
    },
    async resumeApiServer() {
      await rig(['resume-apiserver', dir], 30_000);
    },
  };
  return handle;
}

function nodeName(kubeconfig: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'], { encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`kubectl get nodes: ${stderr}`)) : resolve(stdout.trim()),
    ),
  );
}
