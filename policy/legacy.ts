// Loads dosh.conf and every file its CONF= globs name, validating all of it up front so a bad
// file is rejected whole (with file:line) instead of failing at some user's login.
import * as path from 'node:path';
import { fail, PolicyError, type Origin } from './errors.ts';
import { lexConf, type ConfLine } from './conf-lines.ts';
import { hasMagic } from './glob.ts';
import { nodeIO, type PolicyIO } from './io.ts';
import { checkKubernetesBlock } from './pod-flags.ts';
import { backendSetting, BOOL_KEYS, NUM_KEYS, numberSetting, parseBoolValue, TEXT_KEYS, valueSetting } from './settings.ts';
import { UNSAFE_KEY, type Block, type CompiledPolicy, type Setting } from './types.ts';

export const LEGACY_KEYS = [
  'CONTAINERIMAGE', 'CONTAINERCOMMAND', 'DOCKERPARAMETERS', 'INHERIT', 'CONF', 'SCRIPTSFOLDER', 'RUNSCRIPTS', 'PREFIXNAME',
  'LOGFILE', 'DEBUG', 'VERBOSE', 'RUNCOMMANDS', 'IDLETIMEOUT', 'MAXSESSIONSECONDS', 'MAXSESSIONS', 'NETWORKPERUSER', 'ALLOWOTHERSHELL', 'FORWARDAGENT', 'RECORDSESSIONS', 'BACKEND', 'UNSAFEEXPAND', UNSAFE_KEY,
];

interface LoadState {
  io: PolicyIO;
  policy: CompiledPolicy;
  /** Files being loaded, outermost first: an include of one of them is a loop. */
  stack: string[];
  /** The opt-in set at the top of the main file covers every section. */
  globalUnsafe: boolean;
}

export function loadLegacyPolicy(mainFile: string, io: PolicyIO = nodeIO): CompiledPolicy {
  const main = path.resolve(mainFile);
  const policy: CompiledPolicy = { format: 'legacy', mainFile: main, files: [], units: {}, includes: {}, warnings: [] };
  const st: LoadState = { io, policy, stack: [], globalUnsafe: false };
  loadFile(st, main, { file: main, line: 1, section: '(top)' }, true);
  return policy;
}

function readText(st: LoadState, file: string, from: Origin, isMain: boolean): string {
  try {
    return st.io.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EACCES' ? 'permission denied' : err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    return fail(from, isMain ? `cannot read the policy file: ${why}` : `cannot read included file ${file}: ${why}`);
  }
}

function loadFile(st: LoadState, file: string, from: Origin, isMain = false): void {
  const text = readText(st, file, from, isMain);
  st.stack.push(file);
  st.policy.files.push(file);
  const lines = lexConf(file, text);

  // Group the lines into blocks first: the unsafe opt-in covers its whole block.
  const raw: { block: Block; lines: ConfLine[]; unsafe: boolean }[] = [];
  let cur = { block: { file, line: 1, section: '(top)', match: { kind: 'all' }, settings: [] } as Block, lines: [] as ConfLine[], unsafe: false };
  raw.push(cur);
  for (const l of lines) {
    if (l.kind === 'section') {
      const section = `${l.sectionKind}:${l.name}`;
      cur = { block: { file, line: l.line, section, match: { kind: l.sectionKind, name: l.name }, settings: [] }, lines: [], unsafe: false };
      raw.push(cur);
    } else {
      cur.lines.push(l);
      if (l.key === UNSAFE_KEY) cur.unsafe = parseBoolValue(l.value, { file, line: l.line, column: l.valueColumn, section: cur.block.section }, UNSAFE_KEY);
    }
  }
  if (isMain) st.globalUnsafe = raw[0].unsafe;

  for (const r of raw) {
    for (const l of r.lines) {
      if (l.kind !== 'kv') continue;
      const where: Origin = { file, line: l.line, column: l.valueColumn, section: r.block.section };
      const s = compileKV(st, l.key, l.value, where, r.unsafe || st.globalUnsafe);
      if (s) r.block.settings.push(s);
    }
    checkKubernetesBlock(r.block.settings);
  }
  st.policy.units[file] = raw.filter((r) => r.block.settings.length > 0 || r.block.section !== '(top)').map((r) => r.block);
  st.stack.pop();
}

function compileKV(st: LoadState, key: string, value: string, where: Origin, unsafeOk: boolean): Setting | null {
  const keyAt = { ...where, column: (where.column ?? 1) - key.length - 1 };
  if (key in BOOL_KEYS) return { key: BOOL_KEYS[key as keyof typeof BOOL_KEYS], bool: parseBoolValue(value, where, key), origin: where };
  if (key in NUM_KEYS) return numberSetting(key as keyof typeof NUM_KEYS, value, where);
  if (key in TEXT_KEYS || key === 'CONTAINERCOMMAND' || key === 'DOCKERPARAMETERS') {
    return valueSetting(key as 'CONTAINERIMAGE', value, where, { unsafeOk, io: st.io, baseDir: path.dirname(where.file) });
  }
  if (key === 'CONF') return confSetting(st, value, where);
  if (key === 'BACKEND') return backendSetting(value, where);
  if (key === UNSAFE_KEY) return null;
  if (key === 'UNSAFEEXPAND') {
    if (value === 'false') return null;
    return fail(keyAt, 'UNSAFEEXPAND is refused: it would run shell commands written in the policy as root while the file is read. Only $USER-style variables are expanded (use them instead of $(...))');
  }
  return fail(keyAt, `unknown key ${JSON.stringify(key)} (known keys: ${LEGACY_KEYS.join(', ')}). The original DoSH ignored unknown keys; DoSH refuses them so that typos do not go unnoticed`);
}

/** CONF=GLOB...: files named relative to the file that names them; loaded now, applied per user later. */
function confSetting(st: LoadState, value: string, where: Origin): Setting {
  if (value.includes('$')) fail(where, 'CONF cannot use variables: the included files are read once, when the policy is loaded (use [user:NAME] sections in them instead)');
  const patterns = value.split(/[ \t]+/).filter(Boolean).map((p) => path.resolve(path.dirname(where.file), p));
  const key = patterns.join(' ');
  if (!(key in st.policy.includes)) {
    const files: string[] = [];
    for (const p of patterns) {
      const found = st.io.glob(p);
      if (found.length === 0) {
        if (hasMagic(p)) st.policy.warnings.push(`${where.file}:${where.line}: CONF pattern ${p} matches no file`);
        else fail(where, `included file ${p} does not exist`);
      }
      for (const f of found) if (!files.includes(f)) files.push(f);
    }
    st.policy.includes[key] = files;
  }
  for (const f of st.policy.includes[key]) {
    const at = st.stack.indexOf(f);
    if (at !== -1) {
      const chain = [...st.stack.slice(at), f].map((x) => path.basename(x)).join(' → ');
      throw new PolicyError(where, `include loop: ${chain} (CONF names a file that is already being read)`);
    }
    if (!(f in st.policy.units)) loadFile(st, f, where);
  }
  return { key: 'conf', include: key, origin: where };
}
