// The networks of a user's container: her own isolated bridge (networkPerUser) and the networks the policy declares,
// created when first needed; the policy's extra `--network`s, connected after create and before start; and the
// collection of the networks doshd made (label dosh.io/managed=true, this node) once nothing uses them. A network
// without the label is never removed.
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import { isLive } from '../api/session.ts';
import { NetworkNotFoundError, type Engine } from '../engine/docker.ts';
import { ConflictError, InvalidError, NotFoundError, RefusedError } from '../lib/errors.ts';
import { LABEL_MANAGED, LABEL_NODE, LABEL_USER } from '../api/labels.ts';
import { userNetworkName } from './container-spec.ts';
import type { ControllerDeps } from './deps.ts';
import type { InvolvedObject } from '../api/event.ts';

export type NetworkEnginePort = Pick<Engine, 'inspectNetwork' | 'createNetwork' | 'connectNetwork' | 'removeNetwork' | 'listNetworks'>;

/** What the network functions use of the controller's dependencies. */
export type NetworkDeps = Pick<ControllerDeps, 'store' | 'events' | 'metrics' | 'log' | 'options'> & { engine: NetworkEnginePort & Pick<Engine, 'listContainers'> };

/** With networkPerUser, makes sure the user's network exists (called under the user's lock, before create or start). */
export async function ensureUserNetwork(d: NetworkDeps, policy: EffectivePolicy, user: UserInfo, ref: InvolvedObject): Promise<void> {
  if (!policy.networkPerUser) return;
  const name = userNetworkName(user.name);
  const cur = await d.engine.inspectNetwork(name).catch((e) => (e instanceof NotFoundError ? undefined : Promise.reject(e)));
  if (cur) {
    if (cur.labels[LABEL_MANAGED] !== 'true' || cur.labels[LABEL_USER] !== user.name) {
      throw new RefusedError('NameTaken', `a network named ${name} exists that DoSH does not manage; an administrator must remove it (or turn NETWORKPERUSER off for ${user.name})`);
    }
    return;
  }
  // A ConflictError (created meanwhile, e.g. by a crashed earlier attempt) is transient: requeued, re-read.
  await d.engine.createNetwork(name, { [LABEL_MANAGED]: 'true', [LABEL_USER]: user.name, [LABEL_NODE]: d.options.node });
  d.events.record(ref, 'Normal', 'NetworkCreated', `created network ${name}, ${user.name}'s own`);
}

/**
 * Makes sure the declared networks among the container's networks exist (under the user's lock, before create or
 * start). One that exists is used as it is, whoever made it: a sysadmin may have made it by hand, and doshd never
 * changes or removes a network it did not make.
 */
export async function ensureDeclaredNetworks(d: NetworkDeps, policy: EffectivePolicy, ref: InvolvedObject): Promise<void> {
  for (const n of policy.declaredNetworks) {
    const cur = await d.engine.inspectNetwork(n.name).catch((e) => (e instanceof NotFoundError ? undefined : Promise.reject(e)));
    if (cur) continue;
    try {
      await d.engine.createNetwork(n.name, { [LABEL_MANAGED]: 'true', [LABEL_NODE]: d.options.node }, n);
    } catch (e) {
      // The engine refused the declaration itself (an overlapping subnet, an unknown driver): no retry can help.
      if (e instanceof InvalidError) throw new RefusedError('NetworkInvalid', `the network ${n.name} that the policy declares could not be created: ${e.message}`);
      throw e;
    }
    d.events.record(ref, 'Normal', 'NetworkCreated', `created network ${n.name} as the policy declares it`);
    d.log.info('created declared network', { network: n.name });
  }
}

/**
 * Connects a just-created (not yet started) container to the policy's extra networks; a missing one refuses the login.
 * Nothing half-made is left behind: a container that cannot join its networks is removed before the error is passed on.
 */
export async function connectExtraNetworks(engine: NetworkEnginePort & Pick<Engine, 'removeContainer'>, policy: EffectivePolicy, user: UserInfo, containerId: string): Promise<void> {
  for (const n of policy.extraNetworks) {
    try {
      await engine.connectNetwork(n, containerId);
    } catch (e) {
      await engine.removeContainer(containerId).catch(() => undefined);
      throw e instanceof NetworkNotFoundError ? missingNetwork(n, user) : e;
    }
  }
}

/** The refusal for a network the policy attaches her container to that does not exist. */
export function missingNetwork(network: string, user: UserInfo): RefusedError {
  return new RefusedError('NetworkNotFound', `the network ${network} that the policy attaches ${user.name}'s container to does not exist on this host; an administrator must create it`);
}

/**
 * Removes the networks this node's doshd made that no container uses: none attached (running containers), none of
 * the managed containers (stopped ones included) configured on it, and for a user's own network, no container and
 * no live session of hers. Never a network without the label.
 */
export async function collectNetworks(d: NetworkDeps, withUserLock: <T>(user: string, fn: () => Promise<T>) => Promise<T>): Promise<void> {
  const node = d.options.node;
  const nets = (await d.engine.listNetworks(`${LABEL_MANAGED}=true`)).filter((n) => n.labels[LABEL_MANAGED] === 'true' && n.labels[LABEL_NODE] === node);
  if (!nets.length) return;
  const managed = (await d.engine.listContainers(`${LABEL_MANAGED}=true`)).filter((c) => c.labels[LABEL_NODE] === node);
  const configured = new Set(managed.flatMap((c) => c.networks ?? []));
  const owners = new Set(managed.map((c) => c.labels[LABEL_USER]));
  // A login being admitted may have just made sure of a declared network and not yet created its container on it.
  const admitting = d.store.list().some((s) => s.status.phase === 'Pending' && s.spec.node === node);
  for (const n of nets) {
    const user = n.labels[LABEL_USER];
    if (n.containers.length > 0 || configured.has(n.name) || configured.has(n.id) || (user !== undefined && owners.has(user)) || (user === undefined && admitting)) continue;
    // Under the owner's lock: a login of hers admitted meanwhile keeps (or creates again) the network.
    const removed = await withUserLock(user ?? '', async () => {
      if (user && d.store.list().some((s) => s.spec.user === user && isLive(s))) return false;
      try {
        await d.engine.removeNetwork(n.id);
        return true;
      } catch (e) {
        // Attached meanwhile (say by a hook script): kept until a later pass.
        if (e instanceof ConflictError || e instanceof InvalidError) return false;
        throw e;
      }
    });
    if (!removed) continue;
    d.metrics.gcCollected.inc({ kind: 'network' });
    if (user) d.events.record({ kind: 'User', name: user }, 'Normal', 'GarbageCollected', `removed network ${n.name}, which no container uses any more`);
    d.log.info('removed unused network', { network: n.name });
  }
}
