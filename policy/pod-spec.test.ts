// The Pod of a kubernetes user: each translated flag, her identity, the secure defaults, the pod: keys and her home.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import type { UserInfo } from '../api/policy.ts';
import { memoryIO } from './io.ts';
import { bytesQuantity, cpuQuantity, podManifest } from './pod-spec.ts';
import { resolvePolicy } from './resolve.ts';
import { ENV_FILES, loadText, MAIN, throwsAt, user } from './testkit.ts';
import { loadYamlPolicy } from './yaml.ts';

const Y = '/etc/dosh.yaml';
const BOB = user('bob', ['staff', 'video'], 1500);

/** The pod of a dosh.conf whose only section is the kubernetes one with these flags. */
function podOf(flags: string, u: UserInfo = BOB): V1Pod {
  return podManifest(resolvePolicy(loadText(`BACKEND=kubernetes\nDOCKERPARAMETERS=${flags}\n`), u), u);
}
function yamlPod(text: string, u: UserInfo = BOB): V1Pod {
  return podManifest(resolvePolicy(loadYamlPolicy(Y, memoryIO({ [Y]: text })), u), u);
}
const c0 = (p: V1Pod) => p.spec!.containers[0];

test('her identity: runAsUser/runAsGroup from her account, her other groups as supplementalGroups', () => {
  const p = podOf('-e A=1');
  assert.deepEqual(p.spec!.securityContext, { runAsUser: 1500, runAsGroup: 1500, runAsNonRoot: true, supplementalGroups: [2000, 2001], seccompProfile: { type: 'RuntimeDefault' } });
  assert.deepEqual(podOf('--group-add 44 --group-add 2000').spec!.securityContext!.supplementalGroups, [2000, 2001, 44], 'numeric --group-add added once');
  assert.equal(podOf('-e A=1', user('solo', [], 1200)).spec!.securityContext!.supplementalGroups, undefined);
});

test('secure defaults: no privilege escalation, every capability dropped, RuntimeDefault seccomp, no service account token', () => {
  const p = podOf('-e A=1');
  assert.deepEqual(c0(p).securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  assert.equal(p.spec!.automountServiceAccountToken, false);
  assert.equal(p.spec!.enableServiceLinks, false);
  assert.equal(p.spec!.shareProcessNamespace, true, 'a reaper as PID 1, as --init (on by default) gives');
  assert.equal(p.spec!.restartPolicy, 'Always');
  assert.equal(p.spec!.serviceAccountName, undefined);
  // --cap-drop can never bring back what dropping ALL took away.
  assert.deepEqual(c0(podOf('--cap-drop CHOWN')).securityContext!.capabilities, { drop: ['ALL'] });
  assert.deepEqual(c0(podOf('--cap-add net_bind_service --cap-add CAP_KILL --cap-drop ALL')).securityContext!.capabilities, { drop: ['ALL'], add: ['KILL', 'NET_BIND_SERVICE'] });
});

test('named and labelled like her container: PREFIXNAME + user, in namespace dosh by default', () => {
  const p = podOf('-e A=1');
  assert.equal(p.apiVersion, 'v1');
  assert.equal(p.kind, 'Pod');
  assert.deepEqual(p.metadata, { name: 'dosh-bob', namespace: 'dosh', labels: { 'dosh.io/managed': 'true', 'dosh.io/user': 'bob', 'dosh.io/uid': '1500', 'dosh.io/idle-timeout': '1800' } });
  const u = user('bob', [], 1500);
  const withNode = podManifest(resolvePolicy(loadText('BACKEND=kubernetes\nPREFIXNAME=box.\nIDLETIMEOUT=0\n'), u), u, { node: 'login1' });
  assert.equal(withNode.metadata!.name, 'box.bob');
  assert.equal(withNode.metadata!.labels!['dosh.io/node'], 'login1');
  assert.equal(withNode.metadata!.labels!['dosh.io/idle-timeout'], '0');
});

test('an account whose name cannot be a pod name is refused with the line of PREFIXNAME', () => {
  const pol = loadText('PREFIXNAME=u-\nBACKEND=kubernetes\n');
  const joe = user('Joe_Smith');
  throwsAt(() => podManifest(resolvePolicy(pol, joe), joe), MAIN, 1, /for user Joe_Smith: her pod would be named "u-Joe_Smith", which is not a valid Kubernetes name/);
});

test('image and command: the image, the shell as args (the image entrypoint is kept, as with docker), stdin and a tty', () => {
  const u = BOB;
  const c = c0(podManifest(resolvePolicy(loadText('BACKEND=kubernetes\nCONTAINERIMAGE=debian:12\nCONTAINERCOMMAND=/bin/bash -l\n'), u), u));
  assert.equal(c.image, 'debian:12');
  assert.deepEqual(c.args, ['/bin/bash', '-l']);
  assert.equal(c.command, undefined);
  assert.equal(c.stdin, true);
  assert.equal(c.tty, true);
});

test('-e/--env-file/-w: env after HOME, USER and LOGNAME (a later value of a name wins), workingDir', () => {
  const c = c0(podOf('-e LANG=C.UTF-8 -e HOME=/work -e LANG=en_US.UTF-8 -w /home/$USER'));
  assert.deepEqual(c.env, [{ name: 'USER', value: 'bob' }, { name: 'LOGNAME', value: 'bob' }, { name: 'HOME', value: '/work' }, { name: 'LANG', value: 'en_US.UTF-8' }]);
  assert.equal(c.workingDir, '/home/bob');
  const f = podManifest(resolvePolicy(loadText('BACKEND=kubernetes\nDOCKERPARAMETERS=--env-file /etc/dosh/env -e TZ=UTC\n', ENV_FILES), BOB), BOB);
  assert.deepEqual(c0(f).env!.slice(3), [{ name: 'LANG', value: 'C.UTF-8' }, { name: 'EMPTY', value: '' }, { name: 'TZ', value: 'UTC' }]);
});

test('-m and --cpus: limits.memory and limits.cpu; pod.resources adds requests and overrides a limit', () => {
  assert.deepEqual(c0(podOf('-m 2g --cpus 1.5')).resources, { limits: { memory: '2Gi', cpu: '1500m' } });
  assert.deepEqual(c0(podOf('-m 512m --cpus 2')).resources, { limits: { memory: '512Mi', cpu: '2' } });
  assert.equal(c0(podOf('-e A=1')).resources, undefined, 'no limits: none made up');
  const p = yamlPod('version: 1\ndefaults:\n  backend: kubernetes\n  resources: { memory: 2g, cpus: 1 }\n  pod:\n    resources:\n      requests: { cpu: 250m, memory: 1Gi }\n      limits: { memory: 3Gi, nvidia.com/gpu: 1 }\n');
  assert.deepEqual(c0(p).resources, { requests: { cpu: '250m', memory: '1Gi' }, limits: { memory: '3Gi', cpu: '1', 'nvidia.com/gpu': '1' } });
});

test('quantities: exact binary units, CPUs in thousandths rounded up', () => {
  assert.equal(bytesQuantity(3 * 1024 ** 3), '3Gi');
  assert.equal(bytesQuantity(1536 * 1024 ** 2), '1536Mi');
  assert.equal(bytesQuantity(6 * 1024 ** 2 + 1), '6291457');
  assert.equal(cpuQuantity(250_000_000), '250m');
  assert.equal(cpuQuantity(100_000), '1m');
  assert.equal(cpuQuantity(3e9), '3');
});

test('binds become hostPath volumes (ro kept), tmpfs and anonymous volumes emptyDirs', () => {
  const p = podOf('-v /srv/data:/data:ro -v /srv/$USER:/work --mount type=bind,source=/opt/tools,target=/tools,readonly --mount type=tmpfs,target=/scratch,tmpfs-size=64m --tmpfs /run:size=1g -v /cache');
  assert.deepEqual(p.spec!.volumes, [
    { name: 'host-0', hostPath: { path: '/srv/data' } },
    { name: 'host-1', hostPath: { path: '/srv/bob' } },
    { name: 'host-2', hostPath: { path: '/opt/tools' } },
    { name: 'tmp-0', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    { name: 'tmp-1', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
    { name: 'anon-0', emptyDir: {} },
  ]);
  assert.deepEqual(c0(p).volumeMounts, [
    { name: 'host-0', mountPath: '/data', readOnly: true },
    { name: 'host-1', mountPath: '/work' },
    { name: 'host-2', mountPath: '/tools', readOnly: true },
    { name: 'tmp-0', mountPath: '/scratch' },
    { name: 'tmp-1', mountPath: '/run' },
    { name: 'anon-0', mountPath: '/cache' },
  ]);
  assert.equal(podOf('-e A=1').spec!.volumes, undefined);
});

test('--read-only, --hostname, --add-host, --stop-timeout, --init=false', () => {
  const p = podOf('--read-only --hostname devbox --add-host db:192.0.2.1 --add-host db2:192.0.2.1 --add-host web:192.0.2.2 --stop-timeout 7 --init=false');
  assert.equal(c0(p).securityContext!.readOnlyRootFilesystem, true);
  assert.equal(p.spec!.hostname, 'devbox');
  assert.deepEqual(p.spec!.hostAliases, [{ ip: '192.0.2.1', hostnames: ['db', 'db2'] }, { ip: '192.0.2.2', hostnames: ['web'] }]);
  assert.equal(p.spec!.terminationGracePeriodSeconds, 7);
  assert.equal(p.spec!.shareProcessNamespace, false);
});

test('pod: keys: namespace, nodeSelector, tolerations, runtimeClassName, service account, each with $USER expanded', () => {
  const p = yamlPod(`version: 1
defaults:
  backend: kubernetes
  pod:
    namespace: users
    nodeSelector: { pool: login, owner: $USER }
    tolerations: [{ key: dedicated, operator: Equal, value: users, effect: NoSchedule }]
    runtimeClassName: gvisor
    serviceAccountName: sa-$USER
    automountServiceAccountToken: true
`);
  assert.equal(p.metadata!.namespace, 'users');
  assert.deepEqual(p.spec!.nodeSelector, { pool: 'login', owner: 'bob' });
  assert.deepEqual(p.spec!.tolerations, [{ key: 'dedicated', operator: 'Equal', value: 'users', effect: 'NoSchedule' }]);
  assert.equal(p.spec!.runtimeClassName, 'gvisor');
  assert.equal(p.spec!.serviceAccountName, 'sa-bob');
  assert.equal(p.spec!.automountServiceAccountToken, true, 'only when the policy says so');
});

test('pod: keys of a later rule replace the earlier ones, key by key', () => {
  const text = 'version: 1\ndefaults:\n  backend: kubernetes\n  pod: { namespace: users, runtimeClassName: gvisor }\nrules:\n  - match: { groups: [staff] }\n    pod: { namespace: staff }\n';
  const p = yamlPod(text);
  assert.equal(p.metadata!.namespace, 'staff');
  assert.equal(p.spec!.runtimeClassName, 'gvisor');
  assert.equal(yamlPod(text, user('ann')).metadata!.namespace, 'users');
});

test('her home: a claim per user, or a volume source, mounted at her account\'s home', () => {
  const pvc = yamlPod('version: 1\ndefaults:\n  backend: kubernetes\n  pod:\n    home: { persistentVolumeClaim: { claimName: home-$USER } }\n');
  assert.deepEqual(pvc.spec!.volumes, [{ name: 'home', persistentVolumeClaim: { claimName: 'home-bob' } }]);
  assert.deepEqual(c0(pvc).volumeMounts, [{ name: 'home', mountPath: '/home/bob' }]);
  const nfs = yamlPod('version: 1\ndefaults:\n  backend: kubernetes\n  pod:\n    home:\n      volume:\n        nfs: { server: files.example, path: /export/home/$USER }\n');
  assert.deepEqual(nfs.spec!.volumes, [{ name: 'home', nfs: { server: 'files.example', path: '/export/home/bob' } }]);
  assert.deepEqual(c0(nfs).volumeMounts, [{ name: 'home', mountPath: '/home/bob' }]);
});

test('her home where a policy mount already is: refused at the line of pod.home', () => {
  const text = 'version: 1\ndefaults:\n  backend: kubernetes\n  mounts: [/srv/home/$USER:/home/$USER]\n  pod:\n    home: { persistentVolumeClaim: { claimName: home-$USER } }\n';
  throwsAt(() => yamlPod(text), Y, 6, /pod\.home is mounted at her home \/home\/bob, where a mount of the policy already is/);
});

test('pod: values are checked at load, with their line: names Kubernetes refuses, a hostPath home, two volume kinds', () => {
  const load = (pod: string) => loadYamlPolicy(Y, memoryIO({ [Y]: `version: 1\ndefaults:\n  backend: kubernetes\n  pod:\n${pod}` }));
  throwsAt(() => load('    namespace: Users\n'), Y, 5, /namespace "Users" is not a valid Kubernetes name/);
  throwsAt(() => load('    runtimeClassName: "g_visor"\n'), Y, 5, /runtimeClassName "g_visor"/);
  throwsAt(() => load('    home: { persistentVolumeClaim: { claimName: Home_$USER } }\n'), Y, 5, /claimName "Home_doshprobe"/);
  throwsAt(() => load('    home: { volume: { hostPath: { path: /home } } }\n'), Y, 5, /cannot be a hostPath/);
  throwsAt(() => load('    home: { volume: { nfs: { server: a, path: /b }, emptyDir: {} } }\n'), Y, 5, /exactly one kind/);
  throwsAt(() => load('    resources: { limits: { memory: lots } }\n'), Y, 5, /Kubernetes quantity/);
  throwsAt(() => load('    tolerations: [{ operator: Maybe }]\n'), Y, 5, /operator|invalid/);
  throwsAt(() => load('    priority: 3\n'), Y, 5, /unknown key "priority"/);
});

test('a value that only goes bad for one user is refused at her login, with its line', () => {
  const pol = loadYamlPolicy(Y, memoryIO({ [Y]: 'version: 1\ndefaults:\n  backend: kubernetes\n  pod:\n    serviceAccountName: sa-$USER\n' }));
  throwsAt(() => resolvePolicy(pol, user('Ann')), Y, 5, /for user Ann: serviceAccountName "sa-Ann"/);
});

test('a docker user has no pod settings in her resolved policy, even where pod: keys are set', () => {
  const eff = resolvePolicy(loadYamlPolicy(Y, memoryIO({ [Y]: 'version: 1\ndefaults:\n  pod: { namespace: users }\n' })), BOB);
  assert.equal(eff.backend, 'docker');
  assert.equal(eff.pod, undefined);
  assert.equal(eff.provenance['pod.namespace'], undefined);
});
