// terminalSafe: what doshctl prints cannot carry an escape sequence to the administrator's terminal, and JSON and
// YAML output keep their values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { render, table, terminalSafe } from './format.ts';

test('C0 controls (but newline and tab), DEL and C1 controls are shown escaped; other text is unchanged', () => {
  assert.equal(terminalSafe('a\x1b[31mred\x07\x7f\x9b2J\x85 é 日本\tx\n'), 'a\\x1b[31mred\\x07\\u007f\\u009b2J\\u0085 é 日本\tx\n');
  const row = table([['COMMAND'], ['printf "\x1b]0;pwned\x07"']]);
  assert.doesNotMatch(terminalSafe(row), /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
});

test('property: nothing that starts a terminal sequence survives, and JSON and YAML output parse back to the same values', () => {
  const text = fc.string({ unit: fc.oneof(fc.constantFrom('\x1b', '\x9b', '\x90', '\x9d', '\x07', '\x7f', '\r', '\n', '\t', 'a', 'é', '"', '\\'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) });
  fc.assert(
    fc.property(fc.dictionary(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 4 }), text, { noNullPrototype: true }), (obj) => {
      for (const out of ['json', 'yaml']) {
        const safe = terminalSafe(render(obj, out));
        assert.doesNotMatch(safe, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
        assert.deepEqual(out === 'json' ? JSON.parse(safe) : parse(safe), obj, out);
      }
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(parse(terminalSafe(stringify({ a: 'x\x9by' }))), { a: 'x\x9by' });
});
