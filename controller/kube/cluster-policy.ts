// Kubernetes mode: the cluster's DoshPolicy named `default`, when it exists, is the policy of every node. Its spec
// is a dosh.yaml document and is checked exactly like the file (the CRD's schema only checks its shape); a spec
// that fails is reported in the resource's status and the node keeps the last good policy. Deleting the resource
// gives each node its policy file back.
//
// Status: each node writes its own verdict into status.nodes (a list map keyed by node, under the node's own
// server-side apply field manager, so entries never overwrite each other) and the summary at the top, computed
// from the verdicts on the current generation that the resource shows. Every node computes the same summary
// from the same list, so the writes settle after one round; the summary's fields are always written, never
// left out, because a field left out stays with whichever node last wrote it, and that node may be gone.
import { stringify } from 'yaml';
import { API_VERSION } from '../../api/constants.ts';
import { DOSHPOLICY_KIND, DOSHPOLICY_NAME, POLICY_ACCEPTED, type DoshPolicyNodeStatus, type DoshPolicyStatus } from '../../api/doshpolicy.ts';
import type { Condition } from '../../api/meta.ts';
import { iso, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { KubeClient, KubeObject, WatchEvent } from '../../kube/client.ts';
import { loadYamlPolicy } from '../../policy/yaml.ts';
import { nodeIO, type PolicyIO } from '../../policy/io.ts';
import { PolicyError } from '../../policy/errors.ts';
import type { CompiledPolicy } from '../../policy/types.ts';

/** The name policy errors carry: the resource, written as a path so errors read like the file's (`…:12: …`). */
export const CLUSTER_POLICY_FILE = `/${DOSHPOLICY_KIND}/${DOSHPOLICY_NAME}.yaml`;

export interface ClusterPolicyDeps {
  api: Pick<KubeClient, 'applyPolicyStatus'>;
  /** Where an accepted policy goes (PolicySource.setOverride). */
  apply(next: { policy: CompiledPolicy; origin: string } | undefined): void;
  clock: Clock;
  log: Logger;
  /** This node's name: the key of its verdict in status.nodes. */
  node: string;
  /** The node's files, for what a policy reads besides itself (an --env-file). */
  io?: PolicyIO;
}

/** Loads a DoshPolicy's spec as the dosh.yaml it is; throws PolicyError with the line and path of what is wrong. */
export function loadClusterPolicy(spec: unknown, io: PolicyIO = nodeIO): CompiledPolicy {
  const text = stringify(spec ?? {});
  return loadYamlPolicy(CLUSTER_POLICY_FILE, { readFile: (p) => (p === CLUSTER_POLICY_FILE ? text : io.readFile(p)), glob: (g) => io.glob(g) });
}

/** The summary of the verdicts on GENERATION: accepted when none rejected it; the first rejection (by node name) as the error. */
export function summarise(generation: number | undefined, nodes: readonly DoshPolicyNodeStatus[], previous: readonly Condition[] | undefined, now: string): Omit<DoshPolicyStatus, 'nodes'> {
  const current = nodes.filter((n) => n.observedGeneration === generation).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const rejected = current.find((n) => !n.accepted);
  const status = rejected ? 'False' : 'True';
  const message = rejected ? `rejected by ${rejected.node}: ${rejected.lastError ?? ''}` : `accepted by ${current.map((n) => n.node).join(', ')}`;
  const old = previous?.find((c) => c.type === POLICY_ACCEPTED);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : now;
  return {
    observedGeneration: generation,
    lastError: rejected ? `${rejected.node}: ${rejected.lastError ?? ''}` : '',
    conditions: [{ type: POLICY_ACCEPTED, status, reason: rejected ? 'Invalid' : 'Valid', message, lastTransitionTime }],
  };
}

export class ClusterPolicy {
  /** The generation last checked, and this node's verdict on it: a resync of an unchanged resource checks nothing. */
  private seen?: { uid?: string; generation?: number; verdict: DoshPolicyNodeStatus };

  constructor(private readonly d: ClusterPolicyDeps) {}

  async onEvent(type: WatchEvent, obj: KubeObject): Promise<void> {
    if (obj.metadata.name !== DOSHPOLICY_NAME) return;
    if (type === 'delete') {
      this.seen = undefined;
      this.d.apply(undefined);
      return;
    }
    const { uid, generation } = obj.metadata;
    const prev = this.seen;
    const seen = prev && prev.uid === uid && prev.generation === generation ? prev : (this.seen = { uid, generation, verdict: this.check(obj) });
    const mine = seen.verdict;
    const have = (obj.status ?? {}) as Partial<DoshPolicyStatus>;
    const others = (have.nodes ?? []).filter((n) => n.node !== this.d.node);
    const summary = summarise(generation, [...others, mine], have.conditions, iso(this.d.clock.now()));
    // Written whenever the resource does not say it yet (the first attempt may have failed with the server away).
    const sameVerdict = (a: DoshPolicyNodeStatus | undefined) => a !== undefined && a.observedGeneration === mine.observedGeneration && a.accepted === mine.accepted && (a.lastError ?? '') === (mine.lastError ?? '');
    const cond = (s: Partial<DoshPolicyStatus>) => s.conditions?.find((c) => c.type === POLICY_ACCEPTED);
    const sameSummary = have.observedGeneration === summary.observedGeneration && cond(have)?.status === cond(summary)?.status && cond(have)?.message === cond(summary)?.message && (have.lastError ?? '') === summary.lastError;
    if (sameVerdict(have.nodes?.find((n) => n.node === this.d.node)) && sameSummary) return;
    try {
      await this.d.api.applyPolicyStatus(DOSHPOLICY_NAME, API_VERSION, DOSHPOLICY_KIND, { ...summary, nodes: [mine] });
    } catch (e) {
      this.d.log.warn('could not report the cluster policy status', { error: String(e) });
    }
  }

  private check(obj: KubeObject): DoshPolicyNodeStatus {
    const generation = obj.metadata.generation;
    try {
      const policy = loadClusterPolicy(obj.spec, this.d.io);
      this.d.apply({ policy, origin: `${DOSHPOLICY_KIND}/${DOSHPOLICY_NAME} generation ${generation ?? '?'}` });
      return { node: this.d.node, observedGeneration: generation, accepted: true };
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      this.d.log.error('cluster policy rejected; the last good policy stays in force', { error: e.message });
      return { node: this.d.node, observedGeneration: generation, accepted: false, lastError: e.message };
    }
  }
}
