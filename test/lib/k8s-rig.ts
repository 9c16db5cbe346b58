// A real Kubernetes API server serving custom resources (apiextensions-apiserver on etcd, loopback only) for
// integration tests: a thin wrapper over scripts/lib/k8s-apiserver.sh. There is no core API (no namespaces,
// events, leases, RBAC): see the script's header for what works and what does not.
//
//   const k8s = await startApiServer(fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-k8s-')));
//   // ... use k8s.kubeconfig (KUBECONFIG for kubectl, KubeConfig.loadFromFile for @kubernetes/client-node)
//   await k8s.stopApiServer(); await k8s.startApiServer();   // etcd and its data stay; same URL when the port is free
//   await k8s.stop();
//
// The first call on a machine builds the server (about 4 minutes); later starts take about 2 seconds.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/lib/k8s-apiserver.sh');

/** Runs the script; resolves with its stdout (trimmed), rejects with its stderr (the server's log tail on a failed start). */
function rig(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`k8s-apiserver.sh ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

export interface ApiServer {
  /** DIR/kubeconfig: the CA, the server URL and a client certificate in group system:masters. */
  kubeconfig: string;
  /** https://127.0.0.1:PORT (after startApiServer() it is read again: the port changes only if it was taken). */
  server: string;
  /** Stops the API server and etcd. */
  stop(): Promise<void>;
  /** Stops only the API server; etcd keeps running with its data. */
  stopApiServer(): Promise<void>;
  /** Starts the API server again against the running etcd and waits until it is ready. */
  startApiServer(): Promise<void>;
}

/** Starts etcd and the API server with state in dir (created if missing) and waits until the server is ready. */
export async function startApiServer(dir: string): Promise<ApiServer> {
  // Up to 20 minutes: the first start on a machine builds the server from source.
  const kubeconfig = await rig(['start', dir], 20 * 60_000);
  const handle: ApiServer = {
    kubeconfig,
    server: await rig(['server', dir], 30_000),
    async stop() {
      await rig(['stop', dir], 60_000);
    },
    async stopApiServer() {
      await rig(['stop-apiserver', dir], 60_000);
    },
    async startApiServer() {
      await rig(['start-apiserver', dir], 3 * 60_000);
      handle.server = await rig(['server', dir], 30_000);
    },
  };
  return handle;
}
