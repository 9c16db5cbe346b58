// The toolbox built from this host's programs in a temp directory: what it holds, how a container runs it (here, the
// host itself runs it through the copied loader), versions, and what it refuses to copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { elfInterpreter } from '../lib/elf.ts';
import { buildToolbox, libraries, readToolboxManifest, toolboxArgv, type ToolboxManifest } from './toolbox.ts';

const me = process.getuid?.() ?? 0;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-toolbox-'));
const hostHas = (p: string) => fs.existsSync(p);
const RSYNC = '/usr/bin/rsync';

test('rsync with the libraries it loads and its loader; run through that loader it works; built again, the same version', { skip: !hostHas(RSYNC) && 'no rsync on this host' }, () => {
  const dir = tmp();
  const owner = fs.statSync(RSYNC).uid;
  fs.chownSync(dir, owner, -1);
  const m = buildToolbox(dir, { sources: { rsync: [RSYNC], scp: ['/nonexistent/scp'], 'sftp-server': [] }, owner, now: () => 0 });
  assert.deepEqual(Object.keys(m.programs), ['rsync']);
  assert.match(m.missing.scp ?? '', /not installed on this host/);
  assert.match(m.version, /^[0-9a-f]{16}$/);
  assert.deepEqual(readToolboxManifest(dir), m);
  const lib = path.join(dir, m.version, 'lib');
  assert.ok(m.loader && fs.existsSync(path.join(lib, m.loader)));
  for (const l of libraries(execFileSync(elfInterpreter(fs.readFileSync(RSYNC))!, ['--list', RSYNC], { encoding: 'utf8' }), RSYNC)) assert.ok(fs.existsSync(path.join(lib, l.name)), l.name);
  // The argv a container runs, with the toolbox mounted at dir: the host's rsync, from the copies only.
  const argv = toolboxArgv(m, 'rsync', dir)!;
  assert.equal(argv[0], path.join(dir, m.version, 'lib', m.loader!));
  assert.ok(argv.includes('--inhibit-cache'));
  assert.match(execFileSync(argv[0], [...argv.slice(1), '--version'], { encoding: 'utf8', env: {} }), /rsync\s+version/);
  // The same programs: the same version; the old versions go.
  fs.mkdirSync(path.join(dir, 'stale0000'));
  assert.equal(buildToolbox(dir, { sources: { rsync: [RSYNC], scp: [], 'sftp-server': [] }, owner }).version, m.version);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['current.json', m.version]);
  fs.rmSync(dir, { recursive: true });
});

test('a program, library or directory another account could change is not copied', { skip: me !== 0 && 'needs root to own files' }, () => {
  const dir = tmp();
  const src = tmp();
  const prog = path.join(src, 'rsync');
  fs.copyFileSync(process.execPath, prog);
  fs.chmodSync(prog, 0o777);
  const m = buildToolbox(dir, { sources: { rsync: [prog], scp: [], 'sftp-server': [] } });
  assert.match(m.missing.rsync ?? '', /writable by nobody else/);
  fs.chmodSync(dir, 0o777);
  assert.throws(() => buildToolbox(dir, { sources: { rsync: [], scp: [], 'sftp-server': [] } }), /directory .* writable by nobody else/);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(src, { recursive: true });
});

test('the loader listing: each library by the name the program asks for; one the loader cannot find is an error', () => {
  const listing = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibacl.so.1 => /lib/x86_64-linux-gnu/libacl.so.1 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n';
  assert.deepEqual(libraries(listing, 'p'), [
    { name: 'libacl.so.1', path: '/lib/x86_64-linux-gnu/libacl.so.1' },
    { name: 'libc.so.6', path: '/lib/x86_64-linux-gnu/libc.so.6' },
  ]);
  assert.throws(() => libraries('\tlibfoo.so.2 => not found\n', 'p'), /needs libfoo.so.2/);
});

test('a program without a loader (static) runs as it is; without --argv0 support none is passed', () => {
  const m: ToolboxManifest = { version: 'v1', builtAt: '', argv0: false, programs: { scp: { from: '/usr/bin/scp' } }, missing: {} };
  assert.deepEqual(toolboxArgv(m, 'scp'), ['/.dosh/toolbox/v1/bin/scp']);
  assert.deepEqual(toolboxArgv({ ...m, loader: 'ld.so' }, 'scp'), ['/.dosh/toolbox/v1/lib/ld.so', '--inhibit-cache', '--library-path', '/.dosh/toolbox/v1/lib', '/.dosh/toolbox/v1/bin/scp']);
  assert.equal(toolboxArgv(m, 'rsync'), undefined);
});
