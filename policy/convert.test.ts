// convertLegacyToYaml: converting and resolving gives the same effective policy for every user.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import type { EffectivePolicy } from '../api/policy.ts';
import { convertLegacyToYaml } from './convert.ts';
import { PolicyError } from './errors.ts';
import { memoryIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import { resolvePolicy } from './resolve.ts';
import { MAIN, throwsAt, user } from './testkit.ts';
import { loadYamlPolicy } from './yaml.ts';

const OPT = 'ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK';
const YAML = '/etc/dosh.yaml';
const USERS = ['u0', 'u1', 'u2'];
const GROUPS = ['g0', 'g1', 'g2'];

const FLAGS = [
  '-v /srv/a:/a:ro', '--volume=/home/$USER:/home/$USER', '-v vol-${USER}:/data', '-v /scratch', '--mount type=tmpfs,target=/t,tmpfs-size=1m',
  '-w /home/$USER', '--workdir=/tmp', '-e A=1', '-e "B=two words"', "-e 'C=$HOME'", '-e D=\\$USER', '-e E=$PATH', '--env-file conf.d/site.env',
  '-m 1g', '--memory=512m', '--memory-swap -1', '--memory-reservation 256m', '--cpus 1.5', '-c 100', '--cpuset-cpus 0-1', '--pids-limit 99',
  '--device /dev/fuse', '--device=/dev/sdb:/dev/xvdb:r', '--gpus all', '--cap-add NET_RAW', '--cap-drop MKNOD', '--network mynet',
  '-h box', '--dns 192.0.2.1', '--add-host db:192.0.2.2', '--read-only', '--read-only=false', '--tmpfs /run:size=1m', '--shm-size 64m',
  '--ulimit nofile=100:200', '--security-opt apparmor=x', '--group-add video', '-l team=$GROUP', '--init=false', '--restart no',
  '--log-driver none', '--stop-timeout 5', '--oom-score-adj 10', '--blkio-weight 100', '--device-read-bps /dev/sda:1m',
  '--device-write-iops /dev/sda:10',
];
const UNSAFE_FLAGS = ['--privileged', '--pid=host', '-v /:/host', '--cap-add SYS_ADMIN', '--security-opt seccomp=unconfined'];

const kvLine = fc.oneof(
  fc.constantFrom('CONTAINERIMAGE=img:1', 'CONTAINERIMAGE=img-$USER:latest', 'CONTAINERIMAGE=reg.local:5000/x/y:2'),
  fc.constantFrom('CONTAINERCOMMAND=bash', 'CONTAINERCOMMAND=zsh -l', 'CONTAINERCOMMAND="/bin/sh" -c \'echo $USER\''),
  fc.array(fc.constantFrom(...FLAGS), { minLength: 0, maxLength: 4 }).map((f) => 'DOCKERPARAMETERS=' + f.join(' ')),
  fc.constantFrom('INHERIT=true', 'INHERIT=false', 'INHERIT=false'),
  fc.constantFrom('RUNSCRIPTS=true', 'DEBUG=true', 'VERBOSE=true', 'RUNCOMMANDS=false', 'PREFIXNAME=c-', 'PREFIXNAME=x$UID-'),
  fc.constantFrom('LOGFILE=', 'LOGFILE=/var/log/$USER.log', 'SCRIPTSFOLDER=/etc/dosh/s', 'SCRIPTSFOLDER='),
  fc.constantFrom('IDLETIMEOUT=0', 'IDLETIMEOUT=1h', 'MAXSESSIONS=2', 'MAXSESSIONSECONDS=90', 'NETWORKPERUSER=true', 'NETWORKPERUSER=false', 'ALLOWOTHERSHELL=true', 'ALLOWOTHERSHELL=false', 'FORWARDAGENT=true', 'RECORDSESSIONS=true', 'RECORDSESSIONS=false'),
  fc.constantFrom(...UNSAFE_FLAGS).map((f) => `${OPT}=true\nDOCKERPARAMETERS=${f}`),
  fc.constantFrom('BACKEND=kubernetes', 'BACKEND=docker'),
);
const section = fc.oneof(fc.constantFrom(...USERS).map((u) => `[user:${u}]`), fc.constantFrom(...GROUPS).map((g) => `[group:${g}]`));
const lines = fc.array(fc.oneof({ weight: 4, arbitrary: kvLine }, { weight: 1, arbitrary: section }), { maxLength: 14 });
const conf = fc.record({ main: lines, include: fc.option(fc.tuple(lines, lines), { nil: undefined }) });
const userArb = fc.record({ name: fc.constantFrom(...USERS, 'other'), groups: fc.subarray(GROUPS), uid: fc.integer({ min: 1000, max: 1003 }) });

const ENV = { '/etc/conf.d/site.env': 'TZ=UTC\n' };

function files(c: { main: string[]; include?: [string[], string[]] }): Record<string, string> {
  const f: Record<string, string> = { ...ENV, [MAIN]: (c.include ? 'CONF=/etc/dosh.d/*.conf\n' : '') + c.main.join('\n') + '\n' };
  if (c.include) {
    f['/etc/dosh.d/10.conf'] = c.include[0].join('\n') + '\n';
    f['/etc/dosh.d/20.conf'] = c.include[1].join('\n') + '\n';
  }
  return f;
}

/** The effective policy without the parts that name files and lines. */
function comparable(r: () => EffectivePolicy): unknown {
  try {
    const p = r();
    return { ...p, provenance: undefined, dockerArgs: undefined, unsafe: p.unsafe.map((u) => u.replace(/ \(.*\)$/, '')) };
  } catch (e) {
    if (e instanceof PolicyError) return { error: e.reason.replace(/^[^:]*: /, '') };
    throw e;
  }
}

test('property: resolve(legacy) equals resolve(yaml(convert(legacy))) for generated configurations and users', () => {
  let loaded = 0;
  fc.assert(
    fc.property(conf, fc.array(userArb, { minLength: 1, maxLength: 4 }), (c, us) => {
      const io0 = files(c);
      let legacy;
      try {
        legacy = loadLegacyPolicy(MAIN, memoryIO(io0));
      } catch (e) {
        if (e instanceof PolicyError) return; // a generated file that is bad on purpose: nothing to convert
        throw e;
      }
      loaded++;
      const yamlText = convertLegacyToYaml(legacy);
      const yamlPolicy = loadYamlPolicy(YAML, memoryIO({ ...io0, [YAML]: yamlText }));
      for (const u of us) {
        const info = { ...user(u.name, u.groups, u.uid) };
        assert.deepEqual(comparable(() => resolvePolicy(yamlPolicy, info)), comparable(() => resolvePolicy(legacy, info)), yamlText);
      }
    }),
    { numRuns: 1000 },
  );
  assert.ok(loaded > 300, `only ${loaded} generated configurations loaded`);
});

test('conversion output is readable and keeps sections, order and INHERIT', () => {
  const legacy = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: 'CONTAINERIMAGE=ubuntu:latest\nDOCKERPARAMETERS=-v /home/$USER:/home/$USER\n[user:bob]\nDOCKERPARAMETERS=-m 1g\nINHERIT=false\nDOCKERPARAMETERS=-m 2g\n' }));
  const y = convertLegacyToYaml(legacy);
  assert.match(y, /^# dosh.yaml converted from \/etc\/dosh.conf/);
  assert.match(y, /name: user:bob \(dosh.conf:4\)\n\s+match:\n\s+users:\n\s+- bob\n\s+dockerFlags:\n\s+- -m=1g/);
  assert.match(y, /inherit: false/);
  const p = loadYamlPolicy(YAML, memoryIO({ [YAML]: y }));
  assert.equal(resolvePolicy(p, user('bob')).create.HostConfig.Memory, 2 * 1024 ** 3);
  assert.equal(resolvePolicy(p, user('bob')).create.HostConfig.Binds, undefined);
});

test('a CONF that depends on the user cannot be converted, with a clear message', () => {
  const legacy = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: '[user:bob]\nCONF=/etc/bob.conf\n', '/etc/bob.conf': 'DEBUG=true\n' }));
  throwsAt(() => convertLegacyToYaml(legacy), MAIN, 2, /cannot convert: CONF inside \[user:bob\]/);
});

test('NETWORKPERUSER converts to networkPerUser', () => {
  const legacy = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: 'NETWORKPERUSER=true\n[user:bob]\nNETWORKPERUSER=false\n' }));
  const y = convertLegacyToYaml(legacy);
  assert.match(y, /networkPerUser: true/);
  const p = loadYamlPolicy(YAML, memoryIO({ [YAML]: y }));
  assert.equal(resolvePolicy(p, user('alice')).networkPerUser, true);
  assert.equal(resolvePolicy(p, user('bob')).networkPerUser, false);
});

test('BACKEND converts to backend, and a kubernetes user gets the same pod settings from both', () => {
  const legacy = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: 'DOCKERPARAMETERS=-m 1g\n[group:hpc]\nBACKEND=kubernetes\n[user:bob]\nBACKEND=docker\n' }));
  const y = convertLegacyToYaml(legacy);
  assert.match(y, /match:\n\s+groups:\n\s+- hpc\n\s+backend: kubernetes/);
  const p = loadYamlPolicy(YAML, memoryIO({ [YAML]: y }));
  assert.equal(resolvePolicy(p, user('ann', ['hpc'])).backend, 'kubernetes');
  assert.equal(resolvePolicy(p, user('bob', ['hpc'])).backend, 'docker');
});
