// The reasons are the contract an administrator reads: each one is documented where the architecture lists them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { END_REASONS, EVENT_REASONS, REFUSAL_REASONS } from './reasons.ts';

const ARCH = readFileSync(new URL('../docs/ARCHITECTURE.md', import.meta.url), 'utf8');

test('every refusal and end reason is listed in docs/ARCHITECTURE.md', () => {
  const missing = [...REFUSAL_REASONS, ...END_REASONS].filter((r) => !ARCH.includes(`\`${r}\``));
  assert.deepEqual(missing, []);
});

test('every event reason is listed in docs/ARCHITECTURE.md', () => {
  const missing = EVENT_REASONS.filter((r) => !new RegExp(`\\b${r}\\b`).test(ARCH.slice(ARCH.indexOf('## Events'))));
  assert.deepEqual(missing, []);
});

test('no reason is listed twice in one list', () => {
  for (const list of [REFUSAL_REASONS, END_REASONS, EVENT_REASONS]) assert.equal(new Set(list).size, list.length);
});
