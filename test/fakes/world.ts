// Builds a Controller wired to fakes (engine, /proc, users, clock) and a real DirStore in a temp directory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { API_VERSION } from '../../api/meta.ts';
import type { EffectivePolicy, UserInfo } from '../../api/policy.ts';
import type { Session, SessionSpec } from '../../api/session.ts';
import { Controller } from '../../controller/controller.ts';
import type { ControllerOptions, PolicyProvider, RelayPort } from '../../controller/deps.ts';
import { ControllerMetrics } from '../../controller/metrics/metrics.ts';
import { silentLogger } from '../../lib/log.ts';
import type { NssUser, UserDirectory } from '../../lib/users.ts';
import { sessionStore } from '../../store/sessions.ts';
import { FakeClock } from './clock.ts';
import { FakeEngine } from './engine.ts';
import { FakeProc } from './proc.ts';
import { FakeLoginCgroups } from './cgroups.ts';
import { FakePods } from './pods.ts';
import type { HookResult } from '../../controller/hook-scripts.ts';
import type { EventSink } from '../../controller/events.ts';
import type { ToolboxManifest } from '../../controller/toolbox.ts';
import type { RecordingPlan } from '../../controller/recordings.ts';

/** Records events in order, with the real recorder's `once` rule (no aggregation, no store). */
export class RecordingEvents implements EventSink {
  events: { type: string; reason: string; object: string; message: string }[] = [];
  sweeps: number[] = [];

  record(o: { kind: string; name: string }, type: string, reason: string, message: string, opts: { once?: boolean } = {}): boolean {
    const object = `${o.kind}/${o.name}`;
    if (opts.once && this.events.some((e) => e.object === object && e.reason === reason)) return false;
    this.events.push({ type, reason, object, message });
    return true;
  }

  sweep(now: number): void {
    this.sweeps.push(now);
  }

  flushes = 0;
  flush(): void {
    this.flushes++;
  }

  /** One object's events as `TYPE REASON: MESSAGE`, oldest first. */
  of(object: string): string[] {
    return this.events.filter((e) => e.object === object).map((e) => `${e.type} ${e.reason}: ${e.message}`);
  }
}

/** The relays' control channels as the controller sees them: a session made by login() has its relay connected. */
export class FakeRelays implements RelayPort {
  attached = new Set<string>();
  notices: string[] = [];
  /** What a reattach finds: the relay listening ('attached') or not. */
  reattachAnswer: 'attached' | 'gone' = 'gone';
  reattached: string[] = [];

  has(name: string): boolean {
    return this.attached.has(name);
  }

  async reattach(name: string, socketPath: string): Promise<'attached' | 'gone'> {
    this.reattached.push(`${name} ${socketPath}`);
    if (this.reattachAnswer === 'attached') this.attached.add(name);
    return this.reattachAnswer;
  }

  notice(name: string, text: string): void {
    this.notices.push(`${name}: ${text}`);
  }

  socketPath(name: string): string {
    return `/nonexistent/relays/${name}.sock`;
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
    allowOtherShell: false,
    forwardAgent: false,
    recordSessions: false,
    backend: 'docker',
    provenance: {},
    ...over,
  };
}

export class World {
  clock = new FakeClock();
  engine = new FakeEngine();
  proc = new FakeProc();
  cgroups = new FakeLoginCgroups();
  users = new Map<string, NssUser>([['ann', ANN]]);
  /** Set: every user lookup fails with it (NSS down, groups unresolved). */
  lookupError?: Error;
  cordonMessage: string | undefined;
  hookCalls: string[] = [];
  hookResult: (moment: string) => HookResult = () => ({ ok: true, runs: [] });
  policyFor: (u: UserInfo) => EffectivePolicy = () => basePolicy();
  metrics = new ControllerMetrics();
  events = new RecordingEvents();
  relays = new FakeRelays();
  /** What the audit log was given, in order. */
  audited: Record<string, unknown>[] = [];
  /** Where a session's recording would go (RECORDSESSIONS), as doshd's Recordings plans it. */
  recordingPlan: (user: string, session: string) => RecordingPlan = (u, n) => ({ file: `/var/log/dosh/recordings/${u}/${n}.cast`, limit: 1 << 30 });
  /** The toolbox doshd built (with options.toolboxDir set). */
  toolbox: ToolboxManifest | undefined;
  root = mkdtempSync(path.join(tmpdir(), 'dosh-ctl-'));
  store = sessionStore(this.root, { clock: this.clock });
  controller: Controller;
  private seq = 0;

  /** The kubernetes backend, given to the controller when the World is made with `{ pods: true }`. */
  pods = new FakePods();

  constructor(options: Partial<ControllerOptions> = {}, backends: { pods?: boolean } = {}) {
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
      audit: { write: (r) => this.audited.push(r) },
      proc: this.proc,
      cgroups: this.cgroups,
      clock: this.clock,
      metrics: this.metrics,
      log: silentLogger,
      relays: this.relays,
      toolbox: options.toolboxDir ? () => this.toolbox : undefined,
      recordings: { plan: (u, n) => this.recordingPlan(u, n), sweep: () => {} },
      pods: backends.pods ? this.pods : undefined,
      options: { node: 'node1', workers: 1, resyncIntervalMs: 1000, endedRetentionMs: 60_000, killGraceMs: 5000, ...options },
    });
  }

  /** A Pending session as the session API writes it, with a live relay process connected to doshd. */
  login(user = 'ann', spec: Partial<SessionSpec> = {}): Session {
    const n = ++this.seq;
    const relayPid = 5000 + n;
    this.proc.add(relayPid, `${900 + n}`);
    const u = this.users.get(user);
    const s = this.store.create({
      apiVersion: API_VERSION,
      kind: 'Session',
      metadata: { name: `${user}-${n}` },
      spec: { user, uid: u?.uid ?? 4242, gid: u?.gid ?? 4242, node: 'node1', mode: 'command', login: true, command: 'id', args: [], tty: false, term: 'dumb', relay: { pid: relayPid, startTime: `${900 + n}` }, ...spec },
      status: { phase: 'Pending', conditions: [] },
    });
    this.relays.attached.add(s.metadata.name);
    return s;
  }

  get(name: string): Session {
    return this.store.get(name)!;
  }
}
