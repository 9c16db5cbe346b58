// Collection of the containers doshd made: a user's container goes once none of her sessions is live for the idle
// timeout (the label it was created with), and only when no process of a login still runs in it. The second check
// is what keeps a login whose session object was lost (the store wiped, say) from losing its container under it.
// When each container went idle is kept in a file beside the store (IdleClocks), so that restarting doshd (an
// upgrade, a crash) does not give every idle container a new full timeout.
import { isLive, type Session } from '../api/session.ts';
import type { ContainerProcess, Engine } from '../engine/docker.ts';
import { NotFoundError } from '../lib/errors.ts';
import { LABEL_IDLE, LABEL_MANAGED, LABEL_NODE, LABEL_USER } from '../api/labels.ts';
import type { ControllerDeps } from './deps.ts';

export type GcEnginePort = Pick<Engine, 'listContainers' | 'inspectContainer' | 'removeContainer' | 'containerProcesses'>;

type GcDeps = Pick<ControllerDeps, 'store' | 'events' | 'metrics' | 'log' | 'options' | 'clock' | 'idleClocks'> & { engine: GcEnginePort };

/** The saved clocks that make sense: container name -> a time in ms, no later than now (a clock set back since). */
export function parseIdleClocks(raw: unknown, now: number): Map<string, number> {
  const out = new Map<string, number>();
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [name, since] of Object.entries(raw)) {
    if (typeof since === 'number' && Number.isFinite(since) && since > 0) out.set(name, Math.min(since, now));
  }
  return out;
}

/**
 * The processes that are neither the container's main process nor its descendants: each `docker exec` (a login's
 * shell, a hook's command) starts outside the main process's tree. A login's background process that outlived it
 * was re-parented into that tree, and does not keep the container.
 */
export function loginProcesses(procs: ContainerProcess[], mainPid: number): ContainerProcess[] {
  const tree = new Set([mainPid]);
  // Parents before children is not guaranteed: grow the tree until it stops growing.
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => !tree.has(p.pid));
}

export class ContainerCollector {
  /** When each container was first seen without a live session (by name), as saved by the doshd before this one. */
  private idleSince: Map<string, number>;
  private saved: string;
  private saveFailing = false;

  constructor(
    private readonly d: GcDeps,
    private readonly withUserLock: <T>(user: string, fn: () => Promise<T>) => Promise<T>,
  ) {
    let raw: unknown;
    try {
      raw = d.idleClocks?.load();
    } catch (e) {
      d.log.warn('could not read the idle clocks; idle times start now', { error: String(e) });
    }
    this.idleSince = parseIdleClocks(raw, d.clock.now());
    this.saved = this.snapshot().text;
  }

  async collect(sessions: Session[]): Promise<void> {
    try {
      await this.collectContainers(sessions);
    } finally {
      this.save();
    }
  }

  private async collectContainers(sessions: Session[]): Promise<void> {
    const live = new Set(sessions.filter(isLive).map((s) => s.spec.user));
    const now = this.d.clock.now();
    const node = this.d.options.node;
    const containers = (await this.d.engine.listContainers(`${LABEL_MANAGED}=true`)).filter((c) => c.labels[LABEL_NODE] === node);
    const byState: Record<string, number> = { running: 0, exited: 0, created: 0 };
    for (const c of containers) byState[c.state] = (byState[c.state] ?? 0) + 1;
    for (const [state, n] of Object.entries(byState)) this.d.metrics.managedContainers.set({ state }, n);
    const names = new Set(containers.map((c) => c.name));
    for (const name of this.idleSince.keys()) if (!names.has(name)) this.idleSince.delete(name);
    for (const c of containers) {
      const user = c.labels[LABEL_USER];
      // A dead container serves no one (her logins run in the one made to replace it): removed as soon as the engine
      // can, whatever the idle timeout, until then tried again on every pass.
      if (c.state === 'dead') {
        await this.removeDead(c.id, c.name, user);
        continue;
      }
      if (!user || live.has(user)) {
        this.idleSince.delete(c.name);
        continue;
      }
      const since = this.idleSince.get(c.name) ?? now;
      this.idleSince.set(c.name, since);
      const timeoutS = Number(c.labels[LABEL_IDLE] ?? '0');
      if (!(timeoutS > 0) || now - since < timeoutS * 1000) continue;
      await this.withUserLock(user, async () => {
        // Re-checked under the user's lock: a login admitted meanwhile keeps the container.
        if (this.d.store.list().some((s) => s.spec.user === user && isLive(s))) return;
        const busy = c.state === 'running' ? await this.loginsIn(c.id) : 0;
        if (busy > 0) {
          // Sessions unknown to the store (it was wiped): the idle time starts again once they end.
          this.idleSince.set(c.name, now);
          this.d.log.info('kept an idle container where logins still run', { user, container: c.name, processes: busy });
          return;
        }
        await this.d.engine.removeContainer(c.id);
        this.idleSince.delete(c.name);
        this.d.metrics.gcCollected.inc({ kind: 'container' });
        this.d.events.record({ kind: 'User', name: user }, 'Normal', 'GarbageCollected', `removed container ${c.name}, idle for ${Math.round((now - since) / 1000)} s (idle timeout ${timeoutS} s)`);
        this.d.log.info('removed idle container', { user, container: c.name, idleSeconds: Math.round((now - since) / 1000) });
      });
    }
  }

  private async removeDead(id: string, name: string, user: string | undefined): Promise<void> {
    try {
      await this.d.engine.removeContainer(id);
    } catch (e) {
      this.d.log.debug('a dead container cannot be removed yet', { container: name, error: String(e) });
      return;
    }
    this.idleSince.delete(name);
    this.d.metrics.gcCollected.inc({ kind: 'container' });
    if (user) this.d.events.record({ kind: 'User', name: user }, 'Normal', 'GarbageCollected', `removed container ${name}, which the engine reported dead`);
    this.d.log.info('removed a dead container', { user, container: name });
  }

  /** Writes the clocks when they changed; a store that cannot be written is said once, until it can again. */
  private save(): void {
    const { since, text } = this.snapshot();
    if (text === this.saved || !this.d.idleClocks) return;
    try {
      this.d.idleClocks.save(since);
      this.saved = text;
      this.saveFailing = false;
    } catch (e) {
      if (!this.saveFailing) this.d.log.warn('could not save the idle clocks; a doshd restart would start them again', { error: String(e) });
      this.saveFailing = true;
    }
  }

  /** The clocks as saved, in name order, and as text to tell whether they changed since the last save. */
  private snapshot(): { since: Record<string, number>; text: string } {
    const since = Object.fromEntries([...this.idleSince].sort(([a], [b]) => (a < b ? -1 : 1)));
    return { since, text: JSON.stringify(since) };
  }

  private async loginsIn(id: string): Promise<number> {
    try {
      const c = await this.d.engine.inspectContainer(id);
      if (!c.running) return 0;
      return loginProcesses(await this.d.engine.containerProcesses(id), c.pid).length;
    } catch (e) {
      // Gone meanwhile: nothing runs in it.
      if (e instanceof NotFoundError) return 0;
      throw e;
    }
  }
}
