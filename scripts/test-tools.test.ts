// Every program a test or benchmark spawns on the host is in scripts/lib/test-tools.txt, with where it comes from:
// the next `spawn rsync ENOENT` on a fresh machine fails here first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './layers.ts';
import { parseToolList, scan, shellPrograms, spawnedPrograms, TOOLS_FILE } from './test-tools.ts';

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((n) => {
    const rel = `${dir}/${n}`;
    return statSync(path.join(ROOT, rel)).isDirectory() ? tsFiles(rel) : rel.endsWith('.ts') ? [rel] : [];
  });
}

test('every program spawned under test/ and bench/ is in the list, with a source', () => {
  const listed = parseToolList(readFileSync(path.join(ROOT, TOOLS_FILE), 'utf8'));
  const missing: string[] = [];
  for (const f of [...tsFiles('test'), ...tsFiles('bench')]) {
    for (const p of spawnedPrograms(readFileSync(path.join(ROOT, f), 'utf8'))) if (!listed.has(p)) missing.push(`${p} (${f})`);
  }
  assert.deepEqual(missing, [], `add these to ${TOOLS_FILE} with their Debian package`);
});

test('the sources are Debian package names or known steps', () => {
  const listed = parseToolList(readFileSync(path.join(ROOT, TOOLS_FILE), 'utf8'));
  for (const [program, source] of listed) assert.match(source, /^(@(docker|dosh|system)|-|[a-z0-9][a-z0-9+.-]+)$/, program);
});

test('the transfer tests need rsync, scp, sftp and git; the terminal tests tmux (through the harness)', () => {
  const transfer = scan(ROOT, 'test/e2e/transfer.test.ts');
  for (const p of ['rsync', 'scp', 'sftp', 'git', 'ssh', 'docker']) assert.ok(transfer.has(p), p);
  assert.ok(scan(ROOT, 'test/e2e/interactive.test.ts').has('tmux'), 'tmux, through harness.ts');
});

test('the scan reads spawns, the harness run(), and host shell strings; not what runs in a container', () => {
  const src = [
    "spawnSync('docker', ['ps']);",
    "await run('/usr/bin/rsync', ['-a']);",
    "execFile('bash', ['-c', 'strace -f -o /tmp/t true'], cb);",
    "sh(`mount -t tmpfs x ${dir} && cd ${dir}; FOO=1 exec tmux new -d; find . -exec sha256sum {} + | sort -k2`);",
    "su(U, 'rsync --server; git-upload-pack');",
    "ssh(U, 'scp -t x');",
    'spawn(cmd, args);',
  ].join('\n');
  assert.deepEqual([...spawnedPrograms(src)].sort(), ['bash', 'docker', 'find', 'mount', 'rsync', 'sort', 'strace', 'tmux']);
  assert.deepEqual(shellPrograms("if [ -e x ]; then echo 'a | b' >/dev/null 2>&1; fi; X=1 sudo id -u | wc -l"), ['id', 'wc']);
});

test('a malformed or repeated line in the list is an error naming it', () => {
  assert.throws(() => parseToolList('rsync\n'), /test-tools.txt:1: expected "PROGRAM SOURCE"/);
  assert.throws(() => parseToolList('rsync rsync\nrsync rsync\n'), /test-tools.txt:2: rsync is listed twice/);
});
