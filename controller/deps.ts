// What doshd's reconciler is built from: the ports it uses (engine, policy, users, hooks, cordon...) and its options.
// In a module of their own so that the parts of the controller (containers, gc, networks, hooks, rollout) can say
// which of them they use without importing the controller that imports them.
import type { Session } from '../api/session.ts';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { ProcFs } from '../lib/proc.ts';
import type { UserDirectory } from '../lib/users.ts';
import type { DirStore } from '../store/dirstore.ts';
import type { Engine } from '../engine/docker.ts';
import type { HookContext, HookMoment, HookResult } from './hook-scripts.ts';
import type { EventSink } from './events.ts';
import type { AuditSink } from './audit-log.ts';
import type { ControllerMetrics } from './metrics/metrics.ts';
import type { ToolboxManifest } from './toolbox.ts';
import type { Recordings } from './recordings.ts';
import type { PodBackend } from './pods/pod-backend.ts';

/** The engine calls the controller makes (engine/docker.ts; test/fakes/engine.ts in unit tests). */
export type EnginePort = Pick<
  Engine,
  | 'inspectContainer'
  | 'createContainer'
  | 'startContainer'
  | 'removeContainer'
  | 'renameContainer'
  | 'listContainers'
  | 'containerProcesses'
  | 'createExec'
  | 'inspectExec'
  | 'statPath'
  | 'readFile'
  | 'inspectNetwork'
  | 'createNetwork'
  | 'connectNetwork'
  | 'removeNetwork'
  | 'listNetworks'
>;

export interface PolicyProvider {
  /** The effective policy for a user; throws RefusedError when the policy refuses her. */
  resolve(user: UserInfo): EffectivePolicy;
}

/** Runs the hook scripts of a folder for one moment (controller/hook-scripts.ts; a recording fake in unit tests). */
export interface HookPort {
  run(folder: string, moment: HookMoment, args: string[], ctx: HookContext): Promise<HookResult>;
}

export interface Cordon {
  /** The message new logins are refused with, or undefined when logins are allowed. */
  message(): string | undefined;
}

/** Where the idle clocks outlive doshd: what load() returns is checked, never trusted; save() may throw (a read-only store). */
export interface IdleClocks {
  load(): unknown;
  save(since: Record<string, number>): void;
}

/** The control channels of live logins, one per session, to its relay (controller/session-api/links.ts). */
export interface RelayPort {
  has(name: string): boolean;
  /** After a doshd restart: connects to the relay's socket; 'gone' when nothing listens there. */
  reattach(name: string, socketPath: string): Promise<'attached' | 'gone'>;
  /** A message for her terminal, shown once per text. */
  notice(name: string, text: string): void;
  /** Where a session's relay listens for a restarted doshd (under the store's root-only relays/ directory). */
  socketPath(name: string): string;
}

/** Ends what a login started, wherever it went in her container (lib/cgroup.ts; a recording fake in unit tests). */
export interface LoginCgroups {
  /** Kills every process in a login's cgroup; false where there is none. */
  kill(dir: string): boolean;
  /** Removes a login's cgroup once it is empty. */
  remove(dir: string): boolean;
}

export interface ControllerOptions {
  node: string;
  /** The host directory of DoSH's toolbox (controller/toolbox.ts), mounted read-only into every container; none without it. */
  toolboxDir?: string;
  /** Where each user's agent sockets live on the host (STORE/agents/UID), for FORWARDAGENT; none without it. */
  agentsDir?: string;
  workers: number;
  resyncIntervalMs: number;
  endedRetentionMs: number;
  killGraceMs: number;
}

export interface ControllerDeps {
  store: DirStore<Session>;
  engine: EnginePort;
  policy: PolicyProvider;
  users: UserDirectory;
  cordon: Cordon;
  hooks: HookPort;
  events: EventSink;
  /** The audit log (controller/audit-log.ts), written where the Ready, Refused and Ended events are recorded. */
  audit?: AuditSink;
  proc: ProcFs;
  cgroups: LoginCgroups;
  clock: Clock;
  metrics: ControllerMetrics;
  log: Logger;
  relays: RelayPort;
  options: ControllerOptions;
  /** Told of every session after each housekeeping pass lists them (the login gate recounts what the store holds). */
  onHousekeeping?: (sessions: readonly Session[]) => void;
  /** Where RECORDSESSIONS recordings go (controller/recordings.ts); none without it. */
  recordings?: Pick<Recordings, 'plan' | 'sweep'>;
  /** The toolbox in force (built at start from toolboxDir); undefined when it could not be built. */
  toolbox?: () => ToolboxManifest | undefined;
  /** Keeps the idle timers across doshd restarts (store/layout.ts idleClocksFile); without it they restart with doshd. */
  idleClocks?: IdleClocks;
  /** The kubernetes backend (controller/pods/pod-backend.ts), when doshd has a Kubernetes connection. */
  pods?: PodPort;
}

/** What admission and the end of a login use of the kubernetes backend. */
export type PodPort = Pick<PodBackend, 'ensure' | 'createExec' | 'end' | 'collect' | 'isOutdated'>;
