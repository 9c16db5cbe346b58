// What a policy reload changes on the node. Sessions whose container predates the new policy get a
// ContainerOutdated condition (doshctl shows it): a logged-in user's container is never replaced under her. Idle
// containers (no live session of their user) that predate it are recreated with it now, a few at a time, so that
// the next login is warm and already under the new policy.
import { setCondition } from '../api/meta.ts';
import { isLive, type Session } from '../api/session.ts';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import type { ConditionReason } from '../api/reasons.ts';
import { iso } from '../lib/clock.ts';
import { LABEL_HASH, LABEL_MANAGED, LABEL_NODE, LABEL_USER } from '../api/labels.ts';
import { desiredContainer, doshMounts } from './container-spec.ts';
import type { ControllerDeps } from './deps.ts';

/** Containers recreated at once: enough to use the engine's parallelism, few enough to leave logins their share. */
const PARALLEL = 4;

type RolloutDeps = Pick<ControllerDeps, 'store' | 'engine' | 'policy' | 'users' | 'clock' | 'log' | 'options' | 'pods'>;

export class PolicyRollout {
  constructor(
    private readonly d: RolloutDeps,
    /** The controller's ensureContainer under the user's lock, with no login: it replaces an outdated idle container. */
    private readonly recreate: (policy: EffectivePolicy, user: UserInfo) => Promise<unknown>,
  ) {}

  async run(): Promise<{ recreated: number }> {
    await this.markOutdatedSessions();
    return { recreated: await this.recreateIdle() };
  }

  private async markOutdatedSessions(): Promise<void> {
    const byUser = new Map<string, Session[]>();
    for (const s of this.d.store.list()) {
      if ((s.status.phase === 'Ready' || s.status.phase === 'Running') && s.status.container && s.spec.node === this.d.options.node) {
        byUser.set(s.spec.user, [...(byUser.get(s.spec.user) ?? []), s]);
      }
    }
    for (const [name, sessions] of byUser) {
      try {
        const user = await this.d.users.lookup(name);
        if (!user) continue;
        const policy = this.d.policy.resolve(user);
        const want = desiredContainer(policy, user, this.d.options.node, doshMounts(this.d.options));
        for (const s of sessions) {
          const outdated = await this.outdated(s, want.hash, policy, user);
          if (outdated === undefined) continue;
          const cur = s.status.conditions.find((x) => x.type === 'ContainerOutdated');
          if ((cur?.status === 'True') === outdated) continue;
          const now = iso(this.d.clock.now());
          await this.d.store.update({
            ...s,
            status: {
              ...s.status,
              conditions: setCondition(s.status.conditions, { type: 'ContainerOutdated', status: outdated ? 'True' : 'False', reason: 'PolicyChanged' satisfies ConditionReason, message: `the ${s.status.container!.pod ? 'pod' : 'container'} ${outdated ? 'predates' : 'matches'} the current policy`, lastTransitionTime: now }),
            },
          });
        }
      } catch (err) {
        // A conflict or a refused policy for one user must not stop the others; the next reload retries.
        this.d.log.debug('could not check a container against the new policy', { user: name, error: String(err) });
      }
    }
  }

  /** Whether a session's container (or pod) predates the policy; undefined when it is gone. */
  private async outdated(s: Session, hash: string, policy: EffectivePolicy, user: UserInfo): Promise<boolean | undefined> {
    const pod = s.status.container!.pod;
    if (pod) return this.d.pods?.isOutdated(pod, policy, user);
    const c = await this.d.engine.inspectContainer(s.status.container!.id).catch(() => undefined);
    return c && c.labels[LABEL_HASH] !== hash;
  }

  /** Running idle containers whose hash differs from their user's new policy; stopped ones wait for her next login. */
  private async recreateIdle(): Promise<number> {
    const live = new Set(this.d.store.list().filter(isLive).map((s) => s.spec.user));
    const candidates = (await this.d.engine.listContainers(`${LABEL_MANAGED}=true`)).filter(
      (c) => c.labels[LABEL_NODE] === this.d.options.node && c.state === 'running' && c.labels[LABEL_USER] && !live.has(c.labels[LABEL_USER]),
    );
    let recreated = 0;
    const next = async (): Promise<void> => {
      for (let c = candidates.shift(); c; c = candidates.shift()) {
        const name = c.labels[LABEL_USER];
        try {
          const user = await this.d.users.lookup(name);
          if (!user) continue;
          const policy = this.d.policy.resolve(user);
          // Moved to another backend: no new container here; this one goes at its idle timeout.
          if (policy.backend !== 'docker') continue;
          if (c.labels[LABEL_HASH] === desiredContainer(policy, user, this.d.options.node, doshMounts(this.d.options)).hash) continue;
          // A login admitted meanwhile is fine: ensureContainer never replaces a container one of her sessions uses.
          await this.recreate(policy, user);
          recreated++;
        } catch (err) {
          // Refused by the new policy, a hook, the engine: her next login says why; the idle timeout collects it.
          this.d.log.warn('could not recreate an idle container with the new policy', { user: name, error: String(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, next));
    if (recreated) this.d.log.info('recreated idle containers with the new policy', { containers: recreated });
    return recreated;
  }
}
