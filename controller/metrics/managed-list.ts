// The running containers doshd manages on this node, for the per-user metrics: listed from the engine at most every
// couple of seconds, so that a scrape (or several at once) costs no engine call.
import { LABEL_MANAGED, LABEL_NODE } from '../../api/labels.ts';
import type { Engine } from '../../engine/docker.ts';
import type { ListManaged, ManagedContainer } from './user-metrics.ts';

export function cachedManagedList(engine: Pick<Engine, 'listContainers'>, node: string, now: () => number, ttlMs = 2000): ListManaged {
  let listed: { at: number; list: Promise<ManagedContainer[]> } | undefined;
  return () => {
    if (!listed || now() - listed.at > ttlMs) {
      const entry = { at: now(), list: engine.listContainers(`${LABEL_MANAGED}=true`).then((l) => l.filter((c) => c.state === 'running' && c.labels[LABEL_NODE] === node)) };
      // A failed list is not kept: the next scrape asks again.
      entry.list.catch(() => {
        if (listed === entry) listed = undefined;
      });
      listed = entry;
    }
    return listed.list;
  };
}
