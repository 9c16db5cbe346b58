import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShellArgs, sanitizeLang, sanitizeTerm } from './shell-args.ts';

const ok = (argv0: string, args: string[]) => {
  const r = parseShellArgs(argv0, args);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.value;
};

test('no arguments is an interactive shell; argv[0] with a dash makes it a login shell', () => {
  assert.deepEqual(ok('dosh', []), { mode: 'interactive', login: false, args: [] });
  assert.deepEqual(ok('-dosh', []), { mode: 'interactive', login: true, args: [] });
  assert.equal(ok('dosh', ['-l']).login, true);
  assert.equal(ok('dosh', ['--login']).login, true);
  assert.equal(ok('dosh', ['-i']).mode, 'interactive');
});

test('-c takes the whole string, and later words become $0 $1 ... like bash', () => {
  assert.deepEqual(ok('dosh', ['-c', 'echo "$0" $1; exit 7', 'zero', 'one']), {
    mode: 'command',
    login: false,
    command: 'echo "$0" $1; exit 7',
    args: ['zero', 'one'],
  });
  assert.deepEqual(ok('-dosh', ['-c', 'true']), { mode: 'command', login: true, command: 'true', args: [] });
  assert.equal(ok('dosh', ['-lc', 'id']).command, 'id');
  assert.equal(ok('dosh', ['-c', '-l', 'id']).command, 'id', 'options before the command string, as bash');
  assert.equal(ok('dosh', ['-c', '--', '-x']).command, '-x');
});

test('-s reads from stdin, a first operand is a script', () => {
  assert.deepEqual(ok('dosh', ['-s', 'a', 'b']), { mode: 'stdin', login: false, args: ['a', 'b'] });
  assert.deepEqual(ok('dosh', ['script.sh', 'x']), { mode: 'script', login: false, command: 'script.sh', args: ['x'] });
});

test('bad options are refused the way bash words it', () => {
  assert.deepEqual(parseShellArgs('dosh', ['-c']), { ok: false, error: '-c: option requires an argument' });
  assert.deepEqual(parseShellArgs('dosh', ['-z']), { ok: false, error: '-z: invalid option' });
  assert.deepEqual(parseShellArgs('dosh', ['--rcfile=/etc/shadow']), { ok: false, error: '--rcfile=/etc/shadow: invalid option' });
});

test('a 1 MiB -c string and thousands of arguments pass through intact', () => {
  const big = 'x'.repeat(1 << 20);
  const many = Array.from({ length: 5000 }, (_, i) => `a${i}`);
  const v = ok('dosh', ['-c', big, ...many]);
  assert.equal(v.command, big);
  assert.equal(v.args.length, 5000);
});

test('TERM and LANG are only copied when they look like names', () => {
  assert.equal(sanitizeTerm('xterm-256color', true), 'xterm-256color');
  assert.equal(sanitizeTerm('\x1b]0;pwned\x07', true), 'xterm');
  assert.equal(sanitizeTerm('../../etc/passwd', false), 'dumb');
  assert.equal(sanitizeTerm(undefined, false), 'dumb');
  assert.equal(sanitizeTerm('a'.repeat(65), true), 'xterm');
  assert.equal(sanitizeLang('en_US.UTF-8'), 'en_US.UTF-8');
  assert.equal(sanitizeLang('$(reboot)'), undefined);
});
