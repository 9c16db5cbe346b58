// Integration tests of the engine adapter (engine/docker.ts) against the real Docker engine on /var/run/docker.sock
// and the local image dosh-test/busybox:latest: container lifecycle, typed errors, and execs made by the adapter and
// started by the login relay (shell/dosh.c): the real multiplexed stream, half-close, exit codes, the exec's host
// pid, TTY resize.
// Every container is named dti-RUN-* and labelled with this run's id, and is removed in `after`.
// needs: docker busybox
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_DOCKER_SOCKET, Engine, ImageNotFoundError, NetworkNotFoundError, type CreateBody } from '../../engine/docker.ts';
import { ConflictError, NotFoundError, UnavailableError } from '../../lib/errors.ts';
import { isSameProcessAlive, parseStat, processStartTime } from '../../lib/proc.ts';
import { Msg } from '../../api/relay-protocol.ts';
import type { FrameReader } from '../../api/relay-wire.ts';
import { FakeDoshd, makeRig, runRelay, runRelayOnTty, type Rig } from '../../shell/testkit.ts';

const IMAGE = 'dosh-test/busybox:latest';
const RUN = randomBytes(4).toString('hex');
const LABEL_KEY = 'dosh.test/integration';
const LABEL = `${LABEL_KEY}=${RUN}`;
const PREFIX = `dti-${RUN}-`;

const engine = new Engine(DEFAULT_DOCKER_SOCKET);
let shared: string; // a running container the exec tests share

function body(extra: Record<string, string> = {}): CreateBody {
  return { Image: IMAGE, Cmd: ['/bin/sh'], Tty: true, OpenStdin: true, Labels: { [LABEL_KEY]: RUN, ...extra } };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  await engine.ping();
  shared = await engine.createContainer(`${PREFIX}shared`, body()).catch((e) => {
    throw e instanceof ImageNotFoundError ? new Error(`${IMAGE} must exist locally (scripts/lib/build-images.sh)`) : e;
  });
  await engine.startContainer(shared);
});

after(async () => {
  const mine = await engine.listContainers(LABEL).catch(() => []);
  for (const c of mine) await engine.removeContainer(c.id, true).catch(() => {});
});

describe('containers', () => {
  test('create, start, inspect, list by label, start again (no-op), remove', async () => {
    const name = `${PREFIX}life`;
    const id = await engine.createContainer(name, body({ role: 'life' }));
    assert.match(id, /^[0-9a-f]{64}$/);

    const created = await engine.inspectContainer(name);
    assert.equal(created.id, id);
    assert.equal(created.name, name);
    assert.equal(created.image, IMAGE);
    assert.equal(created.running, false);
    assert.equal(created.state, 'created');
    assert.equal(created.pid, 0);
    // The image's own labels are merged in by the engine; ours must be there as given.
    assert.equal(created.labels[LABEL_KEY], RUN);
    assert.equal(created.labels.role, 'life');

    await engine.startContainer(id);
    const running = await engine.inspectContainer(id);
    assert.equal(running.running, true);
    assert.equal(running.state, 'running');
    assert.ok(running.pid > 0);
    // The container's init is a real host process, in the container's cgroup.
    assert.equal(parseStat(fs.readFileSync(`/proc/${running.pid}/stat`, 'latin1'))?.state !== 'Z', true);
    assert.match(fs.readFileSync(`/proc/${running.pid}/cgroup`, 'utf8'), new RegExp(id));

    const listed = await engine.listContainers(LABEL);
    const me = listed.find((c) => c.id === id);
    assert.ok(me, 'listed by its label');
    assert.deepEqual({ ...me, labels: undefined }, { id, name, state: 'running', labels: undefined, networks: ['bridge'] });
    assert.deepEqual(me.labels, created.labels);
    assert.ok(listed.some((c) => c.id === shared), 'the shared container carries the label too');
    assert.deepEqual(await engine.listContainers(`${LABEL_KEY}=no-such-run-${RUN}`), []);

    // Starting a running container is a no-op: no error, same process.
    await engine.startContainer(id);
    await engine.startContainer(name);
    const again = await engine.inspectContainer(id);
    assert.equal(again.running, true);
    assert.equal(again.pid, running.pid);
    assert.equal(again.startedAt, running.startedAt);

    await engine.removeContainer(id);
    await assert.rejects(engine.inspectContainer(id), NotFoundError);
    assert.ok(!(await engine.listContainers(LABEL)).some((c) => c.id === id));
    // Removing what is already gone reaches the goal.
    await engine.removeContainer(id);
  });

  test('typed errors: NotFoundError for a missing container, ImageNotFoundError and NetworkNotFoundError naming what is missing, ConflictError for a duplicate name', async () => {
    await assert.rejects(engine.inspectContainer(`${PREFIX}missing`), NotFoundError);
    await assert.rejects(engine.startContainer(`${PREFIX}missing`), NotFoundError);
    await assert.rejects(engine.createExec(`${PREFIX}missing`, { argv: ['true'], env: [], user: '0:0', tty: false }), NotFoundError);
    await assert.rejects(engine.inspectExec('0'.repeat(64)), NotFoundError);
    await assert.rejects(engine.resizeExec('0'.repeat(64), 24, 80), NotFoundError);
    const noImage = `dosh-test/no-such-image-${RUN}:latest`;
    await assert.rejects(engine.createContainer(`${PREFIX}noimage`, { ...body(), Image: noImage }), (e) => e instanceof ImageNotFoundError && e.image === noImage);
    const noNet = `${PREFIX}no-such-net`;
    // Older engines refuse the create, newer ones the start: either way the error names the network.
    const isNoNet = (e: unknown) => e instanceof NetworkNotFoundError && e.network === noNet;
    const created = await engine.createContainer(`${PREFIX}nonet`, { ...body(), HostConfig: { NetworkMode: noNet } }).catch((e) => assert.ok(isNoNet(e), String(e)));
    if (created) await assert.rejects(engine.startContainer(created), isNoNet);
    await assert.rejects(engine.connectNetwork(noNet, shared), (e) => e instanceof NetworkNotFoundError && e.network === noNet);

    const name = `${PREFIX}dup`;
    const id = await engine.createContainer(name, body());
    await assert.rejects(engine.createContainer(name, body({ second: 'yes' })), ConflictError);
    const kept = await engine.inspectContainer(name);
    assert.equal(kept.id, id, 'the original container is untouched');
    assert.equal(kept.labels.second, undefined);
    await engine.removeContainer(id);
  });

  test('states: a paused container is paused and running as the engine says, refuses an exec (ConflictError) and starts as it is; unpaused it takes execs', async () => {
    const name = `${PREFIX}paused`;
    const id = await engine.createContainer(name, body());
    await engine.startContainer(id);
    const pause = spawnSync('docker', ['pause', id], { encoding: 'utf8' });
    assert.equal(pause.status, 0, pause.stderr);
    const paused = await engine.inspectContainer(id);
    assert.equal(paused.state, 'paused');
    assert.equal(paused.running, true);
    await assert.rejects(engine.createExec(id, { argv: ['true'], env: [], user: '0:0', tty: false }), ConflictError);
    assert.equal(spawnSync('docker', ['unpause', id]).status, 0);
    assert.equal((await engine.inspectContainer(id)).state, 'running');
    assert.match(await engine.createExec(id, { argv: ['true'], env: [], user: '0:0', tty: false }), /^[0-9a-f]{64}$/);
    await engine.removeContainer(id);
  });
});

describe('exec, started and relayed by the login relay (its sanitizer build) against the real engine', () => {
  // doshd's part is played here: the exec is made with the engine adapter, the relay is admitted to it by a fake
  // doshd that answers the end of the stream with the exit status inspectExec reports. The relay runs as root (the
  // sanitizer build is not setuid; the engine's socket is root's), so this tests its stream, not its privilege drop.
  let rig: Rig;
  before(() => {
    rig = makeRig();
  });
  after(() => fs.rmSync(rig.dir, { recursive: true, force: true }));

  async function session(execId: string, tty: boolean, onFrame: (f: FrameReader) => void = () => {}): Promise<FakeDoshd> {
    return new FakeDoshd(rig, (conn) => {
      conn.send(Msg.Admit, { Session: 'it-1', ExecId: execId, EngineSocket: DEFAULT_DOCKER_SOCKET, RelaySocket: path.join(rig.store, 'relays', 'it-1.sock'), Tty: tty ? 1 : 0 });
      conn.onFrame((f) => {
        onFrame(f);
        if (f.frame.type !== Msg.StreamEnd) return;
        void until('the exit code', async () => {
          const s = await engine.inspectExec(execId);
          return s.running || s.exitCode === null ? undefined : s.exitCode;
        }).then((code) => conn.end(Msg.Exit, { ExitCode: code }));
      });
    }).start();
  }

  test('no TTY: 1 MiB of binary stdin through tee, stdout and stderr byte-exact, half-close gives EOF, the exit status, and a real host pid', { timeout: 60_000 }, async () => {
    const data = randomBytes(1024 * 1024);
    // tee copies stdin to stdout and to stderr; it ends only when stdin reaches EOF, then the shell exits 3.
    const execId = await engine.createExec(shared, { argv: ['sh', '-c', 'tee /dev/stderr; exit 3'], env: ['LC_ALL=C'], user: '0:0', tty: false });
    assert.equal((await engine.inspectExec(execId)).running, false);
    const doshd = await session(execId, false);
    try {
      const run = runRelay(rig, { asRoot: true, input: data, keepStdin: true });
      // While it runs, the exec's pid is a real host process, inside the container's cgroup.
      const st = await until('exec running with a pid', async () => {
        const s = await engine.inspectExec(execId);
        return s.running && s.pid > 0 ? s : undefined;
      });
      assert.match(fs.readFileSync(`/proc/${st.pid}/cgroup`, 'utf8'), new RegExp(shared));
      const start = processStartTime(st.pid)!;
      run.child.stdin!.end(); // half-close: the engine must close tee's stdin and keep sending its output
      const r = await run.done;
      assert.equal(r.code, 3, r.stderr.slice(-500));
      assert.equal(r.stdout.length, data.length);
      assert.ok(r.stdout.equals(data), 'stdout byte-exact');
      assert.ok(r.stderrBytes.equals(data), `stderr byte-exact (${r.stderrBytes.length} of ${data.length} bytes)`);
      assert.equal(isSameProcessAlive(st.pid, start), false, 'the host process is gone');
    } finally {
      await doshd.stop();
    }
  });

  test('no TTY and no stdin at all: immediate half-close, output only, exit status 0', { timeout: 60_000 }, async () => {
    const execId = await engine.createExec(shared, { argv: ['sh', '-c', 'cat; echo out; echo err >&2'], env: [], user: '0:0', tty: false });
    const doshd = await session(execId, false);
    try {
      const r = await runRelay(rig, { asRoot: true }).done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'out\n');
      assert.equal(r.stderr, 'err\n');
    } finally {
      await doshd.stop();
    }
  });

  test('on a TTY: resizeExec (doshd\'s answer to the relay\'s Started) sets what `stty size` prints; user and exit code pass through', { timeout: 60_000 }, async () => {
    // The command waits for a line before it reads its size, so the answer never races the resize.
    const execId = await engine.createExec(shared, { argv: ['sh', '-c', 'read x; stty size; id -u; exit 7'], env: ['TERM=xterm'], user: '1000:1000', tty: true });
    let resized: () => void = () => {};
    const done = new Promise<void>((r) => (resized = r));
    const doshd = await session(execId, true, (f) => {
      // As doshd does: at once, without waiting for the process (the engine holds the resize until the exec started).
      if (f.frame.type === Msg.Started) void engine.resizeExec(execId, 37, 123).then(resized);
    });
    try {
      const run = runRelayOnTty(rig, 24, 80, { asRoot: true });
      await done;
      run.child.stdin!.write('\n');
      const r = await run.done;
      assert.equal(r.code, 7, r.stdout.toString());
      assert.match(r.stdout.toString(), /37 123\r?\n1000/);
    } finally {
      await doshd.stop();
    }
  });

  test('exec in a stopped container is refused with a typed error', async () => {
    const id = await engine.createContainer(`${PREFIX}stopped`, body());
    await assert.rejects(engine.createExec(id, { argv: ['true'], env: [], user: '0:0', tty: false }), ConflictError);
    await engine.removeContainer(id);
  });
});

describe('unreachable engine', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'dosh-engine-it-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [what, socketPath] of [
    ['a socket path that does not exist', path.join(dir, 'missing', 'docker.sock')],
    ['a path that is a regular file, not a socket', path.join(dir, 'not-a-socket')],
  ] as const) {
    test(`an engine at ${what} gives UnavailableError (typed), from every call`, async () => {
      fs.writeFileSync(path.join(dir, 'not-a-socket'), '');
      const dead = new Engine(socketPath);
      const isUnavailable = (e: unknown) => {
        assert.ok(e instanceof UnavailableError, `UnavailableError, not ${(e as Error)?.constructor?.name}: ${String(e)}`);
        assert.match(e.message, new RegExp(socketPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), 'the message names the socket');
        return true;
      };
      await assert.rejects(dead.ping(), isUnavailable);
      await assert.rejects(dead.inspectContainer(`${PREFIX}x`), isUnavailable);
      await assert.rejects(dead.listContainers(LABEL), isUnavailable);
      await assert.rejects(dead.createContainer(`${PREFIX}x`, { ...body(), Image: `dosh-test/no-such-image-${RUN}:latest` }), isUnavailable, 'an outage is not "no such image"');
      await assert.rejects(dead.createContainer(`${PREFIX}x`, body()), isUnavailable);
      await assert.rejects(dead.startContainer(`${PREFIX}x`), isUnavailable);
      await assert.rejects(dead.removeContainer(`${PREFIX}x`), isUnavailable);
      await assert.rejects(dead.createExec(`${PREFIX}x`, { argv: ['true'], env: [], user: '0:0', tty: false }), isUnavailable);
      await assert.rejects(dead.inspectExec('0'.repeat(64)), isUnavailable);
      await assert.rejects(dead.resizeExec('0'.repeat(64), 24, 80), isUnavailable);
    });
  }
});
