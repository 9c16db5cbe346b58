// The kubernetes backend as admission and the relay's events see it: her pod and her login's exec in it, the exec's
// state for the exit status, its terminal size and its end. doshd makes one when it runs with a Kubernetes
// connection (--kubeconfig or in a cluster); without one, a kubernetes user is refused BackendUnavailable.
import { rmSync } from 'node:fs';
import type { ExecPlan, Session } from '../../api/session.ts';
import type { Logger } from '../../lib/log.ts';
import { PodCollector, type PodCollectorApi, type PodCollectorDeps } from './pod-collector.ts';
import type { EffectivePolicy, UserInfo } from '../../api/policy.ts';
import type { Clock, Random } from '../../lib/clock.ts';
import type { Engine } from '../../engine/docker.ts';
import { POD_CONTAINER } from '../../policy/pod-spec.ts';
import { PodExecBridge, type PodExecApi, type PodExecState } from './exec-bridge.ts';
import { UserPods, wantedPodHash, type PodApi, type UserPod } from './user-pods.ts';
import { podState } from './pod-state.ts';
import { NotFoundError } from '../../lib/errors.ts';
import { LABEL_HASH } from '../../api/labels.ts';

/**
 * How long a login waits for her pod to run: under the relay's own wait for doshd's answer (30 s by default), so
 * that she reads the cluster's reason, not a timeout.
 */
export const POD_READY_TIMEOUT_MS = 25_000;

type ExecEngine = Pick<Engine, 'inspectExec' | 'resizeExec' | 'inspectContainer'>;

export interface PodBackendOptions {
  /** The bridge's socket, root's only: what the relay is told to start a pod login's exec on. */
  socket: string;
  /** Where the fleet's Session resources are (the Kubernetes mode's namespace): what the collector asks. */
  sessionsNamespace: string;
  /** The namespaces of users' pods served from the start (--pod-namespaces). */
  namespaces?: readonly string[];
  readyTimeoutMs: number;
  pollMs: number;
}

/**
 * A Kubernetes exec can set neither the environment, nor the directory, nor the user: the user is the pod's (her
 * uid, runAsUser), and a small sh in her image sets the rest before it becomes her command. Her home may be missing
 * in a pod without a home volume: then she starts in /, as a login to a host without her home does.
 */
const ENTER = 'cd -- "$1" 2>/dev/null || cd /; shift; exec env "$@"';

/** The command the pod exec runs for a plan's command line. */
export function podCommand(plan: Pick<ExecPlan, 'env' | 'workingDir'>, argv: string[], home: string): string[] {
  return ['/bin/sh', '-c', ENTER, 'dosh', plan.workingDir ?? home, ...plan.env, ...argv];
}

export interface PodBackendDeps {
  api: PodApi & PodExecApi & PodCollectorApi;
  clock: Clock;
  random: Random;
  log: Logger;
  options: PodBackendOptions;
  /** Told of each idle pod deleted (an event on the user, the collection metric). */
  collected: PodCollectorDeps['collected'];
  /** Her current policy, for the rollout of pods that predate it; undefined when she is unknown or refused. */
  policyOf?(user: string): Promise<{ policy: EffectivePolicy; user: UserInfo } | undefined>;
  /** Told of each idle pod deleted because it predates the policy. */
  rolledOut?: PodCollectorDeps['rolledOut'];
  /** When this node's policy was last loaded: only pods made before it are rolled out. */
  policySince?: PodCollectorDeps['policySince'];
}

export class PodBackend {
  readonly pods: UserPods;
  readonly bridge: PodExecBridge;
  readonly collector: PodCollector;
  private readonly api: PodApi & PodExecApi;
  private readonly opts: PodBackendOptions;

  constructor(d: PodBackendDeps) {
    this.api = d.api;
    this.opts = d.options;
    this.pods = new UserPods({ api: d.api, clock: d.clock, readyTimeoutMs: d.options.readyTimeoutMs, pollMs: d.options.pollMs });
    this.bridge = new PodExecBridge({ api: d.api, random: d.random });
    const policyOf = d.policyOf;
    this.collector = new PodCollector({
      api: d.api,
      clock: d.clock,
      log: d.log,
      sessionsNamespace: d.options.sessionsNamespace,
      namespaces: d.options.namespaces,
      collected: d.collected,
      rolledOut: d.rolledOut,
      policySince: d.policySince,
      wanted: policyOf && (async (name) => {
        const it = await policyOf(name);
        return it?.policy.backend === 'kubernetes' ? wantedPodHash(it.policy, it.user) : undefined;
      }),
    });
  }

  /** A housekeeping pass: the pods of this node's live logins marked in use, idle ones deleted. */
  collect(sessions: readonly Session[]): Promise<void> {
    return this.collector.collect(sessions);
  }

  get socket(): string {
    return this.opts.socket;
  }

  /** A socket left by an earlier doshd is replaced: only one doshd serves a store (its session API socket says so). */
  listen(): Promise<void> {
    rmSync(this.opts.socket, { force: true });
    return this.bridge.listen(this.opts.socket);
  }

  close(): void {
    this.bridge.close();
  }

  ensure(policy: EffectivePolicy, user: UserInfo): Promise<UserPod> {
    return this.pods.ensure(policy, user);
  }

  createExec(pod: UserPod, plan: Pick<ExecPlan, 'env' | 'workingDir'>, argv: string[], home: string, tty: boolean): string {
    return this.bridge.create({ namespace: pod.namespace, pod: pod.name, container: POD_CONTAINER }, podCommand(plan, argv, home), tty);
  }

  /** The exec's state as the engine's would read (pid -1: no process on this host), or undefined if not a pod exec. */
  inspectExec(id: string): (PodExecState & { pid: number }) | undefined {
    const st = this.bridge.inspect(id);
    return st && { ...st, pid: -1 };
  }

  owns(id: string): boolean {
    return this.bridge.inspect(id) !== undefined;
  }

  resize(id: string, rows: number, cols: number): void {
    this.bridge.resize(id, rows, cols);
  }

  end(id: string): void {
    this.bridge.end(id);
  }

  /** Whether her pod predates this policy (a policy reload marks her live sessions); undefined when it is gone. */
  async isOutdated(pod: { namespace: string; name: string }, policy: EffectivePolicy, user: UserInfo): Promise<boolean | undefined> {
    const cur = await this.api.readPod(pod.namespace, pod.name).catch(() => undefined);
    if (!cur) return undefined;
    // Moved to the docker backend: any pod is outdated (and a docker-only policy may make no pod spec at all).
    return policy.backend !== 'kubernetes' || cur.metadata?.labels?.[LABEL_HASH] !== wantedPodHash(policy, user);
  }

  /** Why a pod login's command was cut, in the cluster's words: her pod evicted, failed, deleted; undefined if it runs. */
  async why(pod: { namespace: string; name: string }): Promise<string | undefined> {
    const at = `her pod ${pod.namespace}/${pod.name}`;
    try {
      const st = podState(await this.api.readPod(pod.namespace, pod.name));
      if (st.kind === 'failed') return `the session was cut: ${at} ${st.reason === 'Evicted' ? 'was evicted' : 'failed'} (${st.reason}: ${st.message})`;
      if (st.kind === 'terminating' && st.disruption) return `the session was cut: ${at} was evicted (${st.disruption.reason}: ${st.disruption.message})`;
      if (st.kind === 'terminating') return `the session was cut: ${at} is being deleted`;
      return undefined;
    } catch (e) {
      if (e instanceof NotFoundError) return `the session was cut: ${at} was deleted`;
      return undefined;
    }
  }
}

/** The exec calls of the relay's events, answered by the bridge for a pod login's exec and by the engine for the rest. */
export function routeExecs<E extends ExecEngine>(engine: E, pods: PodBackend | undefined): ExecEngine {
  if (!pods) return engine;
  return {
    inspectExec: async (id) => pods.inspectExec(id) ?? engine.inspectExec(id),
    resizeExec: async (id, rows, cols) => (pods.owns(id) ? pods.resize(id, rows, cols) : engine.resizeExec(id, rows, cols)),
    inspectContainer: (id) => engine.inspectContainer(id),
  };
}
