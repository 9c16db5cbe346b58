// The user's container, derived from her effective policy: identity and labels are forced here, after policy, so no
// policy can change who the container runs as or hide it from doshd.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { AGENT_MOUNT, NETWORK_PREFIX, TOOLBOX_MOUNT } from '../api/constants.ts';
import { LABEL_HASH, LABEL_IDLE, LABEL_MANAGED, LABEL_NODE, LABEL_UID, LABEL_USER } from '../api/labels.ts';
import type { EffectivePolicy, HostConfig, UserInfo } from '../api/policy.ts';
import type { CreateBody } from '../engine/docker.ts';

/** With networkPerUser, each user's container is on her own bridge network of this name (controller/networks.ts). */
export function userNetworkName(user: string): string {
  return `${NETWORK_PREFIX}${user}`;
}

export interface DesiredContainer {
  name: string;
  hash: string;
  body: CreateBody;
}

export function containerName(policy: EffectivePolicy, user: UserInfo): string {
  return `${policy.prefixName}${user.name}`;
}

/** The host directories of DoSH's own mounts (api/constants.ts DOSH_MOUNT_ROOT), when doshd has them. */
export interface DoshMounts {
  /** The toolbox (controller/toolbox.ts): every container mounts it read-only. */
  toolbox?: string;
  /** The directory of the users' agent sockets (STORE/agents): with FORWARDAGENT, her container mounts her own, AGENTS/UID. */
  agents?: string;
}

export function doshMounts(options: { toolboxDir?: string; agentsDir?: string }): DoshMounts {
  return { toolbox: options.toolboxDir, agents: options.agentsDir };
}

/** Her agent sockets' directory on the host: root's, in doshd's root-only store; each login's relay binds one there. */
export const agentDir = (agents: string, uid: number) => `${agents}/${uid}`;

/** Makes the host directories her container's DoSH mounts need, before it is created or started (never changes an existing one). */
export function prepareDoshMounts(mounts: DoshMounts, policy: EffectivePolicy, user: UserInfo): void {
  if (policy.forwardAgent && mounts.agents) fs.mkdirSync(agentDir(mounts.agents, user.uid), { recursive: true, mode: 0o755 });
}

export function desiredContainer(policy: EffectivePolicy, user: UserInfo, node: string, mounts: DoshMounts = {}): DesiredContainer {
  const create = policy.create;
  const host: HostConfig = { ...create.HostConfig };
  // DoSH's own, read-only: the policy may not mount anything under DOSH_MOUNT_ROOT (policy/mounts.ts).
  const own = [
    ...(mounts.toolbox ? [{ Type: 'bind' as const, Source: mounts.toolbox, Target: TOOLBOX_MOUNT, ReadOnly: true }] : []),
    ...(policy.forwardAgent && mounts.agents ? [{ Type: 'bind' as const, Source: agentDir(mounts.agents, user.uid), Target: AGENT_MOUNT, ReadOnly: true }] : []),
  ];
  if (own.length) host.Mounts = [...(host.Mounts ?? []), ...own];
  // Her own network instead of the default bridge (policy refuses networkPerUser together with --network).
  if (policy.networkPerUser) host.NetworkMode = userNetworkName(user.name);
  const supplementary = user.groups.filter((g) => g.gid !== user.gid).map((g) => String(g.gid));
  const groupAdd = [...new Set([...(host.GroupAdd ?? []), ...supplementary])];
  const body: CreateBody = {
    ...create,
    Image: policy.image,
    // The policy's shell, waiting on an open stdin that is never attached, keeps the container up for any image
    // that has the shell; logins are execs beside it.
    Cmd: policy.command,
    Tty: true,
    OpenStdin: true,
    // An interactive shell ignores SIGTERM; SIGHUP ends it at once, so stopping a container (or the engine) does
    // not wait for the kill timeout.
    StopSignal: 'SIGHUP',
    User: `${user.uid}:${user.gid}`,
    Env: [`HOME=${user.home}`, `USER=${user.name}`, `LOGNAME=${user.name}`, ...(create.Env ?? [])],
    HostConfig: { ...host, GroupAdd: groupAdd },
    Labels: {
      ...(create.Labels ?? {}),
      [LABEL_MANAGED]: 'true',
      [LABEL_USER]: user.name,
      [LABEL_UID]: String(user.uid),
      [LABEL_NODE]: node,
      [LABEL_IDLE]: String(policy.idleTimeoutSeconds),
    },
  };
  const hash = createHash('sha256').update(stableJson(body)).digest('hex').slice(0, 16);
  body.Labels = { ...body.Labels, [LABEL_HASH]: hash };
  return { name: containerName(policy, user), hash, body };
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
