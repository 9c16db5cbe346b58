// doshd's reconcile loop, shaped like kubernetes/sample-controller: store events enqueue session keys; workers take
// keys and run syncSession, which is level-triggered and idempotent; only transient errors requeue (with backoff).
import * as fs from 'node:fs';
import { ANNOTATION_MESSAGE } from '../api/labels.ts';
import { setCondition } from '../api/meta.ts';
import { clipCommand, COMMAND_KEPT, isLive, type Session, type SessionStatus } from '../api/session.ts';
import { commandLine } from '../policy/remote-command.ts';
import type { EndReason, RefusalReason, SessionReason } from '../api/reasons.ts';
import { iso } from '../lib/clock.ts';
import { ConflictError } from '../lib/errors.ts';
import { hangUpTree, isSameProcessAlive, processStartTime } from '../lib/proc.ts';
import { Admission } from './admission.ts';
import { UserContainers } from './containers.ts';
import { ContainerCollector } from './gc.ts';
import type { ControllerDeps } from './deps.ts';
import { PolicyRollout } from './policy-rollout.ts';
import { WorkQueue } from './workqueue.ts';
import { endedMessage, sessionRef } from './events.ts';
import { hookArgs, type HookContext } from './hook-scripts.ts';
import { ControllerHooks } from './hook-runner.ts';
import { collectNetworks } from './networks.ts';
import { sessionAudit } from './audit-log.ts';

export class Controller {
  readonly queue: WorkQueue;
  private signal?: AbortSignal;

  private readonly hookRunner: ControllerHooks;
  /** The users' containers, each under its user's lock. */
  private readonly containers: UserContainers;
  /** The idle-container collector; public so that tests drive a pass directly. */
  readonly collector: ContainerCollector;
  private readonly rollout: PolicyRollout;
  private readonly admission: Admission;
  /** Ended sessions (by uid) whose end this doshd has written to the audit log. */
  private readonly endAudited = new Set<string>();
  /** Logins waiting for their session to leave Pending (the session API answers its relay then). */
  private readonly waiting = new Map<string, ((err?: unknown) => void)[]>();

  constructor(private readonly d: ControllerDeps) {
    this.queue = new WorkQueue(d.clock);
    this.hookRunner = new ControllerHooks(d);
    this.containers = new UserContainers(d, this.hookRunner);
    const withUserLock = <T>(user: string, fn: () => Promise<T>) => this.containers.withUserLock(user, fn);
    this.collector = new ContainerCollector(d, withUserLock);
    this.rollout = new PolicyRollout(d, (policy, user) => withUserLock(user.name, () => this.containers.ensure(policy, user, undefined)));
    this.admission = new Admission(d, this.containers, this.hookRunner);
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const unwatch = this.d.store.watch((name) => this.enqueueSession(name));
    // A restarted controller rebuilds everything from the store and the engine: no state survives in memory.
    this.resync();
    signal.addEventListener('abort', () => this.queue.shutDown(), { once: true });
    const workers = Array.from({ length: this.d.options.workers }, () => this.worker());
    const housekeeping = this.housekeepingLoop(signal);
    await Promise.all([...workers, housekeeping]);
    unwatch();
    this.d.events.flush();
  }

  enqueueSession(key: string): void {
    this.queue.add(key);
    this.d.metrics.queueDepth.set(this.queue.len());
  }

  private async worker(): Promise<void> {
    while (await this.processNextWorkItem());
  }

  async processNextWorkItem(): Promise<boolean> {
    const more = await this.queue.processNext(
      async (key) => {
        const stop = this.d.metrics.reconcileDuration.startTimer();
        try {
          await this.syncSession(key);
        } finally {
          stop();
        }
      },
      (key, result, err) => {
        this.d.metrics.reconciles.inc({ result });
        if (result !== 'requeue') this.wakeWaiting(key, result === 'error' ? err : undefined);
        if (result === 'requeue') {
          this.d.metrics.queueRetries.inc();
          this.d.log.debug('requeued session after a transient error', { session: key, error: String(err) });
        } else if (result === 'error') {
          this.d.log.error('reconcile failed', { session: key, error: String(err) });
        }
      },
      this.signal,
    );
    this.d.metrics.queueDepth.set(this.queue.len());
    return more;
  }

  async syncSession(key: string): Promise<void> {
    const s = this.d.store.get(key);
    if (s?.status.phase !== 'Pending') this.admission.forget(key);
    if (!s) return;
    if (!isLive(s)) return this.syncEnded(s);
    if (s.spec.node !== this.d.options.node) return;
    if (!isSameProcessAlive(s.spec.relay.pid, s.spec.relay.startTime, this.d.proc)) {
      return this.endSession(s, 'RelayGone', 'the login program (dosh) exited without ending the session');
    }
    if (s.metadata.deletionTimestamp) return this.endSession(s, 'Deleted', 'the session was ended by an administrator');
    if (!this.d.relays.has(key)) return this.syncDetached(s);
    if (s.status.phase === 'Pending') return this.admitSession(s);
    const message = s.metadata.annotations[ANNOTATION_MESSAGE];
    if (message) this.d.relays.notice(key, message);
    if (s.status.deadline) {
      const left = Date.parse(s.status.deadline) - this.d.clock.now();
      if (left <= 0) return this.endSession(s, 'MaxLifetime', `the session reached the maximum session lifetime set by the policy (ended at ${s.status.deadline})`);
      this.queue.addAfter(s.metadata.name, left, this.signal);
    }
  }

  /**
   * A live session whose relay this doshd holds no connection to: doshd restarted. A relay that had started its exec
   * listens for the new doshd, which reattaches. One that had not may be asking again (the restart cut its request
   * short): the session API gives it this session back (logins.ts), so it is waited for a while before it is ended.
   */
  private async syncDetached(s: Session): Promise<void> {
    const name = s.metadata.name;
    if (s.status.phase !== 'Pending' && (await this.d.relays.reattach(name, this.d.relays.socketPath(name))) === 'attached') return this.enqueueSession(name);
    const now = this.d.store.get(name);
    if (!now || !isLive(now) || this.d.relays.has(name)) return;
    if (!now.status.startedAt) {
      if (this.d.clock.now() - Date.parse(now.metadata.creationTimestamp) < ADOPTION_WAIT_MS) return this.queue.addAfter(name, 1000, this.signal);
      return this.endSession(now, 'NotAdmitted', 'doshd restarted before the login started, and the login did not ask again');
    }
    return this.endSession(now, 'RelayGone', 'the login program (dosh) could not be reached after doshd restarted');
  }

  /**
   * Resolves once the session is no longer Pending (or is gone): when its relay is answered. Rejects when its sync
   * failed with an error that is not retried (a full store, say): the login is told at once, not at its timeout.
   */
  settled(name: string): Promise<Session | undefined> {
    return new Promise((resolve, reject) => {
      const wait = (err?: unknown) => {
        if (err) return reject(err);
        const s = this.d.store.get(name);
        if (s?.status.phase === 'Pending') this.waiting.set(name, [...(this.waiting.get(name) ?? []), wait]);
        else resolve(s);
      };
      wait();
    });
  }

  private wakeWaiting(name: string, err?: unknown): void {
    const list = this.waiting.get(name);
    if (!list) return;
    this.waiting.delete(name);
    for (const fn of list) fn(err);
  }

  /** Admits a Pending session (controller/admission.ts) and records the verdict: Ready, or the refusal. */
  private async admitSession(s: Session): Promise<void> {
    const v = await this.admission.admit(s, this.queue.retries(s.metadata.name));
    if ('refused' in v) return this.refuse(s, v.refused, v.message);
    // A ConflictError here requeues the session: admission then reuses what it did (no second exec, hook or event).
    const ready = await this.updateSessionStatus(s, v.ready);
    this.admission.forget(s.metadata.name);
    const ms = Date.parse(v.ready.readyAt!) - Date.parse(s.metadata.creationTimestamp);
    this.d.metrics.loginLatency.observe(ms / 1000);
    this.d.events.record(sessionRef(s), 'Normal', 'Ready', `container ${v.container} is running; ready ${ms} ms after the login started`);
    this.d.audit?.write(sessionAudit('start', ready, this.d.clock.now()));
    this.d.log.info('session ready', { session: s.metadata.name, user: v.user, container: v.container });
  }

  private async refuse(s: Session, reason: RefusalReason, message: string): Promise<void> {
    this.d.metrics.refused.inc({ reason });
    this.d.log.warn('login refused', { session: s.metadata.name, user: s.spec.user, reason, message });
    this.d.events.record(sessionRef(s), 'Warning', 'Refused', `login of ${s.spec.user} refused (${reason}): ${message}`);
    const refused = await this.finish(s, 'Failed', reason, message);
    this.d.audit?.write(sessionAudit('refusal', refused, this.d.clock.now()));
  }

  private async endSession(s: Session, reason: EndReason, message: string): Promise<void> {
    // Recorded first: the relay is answered with the reason when its stream ends, and tells the user.
    await this.finish(s, 'Failed', reason, message);
    if (reason === 'RelayGone') this.d.events.record(sessionRef(s), 'Warning', 'RelayGone', message);
    await this.killLogin(s, reason === 'Deleted' || reason === 'MaxLifetime');
    this.d.log.info('session ended', { session: s.metadata.name, user: s.spec.user, reason });
  }

  /**
   * Ends a live session for what its relay reported (a hang-up, a failed start, a lost connection); a session that
   * has ended already is left as it is. Conflicts with other writers are retried from a fresh read.
   */
  async endSessionNamed(name: string, reason: EndReason | 'EngineRefused', message: string): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const s = this.d.store.get(name);
      if (!s || !isLive(s)) return;
      try {
        if (reason === 'EngineRefused') await this.refuse(s, reason, message);
        else await this.endSession(s, reason, message);
        return;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    }
  }

  /**
   * SIGHUP to every process of the login, SIGKILL to survivors after the grace period. Ended by an administrator or
   * by the policy (`all`), it also ends, after the grace, whatever left the login's process tree (its cgroup): a
   * login that merely ends (her exit, a hang-up) leaves those to run on, as nohup jobs between logins are.
   */
  private async killLogin(s: Session, all = false): Promise<void> {
    // A pod login's processes are on a cluster node: closing the stream the bridge carries hangs up her command.
    if (s.status.container?.pod) return void (s.status.execId && this.d.pods?.end(s.status.execId));
    let pid = s.status.execPid;
    let start = s.status.execPidStartTime;
    if (!pid && s.status.execId) {
      // Ended before its start was recorded: the engine knows the exec's process.
      const st = await this.d.engine.inspectExec(s.status.execId).catch(() => undefined);
      pid = st?.pid || undefined;
      start = pid ? processStartTime(pid, this.d.proc) : undefined;
    }
    const sleep = (ms: number) => this.d.clock.sleep(ms, this.signal);
    const tree = pid && start && isSameProcessAlive(pid, start, this.d.proc) ? hangUpTree(pid, this.d.options.killGraceMs, sleep, this.d.proc) : sleep(this.d.options.killGraceMs);
    const cgroup = s.status.cgroup;
    if (!all || !cgroup) return void tree;
    void tree.then(() => {
      try {
        this.d.cgroups.kill(cgroup);
      } catch (e) {
        this.d.log.warn('could not end what the login left running', { session: s.metadata.name, cgroup, error: String(e) });
      }
    });
  }

  private async finish(s: Session, phase: 'Failed' | 'Succeeded', reason: SessionReason, message: string): Promise<Session> {
    const now = iso(this.d.clock.now());
    return this.updateSessionStatus(s, {
      ...s.status,
      phase,
      reason,
      message,
      endedAt: now,
      conditions: setCondition(s.status.conditions, { type: 'Ready', status: 'False', reason, message, lastTransitionTime: now }),
    });
  }

  private async syncEnded(s: Session): Promise<void> {
    // Refused logins were never Ready: their Refused event (and audit line) says it all. The end is recorded once: the
    // event's `once`, and while the events store cannot take it, the sessions audited in this run.
    if (s.status.readyAt && this.d.events.record(sessionRef(s), 'Normal', 'Ended', endedMessage(s), { once: true }) && !this.endAudited.has(s.metadata.uid)) {
      this.endAudited.add(s.metadata.uid);
      this.d.audit?.write(sessionAudit('end', s, this.d.clock.now()));
    }
    const hooks = s.status.hooks;
    if (hooks && !hooks.execDone && s.status.exec && s.status.container) {
      const ctx: HookContext = { user: s.spec.user, uid: s.spec.uid, gid: s.spec.gid, groups: [], session: s.metadata.name, containerId: s.status.container.id, containerName: s.status.container.name, image: s.status.container.image };
      await this.hookRunner.run(hooks.folder, 'exec', hookArgs('exec', s.status.container.name, commandLine(s.spec, s.status.exec)), ctx);
      await this.updateSessionStatus(s, { ...s.status, hooks: { ...hooks, execDone: true } });
      return;
    }
    // Over: its relay's socket goes, and so do her arguments (the store holds a login's arguments only while it
    // lives; the gate counts them). What remains says what ran: the first bytes of the command.
    fs.rmSync(this.d.relays.socketPath(s.metadata.name), { force: true });
    if (s.status.agentSocket) fs.rmSync(s.status.agentSocket, { force: true });
    if (s.spec.args.length || (s.spec.command?.length ?? 0) > COMMAND_KEPT) {
      await this.d.store.update({ ...s, spec: { ...s.spec, args: [], command: s.spec.command && clipCommand(s.spec.command) } });
      return;
    }
    const ended = Date.parse(s.status.endedAt ?? s.metadata.creationTimestamp);
    const left = ended + this.d.options.endedRetentionMs - this.d.clock.now();
    if (left <= 0) {
      if (s.status.cgroup) this.d.cgroups.remove(s.status.cgroup);
      this.d.store.delete(s.metadata.name);
      this.endAudited.delete(s.metadata.uid);
      this.d.metrics.gcCollected.inc({ kind: 'session' });
      // Observed here, when the session is deleted, so that each session counts once; any session that reached Ready
      // (a short command can end before the helper records Running).
      if (s.status.readyAt) this.d.metrics.sessionDuration.observe((ended - Date.parse(s.metadata.creationTimestamp)) / 1000);
      if (s.status.firstByteAt) this.d.metrics.firstByteLatency.observe((Date.parse(s.status.firstByteAt) - Date.parse(s.metadata.creationTimestamp)) / 1000);
    } else {
      this.queue.addAfter(s.metadata.name, left, this.signal);
    }
  }

  async updateSessionStatus(s: Session, status: SessionStatus): Promise<Session> {
    const next = this.d.store.update({ ...s, status });
    this.wakeWaiting(s.metadata.name);
    return next;
  }

  /**
   * After a policy reload: sessions on outdated containers are marked, and idle outdated containers are recreated
   * with the new policy (controller/policy-rollout.ts).
   */
  policyChanged(): Promise<{ recreated: number }> {
    return this.rollout.run();
  }

  resync(): void {
    for (const s of this.d.store.list()) this.enqueueSession(s.metadata.name);
  }

  private async housekeepingLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.housekeeping();
      } catch (err) {
        this.d.log.warn('housekeeping failed', { error: String(err) });
      }
      // Counted whether it failed or not: what waits for "a few passes" (the tests) must not wait for ever.
      this.d.metrics.housekeepingPasses.inc();
      await this.d.clock.sleep(this.d.options.resyncIntervalMs, signal);
    }
  }

  /** Periodic level-triggered pass: every session re-checked, idle containers collected, store litter swept. */
  async housekeeping(): Promise<void> {
    const sessions = this.d.store.list();
    const phases: Record<string, number> = { Pending: 0, Ready: 0, Running: 0, Succeeded: 0, Failed: 0 };
    for (const s of sessions) phases[s.status.phase]++;
    // Reset each pass: a user whose last session ended has no series (bounded cardinality).
    this.d.metrics.userSessions.reset();
    for (const s of sessions.filter(isLive)) this.d.metrics.userSessions.inc({ user: s.spec.user });
    for (const [phase, n] of Object.entries(phases)) this.d.metrics.sessions.set({ phase }, n);
    this.resync();
    await this.collector.collect(sessions);
    await this.d.pods?.collect(sessions);
    await collectNetworks(this.d, (u, fn) => this.containers.withUserLock(u, fn));
    this.d.store.sweep(60_000);
    this.d.recordings?.sweep(new Set(sessions.filter(isLive).map((s) => s.metadata.name)));
    this.d.onHousekeeping?.(sessions);
    this.d.events.sweep(this.d.clock.now());
  }
}

/** How long a session whose relay never started its exec waits, after a doshd restart, for that relay to ask again. */
const ADOPTION_WAIT_MS = 60_000;
