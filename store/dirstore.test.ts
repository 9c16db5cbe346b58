// The directory store in one process, with its clock and randomness injected: what create, update, mutate, delete,
// get, list and sweep write and refuse, and how corrupt entries are set aside. (test/integration/store.test.ts adds
// the real filesystem's faults and writers in other processes.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ObjectMeta } from '../api/meta.ts';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import { processStartTime } from '../lib/proc.ts';
import { FakeClock } from '../test/fakes/clock.ts';
import { zodCodec } from './codec.ts';
import { DirStore, type NewObject, type StoreOptions } from './dirstore.ts';

/** An object of the store's own, so these tests do not depend on any one resource's schema. */
const Note = z.object({ kind: z.literal('Note'), metadata: ObjectMeta, spec: z.object({ text: z.string(), n: z.number().int().nonnegative() }), status: z.object({ phase: z.string() }) });
type Note = z.infer<typeof Note>;
const noteStore = (root: string, opts?: StoreOptions) => new DirStore<Note>(root, 'notes', zodCodec(Note), opts);

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

function setup(opts: { clock?: FakeClock } = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'dosh-store-'));
  const clock = opts.clock ?? new FakeClock(T0);
  let n = 0;
  const logs: string[] = [];
  const store = noteStore(root, { clock, random: (bytes) => (++n).toString(16).padStart(bytes * 2, '0'), log: (msg, f) => logs.push(`${msg} ${JSON.stringify(f)}`) });
  store.init();
  return { root, clock, store, logs };
}

function note(name: string, n = 1): NewObject<Note> {
  return { kind: 'Note', metadata: { name }, spec: { text: 'hello', n }, status: { phase: 'Pending' } };
}

test('create fills the metadata from the injected clock and randomness, and writes the object file root-only', () => {
  const { store } = setup();
  const s = store.create(note('ann-1'));
  assert.equal(s.metadata.creationTimestamp, new Date(T0).toISOString());
  assert.equal(s.metadata.resourceVersion, '1');
  assert.equal(s.metadata.generation, 1);
  assert.deepEqual([s.metadata.labels, s.metadata.annotations], [{}, {}]);
  assert.match(s.metadata.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  const file = path.join(store.dir, 'ann-1.json');
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), s);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(store.dir), ['ann-1.json'], 'no temp file left');
});

test('create of a taken name is a ConflictError and leaves the first object as it was', () => {
  const { store } = setup();
  const first = store.create(note('ann-1'));
  assert.throws(() => store.create(note('ann-1', 2)), ConflictError);
  assert.deepEqual(store.get('ann-1'), first);
});

test('create of an object its schema refuses throws and writes nothing; a name that is not an object name is not found', () => {
  const { store } = setup();
  assert.throws(() => store.create(note('ann-1', -1)), /invalid notes object: spec.n/);
  assert.deepEqual(readdirSync(store.dir), []);
  assert.throws(() => store.create(note('Ann_1')), /invalid notes object: metadata.name/);
  assert.throws(() => store.get('../etc/passwd'), NotFoundError);
});

test('update is a compare-and-swap on resourceVersion: it bumps it, keeps uid and creation time, and refuses a stale one', async () => {
  const { store, clock } = setup();
  const s = store.create(note('ann-1'));
  await clock.advance(5000);
  const next = store.update({ ...s, metadata: { ...s.metadata, uid: 'forged', creationTimestamp: 'forged' }, status: { phase: 'Ready' } });
  assert.equal(next.metadata.resourceVersion, '2');
  assert.equal(next.metadata.uid, s.metadata.uid);
  assert.equal(next.metadata.creationTimestamp, s.metadata.creationTimestamp);
  assert.throws(() => store.update({ ...s, status: { phase: 'Failed' } }), (e) => e instanceof ConflictError && /resourceVersion 2, not 1/.test(e.message));
  assert.equal(store.get('ann-1')?.status.phase, 'Ready');
  store.delete('ann-1');
  assert.throws(() => store.update(next), NotFoundError);
  assert.deepEqual(readdirSync(store.dir), [], 'no lock left');
});

test('mutate re-reads and retries when another writer got there first, and writes nothing when the change is none', () => {
  const { store } = setup();
  store.create(note('ann-1'));
  let calls = 0;
  const out = store.mutate('ann-1', (cur) => {
    // The first time, another writer updates the object between this read and the write.
    if (++calls === 1) store.update({ ...cur, metadata: { ...cur.metadata, annotations: { 'dosh.io/message': 'hello' } } });
    return { ...cur, status: { phase: 'Ready' } };
  });
  assert.equal(calls, 2);
  assert.equal(out?.metadata.resourceVersion, '3');
  assert.equal(out?.metadata.annotations['dosh.io/message'], 'hello', 'the other writer\'s change is kept');
  assert.equal(store.mutate('ann-1', () => undefined)?.metadata.resourceVersion, '3');
  assert.throws(() => store.mutate('ann-2', (c) => c), NotFoundError);
});

test('delete says whether there was something to delete', () => {
  const { store } = setup();
  store.create(note('ann-1'));
  assert.equal(store.delete('ann-1'), true);
  assert.equal(store.delete('ann-1'), false);
  assert.equal(store.get('ann-1'), undefined);
});

test('list quarantines what is not an object (bad JSON, a wrong shape, a directory, a bad name) with a log line, and skips temp and lock files', () => {
  const { root, store, logs } = setup();
  store.create(note('ann-1'));
  writeFileSync(path.join(store.dir, 'garbage.json'), '{not json');
  writeFileSync(path.join(store.dir, 'shape.json'), JSON.stringify({ kind: 'Note' }));
  mkdirSync(path.join(store.dir, 'dir.json'));
  writeFileSync(path.join(store.dir, 'Bad Name.json'), '{}');
  writeFileSync(path.join(store.dir, '.tmp-ann-2-abc'), '{}');
  writeFileSync(path.join(store.dir, 'notes.txt'), 'x');
  assert.deepEqual(store.list().map((s) => s.metadata.name), ['ann-1']);
  const moved = readdirSync(path.join(root, 'quarantine')).map((f) => f.replace(/\.\d+$/, '')).sort();
  assert.deepEqual(moved, ['Bad Name.json', 'dir.json', 'garbage.json', 'shape.json']);
  assert.ok(readdirSync(path.join(root, 'quarantine')).every((f) => f.endsWith(`.${T0}`)), 'named with the injected time');
  assert.equal(logs.filter((l) => l.startsWith('quarantined a corrupt store object')).length, 4);
  assert.deepEqual(readdirSync(store.dir).sort(), ['.tmp-ann-2-abc', 'ann-1.json', 'notes.txt']);
});

test('sweep removes the temp and lock files a killed writer left once older than the limit, by the injected clock; never an object', async () => {
  const { store, clock } = setup();
  store.create(note('ann-1'));
  const old = path.join(store.dir, '.tmp-ann-1-dead');
  const lock = path.join(store.dir, '.lock-ann-1');
  writeFileSync(old, '{}');
  writeFileSync(lock, '999999 1');
  utimesSync(old, T0 / 1000, T0 / 1000);
  utimesSync(lock, T0 / 1000, T0 / 1000);
  await clock.advance(59_000);
  assert.equal(store.sweep(60_000), 0, 'fresh enough');
  await clock.advance(2000);
  assert.equal(store.sweep(60_000), 2);
  assert.deepEqual(readdirSync(store.dir), ['ann-1.json']);
});

test('a lock held by a live writer makes update a ConflictError once the wait is over; an empty lock is broken after 5 s', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dosh-store-'));
  // Each reading of the clock moves it 100 ms on, so waits run out at once.
  let t = T0;
  const clock = { now: () => (t += 100), sleep: async () => {} };
  const store = noteStore(root, { clock, lockWaitMs: 1000 });
  store.init();
  const s = store.create(note('ann-1'));
  const lock = path.join(store.dir, '.lock-ann-1');
  writeFileSync(lock, `${process.pid} ${processStartTime(process.pid)}`);
  assert.throws(() => store.update(s), (e) => e instanceof ConflictError && /locked by another writer/.test(e.message));
  assert.ok(existsSync(lock), 'a live writer\'s lock is left alone');
  writeFileSync(lock, '');
  utimesSync(lock, (T0 - 10_000) / 1000, (T0 - 10_000) / 1000);
  assert.equal(store.update(s).metadata.resourceVersion, '2', 'the owner died between open and write: broken');
});

test('init makes the directories root-only and takes write access from group and others on existing ones', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dosh-store-'));
  mkdirSync(path.join(root, 'notes'));
  chmodSync(path.join(root, 'notes'), 0o777);
  const store = noteStore(root);
  store.init();
  assert.equal(statSync(store.dir).mode & 0o777, 0o755);
  assert.equal(statSync(path.join(root, 'quarantine')).mode & 0o777, 0o700);
});
