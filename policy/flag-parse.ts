// Reads docker run arguments (already split into words) the way pflag does: `--flag value`,
// `--flag=value`, `-f value`, `-fvalue`, `-f=value` and grouped short flags.
import * as path from 'node:path';
import { Collector } from './collector.ts';
import { PolicyError, type Origin } from './errors.ts';
import { BY_LONG, BY_SHORT, type FlagSpec } from './flags.ts';
import type { PolicyHost } from './host-path.ts';
import type { PolicyIO } from './io.ts';
import type { Word } from './shell-words.ts';
import { expand, isStatic, PROBE_VARS, templateText, type Template, type Vars } from './template.ts';
import type { FlagOcc } from './types.ts';

export interface FlagContext {
  file: string;
  line: number;
  section: string;
  unsafeOk: boolean;
  /** To read --env-file at load time; without it --env-file is refused. */
  io?: PolicyIO;
  /** Relative --env-file paths are taken from here. */
  baseDir?: string;
  /** Where each word is, when words do not come from one line (YAML lists). */
  originOf?: (index: number) => Origin;
}

const REFUSED: Record<string, string> = {
  user: 'the container always runs as the logged-in user (uid:gid and groups); -u/--user can never be set by a policy',
  name: 'DoSH names the container itself (PREFIXNAME + user name)',
  rm: 'DoSH manages the container lifecycle (see IDLETIMEOUT)',
  entrypoint: 'the command is set by CONTAINERCOMMAND',
};

/** Splits a word at the first '=' found in its literal text; null when there is none before a variable. */
function splitAtEquals(w: Template, skip: number): { name: string; value: Template } | null {
  const first = w[0];
  if (typeof first !== 'string') return null;
  const eq = first.indexOf('=', skip);
  if (eq === -1) return null;
  const rest = first.slice(eq + 1);
  const value: Template = rest === '' && w.length > 1 ? w.slice(1) : [rest, ...w.slice(1)];
  return { name: first.slice(0, eq), value };
}

export function parseFlagWords(words: Word[], ctx: FlagContext): FlagOcc[] {
  const out: FlagOcc[] = [];
  const originAt = (i: number): Origin =>
    ctx.originOf ? ctx.originOf(i) : { file: ctx.file, line: ctx.line, column: words[i].column, section: ctx.section };
  function err(i: number, msg: string): never {
    throw new PolicyError(originAt(i), msg);
  }
  function lookup(i: number, written: string, spec: FlagSpec | undefined, key: string): FlagSpec {
    if (REFUSED[key]) err(i, `${written} is not allowed: ${REFUSED[key]}`);
    if (!spec) err(i, `unsupported docker run flag ${written} (see docs/POLICY.md for the supported flags)`);
    return spec;
  }
  const push = (i: number, spec: FlagSpec, written: string, value: Template | null) => {
    const occ: FlagOcc = { flag: spec.name, written, value, origin: originAt(i), unsafeOk: ctx.unsafeOk };
    if (spec.name === 'env-file') occ.envFile = readEnvFile(occ, ctx);
    out.push(occ);
  };

  for (let i = 0; i < words.length; i++) {
    const w = words[i].parts;
    const text = typeof w[0] === 'string' ? w[0] : '';
    const literal = w.length === 1 && typeof w[0] === 'string';
    if (literal && text === '--') err(i, "'--' is not allowed: DOCKERPARAMETERS holds only flags");
    if (!text.startsWith('-') || (literal && text === '-')) {
      err(i, `unexpected argument ${JSON.stringify(templateText(w))}: only flags may be given here (the image and command have their own settings)`);
    }
    const takeNext = (written: string): Template => {
      if (i + 1 >= words.length) err(i, `flag ${written} needs a value`);
      return words[++i].parts;
    };
    if (text.startsWith('--')) {
      const eq = splitAtEquals(w, 2);
      const name = eq ? eq.name.slice(2) : literal ? text.slice(2) : null;
      if (name === null) return err(i, `a flag name cannot contain variables: ${JSON.stringify(templateText(w))}`);
      const written = '--' + name;
      const spec = lookup(i, written, BY_LONG.get(name), name);
      if (eq) push(i, spec, written, eq.value);
      else push(i, spec, written, spec.bool ? null : takeNext(written));
      continue;
    }
    // A group of short flags: booleans take no value, the first value flag takes the rest.
    const tailFrom = (at: number): Template => {
      const t: Template = [text.slice(at), ...w.slice(1)];
      return t.length > 1 && t[0] === '' ? t.slice(1) : t;
    };
    let done = false;
    for (let k = 1; k < text.length && !done; k++) {
      const ch = text[k];
      const written = '-' + ch;
      const spec = lookup(i, written, BY_SHORT.get(ch), ch === 'u' ? 'user' : ch);
      if (text[k + 1] === '=') {
        push(i, spec, written, tailFrom(k + 2));
        done = true;
      } else if (spec.bool) {
        push(i, spec, written, null);
      } else {
        push(i, spec, written, k + 1 < text.length || w.length > 1 ? tailFrom(k + 1) : takeNext(written));
        done = true;
      }
    }
    if (!done && (w.length > 1 || text.length === 1)) err(i, `a flag name cannot contain variables: ${JSON.stringify(templateText(w))}`);
  }
  return out;
}

function readEnvFile(occ: FlagOcc, ctx: FlagContext): string[] {
  function bad(msg: string): never {
    throw new PolicyError(occ.origin, `${occ.written}: ${msg}`);
  }
  if (!occ.value || !isStatic(occ.value)) return bad('the file name cannot contain variables (the file is read once, at load time)');
  if (!ctx.io) return bad('not available here');
  const name = expand(occ.value, PROBE_VARS);
  const file = path.resolve(ctx.baseDir ?? '/', name);
  let text = '';
  try {
    text = ctx.io.readFile(file);
  } catch (e) {
    bad(`cannot read ${file}: ${(e as Error).message}`);
  }
  const vars: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, n) => {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = (eq === -1 ? line : line.slice(0, eq)).replace(/^[ \t]+/, '');
    const where = `${file} line ${n + 1}`;
    if (/[ \t]/.test(name)) bad(`${where}: variable ${JSON.stringify(name)} contains whitespace`);
    if (name === '') bad(`${where}: no variable name`);
    if (eq === -1) bad(`${where}: ${JSON.stringify(name)} has no value (docker would copy it from doshd's own environment); write NAME=VALUE`);
    if (line.includes('\0')) bad(`${where}: NUL byte`);
    vars.push(name + '=' + line.slice(eq + 1));
  });
  return vars;
}

/** Translates flags for one user into the collector (throws PolicyError at the flag's location). */
export function applyFlags(occs: FlagOcc[], vars: Vars, c: Collector): void {
  for (const occ of occs) {
    const spec = BY_LONG.get(occ.flag)!;
    spec.apply(c, occValue(occ, vars), occ);
  }
}

/** A flag's value for one user, as its FlagSpec takes it. */
export function occValue(occ: FlagOcc, vars: Vars): string {
  return occ.csv ? csvLine(occ.csv, vars) : occ.value === null ? 'true' : expand(occ.value, vars);
}

function csvLine(fields: [string, Template | null][], vars: Vars): string {
  return fields.map(([k, t]) => (t === null ? k : '"' + (k + '=' + expand(t, vars)).replace(/"/g, '""') + '"')).join(',');
}

/** Load-time check of a list of flags on its own, with a stand-in user (host paths without variables on the host). */
export function validateFlags(occs: FlagOcc[], host?: PolicyHost): void {
  const c = new Collector(host, 'static');
  applyFlags(occs, PROBE_VARS, c);
  c.build();
}
