// doshd's reconcile loop, shaped like kubernetes/sample-controller: store events enqueue session keys; workers take
// keys and run syncSession, which is level-triggered and idempotent; only transient errors requeue (with backoff).
import { setCondition } from '../api/meta.ts';
import { isLive, type Session, type SessionStatus } from '../api/session.ts';
import type { EndReason, RefusalReason, SessionReason } from '../api/reasons.ts';
import { iso } from '../lib/clock.ts';
import { hangUpTree, isSameProcessAlive } from '../lib/proc.ts';
import { Admission } from './admission.ts';
import { UserContainers } from './containers.ts';
import { ContainerCollector } from './gc.ts';
import type { ControllerDeps } from './deps.ts';
import { PolicyRollout } from './policy-rollout.ts';
import { WorkQueue } from './workqueue.ts';
import { endedMessage, sessionRef, userRef } from './events.ts';
import { hookArgs, type HookContext } from './hook-scripts.ts';
import { ControllerHooks } from './hook-runner.ts';
import { collectNetworks } from './networks.ts';

/** How long a RateLimited refusal stays in the store (the helper reads it at once). */
const RATE_LIMITED_RETENTION_MS = 10_000;

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
    if (!isSameProcessAlive(s.spec.helper.pid, s.spec.helper.startTime, this.d.proc)) {
      return this.endSession(s, 'HelperGone', 'the session helper exited without recording the end of the session');
    }
    if (s.metadata.deletionTimestamp) return this.endSession(s, 'Deleted', 'the session was ended by an administrator');
    if (s.status.phase === 'Pending') return this.admitSession(s);
    if (s.status.deadline) {
      const left = Date.parse(s.status.deadline) - this.d.clock.now();
      if (left <= 0) return this.endSession(s, 'MaxLifetime', `the session reached the maximum session lifetime set by the policy (ended at ${s.status.deadline})`);
      this.queue.addAfter(s.metadata.name, left, this.signal);
    }
  }

  /** Admits a Pending session (controller/admission.ts) and records the verdict: Ready, or the refusal. */
  private async admitSession(s: Session): Promise<void> {
    const v = await this.admission.admit(s, this.queue.retries(s.metadata.name));
    if ('refused' in v) return this.refuse(s, v.refused, v.message);
    // A ConflictError here requeues the session: admission then reuses what it did (no second exec, hook or event).
    await this.updateSessionStatus(s, v.ready);
    this.admission.forget(s.metadata.name);
    const ms = Date.parse(v.ready.readyAt!) - Date.parse(s.metadata.creationTimestamp);
    this.d.metrics.loginLatency.observe(ms / 1000);
    this.d.events.record(sessionRef(s), 'Normal', 'Ready', `container ${v.container} is running; ready ${ms} ms after the login started`);
    this.d.log.info('session ready', { session: s.metadata.name, user: v.user, container: v.container });
  }

  private async refuse(s: Session, reason: RefusalReason, message: string): Promise<void> {
    this.d.metrics.refused.inc({ reason });
    this.d.log.warn('login refused', { session: s.metadata.name, user: s.spec.user, reason, message });
    if (reason === 'RateLimited') {
      // One event on the user, counted, rather than one per refused attempt: a flood must not fill the store.
      const { perSecond, burst } = this.d.options.loginRate!;
      this.d.events.record(userRef(s.spec.user), 'Warning', 'RateLimited', `logins of ${s.spec.user} refused: started faster than this host allows (${burst} at once, then ${perSecond} a second)`);
    } else {
      this.d.events.record(sessionRef(s), 'Warning', 'Refused', `login of ${s.spec.user} refused (${reason}): ${message}`);
    }
    await this.finish(s, 'Failed', reason, message);
  }

  private async endSession(s: Session, reason: EndReason, message: string): Promise<void> {
    // Recorded first: the helper reads the reason when its stream ends, and tells the user.
    await this.finish(s, 'Failed', reason, message);
    if (reason === 'HelperGone') this.d.events.record(sessionRef(s), 'Warning', 'HelperGone', message);
    if (s.status.execPid && s.status.execPidStartTime && isSameProcessAlive(s.status.execPid, s.status.execPidStartTime, this.d.proc)) {
      this.killLogin(s.status.execPid);
    }
    this.d.log.info('session ended', { session: s.metadata.name, user: s.spec.user, reason });
  }

  /** SIGHUP to every process of the login, SIGKILL to survivors after the grace period. */
  private killLogin(pid: number): void {
    void hangUpTree(pid, this.d.options.killGraceMs, (ms) => this.d.clock.sleep(ms, this.signal), this.d.proc);
  }

  private async finish(s: Session, phase: 'Failed' | 'Succeeded', reason: SessionReason, message: string): Promise<void> {
    const now = iso(this.d.clock.now());
    await this.updateSessionStatus(s, {
      ...s.status,
      phase,
      reason,
      message,
      endedAt: now,
      conditions: setCondition(s.status.conditions, { type: 'Ready', status: 'False', reason, message, lastTransitionTime: now }),
    });
  }

  private async syncEnded(s: Session): Promise<void> {
    // Refused logins were never Ready: their Refused event says it all.
    if (s.status.readyAt) this.d.events.record(sessionRef(s), 'Normal', 'Ended', endedMessage(s), { once: true });
    const hooks = s.status.hooks;
    if (hooks && !hooks.execDone && s.status.exec && s.status.container) {
      const ctx: HookContext = { user: s.spec.user, uid: s.spec.uid, gid: s.spec.gid, groups: [], session: s.metadata.name, containerId: s.status.container.id, containerName: s.status.container.name, image: s.status.container.image };
      await this.hookRunner.run(hooks.folder, 'exec', hookArgs('exec', s.status.container.name, s.status.exec.argv), ctx);
      await this.updateSessionStatus(s, { ...s.status, hooks: { ...hooks, execDone: true } });
      return;
    }
    const ended = Date.parse(s.status.endedAt ?? s.metadata.creationTimestamp);
    // A flood's refusals are kept only long enough for their helpers to read them: the store stays bounded by the
    // rate attempts can be made at, not by that rate times the retention.
    const retention = s.status.reason === 'RateLimited' ? Math.min(this.d.options.endedRetentionMs, RATE_LIMITED_RETENTION_MS) : this.d.options.endedRetentionMs;
    const left = ended + retention - this.d.clock.now();
    if (left <= 0) {
      this.d.store.delete(s.metadata.name);
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
    return this.d.store.update({ ...s, status });
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
    await collectNetworks(this.d, (u, fn) => this.containers.withUserLock(u, fn));
    this.d.store.sweep(60_000);
    this.admission.prune();
    this.d.events.sweep(this.d.clock.now());
  }
}
