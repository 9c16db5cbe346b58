// The effective policy of one user: the built-in defaults, then every block that matches her,
// in file order (then the CONF files, as the original reads them), then the flags translated.
// Loading did the parsing and checking; this only walks blocks, so it stays well under a millisecond.
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import type { Backend, PodField, PodSettings } from '../api/pod-settings.ts';
import { BUILTIN, Collector } from './collector.ts';
import { fail, PolicyError, type Origin } from './errors.ts';
import { applyFlags } from './flag-parse.ts';
import type { PolicyHost } from './host-path.ts';
import { containerNameProblem, imageRefProblem } from './names.ts';
import { checkPodFlags, NETWORK_PER_USER_REFUSED } from './pod-flags.ts';
import { podValue } from './pod-values.ts';
import type { Word } from './shell-words.ts';
import { expand, isStatic, parseTemplate, varsFor, type Template } from './template.ts';
import type { Block, CompiledPolicy, FlagOcc, Match } from './types.ts';

export const DEFAULTS = {
  image: 'alpine',
  command: ['/bin/sh'],
  prefixName: 'dosh-',
  idleTimeoutSeconds: 1800,
  maxSessionSeconds: 0,
  maxSessionsPerUser: 0,
  runScripts: false,
  scriptsFolder: '/etc/dosh/scripts',
  logFile: '/var/log/dosh.log',
  debug: false,
  verbose: false,
  runCommands: true,
  networkPerUser: false,
  allowOtherShell: false,
  forwardAgent: false,
  recordSessions: false,
  inherit: true,
  backend: 'docker',
} as const;

type Valued<T> = { v: T; o: Origin };

interface State {
  image: Valued<Template>;
  command: Valued<Word[] | null>;
  prefixName: Valued<Template>;
  logFile: Valued<Template>;
  scriptsFolder: Valued<Template>;
  idleTimeoutSeconds: Valued<number>;
  maxSessionSeconds: Valued<number>;
  maxSessionsPerUser: Valued<number>;
  runScripts: Valued<boolean>;
  debug: Valued<boolean>;
  verbose: Valued<boolean>;
  runCommands: Valued<boolean>;
  networkPerUser: Valued<boolean>;
  allowOtherShell: Valued<boolean>;
  forwardAgent: Valued<boolean>;
  recordSessions: Valued<boolean>;
  inherit: Valued<boolean>;
  backend: Valued<Backend>;
  /** dosh.yaml's pod: keys, each as the last block that set it wrote it. */
  pod: Partial<Record<PodField, Valued<PodSettings[PodField]>>>;
  flags: FlagOcc[];
  conf: string;
}

function initialState(): State {
  const d = <T>(v: T): Valued<T> => ({ v, o: BUILTIN });
  return {
    image: d(parseTemplate(DEFAULTS.image)),
    command: d(null),
    prefixName: d(parseTemplate(DEFAULTS.prefixName)),
    logFile: d(parseTemplate(DEFAULTS.logFile)),
    scriptsFolder: d(parseTemplate(DEFAULTS.scriptsFolder)),
    idleTimeoutSeconds: d<number>(DEFAULTS.idleTimeoutSeconds),
    maxSessionSeconds: d<number>(DEFAULTS.maxSessionSeconds),
    maxSessionsPerUser: d<number>(DEFAULTS.maxSessionsPerUser),
    runScripts: d<boolean>(DEFAULTS.runScripts),
    debug: d<boolean>(DEFAULTS.debug),
    verbose: d<boolean>(DEFAULTS.verbose),
    runCommands: d<boolean>(DEFAULTS.runCommands),
    networkPerUser: d<boolean>(DEFAULTS.networkPerUser),
    allowOtherShell: d<boolean>(DEFAULTS.allowOtherShell),
    forwardAgent: d<boolean>(DEFAULTS.forwardAgent),
    recordSessions: d<boolean>(DEFAULTS.recordSessions),
    inherit: d<boolean>(DEFAULTS.inherit),
    backend: d<Backend>(DEFAULTS.backend),
    pod: {},
    flags: [],
    conf: '',
  };
}

function matches(m: Match, user: UserInfo, groups: Set<string>): boolean {
  switch (m.kind) {
    case 'all':
      return true;
    case 'user':
      return m.name === user.name;
    case 'group':
      return groups.has(m.name);
    case 'uid':
      return user.uid >= m.from && user.uid <= m.to;
    case 'any':
      return m.of.some((x) => matches(x, user, groups));
  }
}

function applyBlocks(st: State, blocks: Block[] | undefined, user: UserInfo, groups: Set<string>, provFlags: { o: Origin | null }): void {
  for (const b of blocks ?? []) {
    if (!matches(b.match, user, groups)) continue;
    for (const s of b.settings) {
      switch (s.key) {
        case 'image':
        case 'prefixName':
        case 'logFile':
        case 'scriptsFolder':
          st[s.key] = { v: s.tpl, o: s.origin };
          break;
        case 'command':
          st.command = { v: s.words, o: s.origin };
          break;
        case 'dockerParameters':
          // INHERIT (as it stands at this point) appends; otherwise the new flags replace the old.
          st.flags = st.inherit.v ? st.flags.concat(s.flags) : s.flags.slice();
          provFlags.o = s.origin;
          break;
        case 'conf':
          st.conf = s.include;
          break;
        case 'backend':
          st.backend = { v: s.backend, o: s.origin };
          break;
        case 'pod':
          st.pod[s.field] = { v: s.value, o: s.origin };
          break;
        default:
          if ('bool' in s) st[s.key] = { v: s.bool, o: s.origin };
          else st[s.key] = { v: s.num, o: s.origin };
      }
    }
  }
}

/**
 * @param host the host her bind mounts come from: each source is checked there (resolved as root resolves it) at every
 *   login, as the files may have changed since the policy was loaded. Without it, only the paths as written.
 */
export function resolvePolicy(policy: CompiledPolicy, user: UserInfo, host?: PolicyHost): EffectivePolicy {
  const vars = varsFor(user);
  const groups = new Set(user.groups.map((g) => g.name));
  const st = initialState();
  const provFlags: { o: Origin | null } = { o: null };
  applyBlocks(st, policy.units[policy.mainFile], user, groups, provFlags);
  // CONF files are read after the main file; when they change CONF, the new value's files
  // are read next (the include graph has no loops, so this ends).
  let read = '';
  for (let rounds = 0; st.conf !== '' && st.conf !== read; rounds++) {
    if (rounds > 10_000) throw new PolicyError({ file: policy.mainFile, line: 1 }, 'CONF includes do not settle');
    read = st.conf;
    for (const f of policy.includes[read] ?? []) applyBlocks(st, policy.units[f], user, groups, provFlags);
  }

  // A problem with a built-in value is still reported against a real file and line.
  const at = (o: Origin): Origin => (o === BUILTIN ? { file: policy.mainFile, line: 1, section: '(built-in default)' } : o);
  const image = expand(st.image.v, vars);
  if (!isStatic(st.image.v)) {
    const p = imageRefProblem(image);
    if (p) fail(at(st.image.o), `for user ${user.name}: ${p}`);
  }
  const prefixName = expand(st.prefixName.v, vars);
  const nameProblem = containerNameProblem(prefixName, user.name);
  if (nameProblem) fail(at(st.prefixName.o), nameProblem);
  const command = st.command.v ? st.command.v.map((w) => expand(w.parts, vars)) : [...DEFAULTS.command];
  const logFile = expand(st.logFile.v, vars);
  const scriptsFolder = expand(st.scriptsFolder.v, vars);

  const c = new Collector(host);
  applyFlags(st.flags, vars, c);
  const { create, extraNetworks } = c.build();
  if (st.networkPerUser.v && create.HostConfig.NetworkMode !== undefined) {
    fail(at(st.networkPerUser.o), `for user ${user.name}: NETWORKPERUSER (networkPerUser) gives her container a network of its own and cannot be combined with --network ${create.HostConfig.NetworkMode}`);
  }

  // Checked again here: a flag or setting from a section that did not choose the backend may reach a pod.
  const kube = st.backend.v === 'kubernetes';
  if (kube) {
    checkPodFlags(st.flags, vars);
    if (st.networkPerUser.v) fail(at(st.networkPerUser.o), `for user ${user.name}: ${NETWORK_PER_USER_REFUSED}`);
  }
  const pod: PodSettings = {};
  for (const [k, val] of Object.entries(st.pod) as [PodField, Valued<PodSettings[PodField]>][]) {
    (pod as Record<PodField, unknown>)[k] = podValue(k, val.v, vars, val.o, user.name);
  }

  const provenance: EffectivePolicy['provenance'] = {};
  const put = (k: string, o: Origin) => (provenance[k] = { file: o.file, line: o.line, section: o.section });
  for (const k of ['image', 'command', 'prefixName', 'logFile', 'scriptsFolder', 'idleTimeoutSeconds', 'maxSessionSeconds', 'maxSessionsPerUser', 'runScripts', 'debug', 'verbose', 'runCommands', 'networkPerUser', 'allowOtherShell', 'forwardAgent', 'recordSessions'] as const) {
    put(k, st[k].o);
  }
  put('dockerParameters', provFlags.o ?? BUILTIN);
  put('backend', st.backend.o);
  if (kube) for (const [k, val] of Object.entries(st.pod)) put(`pod.${k}`, val.o);
  for (const [k, o] of Object.entries(c.prov)) put(k, o);

  return {
    image,
    command,
    prefixName,
    idleTimeoutSeconds: st.idleTimeoutSeconds.v,
    maxSessionSeconds: st.maxSessionSeconds.v,
    maxSessionsPerUser: st.maxSessionsPerUser.v,
    runScripts: st.runScripts.v,
    scriptsFolder: scriptsFolder === '' ? null : scriptsFolder,
    logFile: logFile === '' ? null : logFile,
    debug: st.debug.v,
    verbose: st.verbose.v,
    runCommands: st.runCommands.v,
    networkPerUser: st.networkPerUser.v,
    allowOtherShell: st.allowOtherShell.v,
    forwardAgent: st.forwardAgent.v,
    recordSessions: st.recordSessions.v,
    backend: st.backend.v,
    ...(kube ? { pod } : {}),
    unsafe: c.unsafeUsed,
    create,
    dockerArgs: st.flags.flatMap((f) => (f.value === null ? [f.written] : [f.written, expand(f.value, vars)])),
    extraNetworks,
    declaredNetworks: [create.HostConfig.NetworkMode, ...extraNetworks].flatMap((n) => (n !== undefined && policy.networks?.[n] ? [policy.networks[n]] : [])),
    provenance,
  };
}
