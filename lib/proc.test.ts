import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSameProcessAlive, parseStat, processStartTime, processTree } from './proc.ts';
import { FakeProc } from '../test/fakes/proc.ts';

test('parseStat counts fields after the last parenthesis, so odd process names cannot shift them', () => {
  const s = parseStat('42 (a) b) c) S 7 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 123456 9 9');
  assert.deepEqual(s, { state: 'S', ppid: 7, startTime: '123456' });
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
