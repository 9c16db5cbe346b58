// Bind sources checked on the host: where root's resolution leads, and who could change it before the engine mounts.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { memoryIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import { resolvePolicy } from './resolve.ts';
import { hostPathProblem, resolveOnHost, type HostFs, type HostStat, type PolicyHost } from './host-path.ts';
import { MAIN, throwsAt, user } from './testkit.ts';

type Node = HostStat & { target?: string };

/** A host file system: directories root's 0755 unless listed; `symlinks` map a path to its target. */
function fakeHost(nodes: Record<string, Partial<Node>>): HostFs {
  const all = new Map<string, Node>();
  const put = (p: string, n: Partial<Node>) => all.set(p, { uid: 0, mode: 0o755, kind: 'dir', ...n });
  put('/', {});
  for (const [p, n] of Object.entries(nodes)) {
    // Every parent exists as root's directory unless given.
    for (let d = p.slice(0, p.lastIndexOf('/')) || '/'; d !== '/' && !all.has(d); d = d.slice(0, d.lastIndexOf('/')) || '/') put(d, {});
    put(p, n.target !== undefined ? { kind: 'symlink', mode: 0o777, ...n } : n);
  }
  return {
    lstat: (p) => all.get(p),
    readlink: (p) => all.get(p)!.target!,
  };
}

const ANN = { ...user('ann'), uid: 1001, gid: 1001 };

const HOST = fakeHost({
  '/home/ann': { uid: 1001, mode: 0o750 },
  '/home/ann/x': { uid: 1001, target: '/etc' },
  '/home/ann/data': { uid: 1001 },
  '/srv/data': {},
  '/srv/link': { target: '/proc/1/root' },
  '/srv/rel': { target: '../proc/1' },
  '/srv/ssl': { target: '/etc/ssl' },
  '/srv/group-writable': { mode: 0o775 },
  '/srv/group-writable/x': {},
  '/srv/bob': { uid: 1002 },
  '/srv/loop': { target: '/srv/loop' },
  '/srv/engine/docker.sock': { kind: 'other' },
  '/tmp': { mode: 0o1777 },
  '/tmp/rootdir': {},
  '/tmp/annsdir': { uid: 1001 },
  '/tmp/annslink': { uid: 1001, target: '/srv/data' },
  '/etc/ssl': {},
  '/proc/1/root': { target: '/' },
});

test('resolveOnHost follows symlinks as root does, .. after them, and appends what does not exist yet', () => {
  assert.deepEqual(resolveOnHost('/srv/link', HOST), { resolved: '/', writable: undefined, through: ['/srv', '/srv/link', '/proc', '/proc/1', '/proc/1/root'] });
  assert.equal(resolveOnHost('/srv/ssl/../passwd', HOST).resolved, '/etc/passwd', '.. of the symlink target, not of /srv');
  assert.equal(resolveOnHost('/srv/rel/root', HOST).resolved, '/', 'a relative target, then /proc/1/root');
  assert.deepEqual(resolveOnHost('/srv/new/a/b', HOST), { resolved: '/srv/new/a/b', writable: undefined, through: ['/srv'] });
  assert.match(resolveOnHost('/home/ann/x', HOST).writable ?? '', /\/home\/ann \(owned by uid 1001\)/);
  assert.equal(resolveOnHost('/home/ann', HOST).writable, undefined, 'her home itself may be hers: a bind shows it, it follows nothing inside');
  assert.throws(() => resolveOnHost('/srv/loop', HOST), /too many levels of symbolic links/);
});

test('hostPathProblem: runtime paths as written and once resolved; paths through a directory another account can change', () => {
  const host: PolicyHost = { fs: HOST, enginePaths: ['/srv/engine/docker.sock'] };
  const ok = ['/srv/data', '/home/ann', '/srv/new/dir', '/etc/passwd', '/srv/ssl', '/tmp', '/tmp/rootdir', '/dev/null'];
  for (const p of ok) assert.equal(hostPathProblem(p, host), null, p);
  const bad: [string, RegExp][] = [
    ['/srv/link', /\/srv\/link, which resolves to the host root directory/],
    ['/srv/rel/root', /resolves to the host root directory/],
    // Leads to "/etc" by readlink, but into whatever mount namespace pid 1 (or any pid) has: refused on the way.
    ['/srv/rel/root/etc', /\/srv\/rel\/root\/etc, which resolves through the host's processes \/proc/],
    ['/srv/ssl/../../proc/1/root', /inside the host's processes/],
    ['/home/ann/x', /runs through \/home\/ann \(owned by uid 1001\)/],
    ['/home/ann/data', /runs through \/home\/ann/],
    ['/srv/bob/shared', /runs through \/srv\/bob \(owned by uid 1002\)/],
    ['/srv/group-writable/x', /\/srv\/group-writable \(writable by its group\)/],
    ['/tmp/shared', /\/tmp \(writable by everyone, and the entry is not root's\)/],
    ['/tmp/annsdir', /\/tmp \(writable by everyone/],
    ['/tmp/annslink', /\/tmp \(writable by everyone/],
    ['/srv/engine', /contains the container engine socket \/srv\/engine\/docker.sock/],
    ['/srv/loop', /cannot be checked: too many levels/],
  ];
  for (const [p, re] of bad) assert.match(hostPathProblem(p, host) ?? 'allowed', re, p);
  assert.equal(hostPathProblem('/srv/link', { enginePaths: [] }), null, 'without a file system, only the path as written');
});

test('at her login: a bind source through her own directory is refused, with the file and line', () => {
  const conf = 'DOCKERPARAMETERS=-v /home/$USER:/home/$USER\n[user:ann]\nDOCKERPARAMETERS=-v /home/$USER/x:/y\n';
  const p = loadLegacyPolicy(MAIN, { ...memoryIO({ [MAIN]: conf }), host: { fs: HOST } });
  throwsAt(() => resolvePolicy(p, ANN, { fs: HOST }), MAIN, 3, /-v mounting \/home\/ann\/x, whose path runs through \/home\/ann \(owned by uid 1001\).*ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK/);
  assert.deepEqual(resolvePolicy(p, { ...ANN, name: 'bob', home: '/home/bob' }, { fs: HOST }).create.HostConfig.Binds, ['/home/bob:/home/bob']);
  // The opt-in allows it, and says so at each login.
  const opted = loadLegacyPolicy(MAIN, { ...memoryIO({ [MAIN]: conf.replace('[user:ann]\n', '[user:ann]\nALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true\n') }), host: { fs: HOST } });
  assert.match(resolvePolicy(opted, ANN, { fs: HOST }).unsafe.join(), /\/home\/ann\/x/);
});

test('at load time: a source without variables is checked on the host, and the whole policy is rejected', () => {
  const io = (conf: string) => ({ ...memoryIO({ [MAIN]: conf }), host: { fs: HOST } });
  throwsAt(() => loadLegacyPolicy(MAIN, io('CONTAINERIMAGE=alpine\nDOCKERPARAMETERS=-v /srv/link:/host\n')), MAIN, 2, /resolves to the host root directory/);
  throwsAt(() => loadLegacyPolicy(MAIN, io('DOCKERPARAMETERS=--mount type=bind,src=/tmp/shared,dst=/s\n')), MAIN, 1, /\/tmp \(writable by everyone/);
  // With variables, only the path as written at load time (the stand-in user's home is not on this host).
  assert.doesNotThrow(() => loadLegacyPolicy(MAIN, io('DOCKERPARAMETERS=-v /home/$USER/x:/y\n')));
});
