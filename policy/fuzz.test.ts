// Fuzzing: over 100,000 generated inputs for the dosh.conf reader, the dosh.yaml reader and the
// flag splitter/translator. Every input either loads or is rejected with a PolicyError that
// has a file and a 1-based line; nothing else is thrown and no input takes long.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { PolicyError } from './errors.ts';
import { memoryIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import { resolvePolicy } from './resolve.ts';
import { SUPPORTED_FLAGS } from './flags.ts';
import { user } from './testkit.ts';
import { loadYamlPolicy } from './yaml.ts';

const RUNS = { conf: 40_000, yaml: 25_000, flags: 40_000 };
const USERS = [user('alice', ['staff']), { ...user('root-ish', ['wheel'], 0), home: '/' }, { ...user('we ird"$(x)', ['g p']), home: '/tmp/a b', shell: "'" }];

let slowest = 0;
const outcome = { ok: 0, rejected: 0 };
/** Runs fn; passes if it succeeds or throws a located PolicyError. */
function wellBehaved(fn: () => void): void {
  const t0 = performance.now();
  try {
    fn();
    outcome.ok++;
  } catch (e) {
    outcome.rejected++;
    if (!(e instanceof PolicyError)) throw e;
    assert.ok(typeof e.file === 'string' && e.file.length > 0, `no file: ${e.message}`);
    assert.ok(Number.isInteger(e.line) && e.line >= 1, `bad line ${e.line}: ${e.message}`);
    assert.ok(e.reason.length > 0);
  } finally {
    slowest = Math.max(slowest, performance.now() - t0);
  }
}

const flagNames = SUPPORTED_FLAGS.flatMap((f) => [f.flag, ...f.aliases, ...(f.short ? [f.short] : [])]);
const TOKENS = [
  ...flagNames, ...SUPPORTED_FLAGS.map((f) => f.example), '-u', '--user', '-it', '-', '--', '=', ':', ',', '"', "'", '\\', ' ', '  ', '\t',
  '$USER', '${HOME}', '$(id)', '`id`', '${', '$', '/', '/var/run/docker.sock', '/:/h', 'ALL', 'host', 'true', 'false', '-1', '0x10', '1e3',
  'unconfined', 'seccomp=', 'no-new-privileges=false', 'type=bind', 'src=/', 'target=/x', '2g', '99999999999999999999', '\u00e9', '\r',
];
const tokenText = fc.array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.string({ maxLength: 4, unit: 'binary' }) }), { maxLength: 12 }).map((t) => t.join(''));
const flagLine = fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: tokenText }), { maxLength: 8 }).map((t) => t.join(' '));

test(`flag splitter and translator: ${RUNS.flags} inputs`, () => {
  fc.assert(
    fc.property(flagLine, fc.boolean(), fc.constantFrom(...USERS), (line, optIn, u) => {
      const text = `${optIn ? 'ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true\n' : ''}DOCKERPARAMETERS=${line.replace(/[\n#]/g, ' ')}\n`;
      wellBehaved(() => resolvePolicy(loadLegacyPolicy('/etc/dosh.conf', memoryIO({ '/etc/dosh.conf': text, '/etc/dosh/env': 'A=1\n' })), u));
    }),
    { numRuns: RUNS.flags },
  );
});

const KEYS = ['CONTAINERIMAGE', 'CONTAINERCOMMAND', 'DOCKERPARAMETERS', 'INHERIT', 'CONF', 'SCRIPTSFOLDER', 'RUNSCRIPTS', 'PREFIXNAME', 'LOGFILE', 'DEBUG', 'VERBOSE', 'RUNCOMMANDS', 'IDLETIMEOUT', 'MAXSESSIONS', 'UNSAFEEXPAND', 'ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK', 'FOO'];
const VALUES = ['true', 'false', 'ubuntu:latest', 'bash -l', '/etc/dosh.d/*', '/etc/dosh.conf', '/etc/dosh.d/a.conf', '/nope', '', '30m', '3', 'c-', '/var/log/x', 'debian'];
const confLine = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...KEYS), fc.oneof(fc.constantFrom(...VALUES), flagLine)).map(([k, v]) => `${k}=${v}`) },
  { weight: 2, arbitrary: fc.constantFrom('[user:alice]', '[group:staff]', '[user:]', '[host:x]', '[user:a b]', '[group:wheel', '# c', '', '   ', '\\', 'x = y', '\0', '\r', '[user:root-ish]') },
  { weight: 1, arbitrary: tokenText },
);
const confText = fc.array(confLine, { maxLength: 10 }).map((l) => l.join(fc.sample(fc.constantFrom('\n', '\r\n'), 1)[0] ?? '\n'));

test(`dosh.conf reader: ${RUNS.conf} inputs (with includes, loops and unreadable files)`, () => {
  fc.assert(
    fc.property(confText, confText, fc.constantFrom(...USERS), (main, inc, u) => {
      const io = memoryIO({ '/etc/dosh.conf': main, '/etc/dosh.d/a.conf': inc, '/etc/dosh.d/b.conf': null, '/etc/dosh/env': 'A=1\n' });
      wellBehaved(() => resolvePolicy(loadLegacyPolicy('/etc/dosh.conf', io), u));
    }),
    { numRuns: RUNS.conf },
  );
});

const yamlScalar = fc.oneof(fc.constantFrom(...VALUES, ...TOKENS), fc.integer({ min: -2, max: 5000 }), fc.boolean(), fc.constant(null), fc.double());
const settingsObj = fc.dictionary(
  fc.constantFrom('image', 'command', 'workdir', 'env', 'resources', 'capabilities', 'mounts', 'devices', 'networks', 'hooks', 'idleTimeout', 'maxSessionSeconds', 'maxSessionsPerUser', 'dockerFlags', 'inherit', 'prefixName', 'logFile', 'debug', 'allowUnsafeDockerParametersIUnderstandTheRisk', 'match', 'name', 'bogus'),
  fc.oneof(
    yamlScalar,
    fc.array(fc.oneof(yamlScalar, fc.record({ type: fc.constantFrom('bind', 'tmpfs', 'volume', 'x'), source: fc.constantFrom('/', '/a', 'v', '$USER'), target: fc.constantFrom('/t', 'rel') }, { requiredKeys: [] })), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('memory', 'cpus', 'pids', 'add', 'drop', 'users', 'groups', 'uids', 'runScripts', 'scriptsFolder', 'LANG', 'x'), fc.oneof(yamlScalar, fc.array(yamlScalar, { maxLength: 2 })), { maxKeys: 3 }),
  ),
  { maxKeys: 6 },
);
const yamlDoc = fc.record({ version: fc.constantFrom(1, 1, 1, 2, '1'), defaults: settingsObj, rules: fc.array(settingsObj, { maxLength: 3 }) }, { requiredKeys: ['version'] });
const yamlText = fc.oneof(
  { weight: 4, arbitrary: yamlDoc.map((d) => stringify(d)) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('version: 1\n', 'defaults:\n', '  image: x\n', 'rules:\n', '  - ', '{', '[', '&a ', '*a ', '---\n', '"', "'", '\t', ': ', '\0', '\r\n', '!!binary ', '? ', '#'), { maxLength: 20 }).map((t) => t.join('')) },
);

test(`dosh.yaml reader: ${RUNS.yaml} inputs`, () => {
  fc.assert(
    fc.property(yamlText, fc.constantFrom(...USERS), (text, u) => {
      wellBehaved(() => resolvePolicy(loadYamlPolicy('/etc/dosh.yaml', memoryIO({ '/etc/dosh.yaml': text, '/etc/dosh/env': 'A=1\n' })), u));
    }),
    { numRuns: RUNS.yaml },
  );
});

test('the generators reach both accepted and rejected inputs', () => {
  const total = outcome.ok + outcome.rejected;
  assert.ok(total >= RUNS.conf + RUNS.yaml + RUNS.flags, `${total}`);
  assert.ok(outcome.ok > total * 0.05 && outcome.rejected > total * 0.05, JSON.stringify(outcome));
});

test('no single input was slow', () => {
  assert.ok(slowest < 1000, `slowest input took ${slowest.toFixed(0)} ms`);
});
