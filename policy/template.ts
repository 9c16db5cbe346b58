// envsubst-style templates: `$VAR` and `${VAR}` for the login variables only; any other `$…`,
// `$(…)` and backticks stay literal text, because nothing here is ever run by a shell.
import type { UserInfo } from '../api/policy.ts';

export const LOGIN_VARS = ['USER', 'HOME', 'UID', 'GID', 'GROUP', 'LOGNAME', 'SHELL'] as const;
export type LoginVar = (typeof LOGIN_VARS)[number];
const VAR_SET: ReadonlySet<string> = new Set(LOGIN_VARS);

export type Part = string | { v: LoginVar };
export type Template = Part[];

export type Vars = Record<LoginVar, string>;

/** Length of the variable reference starting at text[i] === '$' and its name, or null when literal. */
export function matchVar(text: string, i: number): { name: LoginVar; len: number } | null {
  let j = i + 1;
  const braced = text[j] === '{';
  if (braced) j++;
  const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(j, j + 64));
  if (!m || !VAR_SET.has(m[0])) return null;
  let len = j - i + m[0].length;
  if (braced) {
    if (text[i + len] !== '}') return null;
    len++;
  }
  return { name: m[0] as LoginVar, len };
}

/** With `dollarEscape` (dosh.yaml), `$$` stands for a literal `$`. */
export function parseTemplate(text: string, dollarEscape = false): Template {
  const parts: Template = [];
  let lit = '';
  for (let i = 0; i < text.length; i++) {
    if (dollarEscape && text[i] === '$' && text[i + 1] === '$') {
      lit += '$';
      i++;
      continue;
    }
    if (text[i] === '$') {
      const m = matchVar(text, i);
      if (m) {
        if (lit) parts.push(lit);
        lit = '';
        parts.push({ v: m.name });
        i += m.len - 1;
        continue;
      }
    }
    lit += text[i];
  }
  if (lit || parts.length === 0) parts.push(lit);
  return parts;
}

export function isStatic(t: Template): boolean {
  return t.every((p) => typeof p === 'string');
}

export function expand(t: Template, vars: Vars): string {
  if (t.length === 1 && typeof t[0] === 'string') return t[0];
  let s = '';
  for (const p of t) s += typeof p === 'string' ? p : vars[p.v];
  return s;
}

/** The template written back as text (variables as `${NAME}`); with `dollarEscape`, literal `$` as `$$`. */
export function templateText(t: Template, dollarEscape = false): string {
  return t.map((p) => (typeof p !== 'string' ? '${' + p.v + '}' : dollarEscape ? p.replace(/\$/g, '$$$$') : p)).join('');
}

export function varsFor(user: UserInfo): Vars {
  const primary = user.groups.find((g) => g.gid === user.gid);
  return {
    USER: user.name,
    LOGNAME: user.name,
    HOME: user.home,
    UID: String(user.uid),
    GID: String(user.gid),
    GROUP: primary ? primary.name : String(user.gid),
    SHELL: user.shell,
  };
}

/** A stand-in user, used to validate templated values at load time. */
export const PROBE_VARS: Vars = {
  USER: 'doshprobe',
  LOGNAME: 'doshprobe',
  HOME: '/home/doshprobe',
  UID: '4242',
  GID: '4242',
  GROUP: 'doshprobe',
  SHELL: '/bin/sh',
};
