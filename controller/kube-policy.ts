// Kubernetes mode: the cluster's DoshPolicy named `default`, when it exists, is the policy of every node. Its spec
// is a dosh.yaml document and is checked exactly like the file (the CRD's schema only checks its shape); a spec
// that fails is reported in the resource's status and the node keeps the last good policy. Deleting the resource
// gives each node its policy file back.
import { stringify } from 'yaml';
import { API_VERSION } from '../api/constants.ts';
import { DOSHPOLICY_KIND, DOSHPOLICY_NAME, POLICY_ACCEPTED, type DoshPolicyStatus } from '../api/doshpolicy.ts';
import { iso, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { KubeClient, KubeObject, WatchEvent } from '../kube/client.ts';
import { loadYamlPolicy } from '../policy/yaml.ts';
import { nodeIO, type PolicyIO } from '../policy/io.ts';
import { PolicyError } from '../policy/errors.ts';
import type { CompiledPolicy } from '../policy/types.ts';

/** The name policy errors carry: the resource, written as a path so errors read like the file's (`…:12: …`). */
export const CLUSTER_POLICY_FILE = `/${DOSHPOLICY_KIND}/${DOSHPOLICY_NAME}.yaml`;

export interface ClusterPolicyDeps {
  api: Pick<KubeClient, 'applyPolicyStatus'>;
  /** Where an accepted policy goes (PolicySource.setOverride). */
  apply(next: { policy: CompiledPolicy; origin: string } | undefined): void;
  clock: Clock;
  log: Logger;
  /** The node's files, for what a policy reads besides itself (an --env-file). */
  io?: PolicyIO;
}

/** Loads a DoshPolicy's spec as the dosh.yaml it is; throws PolicyError with the line and path of what is wrong. */
export function loadClusterPolicy(spec: unknown, io: PolicyIO = nodeIO): CompiledPolicy {
  const text = stringify(spec ?? {});
  return loadYamlPolicy(CLUSTER_POLICY_FILE, { readFile: (p) => (p === CLUSTER_POLICY_FILE ? text : io.readFile(p)), glob: (g) => io.glob(g) });
}

export class ClusterPolicy {
  /** The generation last checked, and what was found: a resync of an unchanged resource does nothing. */
  private seen?: { uid?: string; generation?: number; status: DoshPolicyStatus };

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
    const seen = prev && prev.uid === uid && prev.generation === generation ? prev : (this.seen = { uid, generation, status: this.check(obj) });
    // Written whenever the resource does not say it yet (the first attempt may have failed with the server away).
    const want = seen.status;
    const have = (obj.status ?? {}) as Partial<DoshPolicyStatus>;
    const cond = (s: Partial<DoshPolicyStatus>) => s.conditions?.find((c) => c.type === POLICY_ACCEPTED);
    if (have.observedGeneration === want.observedGeneration && cond(have)?.status === cond(want)?.status && have.lastError === want.lastError) return;
    try {
      await this.d.api.applyPolicyStatus(DOSHPOLICY_NAME, API_VERSION, DOSHPOLICY_KIND, want);
    } catch (e) {
      this.d.log.warn('could not report the cluster policy status', { error: String(e) });
    }
  }

  private check(obj: KubeObject): DoshPolicyStatus {
    const now = iso(this.d.clock.now());
    const generation = obj.metadata.generation;
    try {
      const policy = loadClusterPolicy(obj.spec, this.d.io);
      this.d.apply({ policy, origin: `${DOSHPOLICY_KIND}/${DOSHPOLICY_NAME} generation ${generation ?? '?'}` });
      return { observedGeneration: generation, conditions: [{ type: POLICY_ACCEPTED, status: 'True', reason: 'Valid', message: 'in force on the nodes', lastTransitionTime: now }] };
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      this.d.log.error('cluster policy rejected; the last good policy stays in force', { error: e.message });
      return { observedGeneration: generation, lastError: e.message, conditions: [{ type: POLICY_ACCEPTED, status: 'False', reason: 'Invalid', message: e.message, lastTransitionTime: now }] };
    }
  }
}
