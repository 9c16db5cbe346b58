// The images a policy can give its users, each with the shell (CONTAINERCOMMAND) it runs there, and where it is set:
// what `doshctl policy check` looks for on this host's engine (cli/commands/policy-images.ts). Read from the compiled
// blocks without a user: an image or command that holds a login variable cannot be known before a login, and is
// named apart.
import { DEFAULTS } from './resolve.ts';
import { expand, isStatic, PROBE_VARS } from './template.ts';
import type { Origin } from './errors.ts';
import type { CompiledPolicy, Setting } from './types.ts';

export interface ImageUse {
  image: string;
  /** The first word of the command the container runs there (what must exist in the image). */
  shell: string;
  /** Where the image is set (the built-in default: the main file, line 1). */
  origin: Origin;
}

/** Each image and shell pair once, in reading order; `variable` lists settings that depend on the user. */
export function imageUses(p: CompiledPolicy): { uses: ImageUse[]; variable: Origin[] } {
  const uses: ImageUse[] = [];
  const variable: Origin[] = [];
  let shellForAll: string | undefined;
  let imageForAll = false;
  const add = (u: ImageUse) => {
    if (!uses.some((x) => x.image === u.image && x.shell === u.shell)) uses.push(u);
  };
  for (const file of p.files) {
    for (const b of p.units[file] ?? []) {
      const cmd = b.settings.filter((s): s is Extract<Setting, { key: 'command' }> => s.key === 'command').at(-1);
      const shell = cmd && cmd.words[0] && isStatic(cmd.words[0].parts) ? expand(cmd.words[0].parts, PROBE_VARS) : undefined;
      if (cmd && !shell) variable.push(cmd.origin);
      for (const s of b.settings) {
        if (s.key !== 'image') continue;
        if (!isStatic(s.tpl)) {
          variable.push(s.origin);
          continue;
        }
        add({ image: expand(s.tpl, PROBE_VARS), shell: shell ?? shellForAll ?? DEFAULTS.command[0], origin: s.origin });
        if (b.match.kind === 'all') imageForAll = true;
      }
      if (b.match.kind === 'all' && shell) shellForAll = shell;
    }
  }
  if (!imageForAll) add({ image: DEFAULTS.image, shell: shellForAll ?? DEFAULTS.command[0], origin: { file: p.mainFile, line: 1, section: '(built-in default)' } });
  return { uses, variable };
}
