// Builds a Controller wired to fakes (engine, /proc, users, clock) and a real DirStore in a temp directory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { API_VERSION } from '../../api/meta.ts';
import type { EffectivePolicy, UserInfo } from '../../api/policy.ts';
import type { Session, SessionSpec } from '../../api/session.ts';
import { Controller } from '../../controller/controller.ts';
import type { ControllerOptions, PolicyProvider } from '../../controller/deps.ts';
import { ControllerMetrics } from '../../controller/metrics/metrics.ts';
import { silentLogger } from '../../lib/log.ts';
import type { NssUser, UserDirectory } from '../../lib/users.ts';
import { sessionStore } from '../../store/sessions.ts';
import { FakeClock } from './clock.ts';
import { FakeEngine } from './engine.ts';
import { FakeProc } from './proc.ts';
import type { HookResult } from '../../controller/hook-scripts.ts';
import type { EventSink } from '../../controller/events.ts';

/** Records events in order, with the real recorder's `once` rule (no aggregation, no store). */
export class RecordingEvents implements EventSink {
  events: { type: string; reason: string; object: string; message: string }[] = [];
  sweeps: number[] = [];

  record(o: { kind: string; name: string }, type: string, reason: string, message: string, opts: { once?: boolean } = {}): void {
    const object = `${o.kind}/${o.name}`;
    if (opts.once && this.events.some((e) => e.object === object && e.reason === reason)) return;
    this.events.push({ type, reason, object, message });
  }

  sweep(now: number): void {
    this.sweeps.push(now);
  }

  /** One object's events as `TYPE REASON: MESSAGE`, oldest first. */
  of(object: string): string[] {
    return this.events.filter((e) => e.object === object).map((e) => `${e.type} ${e.reason}: ${e.message}`);
  }
}

export const ANN: NssUser = { name: 'ann', uid: 1001, gid: 1001, home: '/home/ann', shell: '/usr/local/bin/dosh', groups: [{ name: 'ann', gid: 1001 }, { name: 'lab', gid: 2000 }] };

export function basePolicy(over: Partial<EffectivePolicy> = {}): EffectivePolicy {
  return {
    image: 'busybox:latest',
    command: ['/bin/sh'],
    prefixName: 'dosh-',
    idleTimeoutSeconds: 60,
    maxSessionSeconds: 0,
    maxSessionsPerUser: 0,
    runScripts: false,
    scriptsFolder: null,
    logFile: null,
    debug: false,
    verbose: false,
    runCommands: false,
    unsafe: [],
    create: { HostConfig: { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'], Init: true, PidsLimit: 1024 } },
    dockerArgs: [],
    extraNetworks: [],
    declaredNetworks: [],
    networkPerUser: false,
    provenance: {},
    ...over,
  };
}

export class World {
  clock = new FakeClock();
  engine = new FakeEngine();
  proc = new FakeProc();
  users = new Map<string, NssUser>([['ann', ANN]]);
  /** Set: every user lookup fails with it (NSS down, groups unresolved). */
  lookupError?: Error;
  cordonMessage: string | undefined;
  hookCalls: string[] = [];
  hookResult: (moment: string) => HookResult = () => ({ ok: true, runs: [] });
  policyFor: (u: UserInfo) => EffectivePolicy = () => basePolicy();
  metrics = new ControllerMetrics();
  events = new RecordingEvents();
  root = mkdtempSync(path.join(tmpdir(), 'dosh-ctl-'));
  store = sessionStore(this.root, { clock: this.clock });
  controller: Controller;
  private seq = 0;

  constructor(options: Partial<ControllerOptions> = {}) {
    this.store.init();
    const users: UserDirectory = {
      lookup: async (k) => {
        if (this.lookupError) throw this.lookupError;
        return this.users.get(String(k));
      },
    };
    const policy: PolicyProvider = { resolve: (u) => this.policyFor(u) };
    this.controller = new Controller({
      store: this.store,
      engine: this.engine,
      policy,
      users,
      cordon: { message: () => this.cordonMessage },
      hooks: { run: async (folder, moment, args) => (this.hookCalls.push(`${moment} ${args.join(' ')}`), this.hookResult(moment)) },
      events: this.events,
      proc: this.proc,
      clock: this.clock,
      metrics: this.metrics,
      log: silentLogger,
      options: { node: 'node1', workers: 1, resyncIntervalMs: 1000, endedRetentionMs: 60_000, killGraceMs: 5000, ...options },
    });
  }

  /** A Pending session as the helper writes it, with a live helper process. */
  login(user = 'ann', spec: Partial<SessionSpec> = {}): Session {
    const n = ++this.seq;
    const helperPid = 5000 + n;
    this.proc.add(helperPid, `${900 + n}`);
    const u = this.users.get(user);
    return this.store.create({
      apiVersion: API_VERSION,
      kind: 'Session',
      metadata: { name: `${user}-${n}` },
      spec: { user, uid: u?.uid ?? 4242, gid: u?.gid ?? 4242, node: 'node1', mode: 'command', login: true, command: 'id', args: [], tty: false, term: 'dumb', helper: { pid: helperPid, startTime: `${900 + n}` }, ...spec },
      status: { phase: 'Pending', conditions: [] },
    });
  }

  get(name: string): Session {
    return this.store.get(name)!;
  }
}
