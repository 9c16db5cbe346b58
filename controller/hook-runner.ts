// doshd's side of hook scripts (hook-scripts.ts runs them): refusals for failing pre hooks, metrics, events and logs.
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import type { Session } from '../api/session.ts';
import { RefusedError } from '../lib/errors.ts';
import type { HookContext, HookMoment, HookResult } from './hook-scripts.ts';
import type { ControllerDeps } from './deps.ts';
import { hookRunMessage } from './events.ts';

export class ControllerHooks {
  constructor(private readonly d: Pick<ControllerDeps, 'hooks' | 'metrics' | 'events' | 'log'>) {}

  /** Runs a policy's hooks for a moment; a failing pre* hook refuses the login. */
  async forPolicy(policy: EffectivePolicy, moment: HookMoment, args: string[], ctx: HookContext): Promise<void> {
    if (!policy.runScripts || !policy.scriptsFolder) return;
    const r = await this.run(policy.scriptsFolder, moment, args, ctx);
    if (!r.ok) throw new RefusedError('HookFailed', `login refused by the administrator's ${moment} hook: ${r.failure ?? 'it failed'}`);
  }

  async run(folder: string, moment: HookMoment, args: string[], ctx: HookContext): Promise<HookResult> {
    const r = await this.d.hooks.run(folder, moment, args, ctx);
    for (const run of r.runs) {
      const ok = run.exitCode === 0 && !run.timedOut;
      this.d.metrics.hookRuns.inc({ moment, result: run.timedOut ? 'timeout' : ok ? 'success' : 'failure' });
      this.d.metrics.hookDuration.observe({ moment }, run.durationMs / 1000);
      if (ctx.session) this.d.events.record({ kind: 'Session', name: ctx.session }, ok ? 'Normal' : 'Warning', ok ? 'HookRan' : 'HookFailed', hookRunMessage(run));
      this.d.log[ok ? 'info' : 'warn']('hook ran', { moment, script: run.script, exitCode: run.exitCode, signal: run.signal, timedOut: run.timedOut, ms: Math.round(run.durationMs), output: run.output, session: ctx.session, user: ctx.user });
    }
    return r;
  }
}

export function hookContext(user: UserInfo, c: { id?: string; name: string; image?: string }, s: Session | undefined): HookContext {
  return { user: user.name, uid: user.uid, gid: user.gid, groups: user.groups.map((g) => g.gid), session: s?.metadata.name, containerId: c.id, containerName: c.name, image: c.image };
}
