import type { CliContext, Command } from '../context.ts';
import { CliError } from '../context.ts';
import { convertLegacyToYaml, explain, formatExplain, loadPolicyFile, nodeHostFs, PolicyError, type CompiledPolicy } from '../../policy/index.ts';
import { controllerFile, policyStatusFile, readJsonFile, type ControllerRecord, type PolicyStatus } from '../../store/layout.ts';
import { DEFAULT_TOOLBOX, toolboxManifestFile, type ToolboxManifest } from '../../api/toolbox.ts';
import { engineLook, imageWarnings } from './policy-images.ts';
import { NssDirectory } from '../../lib/users.ts';

const DEFAULT_CONFIG = '/etc/dosh/dosh.conf';

export const policyCheck: Command = {
  path: ['policy', 'check'],
  usage: 'doshctl policy check [FILE...] [--no-images]',
  summary: 'validate policy files without applying them (exit 1 on error), and look at their images on this host',
  flags: { 'no-images': { type: 'boolean', help: "do not look at the policy's images on this host's Docker engine" } },
  async run(ctx) {
    const files = ctx.args.length ? ctx.args : [DEFAULT_CONFIG];
    let bad = 0;
    let engineDown: string | undefined;
    for (const f of files) {
      let p: CompiledPolicy;
      try {
        p = loadPolicyFile(f);
        ctx.out(`${f}: ok (${p.files.length} file${p.files.length === 1 ? '' : 's'} read)\n`);
        for (const w of p.warnings) ctx.err(`${f}: warning: ${w}\n`);
      } catch (e) {
        if (!(e instanceof PolicyError)) throw new CliError(`${f}: ${(e as Error).message}`);
        ctx.err(`${e.message}\n`);
        bad++;
        continue;
      }
      if (ctx.flags['no-images'] || engineDown) continue;
      try {
        for (const w of await imageWarnings(p, engineLook(ctx.engine()), toolboxOf(ctx.storeRoot))) ctx.err(`${f}: warning: ${w}\n`);
      } catch (e) {
        engineDown = (e as Error).message;
      }
    }
    if (engineDown) ctx.err(`note: the images were not looked at: the Docker engine did not answer (${engineDown}); run as root on a login node, or pass --no-images\n`);
    return bad ? 1 : 0;
  },
};

/** The toolbox the store's doshd uses (its record names it), or the default one. */
function toolboxOf(store: string): { dir: string; manifest: ToolboxManifest | undefined } {
  const dir = readJsonFile<ControllerRecord>(controllerFile(store))?.toolbox ?? DEFAULT_TOOLBOX;
  return { dir, manifest: readJsonFile<ToolboxManifest>(toolboxManifestFile(dir)) };
}

export const policyExplain: Command = {
  path: ['policy', 'explain'],
  usage: 'doshctl policy explain USER [--config FILE] [-o json]',
  summary: 'the effective settings for USER and the file, line and section that set each (and her Pod, on the kubernetes backend)',
  flags: { config: { type: 'string', help: `the policy file (default ${DEFAULT_CONFIG})` }, output: { type: 'string', short: 'o', help: 'json' } },
  async run(ctx) {
    const name = ctx.args[0];
    if (!name) throw new CliError('policy explain: a USER is required', 2);
    const user = await new NssDirectory().lookup(name);
    if (!user) throw new CliError(`user "${name}" is not known to this host (getent passwd)`);
    // Her bind sources as doshd checks them at her login: on this host.
    const entries = withPolicy(ctx, (p) => explain(p, user, { fs: nodeHostFs }));
    if (ctx.flags.output === 'json') return void ctx.out(JSON.stringify(entries, null, 2) + '\n');
    ctx.out(`Effective DoSH policy for ${user.name} (uid ${user.uid}, groups ${user.groups.map((g) => g.name).join(',')}):\n`);
    ctx.out(formatExplain(entries));
  },
};

export const policyConvert: Command = {
  path: ['policy', 'convert'],
  usage: 'doshctl policy convert [FILE]',
  summary: 'print the dosh.yaml equivalent of a legacy dosh.conf',
  async run(ctx) {
    const yaml = withPolicy({ ...ctx, flags: { ...ctx.flags, config: ctx.args[0] } }, (p) => convertLegacyToYaml(p));
    ctx.out(yaml.endsWith('\n') ? yaml : yaml + '\n');
  },
};

export const policyStatus: Command = {
  path: ['policy', 'status'],
  usage: 'doshctl policy status',
  summary: "the policy doshd has in force, and its last rejected reload",
  needs: ['root', 'doshd'],
  async run(ctx) {
    const st = readJsonFile<PolicyStatus>(policyStatusFile(ctx.storeRoot));
    if (!st) throw new CliError(`doshd has not reported a policy status in ${ctx.storeRoot}: is doshd running?`);
    ctx.out(`Policy file:  ${st.file}\nIn force:     ${st.loaded ? `yes, loaded ${st.loadedAt} from ${st.files.join(', ')}` : 'no valid policy: logins are refused'}\n`);
    if (st.error) ctx.out(`Last error:   ${st.error.message} (at ${st.error.at})\n`);
    return st.error ? 1 : 0;
  },
};

function withPolicy<T>(ctx: CliContext, fn: (p: CompiledPolicy) => T): T {
  try {
    return fn(loadPolicyFile((ctx.flags.config as string | undefined) ?? DEFAULT_CONFIG));
  } catch (e) {
    if (e instanceof PolicyError) throw new CliError(e.message);
    throw e;
  }
}
