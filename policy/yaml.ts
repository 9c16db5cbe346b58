// Loads dosh.yaml into the same compiled form as dosh.conf: `defaults` is a block for everyone,
// each rule a block for the users it matches; typed fields become the docker flags they stand for,
// so both formats share one translator and one set of safety rules.
import * as path from 'node:path';
import { fail, type Origin } from './errors.ts';
import { parseFlagWords, validateFlags } from './flag-parse.ts';
import { nodeIO, type PolicyIO } from './io.ts';
import { checkKubernetesBlock } from './pod-flags.ts';
import { podValue } from './pod-values.ts';
import { checkText } from './settings.ts';
import { splitWords, type Word } from './shell-words.ts';
import { expand, parseTemplate, PROBE_VARS } from './template.ts';
import { POD_FIELDS } from '../api/pod-settings.ts';
import type { Block, CompiledPolicy, FlagOcc, Match, Setting } from './types.ts';
import { parseSeconds } from './units.ts';
import { YamlPolicy, type YamlRule, type YamlSettings } from '../api/dosh-yaml.ts';
import type { YamlNetworks } from '../api/network-decl.ts';
import type { NetworkDecl } from '../api/policy.ts';
import { formatPath, readYaml, type YamlPath, type YamlSource } from './yaml-source.ts';

export function loadYamlPolicy(file: string, io: PolicyIO = nodeIO): CompiledPolicy {
  const main = path.resolve(file);
  let text = '';
  try {
    text = io.readFile(main);
  } catch (e) {
    fail({ file: main, line: 1 }, `cannot read the policy file: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  const src = readYaml(main, text);
  const parsed = YamlPolicy.safeParse(src.value);
  if (!parsed.success) {
    const issue = specific(parsed.error.issues[0] as Issue);
    const p = issue.path as YamlPath;
    const key = issue.code === 'unrecognized_keys' ? issue.keys?.[0] : undefined;
    const where = key !== undefined ? [...p, key] : p;
    fail({ file: main, line: src.lineOf(p, key), yamlPath: formatPath(where) }, describeIssue(issue, key));
  }
  const pol = parsed.data;
  const blocks: Block[] = [];
  const globalUnsafe = pol.defaults?.allowUnsafeDockerParametersIUnderstandTheRisk === true;
  if (pol.defaults) blocks.push(compileBlock(src, io, pol.defaults, ['defaults'], 'defaults', { kind: 'all' }, globalUnsafe));
  (pol.rules ?? []).forEach((r, i) => {
    const section = r.name ?? `rules[${i}]`;
    blocks.push(compileBlock(src, io, r, ['rules', i], section, matchOf(r), globalUnsafe || r.allowUnsafeDockerParametersIUnderstandTheRisk === true));
  });
  return { format: 'yaml', mainFile: main, files: [main], units: { [main]: blocks }, includes: {}, warnings: [], networks: toDecls(pol.networks) };
}

type Issue = { code: string; message: string; path: PropertyKey[]; keys?: string[]; errors?: Issue[][] };

/** For a value that matches no form of a union, the problem inside the form whose type did match. */
function specific(issue: Issue): Issue {
  if (issue.code !== 'invalid_union' || !issue.errors) return issue;
  const branch = issue.errors.find((b) => b[0] && !(b[0].code === 'invalid_type' && b[0].path.length === 0));
  if (!branch) return issue;
  const inner = specific(branch[0]);
  return { ...inner, path: [...issue.path, ...inner.path] };
}

function describeIssue(issue: { code: string; message: string; path: PropertyKey[] }, key?: string): string {
  if (key !== undefined) return `unknown key ${JSON.stringify(key)}`;
  if (issue.code === 'invalid_union') return 'invalid value (see docs/POLICY.md for the forms this setting takes)';
  if (issue.path.length === 1 && issue.path[0] === 'version') return 'version must be 1';
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `${String(issue.path.at(-1))} is required`;
  return issue.message;
}

function matchOf(r: YamlRule): Match {
  const m = r.match;
  if (!m) return { kind: 'all' };
  const of: Match[] = [
    ...(m.users ?? []).map((name): Match => ({ kind: 'user', name })),
    ...(m.groups ?? []).map((name): Match => ({ kind: 'group', name })),
    ...(m.uids ?? []).map((u): Match => {
      const [a, b] = String(u).split('-').map(Number);
      return { kind: 'uid', from: a, to: b ?? a };
    }),
  ];
  // A match with no criteria matches nobody: an empty list is more likely a mistake than "everyone".
  return of.length === 1 ? of[0] : { kind: 'any', of };
}

function compileBlock(src: YamlSource, io: PolicyIO, s: YamlSettings, at: YamlPath, section: string, match: Match, unsafeOk: boolean): Block {
  const origin = (sub: YamlPath): Origin => ({ file: src.file, line: src.lineOf([...at, ...sub]), section, yamlPath: formatPath([...at, ...sub]) });
  const settings: Setting[] = [];
  const text = (key: 'image' | 'prefixName' | 'logFile' | 'scriptsFolder', value: string, sub: YamlPath) => {
    const tpl = parseTemplate(value, true);
    checkText(key, expand(tpl, PROBE_VARS), origin(sub));
    settings.push({ key, tpl, origin: origin(sub) });
  };
  const seconds = (key: 'idleTimeoutSeconds' | 'maxSessionSeconds', v: number | string, sub: string) => {
    const n = typeof v === 'number' ? v : parseSeconds(v);
    if (n === null) fail(origin([sub]), `invalid duration ${JSON.stringify(v)}`);
    settings.push({ key, num: n, origin: origin([sub]) });
  };
  // Fixed order within a block; the converter relies on it.
  if (s.inherit !== undefined) settings.push({ key: 'inherit', bool: s.inherit, origin: origin(['inherit']) });
  if (s.image !== undefined) text('image', s.image, ['image']);
  if (s.command !== undefined) settings.push({ key: 'command', words: commandWords(s.command, origin(['command'])), origin: origin(['command']) });
  if (s.prefixName !== undefined) text('prefixName', s.prefixName, ['prefixName']);
  if (s.logFile !== undefined) text('logFile', s.logFile ?? '', ['logFile']);
  if (s.hooks?.scriptsFolder !== undefined) text('scriptsFolder', s.hooks.scriptsFolder ?? '', ['hooks', 'scriptsFolder']);
  if (s.hooks?.runScripts !== undefined) settings.push({ key: 'runScripts', bool: s.hooks.runScripts, origin: origin(['hooks', 'runScripts']) });
  for (const k of ['debug', 'verbose', 'runCommands', 'networkPerUser', 'allowOtherShell', 'forwardAgent', 'recordSessions'] as const) if (s[k] !== undefined) settings.push({ key: k, bool: s[k], origin: origin([k]) });
  if (s.idleTimeout !== undefined) seconds('idleTimeoutSeconds', s.idleTimeout, 'idleTimeout');
  if (s.maxSessionSeconds !== undefined) seconds('maxSessionSeconds', s.maxSessionSeconds, 'maxSessionSeconds');
  if (s.maxSessionsPerUser !== undefined) settings.push({ key: 'maxSessionsPerUser', num: s.maxSessionsPerUser, origin: origin(['maxSessionsPerUser']) });
  if (s.backend !== undefined) settings.push({ key: 'backend', backend: s.backend, origin: origin(['backend']) });
  for (const field of POD_FIELDS) {
    const v = s.pod?.[field];
    if (v === undefined) continue;
    podValue(field, v, PROBE_VARS, origin(['pod', field]));
    settings.push({ key: 'pod', field, value: v, origin: origin(['pod', field]) });
  }
  const flags = blockFlags(s, origin, unsafeOk, io, path.dirname(src.file));
  // An empty dockerFlags still counts: with inherit: false it clears the flags set before.
  if (flags.length || s.dockerFlags !== undefined) {
    validateFlags(flags, io.host);
    settings.push({ key: 'dockerParameters', flags, origin: origin([]) });
  }
  checkKubernetesBlock(settings);
  return { file: src.file, line: src.lineOf(at), section, match, settings };
}

function commandWords(c: string | string[], o: Origin): Word[] {
  if (typeof c === 'string') {
    const w = splitWords(c, { file: o.file, line: o.line, column: 1 });
    if (w.length === 0) fail(o, 'command is empty');
    return w;
  }
  return c.map((s) => ({ parts: parseTemplate(s, true), column: 1 }));
}

/** The docker flags a block's typed fields stand for, then its passthrough dockerFlags, in that order. */
function blockFlags(s: YamlSettings, origin: (sub: YamlPath) => Origin, unsafeOk: boolean, io: PolicyIO, baseDir: string): FlagOcc[] {
  const out: FlagOcc[] = [];
  const add = (flag: string, value: string, sub: YamlPath) =>
    out.push({ flag, written: formatPath(sub), value: parseTemplate(value, true), origin: origin(sub), unsafeOk });
  if (s.workdir !== undefined) add('workdir', s.workdir, ['workdir']);
  if (Array.isArray(s.env)) s.env.forEach((e, i) => add('env', e, ['env', i]));
  else for (const [k, v] of Object.entries(s.env ?? {})) add('env', `${k}=${String(v)}`, ['env', k]);
  const r = s.resources ?? {};
  const res: [keyof typeof r, string][] = [['memory', 'memory'], ['memorySwap', 'memory-swap'], ['memoryReservation', 'memory-reservation'], ['cpus', 'cpus'], ['cpuShares', 'cpu-shares'], ['cpusetCpus', 'cpuset-cpus'], ['pids', 'pids-limit']];
  for (const [k, flag] of res) if (r[k] !== undefined) add(flag, String(r[k]), ['resources', k]);
  (s.capabilities?.add ?? []).forEach((c, i) => add('cap-add', c, ['capabilities', 'add', i]));
  (s.capabilities?.drop ?? []).forEach((c, i) => add('cap-drop', c, ['capabilities', 'drop', i]));
  (s.mounts ?? []).forEach((m, i) => {
    if (typeof m === 'string') return add('volume', m, ['mounts', i]);
    const csv: [string, ReturnType<typeof parseTemplate> | null][] = [['type', [m.type]]];
    if (m.source !== undefined) csv.push(['source', parseTemplate(m.source, true)]);
    csv.push(['target', parseTemplate(m.target, true)]);
    if (m.readOnly) csv.push(['readonly', null]);
    if (m.propagation) csv.push(['bind-propagation', [m.propagation]]);
    if (m.noCopy) csv.push(['volume-nocopy', null]);
    if (m.tmpfsSize !== undefined) csv.push(['tmpfs-size', [String(m.tmpfsSize)]]);
    if (m.tmpfsMode !== undefined) csv.push(['tmpfs-mode', [m.tmpfsMode]]);
    out.push({ flag: 'mount', written: formatPath(['mounts', i]), value: null, csv, origin: origin(['mounts', i]), unsafeOk });
  });
  (s.devices ?? []).forEach((d, i) => add('device', d, ['devices', i]));
  (s.networks ?? []).forEach((n, i) => add('network', n, ['networks', i]));
  if (s.dockerFlags !== undefined) {
    const o = origin(['dockerFlags']);
    const ctx = { file: o.file, line: o.line, section: o.section, unsafeOk, io, baseDir };
    if (typeof s.dockerFlags === 'string') {
      out.push(...parseFlagWords(splitWords(s.dockerFlags, { file: o.file, line: o.line, column: 1 }), { ...ctx, originOf: () => o }));
    } else {
      const words = s.dockerFlags.map((w) => ({ parts: parseTemplate(w, true), column: 1 }));
      out.push(...parseFlagWords(words, { ...ctx, originOf: (i) => origin(['dockerFlags', i]) }));
    }
  }
  return out;
}

/** The declared networks as the policy carries them: the name inside, option values as the engine takes them (text). */
function toDecls(m: YamlNetworks | undefined): Record<string, NetworkDecl> {
  const out: Record<string, NetworkDecl> = {};
  for (const [name, n] of Object.entries(m ?? {})) {
    out[name] = { name, driver: n.driver, subnet: n.subnet, gateway: n.gateway, ipRange: n.ipRange, internal: n.internal, options: Object.fromEntries(Object.entries(n.options).map(([k, v]) => [k, String(v)])) };
  }
  return out;
}
