// The external programs the tests and benchmarks run on the host, and where each comes from (scripts/lib/test-tools.txt).
// The test command installs the missing ones and checks every one a chosen file needs before its first test, so a
// test never fails with `spawn rsync ENOENT`; a unit test scans test/ and bench/ so that no program is left out.
//
// The scan reads what a source spawns on the host: the program of spawn/spawnSync/execFile/execFileSync and of the
// harness's run(PROG, ...), and the first word of every command in a host shell string (sh(`...`) and
// spawnSync('bash', ['-c', '...'])). What su, ssh or docker run inside a container is not a host program.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Where a program comes from: a Debian package, or a step of the test command (`@docker`, `@dosh`, `@helm`...), or `@system` (the machine's own). */
export interface ToolSource {
  program: string;
  source: string;
}

export const TOOLS_FILE = 'scripts/lib/test-tools.txt';

/** Reads the list: `PROGRAM SOURCE` per line, `#` comments. */
export function parseToolList(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^(\S+)\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`${TOOLS_FILE}:${i + 1}: expected "PROGRAM SOURCE", got ${JSON.stringify(raw)}`);
    if (out.has(m[1])) throw new Error(`${TOOLS_FILE}:${i + 1}: ${m[1]} is listed twice`);
    out.set(m[1], m[2]);
  }
  return out;
}

/** Shell words that are not programs (keywords and builtins), so the word after them or nothing is taken. */
const NOT_PROGRAMS = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'in', '!', 'time', '{', '}', '[', '[[', ']]', 'cd', 'echo', 'printf', 'read', 'exit', 'set', 'export', 'local', 'return', 'true', 'false', 'test', ':', 'source', '.', 'wait', 'trap', 'shift', 'eval', 'command', 'type', 'ulimit', 'umask', 'kill', 'declare', 'unset']);
/** Words that run the next word as the program. */
const PREFIXES = new Set(['exec', 'nohup', 'env', 'sudo']);

/** The programs a host shell command string runs: the first word of each simple command. */
export function shellPrograms(cmd: string): string[] {
  const text = cmd
    .replace(/\\\n/g, ' ')
    .replace(/'[^']*'/g, ' Q ')
    .replace(/\{\}/g, ' X ')
    .replace(/"(?:[^"\\]|\\.)*"/g, ' Q ')
    .replace(/\d*>>?&?\s*\S+|\d*<\s*\S+/g, ' ');
  const out: string[] = [];
  for (const segment of text.split(/\|\||&&|[|;&\n(){}`]|\$\(/)) {
    const words = segment.trim().split(/\s+/).filter(Boolean);
    let i = 0;
    while (i < words.length && (/^[A-Za-z_]\w*=/.test(words[i]) || PREFIXES.has(words[i]))) i++;
    const w = words[i];
    if (!w || NOT_PROGRAMS.has(w) || w === 'Q' || /^[$-]|^X$/.test(w)) continue;
    out.push(path.posix.basename(w));
  }
  return out;
}

/** Reads a template literal or string literal starting at `at` (the quote); `${...}` parts become the word X. */
function literalAt(src: string, at: number): string | undefined {
  const q = src[at];
  if (q !== '`' && q !== "'" && q !== '"') return undefined;
  let out = '';
  for (let i = at + 1; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      out += src[i + 1] === 'n' ? '\n' : src[i + 1];
      i++;
    } else if (c === q) return out;
    else if (q === '`' && c === '$' && src[i + 1] === '{') {
      let depth = 0;
      for (; i < src.length; i++) {
        if (src[i] === '{') depth++;
        else if (src[i] === '}' && --depth === 0) break;
      }
      out += 'X';
    } else out += c;
  }
  return undefined;
}

/** The host programs a TypeScript source spawns (its own code only; see `scan` for what it imports). */
export function spawnedPrograms(src: string): Set<string> {
  const found = new Set<string>();
  const direct = /\b(?:spawn|spawnSync|execFile|execFileSync|run)\(\s*(?=['"`])/g;
  for (const m of src.matchAll(direct)) {
    const prog = literalAt(src, m.index + m[0].length);
    if (prog === undefined || prog.includes('X')) continue;
    // bash -c / sh -c: the command string is host shell.
    if (/^(\/bin\/|\/usr\/bin\/)?(ba)?sh$/.test(prog)) {
      const rest = src.slice(m.index + m[0].length + prog.length + 2, m.index + m[0].length + prog.length + 200);
      const c = /^\s*,\s*\[\s*'-c'\s*,\s*(?=['"`])/.exec(rest);
      if (c) {
        const inner = literalAt(rest, c[0].length);
        if (inner !== undefined) for (const p of shellPrograms(inner)) found.add(p);
      }
    }
    found.add(path.posix.basename(prog));
  }
  for (const m of src.matchAll(/\bsh\(\s*(?=['"`])/g)) {
    const cmd = literalAt(src, m.index + m[0].length);
    if (cmd !== undefined) for (const p of shellPrograms(cmd)) found.add(p);
  }
  return found;
}

/** The host programs a file spawns, itself and through the test/bench modules it imports (by relative path). */
export function scan(root: string, file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return new Set();
  seen.add(file);
  const src = readFileSync(path.join(root, file), 'utf8');
  const out = spawnedPrograms(src);
  for (const m of src.matchAll(/from\s*['"](\.{1,2}\/[^'"]+\.ts)['"]/g)) {
    const dep = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]));
    if (/^(test|bench)\//.test(dep)) for (const p of scan(root, dep, seen)) out.add(p);
  }
  return out;
}
