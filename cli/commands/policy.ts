import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { loadPolicyFile, PolicyError, resolvePolicy } from '../../policy/index.ts';
import { NssDirectory } from '../../lib/users.ts';
import { table } from '../format.ts';

const DEFAULT_CONFIG = '/etc/dosh/dosh.conf';

export const policyCheck: Command = {
  path: ['policy', 'check'],
  usage: 'doshctl policy check [FILE...]',
  summary: 'validate policy files without applying them (exit 1 on error)',
  async run(ctx) {
    const files = ctx.args.length ? ctx.args : [DEFAULT_CONFIG];
    let bad = 0;
    for (const f of files) {
      try {
        const p = loadPolicyFile(f);
        ctx.out(`${f}: ok (${p.files.length} file${p.files.length === 1 ? '' : 's'} read)\n`);
        for (const w of p.warnings) ctx.err(`${f}: warning: ${w}\n`);
      } catch (e) {
        if (!(e instanceof PolicyError)) throw new CliError(`${f}: ${(e as Error).message}`);
        ctx.err(`${e.message}\n`);
        bad++;
      }
    }
    return bad ? 1 : 0;
  },
};

export const policyExplain: Command = {
  path: ['policy', 'explain'],
  usage: 'doshctl policy explain USER [--config FILE] [-o json]',
  summary: 'the effective settings for USER and the file, line and section that set each',
  flags: { config: { type: 'string', help: `the policy file (default ${DEFAULT_CONFIG})` }, output: { type: 'string', short: 'o', help: 'json' } },
  async run(ctx) {
    const name = ctx.args[0];
    if (!name) throw new CliError('policy explain: a USER is required', 2);
    const user = await new NssDirectory().lookup(name);
    if (!user) throw new CliError(`user "${name}" is not known to this host (getent passwd)`);
    let eff;
    try {
      eff = resolvePolicy(loadPolicyFile((ctx.flags.config as string | undefined) ?? DEFAULT_CONFIG), user);
    } catch (e) {
      if (e instanceof PolicyError) throw new CliError(e.message);
      throw e;
    }
    if (ctx.flags.output === 'json') return void ctx.out(JSON.stringify(eff, null, 2) + '\n');
    const rows: string[][] = [['SETTING', 'VALUE', 'SET BY']];
    const flat = flatten(eff as unknown as Record<string, unknown>);
    for (const [key, value] of flat) {
      if (key.startsWith('provenance')) continue;
      const src = eff.provenance[key] ?? Object.entries(eff.provenance).find(([k]) => key.startsWith(k + '.') || key.startsWith(k + '['))?.[1];
      rows.push([key, value, src ? `${src.file}:${src.line} [${src.section}]` : 'default']);
    }
    ctx.out(`Effective DoSH policy for ${user.name} (uid ${user.uid}, groups ${user.groups.map((g) => g.name).join(',')}):\n`);
    ctx.out(table(rows));
  },
};

function flatten(obj: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) out.push(...flatten(v as Record<string, unknown>, key));
    else out.push([key, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  return out;
}
