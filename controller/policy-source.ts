// The policy in force: loaded from the configured file, reloaded on change (chokidar, debounced), and never
// replaced by a file that fails to load: the last good policy stays in force and the error is reported.
import { watch, type FSWatcher } from 'chokidar';
import * as path from 'node:path';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import { RefusedError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { PolicyError } from '../policy/errors.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import type { PolicyProvider } from './deps.ts';
import type { ControllerMetrics } from './metrics/metrics.ts';
import type { PolicyStatus } from '../store/layout.ts';

export type PolicyLoader = (file: string) => CompiledPolicy;
export type PolicyResolver = (policy: CompiledPolicy, user: UserInfo) => EffectivePolicy;

export class PolicySource implements PolicyProvider {
  private current?: CompiledPolicy;
  private override?: { policy: CompiledPolicy; origin: string };
  private state: PolicyStatus;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private watchedDirs = '';
  private listeners: (() => void)[] = [];

  /** Called after every successful reload (not the first load). */
  onReload(fn: () => void): void {
    this.listeners.push(fn);
  }

  constructor(
    private readonly file: string,
    private readonly load: PolicyLoader,
    private readonly resolveFor: PolicyResolver,
    private readonly log: Logger,
    private readonly metrics: ControllerMetrics,
    private readonly now: () => number = Date.now,
    /** Publishes the status for `doshctl policy status`. */
    private readonly publish: (s: PolicyStatus) => void = () => {},
  ) {
    this.state = { file, loaded: false, files: [] };
  }

  status(): PolicyStatus {
    return this.state;
  }

  /** Loads now; returns false (and keeps the previous policy) when the file is bad. */
  reload(): boolean {
    const at = new Date(this.now()).toISOString();
    try {
      const next = this.load(this.file);
      this.current = next;
      this.state = { file: this.file, loaded: true, loadedAt: at, files: next.files, override: this.override?.origin };
      this.metrics.policyReloads.inc({ result: 'success' });
      for (const w of next.warnings) this.log.warn('policy warning', { file: this.file, warning: w });
      this.log.info('policy loaded', { file: this.file, files: next.files.length });
      if (this.watcher) this.rewatch();
      this.publish(this.state);
      if (this.watcher) for (const fn of this.listeners) fn();
      return true;
    } catch (e) {
      const pe = e instanceof PolicyError ? e : undefined;
      const message = pe ? pe.message : `${this.file}: ${(e as Error).message}`;
      this.state = { ...this.state, error: { message, file: pe?.file, line: pe?.line, at } };
      this.publish(this.state);
      this.metrics.policyReloads.inc({ result: 'error' });
      this.log.error(this.current ? 'policy rejected; the last good policy stays in force' : 'policy rejected; logins are refused until it loads', { error: message });
      return false;
    }
  }

  /**
   * A policy that was loaded and checked elsewhere (the cluster's DoshPolicy) and is in force instead of the file's
   * while set; undefined gives the file's back. The file is still watched, so it is current when that happens.
   */
  setOverride(next: { policy: CompiledPolicy; origin: string } | undefined): void {
    if (!next && !this.override) return;
    this.override = next;
    this.state = { ...this.state, override: next?.origin };
    this.publish(this.state);
    this.log.info(next ? 'cluster policy in force' : 'cluster policy removed; the policy file is in force again', { origin: next?.origin ?? this.file });
    for (const fn of this.listeners) fn();
  }

  resolve(user: UserInfo): EffectivePolicy {
    if (this.override) return this.resolveWith(this.override.policy, user);
    if (!this.current) throw new RefusedError('NoPolicy', `no valid DoSH policy is loaded (${this.state.error?.message ?? 'not loaded yet'}); ask your administrator`);
    return this.resolveWith(this.current, user);
  }

  private resolveWith(policy: CompiledPolicy, user: UserInfo): EffectivePolicy {
    try {
      return this.resolveFor(policy, user);
    } catch (e) {
      if (e instanceof PolicyError) throw new RefusedError('PolicyError', `the DoSH policy cannot be applied to ${user.name}: ${e.message}`);
      throw e;
    }
  }

  /** Watches the main file's directory (editors replace files) and every file the last good load read. */
  start(): void {
    this.reload();
    this.rewatch();
  }

  private rewatch(): void {
    const targets = [...new Set([this.file, ...this.state.files])];
    const dirs = [...new Set(targets.map((f) => path.dirname(f)))].sort();
    if (this.watcher && dirs.join('\0') === this.watchedDirs) return;
    this.watchedDirs = dirs.join('\0');
    if (this.watcher) void this.watcher.close();
    this.watcher = watch(dirs, { ignoreInitial: true, depth: 0 });
    const files = new Set(targets);
    const includeDirs = new Set(this.state.files.filter((f) => f !== this.file).map((f) => path.dirname(f)));
    // The main file's directory may be busy (/etc, /tmp): only the policy's own files, files that could match an
    // include (in an include's directory) and policy-looking names trigger a reload.
    this.watcher.on('all', (_event, changed) => {
      if (files.has(changed) || includeDirs.has(path.dirname(changed)) || /\.(conf|ya?ml)$/.test(changed)) this.schedule();
    });
    this.watcher.on('error', (e) => this.log.warn('policy watch failed', { error: String(e) }));
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), 200);
  }

  stop(): void {
    clearTimeout(this.timer);
    void this.watcher?.close();
  }
}
