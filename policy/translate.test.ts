// DOCKERPARAMETERS → Engine API: every supported flag in its forms, as the docker CLI sends it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { SUPPORTED_FLAGS } from './flags.ts';
import { MAIN, resolveText, throwsAt, translate, user } from './testkit.ts';

const hc = (params: string) => translate(params).create.HostConfig;

test('volumes: binds and named volumes go to Binds verbatim, anonymous volumes to Volumes', () => {
  assert.deepEqual(hc('-v /a:/b:ro --volume=home-$USER:/home/$USER --volume /c:/d:rw,Z').Binds, ['/a:/b:ro', 'home-alice:/home/alice', '/c:/d:rw,Z']);
  assert.deepEqual(translate('-v /scratch').create.Volumes, { '/scratch': {} });
  throwsAt(() => translate('-v ./rel:/x'), MAIN, 1, /absolute host path or a volume name/);
  throwsAt(() => translate('-v /a:/b:rx'), MAIN, 1, /unknown volume option "rx"/);
  throwsAt(() => translate('-v /a:rel'), MAIN, 1, /target must be an absolute path/);
});

test('--mount: bind, volume and tmpfs with the CLI field names', () => {
  assert.deepEqual(hc('--mount type=bind,source=/srv,target=/srv,readonly,bind-propagation=rslave').Mounts, [
    { Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: true, BindOptions: { Propagation: 'rslave' } },
  ]);
  assert.deepEqual(hc('--mount type=volume,src=data,dst=/data,volume-nocopy').Mounts, [
    { Type: 'volume', Source: 'data', Target: '/data', VolumeOptions: { NoCopy: true, DriverConfig: {} } },
  ]);
  assert.deepEqual(hc('--mount=type=tmpfs,destination=/scratch,tmpfs-size=64m,tmpfs-mode=1770').Mounts, [
    { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 64 * 1024 ** 2, Mode: 0o1770 } },
  ]);
  assert.deepEqual(hc('--mount target=/v').Mounts, [{ Type: 'volume', Target: '/v' }]);
  throwsAt(() => translate('--mount type=bind,target=/x'), MAIN, 1, /bind mount source/);
  throwsAt(() => translate('--mount type=tmpfs,target=/x,volume-nocopy'), MAIN, 1, /cannot mix 'volume-\*'/);
  throwsAt(() => translate('--mount type=bind,src=/a,dst=/b,colour=red'), MAIN, 1, /unexpected key "colour"/);
});

test('workdir, env, hostname, labels, stop timeout', () => {
  const p = translate('-w /work -e A=1 --env=B=2 -h box --hostname=box2 -l a=b --label c -l=d=e=f --stop-timeout 20');
  assert.equal(p.create.WorkingDir, '/work');
  assert.deepEqual(p.create.Env, ['A=1', 'B=2']);
  assert.equal(p.create.Hostname, 'box2');
  assert.deepEqual(p.create.Labels, { a: 'b', c: '', d: 'e=f' });
  assert.equal(p.create.StopTimeout, 20);
  throwsAt(() => translate('-e NAME'), MAIN, 1, /has no value/);
  // --env-file entries come first, as the CLI sends them; relative names are taken from the file's directory.
  assert.deepEqual(translate('-e A=1 --env-file dosh/env').create.Env, ['TZ=Europe/Madrid', 'LANG=C.UTF-8', 'EMPTY=', 'A=1']);
  throwsAt(() => translate('--env-file /etc/nope'), MAIN, 1, /cannot read \/etc\/nope/);
  throwsAt(() => translate('--env-file /etc/e', user('alice'), { '/etc/e': 'A=1\nBAD NAME=2\n' }), MAIN, 1, /line 2: variable "BAD NAME" contains whitespace/);
  throwsAt(() => translate('--env-file $HOME/.env'), MAIN, 1, /cannot contain variables/);
  throwsAt(() => translate('-w relative'), MAIN, 1, /absolute/);
  throwsAt(() => translate('-l dosh.io/user=root'), MAIN, 1, /reserved for DoSH/);
});

test('resources: sizes, swap -1, cpus as NanoCpus, shares, cpuset, pids', () => {
  const h = hc('-m 512m --memory-swap -1 --memory-reservation=256M --cpus 1.5 -c 512 --cpuset-cpus 0-3,5 --pids-limit 200 --shm-size 1g');
  assert.equal(h.Memory, 512 * 1024 ** 2);
  assert.equal(h.MemorySwap, -1);
  assert.equal(h.MemoryReservation, 256 * 1024 ** 2);
  assert.equal(h.NanoCpus, 1_500_000_000);
  assert.equal(h.CpuShares, 512);
  assert.equal(h.CpusetCpus, '0-3,5');
  assert.equal(h.PidsLimit, 200);
  assert.equal(h.ShmSize, 1024 ** 3);
  assert.equal(hc('-m=2g').Memory, 2 * 1024 ** 3);
  assert.equal(hc('-m2G').Memory, 2 * 1024 ** 3);
  assert.equal(hc('-m 6.5MiB').Memory, 6.5 * 1024 * 1024);
  throwsAt(() => translate('-m 1.5KiB'), MAIN, 1, /below the engine's minimum of 6 MiB/);
  throwsAt(() => translate('--memory-swap 1g'), MAIN, 1, /needs a memory limit/);
  throwsAt(() => translate('-m 64m --memory-swap 32m'), MAIN, 1, /at least the memory limit/);
  throwsAt(() => translate('-m 64m --memory-reservation 128m'), MAIN, 1, /must not exceed the memory limit/);
  assert.equal(hc('-m 1g --memory-swap 2g').MemorySwap, 2 * 1024 ** 3);
  assert.equal(hc('--cpus 0.000000001').NanoCpus, 1);
  throwsAt(() => translate('--cpus 0.0000000001'), MAIN, 1, /at most 9 decimals/);
  throwsAt(() => translate('-m 2X'), MAIN, 1, /invalid size "2X"/);
  throwsAt(() => translate('--pids-limit many'), MAIN, 1, /expected an integer/);
});

test('devices and gpus', () => {
  assert.deepEqual(hc('--device /dev/fuse --device=/dev/sdb:/dev/xvdb:r --device /dev/snd:rw').Devices, [
    { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
    { PathOnHost: '/dev/sdb', PathInContainer: '/dev/xvdb', CgroupPermissions: 'r' },
    { PathOnHost: '/dev/snd', PathInContainer: '/dev/snd', CgroupPermissions: 'rw' },
  ]);
  assert.deepEqual(hc('--gpus all').DeviceRequests, [{ Driver: '', Count: -1, DeviceIDs: null, Capabilities: [['gpu']], Options: {} }]);
  assert.deepEqual(hc(`--gpus '"device=0,2",capabilities=compute'`).DeviceRequests, [
    { Driver: '', Count: 0, DeviceIDs: ['0', '2'], Capabilities: [['compute', 'gpu']], Options: {} },
  ]);
  assert.equal(hc('--gpus 2').DeviceRequests?.[0].Count, 2);
  throwsAt(() => translate('--device /dev/x:/dev/y:rwx'), MAIN, 1, /permissions/);
});

test('capabilities: ALL is always dropped, whatever --cap-drop says; --cap-add adds back (normalized)', () => {
  assert.deepEqual(hc('--cap-add kill --cap-add=CAP_NET_BIND_SERVICE --cap-add sys_chroot'), { ...hc(''), CapAdd: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT'] });
  assert.deepEqual(hc('').CapDrop, ['ALL']);
  // An explicit list used to replace the drop of ALL, leaving the engine's default set (CapBnd no longer zero).
  const h = hc('--cap-drop NET_RAW --cap-drop mknod');
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.equal(h.CapAdd, undefined);
  assert.deepEqual(hc('--cap-drop=all --cap-add KILL').CapDrop, ['ALL']);
  // As the CLI: adding wins over dropping the same one.
  assert.deepEqual(hc('--cap-add KILL --cap-drop kill'), { ...hc(''), CapAdd: ['CAP_KILL'] });
  const opt = '\nALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true';
  assert.deepEqual(translate(`--cap-add CHOWN --cap-add all --cap-drop CHOWN${opt}`).create.HostConfig, { ...hc(''), CapAdd: ['ALL', 'CAP_CHOWN'], CapDrop: ['ALL'] });
  assert.deepEqual(translate(`--cap-drop NET_RAW${opt}`).create.HostConfig.CapDrop, ['ALL'], 'not even with the opt-in');
  assert.deepEqual(translate('--cap-drop NET_RAW').provenance['create.HostConfig.CapDrop'].file, '(built-in default)');
});

test('network, dns, add-host', () => {
  const p = translate('--network mynet --net=other --dns 192.0.2.1 --dns 2001:DB8:0:0:0:0:0:1 --add-host db:192.0.2.9 --add-host=v6=[::1]');
  assert.equal(p.create.HostConfig.NetworkMode, 'mynet');
  assert.deepEqual(p.extraNetworks, ['other']);
  assert.deepEqual(p.create.HostConfig.Dns, ['192.0.2.1', '2001:db8::1']);
  assert.deepEqual(p.create.HostConfig.ExtraHosts, ['db:192.0.2.9', 'v6:::1']);
  const both = translate('--network bridge --network mynet');
  assert.equal(both.create.HostConfig.NetworkMode, 'bridge');
  assert.deepEqual(both.extraNetworks, ['mynet']);
  throwsAt(() => translate('--network mynet --network bridge'), MAIN, 1, /cannot attach both "mynet" and "bridge".*bridge only comes first/);
  throwsAt(() => translate('--network none --network mynet'), MAIN, 1, /cannot attach both/);
  throwsAt(() => translate('--network mynet --network default'), MAIN, 1, /cannot attach both/);
  throwsAt(() => translate('--dns example.com'), MAIN, 1, /not an IP address/);
  throwsAt(() => translate('--add-host nocolon'), MAIN, 1, /bad format/);
});

test('read-only, tmpfs, ulimit, security-opt, group-add, init, restart, logging, oom, blkio', () => {
  const p = translate(
    '--read-only --tmpfs /run:size=64m --tmpfs=/tmp --ulimit nofile=1024:2048 --ulimit nproc=100 --ulimit nofile=10 ' +
      '--security-opt apparmor=docker-default --group-add video --init=false --restart on-failure:3 --log-driver json-file --log-opt max-size=10m ' +
      '--oom-score-adj 500 --blkio-weight 300 --device-read-bps /dev/sda:1mb --device-write-bps /dev/sda:2mb --device-read-iops /dev/sda:100 --device-write-iops /dev/sda:200',
  );
  const h = p.create.HostConfig;
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(h.Tmpfs, { '/run': 'size=64m', '/tmp': '' });
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 10 }, { Name: 'nproc', Soft: 100, Hard: 100 }]);
  assert.deepEqual(h.SecurityOpt, ['apparmor=docker-default', 'no-new-privileges:true']);
  assert.deepEqual(h.GroupAdd, ['video']);
  assert.equal(h.Init, false);
  assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.deepEqual(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m' } });
  assert.equal(h.OomScoreAdj, 500);
  assert.equal(h.BlkioWeight, 300);
  assert.deepEqual(h.BlkioDeviceReadBps, [{ Path: '/dev/sda', Rate: 1024 ** 2 }]);
  assert.deepEqual(h.BlkioDeviceWriteBps, [{ Path: '/dev/sda', Rate: 2 * 1024 ** 2 }]);
  assert.deepEqual(h.BlkioDeviceReadIOps, [{ Path: '/dev/sda', Rate: 100 }]);
  assert.deepEqual(h.BlkioDeviceWriteIOps, [{ Path: '/dev/sda', Rate: 200 }]);
  assert.deepEqual(hc('--security-opt no-new-privileges').SecurityOpt, ['no-new-privileges']);
  throwsAt(() => translate('--cap-add BOGUS'), MAIN, 1, /unknown capability "BOGUS"/);
  throwsAt(() => translate('--ulimit nofile=20:10'), MAIN, 1, /soft limit/);
  throwsAt(() => translate('--restart always:3'), MAIN, 1, /only allowed with on-failure/);
  throwsAt(() => translate('--oom-score-adj 2000'), MAIN, 1, /out of range/);
  throwsAt(() => translate('--read-only=maybe'), MAIN, 1, /true or false/);
});

test('-u/--user is refused always, even with the unsafe opt-in', () => {
  throwsAt(() => translate('-u 0'), MAIN, 1, /-u is not allowed: the container always runs as the logged-in user/);
  throwsAt(() => translate('--user=root'), MAIN, 1, /--user is not allowed/);
  throwsAt(() => translate('-m 1g -u0'), MAIN, 1, /-u is not allowed/);
  const opt = 'ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true\n';
  throwsAt(() => translate(`--user root\n${opt}`), MAIN, 1, /--user is not allowed/);
});

test('unknown flags, positional arguments, missing values and bad quoting name the flag, file and line', () => {
  const e = throwsAt(() => translate('-v /a:/b --publish 80:80'), MAIN, 1, /unsupported docker run flag --publish/);
  assert.equal(e.column, 27);
  throwsAt(() => translate('-p 80:80'), MAIN, 1, /unsupported docker run flag -p/);
  throwsAt(() => translate('-it'), MAIN, 1, /unsupported docker run flag -i/);
  throwsAt(() => translate('ubuntu'), MAIN, 1, /unexpected argument "ubuntu"/);
  throwsAt(() => translate('-m'), MAIN, 1, /flag -m needs a value/);
  throwsAt(() => translate('--memory'), MAIN, 1, /flag --memory needs a value/);
  throwsAt(() => translate('-e "A=b'), MAIN, 1, /unbalanced double quote/);
  throwsAt(() => translate("-e 'A=b"), MAIN, 1, /unbalanced single quote/);
  throwsAt(() => translate('--rm'), MAIN, 1, /--rm is not allowed/);
});

const UNSAFE: [string, RegExp][] = [
  ['--privileged', /--privileged is refused/],
  ['--pid=host', /--pid=host is refused/],
  ['--ipc host', /--ipc=host is refused/],
  ['--userns=host', /--userns=host/],
  ['--uts=host', /--uts=host/],
  ['--cgroupns=host', /--cgroupns=host/],
  ['--network host', /--network=host/],
  ['--cap-add=ALL', /--cap-add ALL is refused/],
  ['--cap-add sys_admin', /--cap-add sys_admin is refused/],
  ['--security-opt seccomp=unconfined', /seccomp=unconfined is refused/],
  ['--security-opt apparmor:unconfined', /apparmor:unconfined is refused/],
  ['--security-opt no-new-privileges=false', /no-new-privileges=false is refused/],
  ['--security-opt label=disable', /label=disable/],
  ['-v /var/run/docker.sock:/var/run/docker.sock', /container engine socket \/var\/run\/docker.sock/],
  ['-v /run/docker.sock:/s', /socket \/run\/docker.sock/],
  ['-v /var/run:/x:ro', /\/var\/run, which contains the container engine socket/],
  ['-v /run/:/x', /\/run, which contains/],
  ['-v //var//./run/../run/docker.sock:/x', /engine socket/],
  ['-v /:/host:ro', /host root directory/],
  ['--mount type=bind,src=/,dst=/host', /host root directory/],
  ['--mount type=volume,dst=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/var/run', /contains the container engine socket/],
  // What the outside review found passing (issue 12.5): the host root through /proc, the kernel, devices, runtimes.
  ['-v /proc/1/root:/host', /\/proc\/1\/root, inside the host's processes \/proc/],
  ['-v /proc:/p:ro', /the host's processes \/proc/],
  ['-v /srv/../proc/self/root:/host', /inside the host's processes/],
  ['-v /sys:/sys', /kernel's settings \/sys/],
  ['--mount type=bind,src=/sys/fs/cgroup,dst=/c', /inside the host kernel's settings/],
  ['-v /dev:/dev', /the host's devices \/dev/],
  ['-v /dev/sda:/disk', /inside the host's devices/],
  ['-v /var/lib/docker:/d', /Docker engine's state/],
  ['-v /var/lib:/d', /which contains the Docker engine's state/],
  ['-v /var/lib/containerd/io.containerd.content.v1.content:/c', /containerd's state/],
  ['-v /run/containerd:/c', /containerd's socket/],
  ['-v /run/docker/netns:/n', /container engine's runtime state/],
  ['-v /run/user/1001/docker.sock:/var/run/docker.sock', /users' runtime directories/],
  ['-v /run/user/$UID:/run/user/$UID', /users' runtime directories/],
  ['--cap-drop NET_RAW --cap-add NET_RAW', /--cap-add NET_RAW is refused: only KILL, NET_BIND_SERVICE, NET_BROADCAST, SYS_CHROOT, WAKE_ALARM can be added/],
  ['--cap-add CHOWN', /--cap-add CHOWN is refused/],
  ['--cap-add dac_override', /--cap-add dac_override is refused/],
  ['--cap-add SETUID', /--cap-add SETUID is refused/],
  ['--cap-add AUDIT_WRITE', /--cap-add AUDIT_WRITE is refused/],
  ['--mount type=volume,dst=/x,volume-opt=type=ext4,volume-opt=device=/dev/sda1', /local volume of type "ext4" on device "\/dev\/sda1"/],
  ['--mount type=volume,src=vol1,dst=/x,volume-driver=local,volume-opt=device=/dev/loop0', /local volume of type "" on device "\/dev\/loop0"/],
  ['--mount type=volume,dst=/x,volume-opt=type=overlay,volume-opt=o=lowerdir=/etc,volume-opt=device=overlay', /type "overlay".*lowerdir=\/etc/],
  ['--mount type=volume,dst=/x,volume-opt=type=none,volume-opt=o=rbind,volume-opt=device=/proc/1/root', /inside the host's processes/],
  ['--mount type=volume,dst=/x,volume-opt=type=nfs,volume-opt=device=/export', /type "nfs" on device "\/export"/],
  ['--security-opt label=type:spc_t', /label=type:spc_t is refused/],
  ['--security-opt label=level:s0:c100,c200', /label=level:s0:c100,c200 is refused/],
  ['--security-opt label:user:system_u', /label:user:system_u is refused/],
  ['--security-opt apparmor=unconfined-ish', /apparmor=unconfined-ish is refused/],
];

test('unsafe settings are refused without the opt-in, with a message naming the opt-in key', () => {
  for (const [flags, re] of UNSAFE) {
    const e = throwsAt(() => translate(flags), MAIN, 1, re);
    assert.match(e.message, /ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true/);
  }
});

test('with the opt-in in the same section (or at the top of dosh.conf) they are allowed and listed in unsafe', () => {
  const opt = 'ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true';
  for (const [flags] of UNSAFE) {
    const p = translate(`${flags}\n${opt}`);
    assert.equal(p.unsafe.length, 1, flags);
    assert.match(p.unsafe[0], /\/etc\/dosh.conf:1 \[\(top\)\]/);
  }
  const conf = `[user:root-ish]\n${opt}\nDOCKERPARAMETERS=--privileged --security-opt no-new-privileges=false\n[user:other]\nDOCKERPARAMETERS=--privileged\n`;
  throwsAt(() => translate(`-m 1g\n${conf}`), MAIN, 6, /--privileged is refused/);
  const p = resolveText(conf.slice(0, conf.indexOf('[user:other]')), user('root-ish'));
  assert.equal(p.create.HostConfig.Privileged, true);
  assert.deepEqual(p.create.HostConfig.SecurityOpt, ['no-new-privileges=false']);
  assert.equal(p.unsafe.length, 2);
});

test('a variable that expands to a dangerous path is refused at resolve time for that user', () => {
  const rootHome = { ...user('svc'), home: '/' };
  throwsAt(() => translate('-v $HOME:/home/$USER', rootHome), MAIN, 1, /host root directory/);
  assert.deepEqual(translate('-v $HOME:/home/$USER').create.HostConfig.Binds, ['/home/alice:/home/alice']);
});

test('SUPPORTED_FLAGS: every example translates, in --flag value, --flag=value and short forms', () => {
  const opt = '\nALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true';
  for (const f of SUPPORTED_FLAGS) {
    const q = (v: string) => `'${v}'`;
    if (f.boolean) {
      assert.doesNotThrow(() => translate(`${f.flag}${opt}`), f.flag);
      assert.doesNotThrow(() => translate(`${f.flag}=${f.example}${opt}`), f.flag);
      continue;
    }
    const a = translate(`${f.flag} ${q(f.example)}${opt}`).create;
    assert.deepEqual(translate(`${f.flag}=${q(f.example)}${opt}`).create, a, f.flag);
    if (f.short) assert.deepEqual(translate(`${f.short} ${q(f.example)}${opt}`).create, a, f.short);
    for (const al of f.aliases) assert.deepEqual(translate(`${al} ${q(f.example)}${opt}`).create, a, al);
  }
  assert.ok(SUPPORTED_FLAGS.length >= 40);
});

test('what stays allowed without the opt-in: ordinary host paths, /dev/null, memory and network volumes, the default profiles', () => {
  const fine = [
    '-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /etc:/host-etc:ro',
    '-v /dev/null:/etc/motd',
    '-v /var/lib/mydata:/d -v /srv:/srv -v /run-ish:/r -v /devices:/d2 -v /processes:/p',
    '--mount type=volume,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=64m',
    '--mount type=volume,dst=/n,volume-opt=type=nfs,volume-opt=o=addr=192.0.2.1,volume-opt=device=:/export/home',
    '--mount type=volume,dst=/c,volume-opt=type=cifs,volume-opt=device=//fileserver/share',
    '--mount type=volume,dst=/b,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/srv/shared',
    '--mount type=volume,src=data,dst=/v,volume-driver=some-plugin,volume-opt=mountpoint=/',
    '--security-opt apparmor=docker-default --security-opt seccomp=builtin --security-opt no-new-privileges',
    '--cap-add KILL --cap-add NET_BIND_SERVICE --cap-add NET_BROADCAST --cap-add SYS_CHROOT --cap-add WAKE_ALARM --cap-drop ALL',
  ];
  for (const f of fine) assert.deepEqual(translate(f).unsafe, [], f);
  throwsAt(() => translate('--mount type=volume,src=data,dst=/v,volume-subpath=../../etc'), MAIN, 1, /volume-subpath must be a relative path inside the volume/);
  throwsAt(() => translate('--mount type=volume,src=data,dst=/v,volume-subpath=/etc'), MAIN, 1, /volume-subpath must be a relative path/);
});
