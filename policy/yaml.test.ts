// dosh.yaml: typed settings, rule matching, error locations, and the shared safety rules.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { memoryIO } from './io.ts';
import { resolvePolicy } from './resolve.ts';
import { throwsAt, user } from './testkit.ts';
import { loadYamlPolicy } from './yaml.ts';

const Y = '/etc/dosh.yaml';
const load = (text: string, more: Record<string, string | null> = {}) => loadYamlPolicy(Y, memoryIO({ [Y]: text, ...more }));

const FULL = `version: 1
defaults:
  image: ubuntu:24.04
  command: [bash, -l]
  workdir: /home/$USER
  env: { LANG: C.UTF-8, PRICE: "$$5", N: 3 }
  resources: { memory: 2g, memorySwap: -1, memoryReservation: 1g, cpus: 1.5, cpuShares: 512, cpusetCpus: "0-3", pids: 300 }
  capabilities: { add: [NET_BIND_SERVICE] }
  mounts:
    - /etc/passwd:/etc/passwd:ro
    - { source: /home/$USER, target: /home/$USER }
    - { type: tmpfs, target: /scratch, tmpfsSize: 64m, tmpfsMode: "1777" }
    - { type: volume, source: cache-$USER, target: /cache, noCopy: true }
  hooks: { runScripts: false, scriptsFolder: /etc/dosh/scripts }
  idleTimeout: 30m
  maxSessionSeconds: 8h
  maxSessionsPerUser: 4
  prefixName: box-
rules:
  - name: gpu users
    match: { groups: [gpu], uids: ["5000-5999", 7000] }
    devices: [/dev/nvidia0]
    networks: [datanet]
    dockerFlags: ["--shm-size", "1g", "--gpus=all"]
    hooks: { runScripts: true }
  - match: { users: [carol] }
    inherit: false
    dockerFlags: --memory 4g --label "team=a b"
    command: zsh
`;

test('a full dosh.yaml resolves to the same Engine API fields as the equivalent flags', () => {
  const p = load(FULL);
  const a = resolvePolicy(p, user('alice'));
  assert.equal(a.image, 'ubuntu:24.04');
  assert.deepEqual(a.command, ['bash', '-l']);
  assert.equal(a.prefixName, 'box-');
  assert.equal(a.idleTimeoutSeconds, 1800);
  assert.equal(a.maxSessionSeconds, 8 * 3600);
  assert.equal(a.maxSessionsPerUser, 4);
  assert.equal(a.create.WorkingDir, '/home/alice');
  assert.deepEqual(a.create.Env, ['LANG=C.UTF-8', 'PRICE=$5', 'N=3']);
  const h = a.create.HostConfig;
  assert.equal(h.Memory, 2 * 1024 ** 3);
  assert.equal(h.MemorySwap, -1);
  assert.equal(h.NanoCpus, 1.5e9);
  assert.equal(h.PidsLimit, 300);
  assert.deepEqual(h.CapAdd, ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual(h.Binds, ['/etc/passwd:/etc/passwd:ro']);
  assert.deepEqual(h.Mounts, [
    { Type: 'bind', Source: '/home/alice', Target: '/home/alice' },
    { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 64 * 1024 ** 2, Mode: 0o1777 } },
    { Type: 'volume', Source: 'cache-alice', Target: '/cache', VolumeOptions: { NoCopy: true, DriverConfig: {} } },
  ]);
  assert.equal(a.runScripts, false);
  assert.equal(a.provenance['create.HostConfig.Memory'].line, 7);
  assert.equal(a.provenance['create.HostConfig.Memory'].section, 'defaults');

  const g = resolvePolicy(p, { ...user('gina', ['gpu'], 1234) });
  assert.equal(g.runScripts, true);
  assert.equal(g.create.HostConfig.NetworkMode, 'datanet');
  assert.equal(g.create.HostConfig.ShmSize, 1024 ** 3);
  assert.equal(g.create.HostConfig.DeviceRequests?.[0].Count, -1);
  assert.deepEqual(g.provenance['create.HostConfig.Devices'], { file: Y, line: 22, section: 'gpu users' });
  assert.equal(resolvePolicy(p, user('u', [], 5500)).runScripts, true);
  assert.equal(resolvePolicy(p, user('u', [], 7000)).runScripts, true);
  assert.equal(resolvePolicy(p, user('u', [], 7001)).runScripts, false);

  const c = resolvePolicy(p, user('carol'));
  assert.deepEqual(c.command, ['zsh']);
  assert.equal(c.create.HostConfig.Memory, 4 * 1024 ** 3);
  assert.equal(c.create.HostConfig.Binds, undefined, 'inherit: false replaces the earlier flags');
  assert.deepEqual(c.create.Labels, { team: 'a b' });
});

test('errors carry the YAML path and line', () => {
  let e = throwsAt(() => load('version: 1\ndefaults:\n  image: ubuntu\n  imagee: x\n'), Y, 4, /unknown key "imagee"/);
  assert.equal(e.yamlPath, 'defaults.imagee');
  e = throwsAt(() => load('version: 1\nrules:\n  - match: {users: [a]}\n\n    resources:\n      memory: 2X\n'), Y, 6, /invalid size "2X"/);
  assert.equal(e.yamlPath, 'rules[0].resources.memory');
  e = throwsAt(() => load('version: 1\nrules:\n  - name: x\n    mounts: [{source: /a}]\n'), Y, 4, /target/);
  assert.match(e.yamlPath ?? '', /^rules\[0\]\.mounts\[0\]/);
  throwsAt(() => load('version: 2\n'), Y, 1, /version must be 1/);
  throwsAt(() => load('version: 1\nrules:\n  - match:\n      uids: ["10-2"]\n'), Y, 4, /range ends before it starts/);
  throwsAt(() => load('version: 1\ndefaults: {image: [1\n'), Y, 3, /YAML syntax/);
  throwsAt(() => load('version: 1\nversion: 1\n'), Y, 2, /YAML syntax/);
  throwsAt(() => load('version: 1\n---\nversion: 1\n'), Y, 2, /more than one YAML document/);
  throwsAt(() => load(''), Y, 1, /empty|expected/);
  throwsAt(() => load('version: 1\ndefaults:\n  image: "a\0b"\n'), Y, 3, /NUL byte/);
  throwsAt(() => load('version: 1\ndefaults:\n  dockerFlags: -e "A=b\n'), Y, 3, /unbalanced double quote/);
  throwsAt(() => load('version: 1\ndefaults:\n  dockerFlags: [-u, "0"]\n'), Y, 3, /-u is not allowed/);
  throwsAt(() => load('version: 1\ndefaults:\n  image: Bad:Image\n'), Y, 3, /invalid image reference|lowercase/);
  throwsAt(() => loadYamlPolicy('/none.yaml', memoryIO({ '/none.yaml': null })), '/none.yaml', 1, /permission denied/);
});

test('CRLF and a user that does not exist', () => {
  const p = load('version: 1\r\ndefaults:\r\n  image: debian:12\r\nrules:\r\n  - match: { users: [ghost] }\r\n    image: other:1\r\n');
  assert.equal(resolvePolicy(p, user('alice')).image, 'debian:12');
});

test('unsafe flags need the opt-in in the rule or in defaults', () => {
  throwsAt(() => load('version: 1\nrules:\n  - match: {users: [a]}\n    mounts: [/var/run/docker.sock:/s]\n'), Y, 4, /engine socket.*allowUnsafeDockerParametersIUnderstandTheRisk: true/);
  const p = load('version: 1\nrules:\n  - match: {users: [a]}\n    allowUnsafeDockerParametersIUnderstandTheRisk: true\n    dockerFlags: [--privileged]\n');
  const a = resolvePolicy(p, user('a'));
  assert.equal(a.create.HostConfig.Privileged, true);
  assert.match(a.unsafe[0], /--privileged \/etc\/dosh.yaml:5 \[rules\[0\]\]|--privileged \(\/etc\/dosh.yaml:5/);
  const q = load('version: 1\ndefaults:\n  allowUnsafeDockerParametersIUnderstandTheRisk: true\nrules:\n  - networks: [host]\n');
  assert.equal(resolvePolicy(q, user('b')).create.HostConfig.NetworkMode, 'host');
});

test('a match with no criteria matches nobody; no match matches everybody', () => {
  const p = load('version: 1\nrules:\n  - match: {}\n    image: nobody:1\n  - image: everybody:1\n');
  assert.equal(resolvePolicy(p, user('x')).image, 'everybody:1');
});

test('aliases cannot blow up (billion laughs)', () => {
  let y = 'version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 10; i++) y += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  throwsAt(() => load(y), Y, 1, /alias|Excessive|unknown key/i);
});

test('networkPerUser: a boolean in defaults or a rule, with its YAML path; refused together with networks', () => {
  const p = load('version: 1\ndefaults:\n  image: a\nrules:\n  - match: { users: [alice] }\n    networkPerUser: true\n');
  assert.equal(resolvePolicy(p, user('alice')).networkPerUser, true);
  assert.equal(resolvePolicy(p, user('alice')).provenance.networkPerUser.line, 6);
  assert.equal(resolvePolicy(p, user('bob')).networkPerUser, false);
  throwsAt(() => load('version: 1\ndefaults:\n  networkPerUser: "yes"\n'), Y, 3, /expected boolean/);
  throwsAt(() => resolvePolicy(load('version: 1\ndefaults:\n  networks: [a, b]\n  networkPerUser: true\n'), user('alice')), Y, 4, /cannot be combined with --network a/);
});

test('networks: declared at the top level, given to the users whose containers use them, checked with their line', () => {
  const text = `version: 1
networks:
  datanet:
    subnet: 10.200.0.0/24
    gateway: 10.200.0.200
    internal: true
    options: { com.docker.network.bridge.name: bridgeData, mtu: 1400 }
  unused: {}
rules:
  - match: { groups: [datanet] }
    networks: [bridge, datanet]
`;
  const p = load(text);
  const datanet = { name: 'datanet', driver: 'bridge', subnet: '10.200.0.0/24', gateway: '10.200.0.200', ipRange: undefined, internal: true, options: { 'com.docker.network.bridge.name': 'bridgeData', mtu: '1400' } };
  assert.deepEqual(resolvePolicy(p, user('alice', ['datanet'])).declaredNetworks, [datanet]);
  assert.deepEqual(resolvePolicy(p, user('bob')).declaredNetworks, []);
  const bad = (decl: string, line: number, msg: RegExp) => throwsAt(() => load(`version: 1\nnetworks:\n${decl}`), Y, line, msg);
  bad('  n:\n    subnet: 10.0.0.0\n', 4, /not an address range such as 10.200.0.0\/24/);
  bad('  n:\n    subnet: 10.0.0.0/33\n', 4, /prefix length is larger/);
  bad('  n:\n    subnet: 10.0.0.0/24\n    gateway: 10.0.1.1\n', 5, /10.0.1.1 is not in the subnet 10.0.0.0\/24/);
  bad('  n:\n    gateway: 10.0.1.1\n', 4, /needs a subnet/);
  bad('  n:\n    subnet: 10.0.0.0/16\n    ipRange: 10.1.0.0/24\n', 5, /not in the subnet/);
  bad('  n:\n    driver: "Bad Driver"\n', 4, /driver name/);
  bad('  n:\n    colour: blue\n', 4, /unknown key "colour"/);
  bad('  host: {}\n', 3, /engine's own network/);
  bad('  dosh-net-x: {}\n', 3, /users' own networks/);
  bad('  "-x": {}\n', 3, /not a valid network name/);
});

test('a rule can match a group whose name holds blanks ("domain users")', () => {
  const p = load('version: 1\nrules:\n  - match: { groups: [domain users, "AD\\\\Domain Admins"] }\n    image: b\n');
  assert.equal(resolvePolicy(p, user('ann', ['domain users'])).image, 'b');
  assert.equal(resolvePolicy(p, user('ann', ['AD\\Domain Admins'])).image, 'b');
  assert.equal(resolvePolicy(p, user('ann', ['domain'])).image, 'alpine');
});
