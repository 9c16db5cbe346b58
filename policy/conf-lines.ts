// Reads dosh.conf text into section headers and KEY=VALUE lines, as the original's
// `sed 's/#.*//' | trim | drop blank lines | while read` does (so `#` always starts a comment
// and a trailing backslash joins the next line), but strictly: anything else is an error.
import { fail } from './errors.ts';

export type ConfLine =
  | { kind: 'section'; sectionKind: 'user' | 'group'; name: string; line: number }
  | { kind: 'kv'; key: string; value: string; line: number; valueColumn: number };

export function lexConf(file: string, text: string): ConfLine[] {
  const nul = text.indexOf('\0');
  if (nul !== -1) {
    const before = text.slice(0, nul);
    const line = before.split('\n').length;
    fail({ file, line, column: nul - before.lastIndexOf('\n') }, 'NUL byte in file (is this a binary file?)');
  }
  const out: ConfLine[] = [];
  const raw = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < raw.length; i++) {
    const lineNo = i + 1;
    let { s, lead } = clean(raw[i]);
    if (s === '') continue;
    // `read` without -r: a backslash at the end of a line continues it on the next non-blank line.
    while (/(^|[^\\])(\\\\)*\\$/.test(s) && i + 1 < raw.length) {
      s = s.slice(0, -1);
      let next = '';
      while (next === '' && i + 1 < raw.length) next = clean(raw[++i]).s;
      s += next;
    }
    if (s.startsWith('[')) {
      out.push(section(file, lineNo, s, lead));
      continue;
    }
    const eq = s.indexOf('=');
    if (eq === -1) fail({ file, line: lineNo, column: lead + 1 }, `expected KEY=VALUE or [user:NAME] / [group:NAME], got ${JSON.stringify(s.slice(0, 60))}`);
    const key = s.slice(0, eq);
    if (/[ \t]$/.test(key)) fail({ file, line: lineNo, column: lead + 1 }, `blank before '=' in ${JSON.stringify(key.trim())}= (the original ignores such a line silently; write KEY=VALUE)`);
    out.push({ kind: 'kv', key, value: s.slice(eq + 1), line: lineNo, valueColumn: lead + eq + 2 });
  }
  return out;
}

function clean(line: string): { s: string; lead: number } {
  let s = line.endsWith('\r') ? line.slice(0, -1) : line;
  const hash = s.indexOf('#');
  if (hash !== -1) s = s.slice(0, hash);
  const lead = s.length - s.replace(/^[ \t]+/, '').length;
  return { s: s.replace(/^[ \t]+|[ \t\r]+$/g, ''), lead };
}

function section(file: string, line: number, s: string, lead: number): ConfLine {
  const where = { file, line, column: lead + 1 };
  if (!s.endsWith(']')) fail(where, `malformed section header ${JSON.stringify(s)}: expected [user:NAME] or [group:NAME]`);
  const body = s.slice(1, -1);
  const colon = body.indexOf(':');
  const kind = colon === -1 ? body : body.slice(0, colon);
  const name = colon === -1 ? '' : body.slice(colon + 1);
  if (kind !== 'user' && kind !== 'group') fail(where, `unknown section kind ${JSON.stringify(kind)} in ${s}: only [user:NAME] and [group:NAME] exist`);
  if (name === '') fail(where, `section ${s} has no ${kind} name`);
  if (/[\x00-\x1f\x7f]/.test(name)) fail(where, `section ${JSON.stringify(s)}: a ${kind} name cannot contain a control character`);
  // Group names may hold blanks (SSSD and Active Directory: "domain users"); the whole name between ':' and ']' is
  // compared with her groups' names, so a blank at either end is a typo that would never match.
  if (kind === 'group' && name.trim() !== name) fail(where, `section ${s}: a group name cannot start or end with a blank`);
  if (kind === 'user' && /\s/.test(name)) fail(where, `section ${s}: a user name cannot contain blanks`);
  return { kind: 'section', sectionKind: kind, name, line };
}
