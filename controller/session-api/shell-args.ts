// The login shell's command line, read the way bash reads its own, so every program that runs a user's shell
// (sshd, su, login, scp, rsync, git, sftp) gets what it expects.
import type { z } from 'zod';
import type { SessionMode } from '../../api/session.ts';

export interface ShellInvocation {
  mode: z.infer<typeof SessionMode>;
  login: boolean;
  command?: string;
  args: string[];
}

export type ParseResult = { ok: true; value: ShellInvocation } | { ok: false; error: string };

/** Flags bash accepts that change nothing for a shell whose real shell runs in a container. */
const IGNORED_LONG = new Set(['--noprofile', '--norc', '--posix', '--noediting']);

export function parseShellArgs(argv0: string, args: readonly string[]): ParseResult {
  let login = argv0.startsWith('-');
  let cFlag = false;
  let sFlag = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--' || a === '-') {
      i++;
      break;
    }
    if (a === '--login') {
      login = true;
      continue;
    }
    if (IGNORED_LONG.has(a)) continue;
    if (a.startsWith('--')) return { ok: false, error: `${a}: invalid option` };
    if (!a.startsWith('-') || a.length < 2) break;
    for (const ch of a.slice(1)) {
      if (ch === 'c') cFlag = true;
      else if (ch === 'l') login = true;
      else if (ch === 's') sFlag = true;
      else if (ch === 'i') continue; // interactivity follows the terminal, as in bash
      else return { ok: false, error: `-${ch}: invalid option` };
    }
  }
  const rest = args.slice(i);
  if (cFlag) {
    if (rest.length === 0) return { ok: false, error: '-c: option requires an argument' };
    return { ok: true, value: { mode: 'command', login, command: rest[0], args: rest.slice(1) } };
  }
  if (sFlag) return { ok: true, value: { mode: 'stdin', login, args: rest } };
  if (rest.length > 0) return { ok: true, value: { mode: 'script', login, command: rest[0], args: rest.slice(1) } };
  return { ok: true, value: { mode: 'interactive', login, args: [] } };
}

/** TERM is copied into the container only when it looks like a terminfo name; anything else is replaced. */
export function sanitizeTerm(term: string | undefined, tty: boolean): string {
  if (term && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(term)) return term;
  return tty ? 'xterm' : 'dumb';
}

export function sanitizeLang(lang: string | undefined): string | undefined {
  return lang && /^[A-Za-z0-9._@-]{1,64}$/.test(lang) ? lang : undefined;
}
