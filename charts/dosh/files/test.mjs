// `helm test`: doshd runs and is Ready on every login node the DaemonSet selects, and the Session resources the nodes
// mirror can be listed. Ready is doshd's /readyz: its Docker engine answers, a policy is loaded and it is connected to
// the API server. Usage: node test.mjs NAMESPACE DAEMONSET SELECTOR (the label selector of doshd's pods).
import { request, run, sleep } from './kube.mjs';

const [ns, daemonset, selector] = process.argv.slice(2);
const WAIT_MS = 120_000;

run(async () => {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const ds = await request('GET', `/apis/apps/v1/namespaces/${ns}/daemonsets/${daemonset}`);
    const st = ds.status ?? {};
    const want = st.desiredNumberScheduled ?? 0;
    if (want === 0) throw new Error(`no node matches the DaemonSet's nodeSelector ${JSON.stringify(ds.spec.template.spec.nodeSelector)}: label your login nodes`);
    const current = st.observedGeneration === ds.metadata.generation && st.updatedNumberScheduled === want;
    if (current && st.numberReady === want) {
      console.log(`doshd is Ready on ${want} of ${want} login node(s)`);
      break;
    }
    if (Date.now() > deadline) {
      const pods = await request('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`);
      const notReady = pods.items
        .filter((p) => !p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((p) => `${p.metadata.name} on ${p.spec.nodeName ?? '(unscheduled)'}: ${p.status.phase}`);
      throw new Error(`doshd Ready on ${st.numberReady ?? 0} of ${want} login node(s) after ${WAIT_MS / 1000}s; not Ready: ${notReady.join('; ') || '(none listed)'} (kubectl describe pod shows why)`);
    }
    await sleep(2000);
  }
  const sessions = await request('GET', `/apis/dosh.io/v1alpha1/namespaces/${ns}/sessions`);
  const live = sessions.items.filter((s) => ['Pending', 'Ready', 'Running'].includes(s.status?.phase)).length;
  console.log(`${sessions.items.length} Session resource(s) in ${ns}, ${live} live`);
});
