// What policy check says about a valid policy's images: against images made of path lists, no engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ToolboxManifest } from '../../api/toolbox.ts';
import { imageUses } from '../../policy/images.ts';
import { loadText, MAIN } from '../../policy/testkit.ts';
import { imageWarnings, type LookIntoImage } from './policy-images.ts';

const IMAGES: Record<string, string[]> = {
  'debian:12': ['/bin/bash', '/bin/sh', '/usr/lib/openssh/sftp-server', '/usr/bin/scp', '/usr/bin/rsync'],
  'busybox:latest': ['/bin/sh'],
  'distroless:base': ['/pause'],
};
const look: LookIntoImage = async (image, fn) => {
  const files = IMAGES[image];
  if (!files) return undefined;
  return fn({ path: ['/usr/bin', '/bin'], executable: async (paths) => paths.find((p) => files.includes(p)) });
};
const BOX: ToolboxManifest = { version: 'v', builtAt: '', argv0: true, programs: { 'sftp-server': { from: 'x' }, scp: { from: 'x' } }, missing: { rsync: 'not installed on this host' } };

test('each image with the shell it runs, where it is set; the built-in default when nothing sets one for everyone', () => {
  const p = loadText('CONTAINERCOMMAND=/bin/bash\n[group:lab]\nCONTAINERIMAGE=debian:12\n[user:dora]\nCONTAINERIMAGE=distroless:base\nCONTAINERCOMMAND=/pause\n[user:x]\nCONTAINERIMAGE=img-$USER\n');
  const { uses, variable } = imageUses(p);
  assert.deepEqual(uses.map((u) => [u.image, u.shell, u.origin.line]), [['debian:12', '/bin/bash', 3], ['distroless:base', '/pause', 5], ['alpine', '/bin/bash', 1]]);
  assert.deepEqual(variable.map((o) => o.line), [8]);
  assert.deepEqual(imageUses(loadText('CONTAINERIMAGE=busybox:latest\n')).uses.map((u) => u.image), ['busybox:latest']);
});

test('warnings: an image not here, one without its command, a transfer neither the image nor the toolbox serves', async () => {
  const p = loadText('CONTAINERIMAGE=busybox:latest\n[user:a]\nCONTAINERIMAGE=debian:12\nCONTAINERCOMMAND=/bin/bash\n[user:b]\nCONTAINERIMAGE=distroless:base\n[user:c]\nCONTAINERIMAGE=gone:1\n');
  const w = await imageWarnings(p, look, { dir: '/var/lib/dosh/toolbox', manifest: BOX });
  assert.deepEqual(w, [
    `${MAIN}:1: image busybox:latest has no rsync, and DoSH's toolbox lacks it too (not installed on this host): rsync into it will be refused`,
    `${MAIN}:6: image distroless:base has no /bin/sh (the command the policy runs in it): its containers cannot start, and every login given it fails`,
    `${MAIN}:6: image distroless:base has no rsync, and DoSH's toolbox lacks it too (not installed on this host): rsync into it will be refused`,
    `${MAIN}:8: image gone:1 is not on this host: logins given it are refused (ImageNotFound) until it is pulled or loaded`,
  ]);
  const none = await imageWarnings(loadText('CONTAINERIMAGE=busybox:latest\n'), look, { dir: '/tb', manifest: undefined });
  assert.equal(none.length, 3);
  assert.match(none[0], /busybox:latest has no sftp-server, and doshd has no toolbox at \/tb .*sftp and scp into it will be refused/);
});
