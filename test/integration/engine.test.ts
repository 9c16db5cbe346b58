// Integration tests of the engine adapter (engine/docker.ts) against the real Docker engine on /var/run/docker.sock
// and the local image dosh-test/busybox:latest: container lifecycle, typed errors, non-TTY exec with the real
// multiplexed stream (demultiplexed by shell/relay.ts), half-close, exit codes, the exec's host pid, TTY resize.
// Every container is named dti-RUN-* and labelled with this run's id, and is removed in `after`.
// needs: docker busybox
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { DEFAULT_DOCKER_SOCKET, Engine, ImageNotFoundError, NetworkNotFoundError, type CreateBody } from '../../engine/docker.ts';
import { ConflictError, NotFoundError, UnavailableError } from '../../lib/errors.ts';
import { isSameProcessAlive, parseStat, processStartTime } from '../../lib/proc.ts';
import { Demuxer } from '../../shell/relay.ts';

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

/** Collects everything the engine sends on an exec connection, until it closes it. */
function collect(sock: Duplex): { raw: () => Buffer; done: Promise<void> } {
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    sock.on('end', resolve);
    sock.on('close', resolve);
    sock.on('error', reject);
  });
  return { raw: () => Buffer.concat(chunks), done };
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

describe('exec', () => {
  test('non-TTY exec: stdin piped, stdout/stderr demultiplexed byte-exact (1 MiB binary), half-close gives EOF, exit code and host pid', { timeout: 60_000 }, async () => {
    const data = randomBytes(1024 * 1024);
    // tee copies stdin to stdout and to stderr; it ends only when stdin reaches EOF, then the shell exits 3.
    const execId = await engine.createExec(shared, { argv: ['sh', '-c', 'tee /dev/stderr; exit 3'], env: ['LC_ALL=C'], user: '0:0', tty: false });
    const created = await engine.inspectExec(execId);
    assert.equal(created.running, false);

    const sock = await engine.startExec(execId, false);
    const got = collect(sock);

    // While it runs, the exec's pid is a real host process, inside the container's cgroup.
    const st = await until('exec running with a pid', async () => {
      const s = await engine.inspectExec(execId);
      return s.running && s.pid > 0 ? s : undefined;
    });
    assert.equal(st.exitCode, null);
    const stat = parseStat(fs.readFileSync(`/proc/${st.pid}/stat`, 'latin1'));
    assert.ok(stat && stat.state !== 'Z', `host process ${st.pid} runs`);
    assert.match(fs.readFileSync(`/proc/${st.pid}/stat`, 'latin1'), /^\d+ \((sh|tee)\) /);
    assert.match(fs.readFileSync(`/proc/${st.pid}/cgroup`, 'utf8'), new RegExp(shared));
    const start = processStartTime(st.pid)!;

    sock.write(data);
    sock.end(); // half-close: the engine must close tee's stdin and keep sending its output

    await got.done;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const other: number[] = [];
    const demux = new Demuxer();
    const raw = got.raw();
    // Feed the wire in odd-sized pieces: frames straddle every boundary.
    for (let i = 0; i < raw.length; i += 7919) {
      demux.push(raw.subarray(i, i + 7919), (stream, payload) => {
        if (stream === 1) out.push(Buffer.from(payload));
        else if (stream === 2) err.push(Buffer.from(payload));
        else other.push(stream);
      });
    }
    assert.equal(demux.pending(), 0, 'no partial frame left');
    assert.deepEqual(other, [], 'only stdout (1) and stderr (2) frames');
    const stdout = Buffer.concat(out);
    const stderr = Buffer.concat(err);
    assert.equal(stdout.length, data.length);
    assert.ok(stdout.equals(data), 'stdout byte-exact');
    assert.equal(stderr.length, data.length);
    assert.ok(stderr.equals(data), 'stderr byte-exact');

    const ended = await until('exec no longer running', async () => {
      const s = await engine.inspectExec(execId);
      return s.running ? undefined : s;
    });
    assert.equal(ended.exitCode, 3);
    assert.equal(isSameProcessAlive(st.pid, start), false, 'the host process is gone');
  });

  test('non-TTY exec with no stdin at all: immediate half-close, output only, exit status 0', async () => {
    const execId = await engine.createExec(shared, { argv: ['sh', '-c', 'cat; echo out; echo err >&2'], env: [], user: '0:0', tty: false });
    const sock = await engine.startExec(execId, false);
    const got = collect(sock);
    sock.end();
    await got.done;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    new Demuxer().push(got.raw(), (s, p) => (s === 2 ? err : out).push(Buffer.from(p)));
    assert.equal(Buffer.concat(out).toString(), 'out\n');
    assert.equal(Buffer.concat(err).toString(), 'err\n');
    const s = await until('exec ended', async () => {
      const x = await engine.inspectExec(execId);
      return x.running ? undefined : x;
    });
    assert.equal(s.exitCode, 0);
  });

  test('TTY exec: resizeExec sets the size that `stty size` prints; user and exit code pass through', { timeout: 60_000 }, async () => {
    const execId = await engine.createExec(shared, { argv: ['sh'], env: ['TERM=xterm', 'PS1=$ '], user: '1000:1000', tty: true });
    const sock = await engine.startExec(execId, true);
    const got = collect(sock);
    await until('TTY exec running', async () => {
      const s = await engine.inspectExec(execId);
      return s.running && s.pid > 0;
    });

    await engine.resizeExec(execId, 37, 123);
    sock.write('stty size; id -u\n');
    await until('stty prints 37 123', async () => /\r?\n37 123\r?\n1000\r?\n/.test(got.raw().toString('latin1')));

    await engine.resizeExec(execId, 50, 80);
    sock.write('stty size\n');
    await until('stty prints 50 80', async () => /\r?\n50 80\r?\n/.test(got.raw().toString('latin1')));

    // With a TTY the stream is raw: no 8-byte frame headers.
    assert.ok(!got.raw().includes(Buffer.from([1, 0, 0, 0])), 'no multiplexing headers on a TTY stream');

    sock.write('exit 7\n');
    await got.done;
    const s = await until('TTY exec ended', async () => {
      const x = await engine.inspectExec(execId);
      return x.running ? undefined : x;
    });
    assert.equal(s.exitCode, 7);
  });

  test('a failed startExec (no such exec) is a NotFoundError and leaves nothing open: the process exits by itself', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures', 'engine-startexec-fail.ts'), DEFAULT_DOCKER_SOCKET], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    let exited = false;
    child.on('exit', () => (exited = true));
    try {
      await until(`the child reports the startExec result (stderr: ${err})`, async () => out.includes('\n'));
      assert.equal(out.trim(), 'rejected NotFoundError');
      // Once the call has failed there is nothing left to do; a request socket left open keeps the process alive
      // until the daemon drops the idle connection (minutes).
      await until('the child exits by itself after the failed startExec', async () => exited, 10_000);
    } finally {
      if (!exited) child.kill('SIGKILL');
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
      await assert.rejects(dead.startExec('0'.repeat(64), false), isUnavailable);
      await assert.rejects(dead.inspectExec('0'.repeat(64)), isUnavailable);
      await assert.rejects(dead.resizeExec('0'.repeat(64), 24, 80), isUnavailable);
    });
  }
});
