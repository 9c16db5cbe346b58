// BACKEND and the flags a pod cannot honour: refused with file:line and the flag, in the sections that choose the
// kubernetes backend (at load) and for a kubernetes user whatever section they come from (at her login); docker
// sections are unchanged.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { memoryIO } from './io.ts';
import { POD_FLAGS, POD_REFUSED } from './pod-flags.ts';
import { FLAG_SPECS } from './flags.ts';
import { resolvePolicy } from './resolve.ts';
import { loadText, MAIN, resolveText, throwsAt, user } from './testkit.ts';
import { loadYamlPolicy } from './yaml.ts';

const Y = '/etc/dosh.yaml';
const loadY = (text: string) => loadYamlPolicy(Y, memoryIO({ [Y]: text }));

test('every supported docker flag is either translated to a pod or refused with a reason', () => {
  for (const f of FLAG_SPECS) assert.ok(POD_FLAGS.has(f.name) !== (f.name in POD_REFUSED), `--${f.name}: exactly one of translated / refused`);
});

test('BACKEND: docker or kubernetes, per section; anything else is an error at its line', () => {
  throwsAt(() => loadText('CONTAINERIMAGE=x\nBACKEND=k8s\n'), MAIN, 2, /BACKEND must be docker or kubernetes, got "k8s"/);
  throwsAt(() => loadText('[user:bob]\nBACKEND=\n'), MAIN, 2, /BACKEND must be/);
  const pol = loadText('BACKEND=docker\n[group:hpc]\nBACKEND=kubernetes\n[user:carol]\nBACKEND=docker\n');
  assert.equal(resolvePolicy(pol, user('alice')).backend, 'docker');
  assert.equal(resolvePolicy(pol, user('bob', ['hpc'])).backend, 'kubernetes');
  assert.equal(resolvePolicy(pol, user('carol', ['hpc'])).backend, 'docker', 'a later section wins, as for every key');
  assert.equal(resolveText('CONTAINERIMAGE=x\n').backend, 'docker', 'the default');
  assert.equal(resolvePolicy(pol, user('bob', ['hpc'])).provenance.backend.line, 3);
});

// One case per refused flag: the flag as written in DOCKERPARAMETERS, and a word of the reason.
const REFUSED_CASES: [string, RegExp][] = [
  ['--memory-swap 4g -m 1g', /swap/],
  ['--memory-reservation 1g', /requests\.memory/],
  ['--cpu-shares 512', /requests\.cpu/],
  ['--cpuset-cpus 0-3', /CPU manager/],
  ['--pids-limit 100', /podPidsLimit/],
  ['--device /dev/fuse', /device plugin/],
  ['--gpus all', /nvidia\.com\/gpu/],
  ['--network bridge', /NetworkPolicy/],
  ['--net bridge', /NetworkPolicy/],
  ['--dns 192.0.2.53', /DNS/],
  ['--shm-size 1g', /shm/],
  ['--ulimit nofile=1024', /rlimits/],
  ['--label a=b', /labels/],
  ['--restart always', /restartPolicy/],
  ['--log-driver json-file', /logs/],
  ['--log-opt max-size=1m', /logs/],
  ['--oom-score-adj 10', /QoS/],
  ['--blkio-weight 300', /block I\/O/],
  ['--device-read-bps /dev/sda:1mb', /throttling/],
  ['--device-write-iops /dev/sda:10', /throttling/],
  ['--ipc private', /namespaces/],
  ['--cgroupns private', /namespaces/],
];

test('each flag without a Kubernetes equivalent is refused at load in a kubernetes section, with file:line and the flag', () => {
  for (const [flags, why] of REFUSED_CASES) {
    const written = flags.split(' ')[0];
    const e = throwsAt(() => loadText(`CONTAINERIMAGE=x\n[group:hpc]\nBACKEND=kubernetes\nDOCKERPARAMETERS=-e A=1 ${flags}\n`), MAIN, 4, why);
    assert.ok(e.message.startsWith(`${MAIN}:4:`), e.message);
    assert.match(e.reason, new RegExp(`^${written} is refused with the kubernetes backend`));
    // BACKEND after the flags in the same section counts as well: the whole section is checked.
    throwsAt(() => loadText(`[group:hpc]\nDOCKERPARAMETERS=${flags}\nBACKEND=kubernetes\n`), MAIN, 2, why);
    // The same flag in a docker section (or with no BACKEND) is what it always was.
    loadText(`[group:hpc]\nBACKEND=docker\nDOCKERPARAMETERS=${flags}\n`);
    loadText(`[group:hpc]\nDOCKERPARAMETERS=${flags}\n`);
  }
});

test('unsafe flags are refused for a pod even with the unsafe opt-in', () => {
  const opt = 'ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true\n';
  loadText(`${opt}DOCKERPARAMETERS=--privileged --pid host\n`);
  throwsAt(() => loadText(`${opt}BACKEND=kubernetes\nDOCKERPARAMETERS=-e A=1 --privileged\n`), MAIN, 3, /--privileged is refused with the kubernetes backend: DoSH never makes a privileged pod/);
  throwsAt(() => loadText(`${opt}BACKEND=kubernetes\nDOCKERPARAMETERS=--pid host\n`), MAIN, 3, /--pid is refused/);
  throwsAt(() => loadText(`${opt}BACKEND=kubernetes\nDOCKERPARAMETERS=--uts host\n`), MAIN, 3, /--uts is refused/);
  throwsAt(() => loadText(`${opt}BACKEND=kubernetes\nDOCKERPARAMETERS=--userns host\n`), MAIN, 3, /--userns is refused/);
  throwsAt(() => loadText(`${opt}BACKEND=kubernetes\nDOCKERPARAMETERS=--security-opt seccomp=unconfined\n`), MAIN, 3, /--security-opt is refused.*seccomp/);
});

test('values a pod cannot take are refused, the translatable forms of the same flags are not', () => {
  const kube = (flags: string) => loadText(`BACKEND=kubernetes\nDOCKERPARAMETERS=${flags}\n`);
  const bad: [string, RegExp][] = [
    ['-v cache:/cache', /named docker volume "cache"/],
    ['-v /srv:/srv:z', /volume option "z"/],
    ['--mount type=volume,source=vol,target=/v', /volume mount has no Kubernetes equivalent/],
    ['--mount type=bind,source=/srv,target=/srv,bind-propagation=rshared', /propagation rshared/],
    ['--mount type=tmpfs,target=/t,tmpfs-mode=1777', /tmpfs mode/],
    ['--tmpfs /run:size=64m,noexec', /tmpfs option "noexec"/],
    ['--group-add video', /by number only/],
    ['--hostname DevBox', /not a DNS label/],
    ['--add-host gw:host-gateway', /host-gateway/],
    ['--security-opt no-new-privileges=false', /no-new-privileges/],
  ];
  for (const [flags, why] of bad) throwsAt(() => kube(flags), MAIN, 2, why);
  kube('-v /srv:/srv:ro -v /scratch --mount type=bind,source=/a,target=/a,readonly --mount type=tmpfs,target=/t,tmpfs-size=1m --tmpfs /run:size=64m');
  kube('--group-add 44 --hostname devbox --add-host db:192.0.2.1 --security-opt no-new-privileges --read-only --init --stop-timeout 5');
  kube('-m 2g --cpus 1.5 -e A=1 -w /work --cap-add NET_BIND_SERVICE --cap-drop ALL');
});

test('the host-path safety rules of the docker path apply to a pod\'s binds unchanged', () => {
  throwsAt(() => loadText('BACKEND=kubernetes\nDOCKERPARAMETERS=-v /var/run/docker.sock:/var/run/docker.sock\n'), MAIN, 2, /refused/);
  throwsAt(() => loadText('BACKEND=kubernetes\nDOCKERPARAMETERS=--user 0\n'), MAIN, 2, /-u\/--user can never be set/);
});

test('a flag that reaches a kubernetes user from another section is refused at her login, at the flag\'s own line', () => {
  const pol = loadText('DOCKERPARAMETERS=-e A=1\nDOCKERPARAMETERS=--pids-limit 300\n[group:hpc]\nBACKEND=kubernetes\n');
  assert.equal(resolvePolicy(pol, user('alice')).create.HostConfig.PidsLimit, 300, 'docker users keep it');
  throwsAt(() => resolvePolicy(pol, user('bob', ['hpc'])), MAIN, 2, /--pids-limit is refused with the kubernetes backend/);
  // INHERIT=false in the kubernetes section leaves the docker flags behind.
  const clean = loadText('DOCKERPARAMETERS=--pids-limit 300\n[group:hpc]\nBACKEND=kubernetes\nINHERIT=false\nDOCKERPARAMETERS=-m 1g\n');
  assert.equal(resolvePolicy(clean, user('bob', ['hpc'])).create.HostConfig.Memory, 1024 ** 3);
});

test('NETWORKPERUSER is refused with the kubernetes backend, at load and at her login', () => {
  throwsAt(() => loadText('[group:hpc]\nNETWORKPERUSER=true\nBACKEND=kubernetes\n'), MAIN, 2, /NETWORKPERUSER.*refused with the kubernetes backend/);
  const pol = loadText('NETWORKPERUSER=true\n[group:hpc]\nBACKEND=kubernetes\n');
  throwsAt(() => resolvePolicy(pol, user('bob', ['hpc'])), MAIN, 1, /for user bob: NETWORKPERUSER/);
});

test('dosh.yaml: backend and the typed fields that are docker flags are refused where they must be, at their own line', () => {
  throwsAt(() => loadY('version: 1\nrules:\n  - name: k\n    backend: kubernetes\n    networks: [datanet]\n'), Y, 5, /networks\[0\] is refused with the kubernetes backend.*\(at rules\[0\]\.networks\[0\]\)/);
  throwsAt(() => loadY('version: 1\ndefaults:\n  backend: kubernetes\n  resources:\n    memory: 1g\n    pids: 100\n'), Y, 6, /resources\.pids is refused.*podPidsLimit/);
  throwsAt(() => loadY('version: 1\ndefaults:\n  backend: kubernetes\n  dockerFlags: ["-e", "A=1", "--shm-size", "1g"]\n'), Y, 4, /--shm-size is refused/);
  throwsAt(() => loadY('version: 1\ndefaults:\n  backend: pods\n'), Y, 3, /backend/);
  loadY('version: 1\ndefaults:\n  backend: docker\n  networks: [datanet]\n  resources: { pids: 100 }\n');
});
