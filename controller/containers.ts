// A user's container: made to exist, run and match her policy, under a per-user lock so that twenty simultaneous
// first logins create one container. Every state the engine can report has an outcome, so that no state leaves her
// waiting for the login timeout: running is used; created and exited are started (one the engine will not start is
// made again); dead is removed and created again (it can never start), or, when the engine cannot remove it yet
// (its filesystem busy after an engine restart), renamed out of her way for garbage collection to remove later;
// restarting and being removed pass, so the login is retried for a while and then refused with a reason; paused is
// refused at once (DoSH never pauses a container: an administrator did).
import { LABEL_HASH, LABEL_MANAGED, LABEL_UID, LABEL_USER } from '../api/labels.ts';
import type { InvolvedObject } from '../api/event.ts';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import type { Session, SessionStatus } from '../api/session.ts';
import { EngineFailedError, ImageNotFoundError, NetworkNotFoundError, type ContainerInfo, type Engine } from '../engine/docker.ts';
import { NotFoundError, RefusedError, UnavailableError } from '../lib/errors.ts';
import { desiredContainer, doshMounts, prepareDoshMounts, type DesiredContainer } from './container-spec.ts';
import type { ControllerDeps } from './deps.ts';
import { sessionRef, userRef } from './events.ts';
import { ControllerHooks, hookContext } from './hook-runner.ts';
import { hookArgs } from './hook-scripts.ts';
import { connectExtraNetworks, ensureDeclaredNetworks, ensureUserNetwork, missingNetwork } from './networks.ts';

/** The container a login is admitted to; `shell` is set when an outdated one is kept, which runs the shell it was made with. */
export type UserContainer = NonNullable<SessionStatus['container']> & { outdated?: boolean; shell?: string[] };

/** Backoff steps (50 ms doubling, ~13 s in all) a login waits for a container that is restarting or being removed. */
export const BUSY_RETRIES = 8;

/**
 * Her container is in a state that should pass (restarting, being removed, dead and not yet removable): transient, so
 * the login is requeued with backoff; after BUSY_RETRIES the admission refuses it with `refusal`.
 */
export class ContainerBusyError extends UnavailableError {
  override name = 'ContainerBusyError';
  constructor(readonly refusal: RefusedError) {
    super(refusal.message);
  }
}

type ContainerDeps = Pick<ControllerDeps, 'store' | 'engine' | 'events' | 'metrics' | 'log' | 'options'>;

export class UserContainers {
  private locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly d: ContainerDeps,
    private readonly hooks: ControllerHooks,
  ) {}

  /** Runs `fn` after every earlier call for the same user has settled: one container decision per user at a time. */
  withUserLock<T>(user: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(user) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(user, tail);
    void tail.then(() => {
      if (this.locks.get(user) === tail) this.locks.delete(user);
    });
    return run;
  }

  /**
   * Her container, running and matching the policy (call under her lock); `s` is the login it is for, none for a policy
   * rollout. Throws RefusedError for what she must be told, ContainerBusyError for a state that should pass.
   */
  async ensure(policy: EffectivePolicy, user: UserInfo, s: Session | undefined): Promise<UserContainer> {
    const want = desiredContainer(policy, user, this.d.options.node, doshMounts(this.d.options));
    const ref = s ? sessionRef(s) : userRef(user.name);
    let cur = await this.d.engine.inspectContainer(want.name).catch((e) => (e instanceof NotFoundError ? undefined : Promise.reject(e)));
    if (cur) checkOwner(cur, want.name, user, this.d.log);
    if (cur) cur = await this.settle(cur, user, ref);
    if (cur && cur.labels[LABEL_HASH] !== want.hash && !this.attachedSessions(user.name, s?.metadata.name ?? '')) {
      // Never under a logged-in user: an outdated container is replaced only when none of her sessions uses it.
      this.d.log.info('recreating container with changed policy', { user: user.name, container: want.name });
      await this.d.engine.removeContainer(cur.id);
      this.d.metrics.containers.inc({ action: 'recreate' });
      this.d.events.record(ref, 'Normal', 'ContainerRecreated', `removed container ${want.name}, which predates the current policy, to create it again`);
      cur = undefined;
    }
    if (cur?.state !== 'running') {
      prepareDoshMounts(doshMounts(this.d.options), policy, user);
      await ensureUserNetwork(this.d, policy, user, ref);
      await ensureDeclaredNetworks(this.d, policy, ref);
    }
    if (!cur) return this.create(policy, user, want, ref, s);
    if (cur.state !== 'running') await this.start(policy, user, cur, ref, s);
    const outdated = cur.labels[LABEL_HASH] !== want.hash;
    // Kept under her sessions, an outdated container still runs the shell it was made with (the new one may not exist there).
    return { id: cur.id, name: cur.name, image: cur.image, outdated, shell: outdated && cur.cmd.length ? cur.cmd : undefined };
  }

  /** What each state the engine reports comes to: the container to use or start, none (removed: create it), or an error. */
  private async settle(cur: ContainerInfo, user: UserInfo, ref: InvolvedObject): Promise<ContainerInfo | undefined> {
    switch (cur.state) {
      case 'running':
      case 'created':
      case 'exited':
        return cur;
      case 'paused':
        // Paused by an administrator (docker pause): only she may decide to let it run again.
        throw new RefusedError('ContainerPaused', `${user.name}'s container ${cur.name} is paused; an administrator must unpause it (docker unpause ${cur.name})`);
      case 'restarting':
        throw new ContainerBusyError(new RefusedError('ContainerRestarting', `${user.name}'s container ${cur.name} keeps restarting; an administrator must look at it (docker logs ${cur.name})`));
      case 'removing':
        throw new ContainerBusyError(new RefusedError('ContainerRemoving', `${user.name}'s container ${cur.name} is still being removed; try again in a moment`));
      case 'dead':
        // Left so by an engine restart or a failed removal: it can never start again, only be removed.
        try {
          await this.d.engine.removeContainer(cur.id);
        } catch (e) {
          // Its filesystem can stay busy for a long while: out of her way under another name, collected later (gc).
          const aside = `${cur.name}-dead-${cur.id.slice(0, 12)}`;
          await this.d.engine.renameContainer(cur.id, aside).catch((r) => {
            const why = `${user.name}'s container ${cur.name} is dead (it cannot be started) and could neither be removed (${(e as Error).message}) nor renamed (${(r as Error).message}); an administrator must remove it (docker rm -f ${cur.name})`;
            throw new ContainerBusyError(new RefusedError('ContainerDead', why));
          });
          this.d.events.record(ref, 'Warning', 'ContainerRecreated', `renamed container ${cur.name}, which the engine reports dead and cannot remove yet (${(e as Error).message}), to ${aside}, to create hers again`);
          this.d.log.warn('renamed a dead container that cannot be removed yet, to create it again', { user: user.name, container: cur.name, renamed: aside });
          this.d.metrics.containers.inc({ action: 'recreate' });
          return undefined;
        }
        this.d.metrics.containers.inc({ action: 'recreate' });
        this.d.events.record(ref, 'Warning', 'ContainerRecreated', `removed container ${cur.name}, which the engine reports dead (it cannot be started), to create it again`);
        this.d.log.warn('removed a dead container to create it again', { user: user.name, container: cur.name });
        return undefined;
    }
  }

  private async create(policy: EffectivePolicy, user: UserInfo, want: DesiredContainer, ref: InvolvedObject, s: Session | undefined): Promise<UserContainer> {
    const { engine } = this.d;
    const runArgs = ['-u', `${user.uid}:${user.gid}`, ...policy.dockerArgs, '-id', '--name', want.name, policy.image, ...policy.command];
    await this.hooks.forPolicy(policy, 'prerun', hookArgs('prerun', want.name, runArgs), hookContext(user, { name: want.name, image: policy.image }, s));
    // A ConflictError here (created meanwhile, e.g. by a crashed earlier attempt) is transient: requeued, re-read.
    const id = await engine.createContainer(want.name, want.body).catch((e) => {
      if (e instanceof NetworkNotFoundError) throw missingNetwork(e.network, user);
      if (e instanceof ImageNotFoundError) throw new RefusedError('ImageNotFound', `the image ${policy.image} that the policy chose for ${user.name} is not available on this host`);
      throw e;
    });
    await connectExtraNetworks(engine, policy, user, id);
    this.d.metrics.containers.inc({ action: 'create' });
    this.d.events.record(ref, 'Normal', 'ContainerCreated', `created container ${want.name} from image ${policy.image}`);
    await startOrRefuse(engine, id, user, { justCreated: true });
    this.d.events.record(ref, 'Normal', 'ContainerStarted', `started container ${want.name}`);
    await this.hooks.forPolicy(policy, 'run', hookArgs('run', want.name, runArgs, id), hookContext(user, { id, name: want.name, image: policy.image }, s));
    return { id, name: want.name, image: policy.image };
  }

  private async start(policy: EffectivePolicy, user: UserInfo, cur: ContainerInfo, ref: InvolvedObject, s: Session | undefined): Promise<void> {
    const ctx = hookContext(user, cur, s);
    await this.hooks.forPolicy(policy, 'prestart', hookArgs('prestart', cur.name), ctx);
    await startOrRefuse(this.d.engine, cur.id, user, { justCreated: false, neverRan: cur.state === 'created' });
    this.d.metrics.containers.inc({ action: 'start' });
    this.d.events.record(ref, 'Normal', 'ContainerStarted', `started stopped container ${cur.name}`);
    await this.hooks.forPolicy(policy, 'start', hookArgs('start', cur.name), ctx);
  }

  private attachedSessions(user: string, except: string): number {
    return this.d.store.list().filter((o) => o.spec.user === user && o.metadata.name !== except && (o.status.phase === 'Ready' || o.status.phase === 'Running')).length;
  }
}

/**
 * A container with her container's name that DoSH did not make, or made for another account, is never entered,
 * replaced or started for her. Names come from PREFIXNAME + user name, so two users can be given one name
 * (PREFIXNAME=dosh-s for bob is user sbob's dosh-sbob), and a name can outlive its account (a user deleted and
 * another made with her name): it may hold that account's files.
 */
function checkOwner(cur: ContainerInfo, name: string, user: UserInfo, log: ContainerDeps['log']): void {
  if (cur.labels[LABEL_MANAGED] !== 'true') {
    throw new RefusedError('NameTaken', `a container named ${name} exists that DoSH does not manage; an administrator must remove it or change PREFIXNAME`);
  }
  if (cur.labels[LABEL_UID] !== String(user.uid) || cur.labels[LABEL_USER] !== user.name) {
    log.error('container name taken by another user', { user: user.name, container: name, owner: cur.labels[LABEL_USER], ownerUid: cur.labels[LABEL_UID] });
    throw new RefusedError('NameTaken', `the container ${name} belongs to another account (another user given the same name by PREFIXNAME, or an earlier account with this user name): an administrator must remove it (docker rm) or change PREFIXNAME`);
  }
}

export interface StartOptions {
  /** Created for this login: removed again when it cannot start, so nothing half-made is left behind. */
  justCreated: boolean;
  /** An older container that never ran (state created): removed when it will not start, to be created again. */
  neverRan?: boolean;
}

/**
 * Starts a container; a network it is configured on that no longer exists (the engine accepts connecting a created
 * container to a missing network, and fails the start) refuses the login naming the network. A container just
 * created for this login is then removed; an older one is kept as it is. An older container the engine will not
 * start (it answers, and fails) is removed too, and the error made transient, so the requeued login creates it anew:
 * an engine restart can leave one half-made for good ("endpoint ... already exists", "task ... already exists", an
 * orphaned shim holding its id), and it would lock her out. What she kept in its own filesystem, outside her mounts,
 * goes with it (the event says so); one that never ran holds nothing of hers.
 */
export async function startOrRefuse(engine: Pick<Engine, 'startContainer' | 'removeContainer'>, id: string, user: UserInfo, opts: StartOptions): Promise<void> {
  try {
    await engine.startContainer(id);
  } catch (e) {
    if (e instanceof NetworkNotFoundError) {
      if (opts.justCreated) await engine.removeContainer(id).catch(() => undefined);
      throw missingNetwork(e.network, user);
    }
    if (!opts.justCreated && (opts.neverRan || e instanceof EngineFailedError)) {
      await engine.removeContainer(id).catch(() => undefined);
      throw new UnavailableError(`${user.name}'s container ${opts.neverRan ? 'never ran and ' : ''}would not start (${(e as Error).message}); removed, to be created again`);
    }
    throw e;
  }
}
