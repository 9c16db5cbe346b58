// /readyz: doshd is ready when the engine answers and a policy (the file's, or the cluster's) is in force, and in
// Kubernetes mode when it is connected to the API server (controller/kube/connection.ts).
import type { Engine } from '../../engine/docker.ts';
import type { PolicySource } from '../policy-source.ts';
import type { Health } from './http.ts';

export function readiness(engine: Pick<Engine, 'ping'>, policy: Pick<PolicySource, 'status'>, kube?: { notReady(): string | undefined }): Health {
  return {
    notReady: async () => {
      const why: string[] = [];
      await engine.ping().catch((e) => why.push(`docker engine: ${(e as Error).message}`));
      const st = policy.status();
      if (!st.loaded && !st.override) why.push(`policy: ${st.error?.message ?? 'not loaded'}`);
      const api = kube?.notReady();
      if (api) why.push(api);
      return why;
    },
  };
}
