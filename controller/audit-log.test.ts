// The audit log: its records at a login's moments (against the fake world: written where the events are), and the
// file itself (a temp directory): JSON lines, reopened after a rotation or SIGHUP, rotated by size, a failed write
// counted and never thrown, a login flood aggregated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeClock } from '../test/fakes/clock.ts';
import { World } from '../test/fakes/world.ts';
import { silentLogger } from '../lib/log.ts';
import { AuditLog, FLOOD_WINDOW_MS } from './audit-log.ts';

test('a login is audited at Ready and once at its end, with the facts of its events: user, client, image, command, status, bytes, duration', async () => {
  const w = new World();
  const s = w.login('ann', { command: 'make test', sshClient: '192.0.2.7 40222', tty: false });
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.audited, [
    { event: 'start', user: 'ann', uid: 1001, sshClient: '192.0.2.7 40222', session: s.metadata.name, image: 'busybox:latest', container: 'dosh-ann', mode: 'command', command: 'make test', tty: false, durationSeconds: 0 },
  ]);
  await w.clock.advance(90_000);
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Failed', reason: 'Exited', message: 'exited with status 2', exitCode: 2, bytesIn: 10, bytesOut: 2048, endedAt: new Date(w.clock.now()).toISOString() } }));
  await w.controller.syncSession(s.metadata.name);
  await w.controller.syncSession(s.metadata.name);
  assert.equal(w.audited.length, 2, 'the end once, however often the ended session is synced');
  assert.deepEqual(w.audited[1], {
    event: 'end', user: 'ann', uid: 1001, sshClient: '192.0.2.7 40222', session: s.metadata.name, image: 'busybox:latest', container: 'dosh-ann', mode: 'command', command: 'make test', tty: false,
    exitCode: 2, bytesIn: 10, bytesOut: 2048, durationSeconds: 90, reason: 'Exited', message: 'exited with status 2',
  });
  assert.deepEqual(w.events.of(`Session/${s.metadata.name}`).map((e) => e.split(':')[0]), ['Normal Admitted', 'Normal ContainerCreated', 'Normal ContainerStarted', 'Normal Ready', 'Normal Ended']);
});

test('a refusal by admission is audited with its reason and message; a refused login has no end', async () => {
  const w = new World();
  w.cordonMessage = 'maintenance until 14:00';
  const s = w.login();
  await w.controller.syncSession(s.metadata.name);
  await w.controller.syncSession(s.metadata.name);
  assert.deepEqual(w.audited.map((a) => [a.event, a.reason, a.message, a.session]), [['refusal', 'Cordoned', 'maintenance until 14:00', s.metadata.name]]);
});

function file(): { dir: string; log: string; audit: AuditLog; clock: FakeClock; writes: string[]; errors: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-audit-'));
  const log = path.join(dir, 'sub', 'audit.log');
  const clock = new FakeClock();
  const writes: string[] = [];
  const errors: string[] = [];
  const audit = new AuditLog({ file: log, node: 'n1', maxBytes: 0, clock, log: { ...silentLogger, error: (m) => errors.push(m) }, onWrite: (e, ok) => writes.push(`${e} ${ok}`) });
  return { dir, log, audit, clock, writes, errors };
}
const lines = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('JSON lines, root-only, in a directory made for it; moved away (logrotate) or on SIGHUP, a new file is opened', () => {
  const t = file();
  t.audit.write({ event: 'refusal', uid: 7, reason: 'UnknownUser', message: 'uid 7 is not known' });
  assert.deepEqual(lines(t.log), [{ time: new Date(t.clock.now()).toISOString(), node: 'n1', event: 'refusal', uid: 7, reason: 'UnknownUser', message: 'uid 7 is not known' }]);
  assert.equal(fs.statSync(t.log).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(t.log)).mode & 0o777, 0o700);
  fs.renameSync(t.log, `${t.log}.1`);
  t.audit.write({ event: 'start', user: 'ann' });
  assert.equal(lines(t.log).length, 1, 'a new file after the move');
  assert.equal(lines(`${t.log}.1`).length, 1);
  t.audit.reopen();
  t.audit.write({ event: 'end', user: 'ann' });
  assert.equal(lines(t.log).length, 2);
  assert.deepEqual(t.writes, ['refusal true', 'start true', 'end true']);
  t.audit.close();
  fs.rmSync(t.dir, { recursive: true });
});

test('--audit-max-size: past it the file becomes FILE.1 and a new one starts', () => {
  const t = file();
  const audit = new AuditLog({ file: t.log, node: 'n1', maxBytes: 300, clock: t.clock, log: silentLogger });
  for (let i = 0; i < 5; i++) audit.write({ event: 'start', user: 'ann', session: `ann-${i}`, command: 'x'.repeat(60) });
  assert.ok(fs.statSync(t.log).size <= 300);
  assert.ok(fs.existsSync(`${t.log}.1`) && fs.statSync(`${t.log}.1`).size <= 300);
  assert.equal(lines(t.log).at(-1)?.session, 'ann-4');
  audit.close();
  fs.rmSync(t.dir, { recursive: true });
});

test('a write that fails (the log cannot be opened) is counted and logged once, never thrown; the next good write goes on', () => {
  const t = file();
  fs.mkdirSync(t.log, { recursive: true }); // a directory where the file should be
  t.audit.write({ event: 'start' });
  t.audit.write({ event: 'end' });
  assert.deepEqual(t.writes, ['start false', 'end false']);
  assert.equal(t.errors.length, 1);
  fs.rmdirSync(t.log);
  t.audit.write({ event: 'end' });
  assert.deepEqual(t.writes.at(-1), 'end true');
  t.audit.close();
  fs.rmSync(t.dir, { recursive: true });
});

test('a login flood refused for its rate: one line per user per window, with the refusals it stands for', async () => {
  const t = file();
  for (let i = 0; i < 50; i++) t.audit.write({ event: 'refusal', user: 'ann', reason: 'RateLimited' });
  t.audit.write({ event: 'refusal', user: 'bob', reason: 'RateLimited' });
  await t.clock.advance(FLOOD_WINDOW_MS);
  t.audit.write({ event: 'refusal', user: 'ann', reason: 'RateLimited' });
  assert.deepEqual(lines(t.log).map((l) => [l.user, l.count]), [['ann', undefined], ['bob', undefined], ['ann', 50]]);
  t.audit.close();
  fs.rmSync(t.dir, { recursive: true });
});
