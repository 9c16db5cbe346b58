// The choice of what a login's cgroup takes in, against a fake /proc and a fake cgroup hierarchy (plain maps).
// The real cgroup.kill is exercised by test/e2e/lifecycle.test.ts against the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeProc } from '../test/fakes/proc.ts';
import { cgroup2Mount, cgroupV2Path, SessionCgroups, type CgroupFs } from './cgroup.ts';

const MOUNTINFO = '25 30 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n24 30 0:22 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n';
const C = '/docker/abc';

class FakeCgroups implements CgroupFs {
  files = new Map<string, string>();
  dirs = new Set<string>();
  writes: string[] = [];
  constructor(
    readonly proc: FakeProc,
    mountinfo = MOUNTINFO,
  ) {
    this.files.set('/proc/self/mountinfo', mountinfo);
    this.dirs.add(`/sys/fs/cgroup/unified${C}`);
    this.files.set(`/sys/fs/cgroup/unified${C}/cgroup.kill`, '');
  }
  place(pid: number, cg: string) {
    this.files.set(`/proc/${pid}/cgroup`, `4:pids:${cg}\n0::${cg}\n`);
  }
  read(f: string) {
    return this.files.get(f);
  }
  exists(f: string) {
    return this.files.has(f) || this.dirs.has(f);
  }
  write(f: string, data: string) {
    this.writes.push(`${f} ${data}`);
    const procs = /^\/sys\/fs\/cgroup\/unified(.*)\/cgroup\.procs$/.exec(f);
    if (procs) this.place(Number(data), procs[1]);
  }
  mkdir(d: string) {
    if (this.dirs.has(d)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    this.dirs.add(d);
  }
  rmdir(d: string) {
    this.dirs.delete(d);
  }
}

function world() {
  const proc = new FakeProc();
  const fs = new FakeCgroups(proc);
  const run = (pid: number, start: string, ppid: number, session: number, cgroup = C) => {
    proc.add(pid, start, ppid, session);
    fs.place(pid, cgroup);
  };
  // Her container: init (pid 100, session 100) and a worker it started later; an older process of hers.
  run(100, '500', 90, 100);
  run(101, '2000', 100, 100);
  run(102, '900', 100, 102);
  // The login: exec 200 (session 200), its child, an escapee reparented to init in a new session, another container's process.
  run(200, '1000', 80, 200);
  run(201, '1001', 200, 200);
  run(202, '1002', 100, 202);
  run(300, '1003', 1, 300, '/docker/other');
  return { proc, fs, cg: new SessionCgroups(fs, proc) };
}

test('the mount point of cgroup v2 and a process\'s v2 path are read from mountinfo and /proc/PID/cgroup', () => {
  assert.equal(cgroup2Mount(MOUNTINFO), '/sys/fs/cgroup/unified');
  assert.equal(cgroup2Mount('24 30 0:22 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n'), undefined);
  assert.equal(cgroupV2Path('1:cpu:/x\n0::/system.slice/docker-1.scope\n'), '/system.slice/docker-1.scope');
  assert.equal(cgroupV2Path('0::/a/../b\n'), undefined);
  assert.equal(cgroupV2Path('1:cpu:/x\n'), undefined);
});

test('a login\'s cgroup takes its exec, its descendants and what escaped it since it started; not her init, what init started, older processes or other containers', () => {
  const { fs, cg } = world();
  const dir = cg.enclose('ann-1', { pid: 200, start: '1000' }, { pid: 100 });
  assert.equal(dir, `/sys/fs/cgroup/unified${C}/dosh-ann-1`);
  const moved = fs.writes.map((w) => w.split(' ')[1]).sort();
  assert.deepEqual(moved, ['200', '201', '202']);
  assert.ok(fs.writes.every((w) => w.startsWith(`${dir}/cgroup.procs `)));
});

test('a child forked while the login is being moved, left behind in her container\'s cgroup, is taken in by the next pass', () => {
  const { proc, fs, cg } = world();
  const write = fs.write.bind(fs);
  let forked = false;
  fs.write = (f: string, data: string) => {
    // The login forks after the pass looked at /proc and before its exec was moved: the child is in C.
    if (!forked && data === '200') {
      forked = true;
      proc.add(203, '1004', 200, 200);
      fs.place(203, C);
    }
    write(f, data);
  };
  const dir = cg.enclose('ann-1', { pid: 200, start: '1000' }, { pid: 100 });
  assert.equal(fs.read('/proc/203/cgroup'), `4:pids:${C}/dosh-ann-1\n0::${C}/dosh-ann-1\n`);
  assert.deepEqual(fs.writes.map((w) => w.split(' ')[1]).sort(), ['200', '201', '202', '203']);
  assert.ok(fs.writes.every((w) => w.startsWith(`${dir}/cgroup.procs `)));
});

test('a second login started at the same moment takes its own exec back from the first\'s cgroup', () => {
  const { proc, fs, cg } = world();
  proc.add(210, '1010', 80, 210);
  fs.place(210, C);
  cg.enclose('ann-1', { pid: 200, start: '1000' }, { pid: 100 });
  assert.equal(fs.read('/proc/210/cgroup')?.includes('dosh-ann-1'), true, 'the first took it in');
  fs.writes = [];
  assert.equal(cg.enclose('ann-2', { pid: 210, start: '1010' }, { pid: 100 }), `/sys/fs/cgroup/unified${C}/dosh-ann-2`);
  assert.deepEqual(fs.writes, [`/sys/fs/cgroup/unified${C}/dosh-ann-2/cgroup.procs 210`]);
});

test('nothing is done without cgroup v2, without cgroup.kill, for an exec gone or reused, or for a name that is not a cgroup name', () => {
  const proc = new FakeProc();
  const v1 = new FakeCgroups(proc, '24 30 0:22 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n');
  proc.add(200, '1000', 80, 200);
  v1.place(200, C);
  assert.equal(new SessionCgroups(v1, proc).enclose('ann-1', { pid: 200, start: '1000' }, { pid: 100 }), undefined);
  assert.deepEqual(v1.writes, []);

  const { fs, cg } = world();
  fs.files.delete(`/sys/fs/cgroup/unified${C}/cgroup.kill`);
  assert.equal(cg.enclose('ann-1', { pid: 200, start: '1000' }, { pid: 100 }), undefined);
  const w2 = world();
  assert.equal(w2.cg.enclose('ann-1', { pid: 200, start: '999' }, { pid: 100 }), undefined, 'a reused pid');
  assert.equal(w2.cg.enclose('Ann/../x', { pid: 200, start: '1000' }, { pid: 100 }), undefined);
  assert.deepEqual(w2.fs.writes, []);
});

test('kill and remove touch only a login cgroup under the v2 mount', () => {
  const { fs, cg } = world();
  assert.equal(cg.kill(`/sys/fs/cgroup/unified${C}`), false);
  assert.equal(cg.kill('/etc/dosh-x'), false);
  assert.equal(cg.kill(`/sys/fs/cgroup/unified${C}/../dosh-x`), false);
  assert.equal(cg.kill(`/sys/fs/cgroup/unified${C}/dosh-ann-1`), true);
  assert.deepEqual(fs.writes, [`/sys/fs/cgroup/unified${C}/dosh-ann-1/cgroup.kill 1`]);
  fs.dirs.add(`/sys/fs/cgroup/unified${C}/dosh-ann-1`);
  assert.equal(cg.remove(`/sys/fs/cgroup/unified${C}/dosh-ann-1`), true);
  assert.equal(fs.dirs.has(`/sys/fs/cgroup/unified${C}/dosh-ann-1`), false);
});
