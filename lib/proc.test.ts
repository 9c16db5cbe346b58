import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hangUpTree, isSameProcessAlive, parseStat, processStartTime, processTree, sameOnHost } from './proc.ts';
import { FakeProc } from '../test/fakes/proc.ts';

test('parseStat counts fields after the last parenthesis, so odd process names cannot shift them', () => {
  const s = parseStat('42 (a) b) c) S 7 0 33 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 123456 9 9');
  assert.deepEqual(s, { state: 'S', ppid: 7, session: 33, startTime: '123456' });
  assert.equal(parseStat('garbage'), undefined);
});

test('a reused pid with another start time is not the same process', () => {
  const p = new FakeProc();
  p.add(100, '5000');
  assert.equal(isSameProcessAlive(100, '5000', p), true);
  assert.equal(isSameProcessAlive(100, '4999', p), false);
  assert.equal(isSameProcessAlive(101, '5000', p), false);
});

test('processTree lists a process and all its descendants', () => {
  const p = new FakeProc();
  p.add(10, '1');
  p.add(11, '1', 10);
  p.add(12, '1', 11);
  p.add(20, '1');
  assert.deepEqual(processTree(10, p), [10, 11, 12]);
});

test('the real /proc knows this process', () => {
  const st = processStartTime(process.pid);
  assert.match(st ?? '', /^\d+$/);
  assert.equal(isSameProcessAlive(process.pid, st!), true);
});

/** A /proc whose pid 12 is reused by an unrelated process after its first read: the race of a hang-up. */
class ReusingProc extends FakeProc {
  reads = 0;
  override readStat(pid: number): string | undefined {
    const s = super.readStat(pid);
    if (pid === 12 && ++this.reads === 1) this.procs.set(12, { ppid: 1, start: '9000', state: 'S', session: 0 });
    return s;
  }
}

test('a pid reused between the read of the tree and the signal is not signalled', async () => {
  const p = new ReusingProc();
  p.add(10, '100');
  p.add(11, '101', 10);
  p.add(12, '102', 11);
  await hangUpTree(10, 1, async () => {}, p);
  assert.ok(!p.signals.some((s) => s.endsWith(' 12')), `pid 12, now another process, was signalled: ${p.signals}`);
  assert.deepEqual(p.signals.filter((s) => s.startsWith('SIGHUP')), ['SIGHUP 10', 'SIGHUP 11']);
});

test('a pid reused between SIGHUP and SIGKILL is not killed; the survivors of the tree are', async () => {
  const p = new FakeProc();
  p.add(10, '100');
  p.add(11, '101', 10);
  // SIGHUP ends pid 11 (the fake deletes it); another process takes its pid during the grace period. Pid 10 ignores it.
  p.kill = function (pid, signal) {
    this.signals.push(`${signal} ${pid}`);
    if (signal === 'SIGKILL' || pid === 11) this.procs.delete(pid);
  };
  await hangUpTree(10, 1, async () => void p.add(11, '500', 1), p);
  assert.deepEqual(p.signals, ['SIGHUP 10', 'SIGHUP 11', 'SIGKILL 10']);
});

test('a child that started before its parent is a reused parent pid, not a descendant', () => {
  const p = new FakeProc();
  p.add(10, '100');
  // pid 11 was reused after its first owner (a child of 10) ended; 12 is that first owner's child, older than 11 is now.
  p.add(11, '300', 10);
  p.add(12, '200', 11);
  assert.deepEqual(processTree(10, p), [10, 11]);
});

test('sameOnHost: a directory that exists is the host\'s when pid 1 sees it there (or cannot be asked); a missing one is not', () => {
  assert.equal(sameOnHost('/'), true);
  assert.equal(sameOnHost('/nonexistent-dosh-dir'), false);
});
