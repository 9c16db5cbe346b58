// Every example configuration of the original DoSH documentation (reference/dosh-seed.txt)
// parses and resolves as that documentation describes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveText, user } from './testkit.ts';

const BASE = `CONTAINERIMAGE=ubuntu:latest
CONTAINERCOMMAND=bash
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /home/$USER:/home/$USER -w /home/$USER
`;
const baseBinds = (n: string) => ['/etc/passwd:/etc/passwd:ro', '/etc/group:/etc/group:ro', `/home/${n}:/home/${n}`];

test('simple configuration: ubuntu, bash, passwd/group read-only, home mounted and the working directory', () => {
  const p = resolveText(BASE, user('myuser'));
  assert.equal(p.image, 'ubuntu:latest');
  assert.deepEqual(p.command, ['bash']);
  assert.deepEqual(p.create.HostConfig.Binds, baseBinds('myuser'));
  assert.equal(p.create.WorkingDir, '/home/myuser');
});

test('[user:user1] gets CentOS 7, everyone else Ubuntu', () => {
  const conf = BASE + '[user:user1]\nCONTAINERIMAGE=centos:7\n';
  assert.equal(resolveText(conf, user('user1')).image, 'centos:7');
  assert.equal(resolveText(conf, user('user2')).image, 'ubuntu:latest');
  // The section changes only the image: user1 keeps the default parameters.
  assert.deepEqual(resolveText(conf, user('user1')).create.HostConfig.Binds, baseBinds('user1'));
});

test('[group:advanced] gets the image with a compiler', () => {
  const conf = BASE + '[group:advanced]\nCONTAINERIMAGE=ubuntu:withcompiler\nCONTAINERCOMMAND=bash\n';
  const dev = resolveText(conf, user('dev', ['advanced']));
  assert.equal(dev.image, 'ubuntu:withcompiler');
  assert.deepEqual(dev.command, ['bash']);
  assert.equal(resolveText(conf, user('plain', ['users'])).image, 'ubuntu:latest');
});

test('[user:abuser] INHERIT=true DOCKERPARAMETERS=-m 2G limits memory and keeps the default mounts', () => {
  const conf = BASE + '[user:abuser]\nINHERIT=true\nDOCKERPARAMETERS=-m 2G\n';
  const p = resolveText(conf, user('abuser'));
  assert.equal(p.create.HostConfig.Memory, 2 * 1024 ** 3);
  assert.deepEqual(p.create.HostConfig.Binds, baseBinds('abuser'));
  assert.equal(resolveText(conf, user('other')).create.HostConfig.Memory, undefined);
});

test('[user:gpuuser] gets the nvidia devices', () => {
  const conf = BASE + '[user:gpuuser]\nINHERIT=true\nDOCKERPARAMETERS=--device=/dev/nvidiactl --device=/dev/nvidia-uvm --device=/dev/nvidia0\n';
  const p = resolveText(conf, user('gpuuser'));
  assert.deepEqual(p.create.HostConfig.Devices, ['/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia0'].map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm' })));
  assert.deepEqual(p.create.HostConfig.Binds, baseBinds('gpuuser'));
  assert.equal(resolveText(conf, user('other')).create.HostConfig.Devices, undefined);
});

test('[group:datanet] runs the scripts of /etc/dosh/scripts/net', () => {
  const conf = BASE + '[group:datanet]\nSCRIPTSFOLDER=/etc/dosh/scripts/net\nRUNSCRIPTS=true\n';
  const p = resolveText(conf, user('analyst', ['datanet']));
  assert.equal(p.runScripts, true);
  assert.equal(p.scriptsFolder, '/etc/dosh/scripts/net');
  const q = resolveText(conf, user('other'));
  assert.equal(q.runScripts, false);
});

test('the capabilities example of the appendix (--cap-drop=all, -v /tmp:/tmp) is accepted', () => {
  const p = resolveText('DOCKERPARAMETERS=--cap-drop=all -v /etc/passwd:/etc/passwd:ro -v /tmp:/tmp -w /home/$USER\n', user('myuser'));
  assert.deepEqual(p.create.HostConfig.CapDrop, ['ALL']);
  assert.deepEqual(p.create.HostConfig.Binds, ['/etc/passwd:/etc/passwd:ro', '/tmp:/tmp']);
});

test("the original's default dosh.conf example section parses", () => {
  const conf = `CONF=/etc/dosh/conf.d/*
CONTAINERIMAGE=ubuntu:latest
CONTAINERCOMMAND=bash
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /home/$USER:/home/$USER -w /home/$USER
[user:doshuser]
INHERIT=true
CONTAINERIMAGE=ubuntu:14.04
CONTAINERCOMMAND=/bin/bash
DOCKERPARAMETERS=--device=/dev/nvidiactl --device=/dev/nvidia-uvm --device=/dev/nvidia0
`;
  const p = resolveText(conf, user('doshuser'));
  assert.equal(p.image, 'ubuntu:14.04');
  assert.deepEqual(p.command, ['/bin/bash']);
  assert.equal(p.create.HostConfig.Devices?.length, 3);
});
