import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hookArgs, listHookScripts, runHooks, type HookContext, type SpawnFn } from './hook-scripts.ts';
import { parseStat } from '../lib/proc.ts';

const root = mkdtempSync(join(tmpdir(), 'dosh-hooks-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dir(): string {
  const d = join(root, `t${n++}`);
  mkdirSync(d);
  return d;
}
function script(folder: string, name: string, body: string, mode = 0o755): string {
  const p = join(folder, name);
  writeFileSync(p, body, { mode });
  return p;
}
function alive(pid: number): boolean {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))?.state !== 'Z';
  } catch {
    return false;
  }
}

const ctx: HookContext = {
  user: 'alice',
  uid: 1001,
  gid: 1002,
  groups: [1002, 27, 3000],
  session: 's-123',
  containerId: 'c0ffee',
  containerName: 'dosh-alice',
  image: 'ubuntu:latest',
};

test('listHookScripts: executable regular files and symlinks to them, in byte order; nothing else', () => {
  const d = dir();
  for (const name of ['b', '10b', '00a', 'B', '_x', 'a~']) script(d, name, '#!/bin/sh\n');
  script(d, '05noexec', '#!/bin/sh\n', 0o644);
  script(d, '.hidden', '#!/bin/sh\n');
  mkdirSync(join(d, '06dir'), { mode: 0o755 });
  symlinkSync(join(d, 'missing'), join(d, '07dangling'));
  symlinkSync(join(d, '06dir'), join(d, '08linkdir'));
  symlinkSync(join(d, '00a'), join(d, '09link'));
  const names = listHookScripts(d).map((p) => p.slice(d.length + 1));
  assert.deepEqual(names, ['00a', '09link', '10b', 'B', '_x', 'a~', 'b']);
  assert.deepEqual(listHookScripts(join(d, 'nope')), []);
  assert.deepEqual(listHookScripts(join(d, '00a')), []);
});

test('hookArgs builds the original positional arguments after the moment', () => {
  const run = ['-h', 'host', '-u', '1001:1002', '-id', '--name', 'dosh-alice'];
  assert.deepEqual(hookArgs('prerun', 'dosh-alice', [...run, 'ubuntu', 'bash']), ['dosh-alice', ...run, 'ubuntu', 'bash']);
  assert.deepEqual(hookArgs('run', 'dosh-alice', [...run, 'ubuntu', 'bash'], 'abc123'), ['abc123', ...run, 'ubuntu', 'bash']);
  assert.deepEqual(hookArgs('run', 'dosh-alice', ['ubuntu', 'bash']), ['dosh-alice', 'ubuntu', 'bash']);
  assert.deepEqual(hookArgs('prestart', 'dosh-alice', ['ignored']), ['dosh-alice']);
  assert.deepEqual(hookArgs('start', 'dosh-alice'), ['dosh-alice']);
  assert.deepEqual(hookArgs('preexec', 'dosh-alice', ['bash', '-c', 'ls -l']), ['dosh-alice', 'bash', '-c', 'ls -l']);
  assert.deepEqual(hookArgs('exec', 'dosh-alice', ['bash']), ['dosh-alice', 'bash']);
});

test('scripts run in name order as SCRIPT MOMENT ARGS..., with a clean environment, cwd the folder, stdin /dev/null', async () => {
  const d = dir();
  const out = dir();
  process.env.DOSH_HOOK_LEAK_CHECK = 'leaked';
  script(
    d,
    '10dump',
    `#!/bin/bash
printf '%s\\0' "$0" "$@" > ${out}/args
env -0 > ${out}/env
pwd > ${out}/cwd
if read -r line; then echo "got: $line"; else echo eof; fi > ${out}/stdin
echo 10 >> ${out}/order
`,
  );
  script(d, '02first', `#!/bin/sh\necho 02 >> ${out}/order\n`);
  script(d, '20last', `#!/bin/sh\necho 20 >> ${out}/order\n`);
  const args = hookArgs('preexec', 'dosh-alice', ['bash', '-c', 'echo "a b"', '']);
  const res = await runHooks(d, 'preexec', args, ctx);
  delete process.env.DOSH_HOOK_LEAK_CHECK;

  assert.equal(res.ok, true);
  assert.equal(res.failure, undefined);
  assert.deepEqual(res.runs.map((r) => [r.script, r.moment, r.exitCode, r.signal, r.timedOut]), [
    [join(d, '02first'), 'preexec', 0, null, false],
    [join(d, '10dump'), 'preexec', 0, null, false],
    [join(d, '20last'), 'preexec', 0, null, false],
  ]);
  assert.equal(readFileSync(join(out, 'order'), 'utf8'), '02\n10\n20\n');
  const argv = readFileSync(join(out, 'args'), 'utf8').split('\0').slice(0, -1);
  assert.deepEqual(argv, [join(d, '10dump'), 'preexec', 'dosh-alice', 'bash', '-c', 'echo "a b"', '']);
  assert.equal(readFileSync(join(out, 'cwd'), 'utf8').trim(), d);
  assert.equal(readFileSync(join(out, 'stdin'), 'utf8').trim(), 'eof');

  const env = Object.fromEntries(
    readFileSync(join(out, 'env'), 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  for (const own of ['PWD', 'SHLVL', '_']) delete env[own]; // bash sets these itself
  assert.deepEqual(env, {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LOGNAME: 'root',
    USER: 'alice',
    SUDO_USER: 'alice',
    SUDO_UID: '1001',
    SUDO_GID: '1002',
    DOSH_USER: 'alice',
    DOSH_UID: '1001',
    DOSH_GID: '1002',
    DOSH_GROUPS: '1002,27,3000',
    DOSH_SESSION: 's-123',
    DOSH_CONTAINER_ID: 'c0ffee',
    DOSH_CONTAINER_NAME: 'dosh-alice',
    DOSH_IMAGE: 'ubuntu:latest',
    DOSH_PHASE: 'preexec',
  });
});

test('unknown context values are empty variables, and a script without #! runs under bash like the original', async () => {
  const d = dir();
  const out = dir();
  script(d, 'noshebang', `[[ -n $BASH_VERSION ]] && echo "bash:[$DOSH_CONTAINER_ID][$DOSH_SESSION][$DOSH_IMAGE]" > ${out}/r\n`);
  const res = await runHooks(d, 'prerun', ['dosh-bob'], { user: 'bob', uid: 1, gid: 1, groups: [], containerName: 'dosh-bob' });
  assert.equal(res.ok, true, res.failure);
  assert.equal(readFileSync(join(out, 'r'), 'utf8'), 'bash:[][][]\n');
});

test('a failing pre* script stops the rest with a message naming the script, moment and status', async () => {
  const d = dir();
  const out = dir();
  script(d, '10ok', `#!/bin/sh\ntouch ${out}/10\n`);
  script(d, '20fail', `#!/bin/sh\necho "quota exceeded" >&2\nexit 3\n`);
  script(d, '30never', `#!/bin/sh\ntouch ${out}/30\n`);
  const res = await runHooks(d, 'prerun', ['dosh-alice', 'ubuntu', 'bash'], ctx);
  assert.equal(res.ok, false);
  assert.equal(res.runs.length, 2);
  assert.equal(res.runs[1].exitCode, 3);
  assert.equal(res.runs[1].output, 'quota exceeded\n');
  assert.equal(res.failure, `hook script ${join(d, '20fail')} (prerun) failed with exit status 3`);
  assert.ok(existsSync(join(out, '10')));
  assert.ok(!existsSync(join(out, '30')));

  const killed = dir();
  script(killed, '10kill', '#!/bin/bash\nkill -KILL $$\n');
  const k = await runHooks(killed, 'prestart', ['dosh-alice'], ctx);
  assert.equal(k.ok, false);
  assert.equal(k.runs[0].signal, 'SIGKILL');
  assert.equal(k.failure, `hook script ${join(killed, '10kill')} (prestart) was killed by SIGKILL`);
});

test('a failing post script is recorded and the others still run', async () => {
  const d = dir();
  const out = dir();
  script(d, '10ok', `#!/bin/sh\ntouch ${out}/10\n`);
  script(d, '20fail', '#!/bin/sh\nexit 3\n');
  script(d, '30after', `#!/bin/sh\ntouch ${out}/30\n`);
  for (const moment of ['run', 'start', 'exec'] as const) {
    rmSync(join(out, '30'), { force: true });
    const res = await runHooks(d, moment, ['dosh-alice'], ctx);
    assert.equal(res.ok, true);
    assert.equal(res.failure, undefined);
    assert.deepEqual(res.runs.map((r) => r.exitCode), [0, 3, 0]);
    assert.ok(existsSync(join(out, '30')));
  }
});

test('a missing folder means no hooks for every moment', async () => {
  for (const moment of ['prerun', 'run', 'prestart', 'start', 'preexec', 'exec'] as const) {
    assert.deepEqual(await runHooks(join(root, 'does-not-exist'), moment, ['dosh-alice'], ctx), { ok: true, runs: [] });
  }
});

test('a timeout kills the whole process group, background children included', async () => {
  const d = dir();
  const out = dir();
  script(d, '10hang', `#!/bin/bash\nsleep 1000 &\necho $! > ${out}/bg\necho started\nsleep 1000\n`);
  script(d, '20never', `#!/bin/sh\ntouch ${out}/20\n`);
  const t0 = performance.now();
  const res = await runHooks(d, 'preexec', ['dosh-alice', 'bash'], ctx, { timeoutMs: 400 });
  const took = performance.now() - t0;
  assert.equal(res.ok, false);
  assert.equal(res.runs.length, 1);
  assert.equal(res.runs[0].timedOut, true);
  assert.equal(res.runs[0].signal, 'SIGTERM');
  assert.equal(res.runs[0].output, 'started\n');
  assert.equal(res.failure, `hook script ${join(d, '10hang')} (preexec) timed out after 0.4 s`);
  const bg = Number(readFileSync(join(out, 'bg'), 'utf8'));
  assert.ok(bg > 0);
  assert.equal(alive(bg), false, 'the background child is gone');
  assert.ok(!existsSync(join(out, '20')));
  assert.ok(took < 1500, `took ${took} ms`);
});

test('a group that ignores SIGTERM gets SIGKILL after 2 s', async () => {
  const d = dir();
  const out = dir();
  script(d, '10stubborn', `#!/bin/bash\ntrap '' TERM\nsleep 1000 &\necho $! > ${out}/bg\nsleep 1000\n`);
  const t0 = performance.now();
  const res = await runHooks(d, 'exec', ['dosh-alice', 'bash'], ctx, { timeoutMs: 300 });
  const took = performance.now() - t0;
  assert.equal(res.ok, true, 'post hooks never fail the login');
  assert.equal(res.runs[0].timedOut, true);
  assert.equal(res.runs[0].signal, 'SIGKILL');
  assert.equal(alive(Number(readFileSync(join(out, 'bg'), 'utf8'))), false);
  assert.ok(took >= 2200 && took < 4500, `took ${took} ms`);
});

test('a script that exits leaving a quiet background process is not waited for', async () => {
  const d = dir();
  const out = dir();
  script(d, '10daemon', `#!/bin/bash\nsleep 1000 &\necho $! > ${out}/bg\necho bye\n`);
  const t0 = performance.now();
  const res = await runHooks(d, 'run', ['dosh-alice'], ctx);
  assert.ok(performance.now() - t0 < 1500);
  assert.equal(res.runs[0].exitCode, 0);
  assert.equal(res.runs[0].output, 'bye\n');
  process.kill(Number(readFileSync(join(out, 'bg'), 'utf8')), 'SIGKILL');
});

test('stdout and stderr are captured interleaved, and truncated with a note', async () => {
  const d = dir();
  script(d, '10mixed', '#!/bin/bash\necho out1\necho err1 >&2\necho out2\n');
  const mixed = await runHooks(d, 'start', ['dosh-alice'], ctx);
  assert.equal(mixed.runs[0].output, 'out1\nerr1\nout2\n');

  const big = dir();
  script(big, '10big', "#!/bin/bash\nhead -c 200000 /dev/zero | tr '\\0' x\necho tail >&2\n");
  const res = await runHooks(big, 'start', ['dosh-alice'], ctx, { maxOutputBytes: 1000 });
  assert.equal(res.runs[0].exitCode, 0);
  assert.equal(res.runs[0].output, `${'x'.repeat(1000)}\n[dosh: output truncated: 200005 bytes, the first 1000 kept]\n`);
});

test('spawn is injectable, and a spawn error fails a pre* moment clearly', async () => {
  const d = dir();
  script(d, '10ok', '#!/bin/sh\n');
  const calls: { command: string; args: string[]; cwd: unknown; detached: unknown }[] = [];
  const recording: SpawnFn = (command, args, options) => {
    calls.push({ command, args, cwd: options.cwd, detached: options.detached });
    return spawn(command, args, options);
  };
  assert.equal((await runHooks(d, 'prestart', ['dosh-alice'], ctx, { spawn: recording })).ok, true);
  assert.deepEqual(calls, [
    { command: '/bin/bash', args: ['-c', 'exec "$@" 2>&1', 'dosh-hook', join(d, '10ok'), 'prestart', 'dosh-alice'], cwd: d, detached: true },
  ]);

  const broken: SpawnFn = (_c, args, options) => spawn('/nonexistent/bash', args, options);
  const res = await runHooks(d, 'prestart', ['dosh-alice'], ctx, { spawn: broken });
  assert.equal(res.ok, false);
  assert.match(res.failure ?? '', /^hook script .*10ok \(prestart\) could not be run: .*ENOENT/);
});

// Two scripts written the way the original documents them (src/etc/scripts/README.md of grycap/dosh: $1 the
// moment, $2 the container, then `shift; shift`). `docker` is a shell function that records its arguments
// here; the lead's end-to-end tests check the real Docker effect.
test('scripts written for the original run unchanged through all six moments', async () => {
  const d = dir();
  const log = join(dir(), 'docker.log');
  const fakeDocker = `docker() {
  echo "docker $*" >> ${log}
  case "$1" in
    inspect) echo "<no value>" ;;
    exec) printf 'COMMAND\\nbash\\nps\\n' ;;
  esac
}
`;
  script(
    d,
    '00addinterface',
    `#!/bin/bash
${fakeDocker}
NEWNETWORK=datanetwork
COMMAND=$1
CONTAINER=$2
shift
shift
case "$COMMAND" in
  prerun|prestart|start|exec) ;;
  run) docker network connect "$NEWNETWORK" "$CONTAINER" ;;
  preexec)
    # Connect a container made before this script was installed.
    if [ "$(docker inspect -f "{{.NetworkSettings.Networks.$NEWNETWORK.NetworkID}}" "$CONTAINER")" == "<no value>" ]; then
      docker network connect "$NEWNETWORK" "$CONTAINER"
    fi ;;
  *) echo "unexpected command" >&2 ;;
esac
`,
  );
  script(
    d,
    '00deletecontainer',
    `#!/bin/bash
${fakeDocker}
COMMAND=$1
CONTAINER=$2
shift
shift
case "$COMMAND" in
  exec)
    # Remove the container when the login's shell was the last process in it.
    PROCS="$(docker exec $CONTAINER ps -e -o comm | grep -v '^ps$' | tail -n +2)"
    SHELLNAME="$(basename $1)"
    SAME="$(echo "$PROCS" | grep -c "^$SHELLNAME$")"
    OTHERS="$(echo "$PROCS" | grep -vc "^$SHELLNAME$")"
    if [ "$SAME" -eq 1 -a "$OTHERS" -eq 0 ]; then
      docker stop "$CONTAINER" && docker rm "$CONTAINER"
    fi ;;
  prerun|run|prestart|start|preexec) ;;
  *) echo "unexpected command" >&2 ;;
esac
`,
  );
  const runArgs = ['-h', 'host', '-u', '1001:1002', '-v', '/home/alice:/home/alice', '-id', '--name', 'dosh-alice'];
  const steps: [Parameters<typeof hookArgs>[0], string[]][] = [
    ['prerun', hookArgs('prerun', 'dosh-alice', [...runArgs, 'ubuntu:latest', 'bash'])],
    ['run', hookArgs('run', 'dosh-alice', [...runArgs, 'ubuntu:latest', 'bash'], 'c0ffee')],
    ['prestart', hookArgs('prestart', 'dosh-alice')],
    ['start', hookArgs('start', 'dosh-alice')],
    ['preexec', hookArgs('preexec', 'dosh-alice', ['bash'])],
    ['exec', hookArgs('exec', 'dosh-alice', ['bash'])],
  ];
  for (const [moment, args] of steps) {
    const res = await runHooks(d, moment, args, ctx);
    assert.equal(res.ok, true, res.failure);
    assert.deepEqual(res.runs.map((r) => [r.exitCode, r.output]), [
      [0, ''],
      [0, ''],
    ]);
  }
  assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
    'docker network connect datanetwork c0ffee',
    'docker inspect -f {{.NetworkSettings.Networks.datanetwork.NetworkID}} dosh-alice',
    'docker network connect datanetwork dosh-alice',
    'docker exec dosh-alice ps -e -o comm',
    'docker stop dosh-alice',
    'docker rm dosh-alice',
  ]);
});
