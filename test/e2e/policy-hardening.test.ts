// What an outside review found (issue 12), against real logins, NSS and the engine:
// - group names with blanks, as SSSD and Active Directory have them ("domain users"): a real group of that kind in
//   /etc/group (groupadd refuses such names, so the lines are written directly, with a backup, and removed after),
//   resolved by doshd through NSS, matched by [group:NAME] sections, and given to her container with the later groups;
// - an explicit --cap-drop no longer keeps the engine's default capabilities (CapBnd holds only what was added);
// - a bind source through a directory the user owns (her symlink to /etc) refuses her login instead of mounting /etc.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { addUser, BUSYBOX, Doshd, endSuite, sh, su } from './harness.ts';

const U = 'dtg-ann';
const CAPS = 'dth-val';
const LINKER = 'dth-wes';
const SPACED = 'dtg domain users';
const LATER = 'dtg-restricted';
const BACKUP = '/etc/group.dtg-backup';
let gids: [number, number];
let doshd: Doshd | undefined;

const POLICY = `CONTAINERIMAGE=${BUSYBOX}
CONTAINERCOMMAND=/bin/sh
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro
IDLETIMEOUT=0
[group:${SPACED}]
DOCKERPARAMETERS=-m 64m
[group:${LATER}]
DOCKERPARAMETERS=--pids-limit 99
[user:${CAPS}]
DOCKERPARAMETERS=--cap-drop NET_RAW --cap-add NET_BIND_SERVICE
[user:${LINKER}]
DOCKERPARAMETERS=-v /home/$USER/x:/y
`;

/** Two free gids next to each other, above what useradd hands out. */
function freeGids(): [number, number] {
  const used = new Set(readFileSync('/etc/group', 'utf8').split('\n').map((l) => Number(l.split(':')[2])));
  for (let g = 61000; g < 61990; g++) if (!used.has(g) && !used.has(g + 1)) return [g, g + 1];
  throw new Error('no free gid in 61000-61990');
}

/** /etc/group without the lines this test wrote, replaced atomically (same mode), so NSS never reads half a file. */
function removeOurLines(): void {
  const text = readFileSync('/etc/group', 'utf8');
  const kept = text.split('\n').filter((l) => !l.startsWith(`${SPACED}:`) && !l.startsWith(`${LATER}:`));
  writeFileSync('/etc/group.dtg-new', kept.join('\n'), { mode: 0o644 });
  renameSync('/etc/group.dtg-new', '/etc/group');
}

before(async () => {
  addUser(U);
  addUser(CAPS);
  addUser(LINKER);
  // Her own symlink in her own home, as she could make it: to /etc.
  sh(`ln -sfn /etc /home/${LINKER}/x && chown -h ${LINKER} /home/${LINKER}/x`);
  copyFileSync('/etc/group', BACKUP);
  gids = freeGids();
  // The blank-named group first: `id` lists groups in file order, and the old parser stopped at the first blank.
  const text = readFileSync('/etc/group', 'utf8');
  writeFileSync('/etc/group.dtg-new', `${text.endsWith('\n') ? text : text + '\n'}${SPACED}:x:${gids[0]}:${U}\n${LATER}:x:${gids[1]}:${U}\n`, { mode: 0o644 });
  renameSync('/etc/group.dtg-new', '/etc/group');
  doshd = await new Doshd(POLICY).start();
});

after(async () => {
  // Our lines go before userdel edits the member lists; the backup stays only if that failed.
  removeOurLines();
  rmSync(BACKUP, { force: true });
  await endSuite(doshd, [U, CAPS, LINKER]);
});

test('NSS gives the real group with a blank, and the later one, by number', () => {
  assert.match(sh(`getent initgroups ${U}`), new RegExp(`\\b${gids[0]} ${gids[1]}\\b`));
  assert.equal(sh(`getent group ${gids[0]}`).split(':')[0], SPACED);
});

test('[group:NAME] with a blank and every later group apply; her container has both groups', async () => {
  const r = await su(U, 'id -G');
  assert.equal(r.code, 0, r.stderr);
  const inside = r.stdout.toString().trim().split(' ').map(Number);
  assert.ok(inside.includes(gids[0]) && inside.includes(gids[1]), `gids ${gids} in ${inside}`);
  assert.equal(sh(`docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' dosh-${U}`).trim(), `${64 << 20} 99`);
});

test('--cap-drop NET_RAW keeps every capability dropped: the bounding set holds only what was added', async () => {
  const r = await su(CAPS, 'grep -E "^(CapEff|CapBnd)" /proc/self/status');
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /CapEff:\s+0000000000000000/);
  // CAP_NET_BIND_SERVICE is bit 10; with the old translation this was the engine's default set without NET_RAW.
  assert.match(out, /CapBnd:\s+0000000000000400/);
  assert.equal(sh(`docker inspect -f '{{json .HostConfig.CapDrop}}' dosh-${CAPS}`).trim(), '["ALL"]');
});

test('a bind source through her own directory (her symlink to /etc) refuses the login; nothing is mounted', async () => {
  const r = await su(LINKER, 'ls /y/shadow');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`/home/${LINKER}/x, whose path runs through /home/${LINKER} \\(owned by uid \\d+\\)`), r.stderr);
  assert.equal(sh(`docker ps -aq --filter name=^dosh-${LINKER}$`).trim(), '', 'no container was made');
});
