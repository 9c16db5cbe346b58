// Admission of a Pending session: who she is, whether she may log in now, her policy, her container, the preexec
// hooks and the exec she will run, all decided before the compare-and-swap that records Ready. That write can lose
// to another writer (a conflict: the session is requeued and admitted again), so what admission does outside the
// store is remembered per session (by uid) and not done twice: the Admitted event is recorded once, and the preexec
// hooks and the exec are reused while her container is the same. (Her login rate is charged before the session is
// written: controller/session-api/gate.ts.)
import * as path from 'node:path';
import { setCondition } from '../api/meta.ts';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import type { ConditionReason, RefusalReason } from '../api/reasons.ts';
import { isLive, type ExecPlan, type Session, type SessionStatus } from '../api/session.ts';
import { commandLine } from '../policy/remote-command.ts';
import { iso } from '../lib/clock.ts';
import { InvalidError, RefusedError, UnavailableError } from '../lib/errors.ts';
import { BUSY_RETRIES, ContainerBusyError, type UserContainers } from './containers.ts';
import type { ControllerDeps } from './deps.ts';
import { sessionRef } from './events.ts';
import { planExec } from './exec-plan.ts';
import { hookContext, type ControllerHooks } from './hook-runner.ts';
import { hookArgs } from './hook-scripts.ts';
import { planTransfer } from './transfer-plan.ts';
import { AGENT_MOUNT } from '../api/constants.ts';
import { agentDir } from './container-spec.ts';
import { agentSocketPath } from './session-api/server.ts';

/** Backoff steps (50 ms doubling, ~1.5 s) a login waits for an unreachable engine before it is refused. */
export const ENGINE_RETRIES = 5;

/** What admission decided: the status that makes the session Ready, or a refusal. Transient errors are thrown. */
export type Verdict = { ready: SessionStatus; user: string; container: string } | { refused: RefusalReason; message: string };

/** What admission already did for one session, outside the store. */
interface Done {
  /** The session's metadata.uid: a new session that reuses a name starts afresh. */
  uid: string;
  /** The Admitted event is recorded. */
  admitted: boolean;
  /** The preexec hooks ran for this container and plan (`containerId plan` as text). */
  preexecFor?: string;
  /** The exec created for this container and plan. */
  exec?: { for: string; execId: string };
  /** The RecordingStopped event of a session her cap keeps from being recorded is recorded. */
  recordingSkipped?: boolean;
}

type AdmissionDeps = Pick<ControllerDeps, 'store' | 'engine' | 'policy' | 'users' | 'cordon' | 'events' | 'clock' | 'log' | 'options' | 'toolbox' | 'recordings' | 'pods'>;

export class Admission {
  private done = new Map<string, Done>();

  constructor(
    private readonly d: AdmissionDeps,
    private readonly containers: UserContainers,
    private readonly hooks: ControllerHooks,
  ) {}

  /** Decides a Pending session; `retries` is how often its key was requeued (the bounded waits count them). */
  async admit(s: Session, retries: number): Promise<Verdict> {
    try {
      return await this.decide(s);
    } catch (err) {
      if (err instanceof RefusedError) return { refused: err.reason, message: err.message };
      // The engine refused the request itself (a value it will never accept): retrying cannot help this login.
      if (err instanceof InvalidError) return { refused: 'EngineRefused', message: `the Docker engine refused ${s.spec.user}'s container: ${err.message}` };
      // A container that is restarting or being removed is waited for a while (~13 s), then the login is refused.
      if (err instanceof ContainerBusyError) {
        if (retries >= BUSY_RETRIES) return { refused: err.refusal.reason, message: err.refusal.message };
        throw err;
      }
      // A login waits a few backoff steps (~1.5 s) for an engine that is restarting, not the login's whole timeout.
      if (err instanceof UnavailableError && retries >= ENGINE_RETRIES) {
        return { refused: 'EngineUnavailable', message: `the Docker engine is not answering; try again in a moment (${err.message})` };
      }
      throw err;
    }
  }

  /** Drops what was remembered of a session: once it is no longer Pending, it is never admitted again. */
  forget(name: string): void {
    this.done.delete(name);
  }

  private async decide(s: Session): Promise<Verdict> {
    let done = this.done.get(s.metadata.name);
    if (done?.uid !== s.metadata.uid) {
      done = { uid: s.metadata.uid, admitted: false };
      this.done.set(s.metadata.name, done);
    }
    const user = await this.d.users.lookup(s.spec.user);
    if (!user || user.uid !== s.spec.uid) throw new RefusedError('UnknownUser', `user ${s.spec.user} (uid ${s.spec.uid}) is not known to this host`);
    const cordoned = this.d.cordon.message();
    if (cordoned !== undefined) throw new RefusedError('Cordoned', cordoned);
    const policy = this.d.policy.resolve(user);
    // Only accounts whose login shell is DoSH's, unless the policy lets hers in: a bash user or a service account
    // running dosh gets nothing made for it (no container, no directory) without the sysadmin's say.
    if (s.spec.loginShell === false && !policy.allowOtherShell) {
      throw new RefusedError('NotDoshShell', `${user.name}'s login shell is ${user.shell}, not DoSH's: only accounts whose login shell is DoSH's may log in through it, unless the policy allows hers (ALLOWOTHERSHELL=true)`);
    }
    // Never her container on this host's engine instead of the pod her policy asked for: refused before anything is made.
    if (policy.backend === 'kubernetes' && !this.d.pods) throw new RefusedError('BackendUnavailable', `${user.name}'s policy puts her container on the kubernetes backend (${where(policy, 'backend')}), and this doshd has no Kubernetes connection (--kubeconfig, or run in the cluster): it cannot make her pod`);
    this.checkSessionLimit(s, user, policy);
    if (policy.unsafe.length) this.d.log.warn('login uses unsafe policy opt-ins', { user: user.name, session: s.metadata.name, unsafe: policy.unsafe });
    if (!done.admitted) {
      this.d.events.record(sessionRef(s), 'Normal', 'Admitted', `login of ${user.name} (${s.spec.mode}${s.spec.tty ? ', tty' : ''}) admitted, image ${policy.image}`);
      done.admitted = true;
    }
    if (policy.backend === 'kubernetes') return this.decidePod(s, user, policy, done, this.d.pods!);
    const container = await this.containers.withUserLock(user.name, () => this.containers.ensure(policy, user, s));
    const shellPlan = planExec(s.spec, container.shell ? { ...policy, command: container.shell } : policy, user);
    // A file transfer runs her image's program, or the toolbox's, or is refused saying why (transfer-plan.ts).
    const transfer = await planTransfer(s.spec, user, container, { engine: this.d.engine, toolbox: this.d.toolbox && (() => (this.d.options.toolboxDir ? this.d.toolbox?.() : undefined)) });
    const plan = transfer ? { ...shellPlan, shell: transfer.shell, tool: transfer.tool } : shellPlan;
    // `ssh -A` with FORWARDAGENT: her container reaches her agent through a socket the relay binds in her agent
    // directory (mounted at AGENT_MOUNT) and carries to her own SSH_AUTH_SOCK after the drop.
    const agents = this.d.options.agentsDir;
    const agentSocket = policy.forwardAgent && s.spec.agent && agents ? agentSocketPath(agentDir(agents, user.uid), s.metadata.name) : undefined;
    if (agentSocket) plan.env = [...plan.env, `SSH_AUTH_SOCK=${AGENT_MOUNT}/${path.basename(agentSocket)}`];
    const recording = policy.recordSessions && s.spec.tty ? this.recordingPlan(s, done) : undefined;
    const argv = commandLine(s.spec, plan);
    const { outdated, shell: _shell, ...ref } = container;
    const made = { ref, ready: `container ${container.name} is running`, outdated: outdated ? 'the container predates the current policy' : undefined };
    const createExec = () => this.d.engine.createExec(container.id, { argv, env: plan.env, user: plan.user, workingDir: plan.workingDir, tty: s.spec.tty });
    return this.ready(s, user, policy, done, made, plan, argv, createExec, { notice: transfer?.notice, agentSocket, recording });
  }

  /**
   * A login into her pod: the pod found or made (and waited for), and the exec the bridge will carry. No file
   * transfer from the toolbox (it is this host's) and no agent forwarding (the socket is on this host); her
   * preexec hooks run as for a container, with the pod's names.
   */
  private async decidePod(s: Session, user: UserInfo, policy: EffectivePolicy, done: Done, pods: NonNullable<AdmissionDeps['pods']>): Promise<Verdict> {
    const pod = await pods.ensure(policy, user).catch((e) => {
      // A request the API server refuses (RBAC forbids the namespace, a quota) will be refused again.
      if (e instanceof InvalidError) throw new RefusedError('EngineRefused', `the Kubernetes API server refused ${user.name}'s pod: ${e.message}`);
      throw e;
    });
    const plan = planExec(s.spec, policy, user);
    const recording = policy.recordSessions && s.spec.tty ? this.recordingPlan(s, done) : undefined;
    const argv = commandLine(s.spec, plan);
    const ref = { id: `pod:${pod.uid}`, name: `${pod.namespace}/${pod.name}`, image: policy.image, pod: { namespace: pod.namespace, name: pod.name, node: pod.node } };
    const made = { ref, ready: `pod ${ref.name} is running on node ${pod.node}`, outdated: pod.outdated ? 'the pod predates the current policy' : undefined };
    return this.ready(s, user, policy, done, made, plan, argv, () => pods.createExec(pod, plan, argv, user.home, s.spec.tty), { recording });
  }

  /**
   * The preexec hooks and the exec for her container (or pod) and plan, then the status that makes the session
   * Ready. The hooks and the exec of an earlier attempt whose Ready was never recorded are reused when they were for
   * this container and this plan; else (her container made again meanwhile, say) they are done anew.
   */
  private async ready(
    s: Session,
    user: UserInfo,
    policy: EffectivePolicy,
    done: Done,
    made: { ref: NonNullable<SessionStatus['container']>; ready: string; outdated?: string },
    plan: ExecPlan,
    argv: string[],
    createExec: () => Promise<string> | string,
    extra: Pick<SessionStatus, 'notice' | 'agentSocket' | 'recording'>,
  ): Promise<Verdict> {
    const target = `${made.ref.id} ${JSON.stringify(plan)}`;
    if (done.preexecFor !== target) {
      await this.hooks.forPolicy(policy, 'preexec', hookArgs('preexec', made.ref.name, argv), hookContext(user, made.ref, s));
      done.preexecFor = target;
    }
    if (done.exec?.for !== target) done.exec = { for: target, execId: await createExec() };
    const now = this.d.clock.now();
    let conditions = setCondition(s.status.conditions, { type: 'Ready', status: 'True', reason: 'ContainerRunning' satisfies ConditionReason, message: made.ready, lastTransitionTime: iso(now) });
    // Kept under her logged-in sessions: it is recreated with the current policy once none is attached.
    if (made.outdated) conditions = setCondition(conditions, { type: 'ContainerOutdated', status: 'True', reason: 'PolicyChanged' satisfies ConditionReason, message: made.outdated, lastTransitionTime: iso(now) });
    const ready: SessionStatus = {
      ...s.status,
      phase: 'Ready',
      container: made.ref,
      exec: plan,
      execId: done.exec.execId,
      ...extra,
      hooks: policy.runScripts && policy.scriptsFolder ? { folder: policy.scriptsFolder, execDone: false } : undefined,
      readyAt: iso(now),
      deadline: policy.maxSessionSeconds > 0 ? iso(Date.parse(s.metadata.creationTimestamp) + policy.maxSessionSeconds * 1000) : undefined,
      conditions,
    };
    return { ready, user: user.name, container: made.ref.name };
  }

  /** Where her terminal session is recorded, and how much it may take; none (an event says why) over her cap. */
  private recordingPlan(s: Session, done: Done): SessionStatus['recording'] {
    if (!this.d.recordings) return undefined;
    const p = this.d.recordings.plan(s.spec.user, s.metadata.name);
    if ('file' in p) return { file: p.file, limit: p.limit };
    if (!done.recordingSkipped) this.d.events.record(sessionRef(s), 'Warning', 'RecordingStopped', `not recorded: ${p.skipped}`);
    done.recordingSkipped = true;
    return undefined;
  }

  private checkSessionLimit(s: Session, user: UserInfo, policy: EffectivePolicy): void {
    if (policy.maxSessionsPerUser <= 0) return;
    const others = this.d.store.list().filter((o) => o.spec.user === user.name && o.metadata.name !== s.metadata.name && isLive(o) && (o.status.phase !== 'Pending' || admittedBefore(o, s)));
    if (others.length >= policy.maxSessionsPerUser) {
      throw new RefusedError('TooManySessions', `${user.name} already has ${others.length} sessions on this host, the most the policy allows (${policy.maxSessionsPerUser}); end one and try again`);
    }
  }
}

/** `file:line` of a setting, for a message that sends the administrator to the right line. */
function where(policy: EffectivePolicy, key: string): string {
  const p = policy.provenance[key];
  return p ? `${p.file}:${p.line}` : 'the policy';
}

/** Admission order among simultaneous logins: creation time, then name, so every worker agrees. */
function admittedBefore(a: Session, b: Session): boolean {
  const ta = a.metadata.creationTimestamp;
  const tb = b.metadata.creationTimestamp;
  return ta < tb || (ta === tb && a.metadata.name < b.metadata.name);
}
