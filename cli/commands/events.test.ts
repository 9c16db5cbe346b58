// doshctl events and the Events section of describe, against a store the real recorder wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../test/fakes/clock.ts';
import { silentLogger } from '../../lib/log.ts';
import { eventStore } from '../../store/events.ts';
import { EventRecorder } from '../../controller/events.ts';
import type { CliContext } from '../context.ts';
import { describeEvents, events } from './events.ts';

function setup() {
  const clock = new FakeClock();
  const root = mkdtempSync(path.join(tmpdir(), 'dosh-cli-events-'));
  const store = eventStore(root, { clock });
  store.init();
  const rec = new EventRecorder({ store, clock, log: silentLogger, host: 'node1', ttlMs: 3600_000 });
  const out: string[] = [];
  const err: string[] = [];
  const ctx = (flags: CliContext['flags'] = {}): CliContext => ({
    args: [],
    flags,
    storeRoot: root,
    sessions: () => { throw new Error('not used'); },
    engine: () => { throw new Error('not used'); },
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
    raw: (s) => void out.push(s),
    now: () => clock.now(),
    commands: [],
  });
  return { clock, rec, ctx, out, err };
}

test('the table: kubectl columns, oldest first, repeats as (xN over AGE)', async () => {
  const { clock, rec, ctx, out } = setup();
  rec.record({ kind: 'Session', name: 'ann-1' }, 'Normal', 'Ready', 'container dosh-ann is running');
  await clock.advance(60_000);
  rec.record({ kind: 'Session', name: 'ann-2' }, 'Warning', 'Refused', 'login of ann refused (Cordoned): maintenance');
  await clock.advance(60_000);
  rec.record({ kind: 'Session', name: 'ann-2' }, 'Warning', 'Refused', 'login of ann refused (Cordoned): maintenance');
  await clock.advance(5_000);
  await events.run(ctx());
  assert.deepEqual(out.join('').split('\n'), [
    'LAST SEEN          TYPE      REASON    OBJECT          MESSAGE',
    '2m                 Normal    Ready     session/ann-1   container dosh-ann is running',
    '5s (x2 over 65s)   Warning   Refused   session/ann-2   login of ann refused (Cordoned): maintenance',
    '',
  ]);
});

test('--for one object, -o json and yaml, and bad flags', async () => {
  const { rec, ctx, out, err } = setup();
  rec.record({ kind: 'Session', name: 'ann-1' }, 'Normal', 'Ready', 'r');
  rec.record({ kind: 'User', name: 'ann' }, 'Normal', 'GarbageCollected', 'gc');
  await events.run(ctx({ for: 'user/ann', output: 'json' }));
  const doc = JSON.parse(out.join(''));
  assert.equal(doc.kind, 'EventList');
  assert.deepEqual(doc.items.map((e: { reason: string }) => e.reason), ['GarbageCollected']);
  out.length = 0;
  await events.run(ctx({ for: 'session/ann-1', output: 'yaml' }));
  assert.match(out.join(''), /reason: Ready/);
  out.length = 0;
  await events.run(ctx({ for: 'session/nobody' }));
  assert.equal(out.join(''), '');
  assert.equal(err.join(''), 'No events found.\n');
  await assert.rejects(events.run(ctx({ for: 'pod/x' })), /--for pod\/x: expected session\/NAME or user\/NAME/);
  await assert.rejects(events.run(ctx({ output: 'wide' })), /-o wide: expected json or yaml/);
});

test('describe: the Events section of one session, or <none>', async () => {
  const { clock, rec, ctx } = setup();
  rec.record({ kind: 'Session', name: 'ann-1' }, 'Normal', 'Admitted', 'admitted');
  rec.record({ kind: 'Session', name: 'ann-2' }, 'Normal', 'Admitted', 'other');
  await clock.advance(3_000);
  rec.record({ kind: 'Session', name: 'ann-1' }, 'Normal', 'Ready', 'ready');
  assert.deepEqual(describeEvents(ctx(), 'Session', 'ann-1'), [
    'Events:',
    '  Type     Reason     Age    From    Message',
    '  ----     ------     ----   ----    -------',
    '  Normal   Admitted   3s     doshd   admitted',
    '  Normal   Ready      0s     doshd   ready',
  ]);
  assert.deepEqual(describeEvents(ctx(), 'Session', 'ann-9'), ['Events:  <none>']);
});

test('--watch prints the list, then new and repeated events, until SIGINT', async () => {
  const { rec, ctx, out } = setup();
  rec.record({ kind: 'Session', name: 'ann-1' }, 'Normal', 'Ready', 'first');
  const done = events.run(ctx({ watch: true, for: 'session/ann-1' }));
  await until(() => out.length >= 2);
  rec.record({ kind: 'Session', name: 'ann-1' }, 'Warning', 'RelayGone', 'gone');
  rec.record({ kind: 'Session', name: 'ann-2' }, 'Normal', 'Ready', 'not this one');
  await until(() => out.join('').includes('gone'));
  rec.record({ kind: 'Session', name: 'ann-1' }, 'Warning', 'RelayGone', 'gone');
  await until(() => out.join('').includes('(x2 over'));
  process.emit('SIGINT');
  assert.equal(await done, undefined);
  const text = out.join('');
  assert.match(text, /^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n/);
  assert.doesNotMatch(text, /not this one/);
  assert.equal(text.split('\n').filter((l) => l.includes('RelayGone')).length, 2);
});

async function until(fn: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(fn(), 'timed out');
}
