// Group names with blanks, as SSSD and Active Directory have them ("domain users"): a real group of that kind in
// /etc/group (groupadd refuses such names, so the lines are written directly, with a backup, and removed after),
// resolved by doshd through NSS, matched by [group:NAME] sections, and given to her container with the later groups.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { addUser, BUSYBOX, Doshd, endSuite, sh, su } from './harness.ts';

const U = 'dtg-ann';
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
  await endSuite(doshd, [U]);
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
