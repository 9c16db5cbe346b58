// File transfers into images with and without their own programs: what doshd plans (her image's program, the
// toolbox's, her shell) or why it refuses, against the fake engine's view of her container.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../test/fakes/world.ts';
import type { ToolboxManifest } from './toolbox.ts';

const SFTP = '/usr/lib/openssh/sftp-server';
const BOX: ToolboxManifest = { version: 'v1', builtAt: '', loader: 'ld.so', argv0: true, programs: { 'sftp-server': { from: SFTP }, scp: { from: '/usr/bin/scp' }, rsync: { from: '/usr/bin/rsync' } }, missing: {} };
const PREFIX = (tool: string) => ['/.dosh/toolbox/v1/lib/ld.so', '--inhibit-cache', '--library-path', '/.dosh/toolbox/v1/lib', '--argv0', tool, `/.dosh/toolbox/v1/bin/${tool}`];
const PASSWD = { '/etc/passwd': 'root:x:0:0::/root:/bin/sh\nann:x:1001:1001::/home/ann:/bin/sh\n' };

function world(toolbox: ToolboxManifest | null = BOX): World {
  const w = new World({ toolboxDir: '/var/lib/dosh/toolbox' });
  w.toolbox = toolbox ?? undefined;
  w.engine.addFiles('busybox:latest', ['/bin/sh'], PASSWD);
  return w;
}

async function admit(w: World, command: string) {
  const s = w.login('ann', { command, login: false });
  await w.controller.syncSession(s.metadata.name);
  return w.get(s.metadata.name);
}

const execLine = (w: World) => w.engine.actions.filter((a) => a.startsWith('exec ')).at(-1);

test('an image without the program: the toolbox copy runs, through its loader, with the words as a shell splits them', async () => {
  const w = world();
  const s = await admit(w, "rsync --server -vlogDtpre.iLsfxCIvu . 'my tree/'");
  assert.equal(s.status.phase, 'Ready', s.status.message);
  assert.deepEqual(s.status.exec?.tool, { name: 'rsync', source: 'toolbox' });
  assert.deepEqual(s.status.exec?.shell, PREFIX('rsync'));
  assert.equal(execLine(w), `exec c100 1001:1001: ${[...PREFIX('rsync'), '--server', '-vlogDtpre.iLsfxCIvu', '.', 'my tree/'].join(' ')}`);
  assert.ok(w.engine.actions.includes('stat /usr/bin/rsync'), 'looked for it in her PATH first');
  assert.equal(s.status.notice, undefined);
  // The container mounts the toolbox, read-only, where the plan expects it.
  const mounts = w.engine.containers.get('dosh-ann')!.body!.HostConfig!.Mounts!;
  assert.deepEqual(mounts.at(-1), { Type: 'bind', Source: '/var/lib/dosh/toolbox', Target: '/.dosh/toolbox', ReadOnly: true });
});

test("the image's own program wins: found where sshd names it, or where her distribution keeps it, or in her PATH", async () => {
  const w = world();
  w.engine.addFiles('busybox:latest', ['/usr/lib/ssh/sftp-server', '/usr/bin/scp']);
  let s = await admit(w, SFTP);
  assert.deepEqual(s.status.exec?.tool, { name: 'sftp-server', source: 'image' });
  assert.deepEqual(s.status.exec?.shell, ['/usr/lib/ssh/sftp-server']);
  s = await admit(w, 'scp -t -- up.bin');
  assert.deepEqual(s.status.exec?.shell, ['/usr/bin/scp']);
  assert.match(execLine(w) ?? '', /: \/usr\/bin\/scp -t -- up\.bin$/);
});

test('scp -O with a wildcard needs a shell: her shell runs it when the image has scp; without scp, a refusal that says so', async () => {
  const w = world();
  w.engine.addFiles('busybox:latest', ['/usr/bin/scp']);
  let s = await admit(w, 'scp -f *.txt');
  assert.equal(s.status.exec?.tool, undefined);
  assert.deepEqual(s.status.exec?.shell, ['/bin/sh']);
  const w2 = world();
  s = await admit(w2, 'scp -f *.txt');
  assert.equal(s.status.phase, 'Failed');
  assert.equal(s.status.reason, 'TransferUnavailable');
  assert.match(s.status.message ?? '', /busybox:latest has no scp .*without a shell.*a wildcard.*scp without -O/);
  assert.equal(execLine(w2), undefined, 'no exec made');
});

test('nothing to serve it: refused with what is missing, not "Connection closed"', async () => {
  let w = world({ ...BOX, programs: {}, missing: { 'sftp-server': 'not installed on this host (looked for /usr/lib/openssh/sftp-server)' } });
  let s = await admit(w, SFTP);
  assert.equal(s.status.reason, 'TransferUnavailable');
  assert.match(s.status.message ?? '', /has no SFTP server .*this host has none to lend: not installed on this host/);
  assert.ok(w.events.of(`Session/${s.metadata.name}`).some((e) => /Refused: .*TransferUnavailable/.test(e)));
  w = new World();
  w.engine.addFiles('busybox:latest', ['/bin/sh'], PASSWD);
  s = await admit(w, 'rsync --server . x');
  assert.match(s.status.message ?? '', /has no rsync, and doshd runs without its toolbox/);
  w = world(null);
  s = await admit(w, 'rsync --server . x');
  assert.match(s.status.message ?? '', /could not build its toolbox/);
});

test('scp and sftp-server without her account in the container: she is told why before they stop', async () => {
  const w = world();
  w.engine.files.get('busybox:latest')!.delete('/etc/passwd');
  const s = await admit(w, SFTP);
  assert.equal(s.status.phase, 'Ready');
  assert.match(s.status.notice ?? '', /\/etc\/passwd has no entry for ann \(uid 1001\).*-v \/etc\/passwd:\/etc\/passwd:ro/);
  assert.equal((await admit(w, 'rsync --server . x')).status.notice, undefined, 'rsync needs no account');
});

test('anything else is her shell\'s, as before: commands, interactive logins, extra arguments after -c', async () => {
  const w = world();
  for (const [command, args] of [['ls -l', []], ['rsync -a x y', []], [SFTP, ['extra']]] as [string, string[]][]) {
    const s = w.login('ann', { command, login: false, args });
    await w.controller.syncSession(s.metadata.name);
    assert.equal(w.get(s.metadata.name).status.exec?.tool, undefined, command);
  }
  assert.ok(!w.engine.actions.some((a) => a.startsWith('stat ')), 'no lookups for what is not a transfer');
});
