// The helper's store check against a fake lstat: only a root-owned directory nobody else can write is used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStore } from './helper-config.ts';
import { RefusedError } from '../lib/errors.ts';

const dir = (uid: number, mode: number) => ({ uid, mode: 0o040000 | mode, isDirectory: () => true });
const file = { uid: 0, mode: 0o100600, isDirectory: () => false };
const enoent = () => {
  throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
};

test('a root-only store (and sessions directory) is used; an absent one is left for doshd to make', () => {
  assert.doesNotThrow(() => checkStore('/run/dosh', () => dir(0, 0o700)));
  assert.doesNotThrow(() => checkStore('/run/dosh', enoent));
  assert.doesNotThrow(() => checkStore('/run/dosh', (p) => (p === '/run/dosh' ? dir(0, 0o755) : enoent())));
});

test('a store another user owns or could write, or that is not a directory, is refused with what is wrong', () => {
  const cases: [string, (p: string) => ReturnType<typeof dir> | typeof file, RegExp][] = [
    ['hers', () => dir(1000, 0o700), /\/run\/dosh is owned by uid 1000, mode 700/],
    ['group-writable', () => dir(0, 0o770), /mode 770/],
    ['world-writable sticky', () => dir(0, 0o1777), /mode 1777/],
    ['a file', () => file, /not a directory/],
    ['sessions hers', (p) => (p.endsWith('/sessions') ? dir(1000, 0o700) : dir(0, 0o700)), /\/run\/dosh\/sessions is owned by uid 1000/],
  ];
  for (const [what, lstat, msg] of cases) {
    assert.throws(() => checkStore('/run/dosh', lstat), (e: Error) => e instanceof RefusedError && msg.test(e.message) && /only root may write there/.test(e.message), what);
  }
});

test('an lstat error other than absence is not swallowed', () => {
  assert.throws(() => checkStore('/run/dosh', () => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); }), /EACCES/);
});
