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
import type { ControllerMetrics } from './metrics/metrics.ts';
import type { RateLimitOptions } from './rate-limit.ts';

/** The engine calls the controller makes (engine/docker.ts; test/fakes/engine.ts in unit tests). */
export type EnginePort = Pick<
  Engine,
  | 'inspectContainer'
  | 'createContainer'
  | 'startContainer'
  | 'removeContainer'
  | 'listContainers'
  | 'containerProcesses'
  | 'createExec'
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

export interface ControllerOptions {
  node: string;
  workers: number;
  resyncIntervalMs: number;
  endedRetentionMs: number;
  killGraceMs: number;
  /** Per-user login rate limit; absent or perSecond 0: none. */
  loginRate?: RateLimitOptions;
}

export interface ControllerDeps {
  store: DirStore<Session>;
  engine: EnginePort;
  policy: PolicyProvider;
  users: UserDirectory;
  cordon: Cordon;
  hooks: HookPort;
  events: EventSink;
  proc: ProcFs;
  clock: Clock;
  metrics: ControllerMetrics;
  log: Logger;
  options: ControllerOptions;
  /** Keeps the idle timers across doshd restarts (store/layout.ts idleClocksFile); without it they restart with doshd. */
  idleClocks?: IdleClocks;
}
