// Recognising the file transfers sshd asks a login shell to run, and splitting their words as a shell would.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { commandLine, remoteCommand, scpServer } from './remote-command.ts';
import { commandWords } from './shell-words.ts';

const HOME = '/home/ann';

test('plain words are split as a POSIX shell splits them: quotes, backslashes, a leading ~ for her home', () => {
  assert.deepEqual(commandWords(`a  b\t"c d" 'e "f"' g\\ h "i\\"j" 'k\\l' "" x""y`, HOME), { words: ['a', 'b', 'c d', 'e "f"', 'g h', 'i"j', 'k\\l', '', 'xy'] });
  assert.deepEqual(commandWords('scp -t ~ ~/x a~b ~', HOME).words, ['scp', '-t', HOME, `${HOME}/x`, 'a~b', HOME]);
  assert.deepEqual(commandWords('rsync --server -vlogDtpre.iLsfxCIvu . my\\ tree/', HOME).words, ['rsync', '--server', '-vlogDtpre.iLsfxCIvu', '.', 'my tree/']);
  assert.deepEqual(commandWords('a\\\nb c', HOME).words, ['ab', 'c'], 'a backslash-newline joins');
});

test('shell syntax is reported, never run: which feature, and the words before it', () => {
  const cases: [string, RegExp][] = [
    ['scp -f *.txt', /wildcard/],
    ['scp -f a?', /wildcard/],
    ['ls | wc', /pipe/],
    ['a && b', /list/],
    ['a; b', /list/],
    ['cat < f', /redirection/],
    ['echo $HOME', /expansion/],
    ['echo "$HOME"', /expansion/],
    ['echo `id`', /substitution/],
    ['echo {a,b}', /brace/],
    ['a\nb', /newline/],
    ['X=1 rsync', /assignment/],
    ['scp -t ~bob/x', /another user/],
    ["scp 'x", /unbalanced/],
    ['scp x\\', /backslash/],
    ['# nothing', /comment/],
    ['! false', /negation/],
    ['', /no command/],
  ];
  for (const [text, why] of cases) assert.match(commandWords(text, HOME).unsupported ?? '', why, text);
  assert.deepEqual(commandWords('scp -f *.txt', HOME).words, ['scp', '-f']);
  assert.deepEqual(commandWords('x=1 rsync', HOME).words, [], 'an assignment before the command');
  assert.deepEqual(commandWords('a#b c=d e! f}g'.replace('}', ''), HOME).words, ['a#b', 'c=d', 'e!', 'fg'], 'literal where a shell takes them literally');
});

test('plain words split like dash splits them (a property against the real shell)', { skip: spawnSync('sh', ['-c', 'true']).status !== 0 }, () => {
  const char = fc.constantFrom(...'ab -_./\'"\\~=#!:,@%+'.split(''));
  fc.assert(
    fc.property(fc.array(char, { maxLength: 24 }).map((a) => a.join('')), (text) => {
      const r = commandWords(text, HOME);
      if (r.unsupported) return;
      const sh = spawnSync('sh', ['-c', `for w in ${text}; do printf '%s\\0' "$w"; done`], { env: { HOME }, encoding: 'utf8' });
      if (sh.status !== 0) return; // dash refused it too (a lone `!`, say)
      const want = sh.stdout.split('\0').slice(0, -1);
      assert.deepEqual(r.words, want, JSON.stringify(text));
    }),
    { numRuns: 300 },
  );
});

test('the transfers sshd asks for: the SFTP subsystem, scp -t/-f (and scp -O), rsync --server', () => {
  assert.deepEqual(remoteCommand('/usr/lib/openssh/sftp-server', HOME), { tool: 'sftp-server', program: '/usr/lib/openssh/sftp-server', args: [] });
  assert.deepEqual(remoteCommand('/usr/libexec/openssh/sftp-server -l INFO', HOME)?.args, ['-l', 'INFO']);
  assert.deepEqual(remoteCommand('scp -t -- up.bin', HOME), { tool: 'scp', program: 'scp', args: ['-t', '--', 'up.bin'] });
  assert.equal(remoteCommand('scp -v -r -p -f -- dir', HOME)?.tool, 'scp');
  assert.equal(remoteCommand('scp -pf x', HOME)?.tool, 'scp');
  assert.equal(remoteCommand('/usr/bin/scp -d -t .', HOME)?.tool, 'scp');
  assert.deepEqual(remoteCommand('rsync --server --sender -vlogDtpre.iLsfxCIvu . tree/', HOME)?.args, ['--server', '--sender', '-vlogDtpre.iLsfxCIvu', '.', 'tree/']);
  assert.deepEqual(remoteCommand('scp -f *.txt', HOME), { tool: 'scp', program: 'scp', unsupported: 'a wildcard' });
  for (const other of ['scp a b:', 'scp -o t=1 x y:', 'scp -- -t', 'rsync -a x y', 'ls -t', 'git-upload-pack repo.git', 'sftp-serverx', 'sudo rsync --server .', 'bash -i']) {
    assert.equal(remoteCommand(other, HOME), undefined, other);
  }
  assert.equal(scpServer(['-i', '-t']), false, '-i takes a value: the -t after it is that value');
  assert.equal(scpServer(['-P22', '-t', 'x']), true);
});

test('the exec command line: a shell plan as bash would take it, a tool plan with the words after the program', () => {
  const spec = { mode: 'command' as const, login: false, command: "rsync --server -e.iLs . 'my tree/'", args: [] };
  assert.deepEqual(commandLine(spec, { shell: ['/bin/sh'] }, HOME), ['/bin/sh', '-c', spec.command]);
  const box = ['/.dosh/toolbox/v1/lib/ld.so', '--library-path', '/.dosh/toolbox/v1/lib', '/.dosh/toolbox/v1/bin/rsync'];
  assert.deepEqual(commandLine(spec, { shell: box, tool: { name: 'rsync', source: 'toolbox' } }, HOME), [...box, '--server', '-e.iLs', '.', 'my tree/']);
  assert.deepEqual(commandLine(spec, { shell: ['/usr/bin/rsync'], tool: { name: 'rsync', source: 'image' } }, HOME), ['/usr/bin/rsync', '--server', '-e.iLs', '.', 'my tree/']);
});
