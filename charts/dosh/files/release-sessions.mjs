// The uninstall hook (post-delete): once doshd has stopped on every node, every Session resource of the namespace
// gives up the finalizer dosh.io/session-ended and is deleted, so that nothing holds the namespace or the CRDs. The
// logins themselves go on on their nodes (each login holds its own stream to the engine); a doshd installed
// again mirrors the live ones from its node's store. Usage: node release-sessions.mjs NAMESPACE SELECTOR (the label
// selector of doshd's pods).
import { request, run, sleep } from './kube.mjs';

const [ns, selector] = process.argv.slice(2);
const FINALIZER = 'dosh.io/session-ended';
const WAIT_MS = 120_000;
const sessions = `/apis/dosh.io/v1alpha1/namespaces/${ns}/sessions`;

run(async () => {
  // A doshd still running would mirror its live sessions again, finalizer included.
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const pods = await request('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`);
    if (pods.items.length === 0) break;
    if (Date.now() > deadline) throw new Error(`doshd pods still there after ${WAIT_MS / 1000}s: ${pods.items.map((p) => p.metadata.name).join(', ')}`);
    await sleep(1000);
  }
  let list;
  try {
    list = await request('GET', sessions);
  } catch (e) {
    if (e.status === 404) return console.log('no Session resources (the CRD is gone)');
    throw e;
  }
  let released = 0;
  for (const s of list.items) {
    const held = s.metadata.finalizers ?? [];
    if (held.includes(FINALIZER)) {
      // A merge patch replaces the list: the other finalizers stay; the resourceVersion makes a concurrent change fail.
      const finalizers = held.filter((f) => f !== FINALIZER);
      await request('PATCH', `${sessions}/${s.metadata.name}`, { metadata: { finalizers, resourceVersion: s.metadata.resourceVersion } }, 'application/merge-patch+json');
      released++;
    }
    await request('DELETE', `${sessions}/${s.metadata.name}`).catch((e) => {
      if (e.status !== 404) throw e;
    });
  }
  console.log(`${list.items.length} Session resource(s) deleted, ${released} released from ${FINALIZER} (their logins go on on their nodes)`);
});
