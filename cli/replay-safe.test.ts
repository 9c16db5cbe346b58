// What a replayed recording may do to the administrator's terminal: draw, not talk to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayFilter } from './replay-safe.ts';

const f = (...parts: string[]) => {
  const r = new ReplayFilter();
  return parts.map((p) => r.push(p)).join('');
};

test('drawing passes: text, colours, cursor movement, erasing, the alternate screen, charsets, newlines and tabs', () => {
  const drawing = 'a\tb\r\n\x1b[1;31mred\x1b[0m \x1b[2J\x1b[H\x1b[?1049h\x1b[10;20r\x1b7x\x1b8\x1b(B\x1b[K\b\x07';
  assert.equal(f(drawing), drawing);
});

test('what would act on the terminal is dropped: titles, clipboard, device strings, reports, stray controls', () => {
  assert.equal(f('a\x1b]0;title\x07b'), 'ab');
  assert.equal(f('a\x1b]52;c;ZXZpbA==\x1b\\b'), 'ab', 'OSC 52 writes the clipboard');
  assert.equal(f('a\x1bP+q544e\x1b\\b'), 'ab', 'DCS');
  assert.equal(f('a\x1b[6nb\x1b[cc\x1b[21td\x1b[>0ce'), 'abcde', 'reports that would be typed into the shell');
  assert.equal(f('a\x00\x01\x7f\u009b31mb'), 'a31mb', 'C0, DEL and C1 (U+009B is a CSI on some terminals)');
});

test('a sequence split between events is held until it is complete', () => {
  assert.equal(f('x\x1b', '[31', 'mred'), 'x\x1b[31mred');
  assert.equal(f('x\x1b]0;ti', 'tle\x07y'), 'xy');
  const r = new ReplayFilter();
  assert.equal(r.push('\x1b]' + 'x'.repeat(5000)), '', 'a sequence that never ends is not held for ever');
  assert.equal(r.push('ok'), 'ok');
});
