// The shell-style splitter and the number/size parsers.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { PolicyError } from './errors.ts';
import { splitWords } from './shell-words.ts';
import { expand, PROBE_VARS } from './template.ts';
import { parseGoInt, parseNanoCpus, ramInBytes } from './units.ts';

const W = { file: 'f', line: 3, column: 1 };
const split = (s: string) => splitWords(s, W).map((w) => expand(w.parts, PROBE_VARS));

test('splits like a POSIX shell: blanks, quotes, backslashes, empty words', () => {
  assert.deepEqual(split(`a  b\t"c d" 'e "f"' g\\ h "i\\"j" 'k\\l' "" x""y`), ['a', 'b', 'c d', 'e "f"', 'g h', 'i"j', 'k\\l', '', 'xy']);
  assert.deepEqual(split(`"\\$USER" \\$USER $USER '$USER'`), ['$USER', '$USER', 'doshprobe', 'doshprobe']);
  assert.deepEqual(split('   '), []);
  assert.deepEqual(split('end\\'), ['end\\']);
});

test('an unbalanced quote is an error at the column of the opening quote', () => {
  for (const [s, col] of [[`a "b c`, 3], [`a 'b`, 3], [`"ok" 'x`, 6]] as const) {
    try {
      splitWords(s, W);
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.line, 3);
      assert.equal(e.column, col);
      assert.match(e.message, /unbalanced/);
    }
  }
});

test('sizes as docker reads them', () => {
  assert.equal(ramInBytes('2G'), 2 * 1024 ** 3);
  assert.equal(ramInBytes('512m'), 512 * 1024 ** 2);
  assert.equal(ramInBytes('1g'), 1024 ** 3);
  assert.equal(ramInBytes('10 KiB'), 10240);
  assert.equal(ramInBytes('1.5k'), 1536);
  assert.equal(ramInBytes('100b'), 100);
  assert.equal(ramInBytes('100'), 100);
  assert.equal(ramInBytes('2gb'), 2 * 1024 ** 3);
  for (const bad of ['', 'g', '-1', '1x', '1gib2', '1kbb']) assert.equal(ramInBytes(bad), null, bad);
});

test('integers with Go base-0 syntax, as pflag reads them', () => {
  assert.equal(parseGoInt('512'), 512);
  assert.equal(parseGoInt('-1'), -1);
  assert.equal(parseGoInt('0x10'), 16);
  assert.equal(parseGoInt('010'), 8);
  assert.equal(parseGoInt('1_000'), 1000);
  assert.equal(parseGoInt('_1'), null);
  assert.equal(parseGoInt('0x_1_0'), 16);
  assert.equal(parseGoInt('12a'), null);
  assert.equal(parseNanoCpus('2'), 2e9);
  assert.equal(parseNanoCpus('.5'), 5e8);
  assert.equal(parseNanoCpus('-1'), null);
});
