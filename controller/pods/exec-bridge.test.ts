// The pod exec bridge on a real Unix socket, speaking Docker's hijacked exec start as the relay does, over a fake
// pod exec (what the API server's WebSocket would carry). The real relay and cluster: test/integration/user-pods.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PodExecIO, PodExecStatus, PodExecStream } from '../../kube/types.ts';
import { exitCodeOf, frame, PodExecBridge, type PodTarget } from './exec-bridge.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dosh-bridge-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const POD: PodTarget = { namespace: 'dosh', pod: 'dosh-ann', container: 'dosh' };
const EXITED = (code: number): PodExecStatus => ({ status: 'Failure', reason: 'NonZeroExitCode', message: `command terminated with non-zero exit code: ${code}`, details: { causes: [{ reason: 'ExitCode', message: String(code) }] } });

/** A pod exec that echoes stdin to stdout, says `err` on stderr, and ends with `exit` when stdin ends. */
class FakeExec {
  calls: string[] = [];
  io?: PodExecIO;
  fail?: Error;
  exit: PodExecStatus = EXITED(3);
  async execPod(target: PodTarget, command: string[], tty: boolean, io: PodExecIO): Promise<PodExecStream> {
    this.calls.push(`exec ${target.namespace}/${target.pod}/${target.container} ${JSON.stringify(command)} tty=${tty}`);
    if (this.fail) throw this.fail;
    this.io = io;
    // Output before the stream is handed back: the bridge holds it until the upgrade is written.
    io.stderr(Buffer.from('err'));
    return {
      stdin: (b) => io.stdout(b),
      endStdin: () => {
        this.calls.push('stdin closed');
        io.status(this.exit);
        io.closed();
      },
      resize: (rows, cols) => this.calls.push(`resize ${rows}x${cols}`),
      close: () => {
        this.calls.push('close');
        io.closed();
      },
    };
  }
}

let seq = 0;
async function rig() {
  const api = new FakeExec();
  let n = 0;
  const bridge = new PodExecBridge({ api, random: () => (++n).toString(16).padStart(64, 'a') });
  const sock = path.join(dir, `b${++seq}.sock`);
  await bridge.listen(sock);
  return { api, bridge, sock };
}

function request(id: string, tty = false): string {
  const body = `{"Detach":false,"Tty":${tty}}`;
  return `POST /exec/${id}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

/** Connects, sends the request (and stdin), half-closes when `end`, and collects everything until the bridge closes. */
function talk(sock: string, req: string, opts: { stdin?: string; end?: boolean; onData?: (s: Socket, all: Buffer) => void } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    const got: Buffer[] = [];
    s.on('data', (b) => {
      got.push(b);
      opts.onData?.(s, Buffer.concat(got));
    });
    s.on('end', () => resolve(Buffer.concat(got)));
    s.on('error', reject);
    s.write(Buffer.from(req + (opts.stdin ?? ''), 'latin1'));
    if (opts.end) s.end();
  });
}

const UPGRADE = 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';

test('exit statuses from the exec\'s status channel: Success is 0, NonZeroExitCode its code, anything else unknown', () => {
  assert.equal(exitCodeOf({ status: 'Success' }), 0);
  assert.equal(exitCodeOf(EXITED(42)), 42);
  assert.equal(exitCodeOf({ status: 'Failure', message: 'OCI runtime exec failed: exec: "nosuch": executable file not found in $PATH' }), null);
});

test('without a terminal: upgraded, stdout and stderr framed as Docker frames them, stdin carried byte for byte, its half-close ends it, the exit status kept', async () => {
  const { api, bridge, sock } = await rig();
  const id = bridge.create(POD, ['/bin/sh', '-c', 'cat'], false);
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal((statSync(sock).mode & 0o777).toString(8), '600');
  const bytes = Buffer.from([0, 1, 2, 255, 10, 13]).toString('latin1');
  const got = await talk(sock, request(id), { stdin: bytes, end: true });
  assert.deepEqual(got, Buffer.concat([Buffer.from(UPGRADE), frame(2, Buffer.from('err')), frame(1, Buffer.from(bytes, 'latin1'))]));
  assert.deepEqual(api.calls, [`exec dosh/dosh-ann/dosh ["/bin/sh","-c","cat"] tty=false`, 'stdin closed']);
  assert.deepEqual(bridge.inspect(id), { running: false, exitCode: 3 });
  bridge.close();
});

test('with a terminal: raw output, and a resize reaches the exec', async () => {
  const { api, bridge, sock } = await rig();
  const id = bridge.create(POD, ['/bin/sh'], true);
  api.exit = { status: 'Success' };
  const got = await talk(sock, request(id, true), {
    stdin: 'hi',
    onData: (s, all) => {
      if (all.toString().endsWith('hi')) {
        assert.deepEqual(bridge.inspect(id), { running: true, exitCode: null });
        bridge.resize(id, 40, 120);
        s.end();
      }
    },
  });
  assert.equal(got.toString(), `${UPGRADE}errhi`);
  assert.deepEqual(api.calls.slice(1), ['resize 40x120', 'stdin closed']);
  assert.deepEqual(bridge.inspect(id), { running: false, exitCode: 0 });
  bridge.close();
});

test('refusals the relay can print: an unknown exec (404), a second start (409), an exec the API server would not open (502, exit 126)', async () => {
  const { api, bridge, sock } = await rig();
  const unknown = await talk(sock, request('f'.repeat(64)));
  assert.match(unknown.toString(), /^HTTP\/1\.1 404 Not Found\r\n[^]*\r\n\r\n\{"message":"No such exec instance: f{64}"\}$/);
  const id = bridge.create(POD, ['true'], false);
  await talk(sock, request(id), { end: true });
  assert.match((await talk(sock, request(id))).toString(), /^HTTP\/1\.1 409 Conflict\r\n[^]*already been started/);
  api.fail = new Error('exec in pod dosh/dosh-ann: pods "dosh-ann" not found');
  const gone = bridge.create(POD, ['true'], false);
  assert.match((await talk(sock, request(gone))).toString(), /^HTTP\/1\.1 502 Bad Gateway\r\n[^]*would not start the session in pod dosh\/dosh-ann: exec in pod dosh\/dosh-ann: pods \\"dosh-ann\\" not found"\}$/);
  assert.deepEqual(bridge.inspect(gone), { running: false, exitCode: 126 });
  assert.match((await talk(sock, 'GET /version HTTP/1.1\r\n\r\n')).toString(), /^HTTP\/1\.1 404 /);
  bridge.close();
});

test('a command that never ran: the cluster\'s words on her stderr, exit 126; an administrator\'s end closes the exec', async () => {
  const { api, bridge, sock } = await rig();
  api.exit = { status: 'Failure', message: 'exec: "nosuch": executable file not found in $PATH' };
  const id = bridge.create(POD, ['nosuch'], false);
  const got = await talk(sock, request(id), { end: true });
  assert.ok(got.includes(frame(2, Buffer.from('dosh: exec: "nosuch": executable file not found in $PATH\r\n'))));
  assert.deepEqual(bridge.inspect(id), { running: false, exitCode: 126 });

  const live = bridge.create(POD, ['sleep', '9'], false);
  const ended = talk(sock, request(live), { onData: (_s, all) => all.includes('err') && bridge.end(live) });
  await ended;
  assert.equal(api.calls.at(-1), 'close');
  assert.equal(bridge.inspect(live)?.running, false);
  bridge.forget(live);
  assert.equal(bridge.inspect(live), undefined);
  bridge.close();
});

test('an ended exec is kept for its exit status, then forgotten when later execs are made; so is one never started', async () => {
  let now = 0;
  const api = new FakeExec();
  let n = 0;
  const bridge = new PodExecBridge({ api, random: () => (++n).toString(16).padStart(64, 'c'), now: () => now });
  const sock = path.join(dir, `b${++seq}.sock`);
  await bridge.listen(sock);
  const id = bridge.create(POD, ['true'], false);
  await talk(sock, request(id), { end: true });
  now += 9 * 60_000;
  bridge.create(POD, ['true'], false);
  assert.deepEqual(bridge.inspect(id), { running: false, exitCode: 3 }, 'kept 9 minutes on');
  now += 2 * 60_000;
  const unstarted = bridge.create(POD, ['true'], false);
  assert.equal(bridge.inspect(id), undefined, 'forgotten past 10 minutes');
  now += 5 * 60_000;
  bridge.create(POD, ['true'], false);
  assert.deepEqual(bridge.inspect(unstarted), { running: false, exitCode: null }, 'one not started yet is kept a while');
  now += 6 * 60_000;
  bridge.create(POD, ['true'], false);
  assert.equal(bridge.inspect(unstarted), undefined, 'and forgotten 10 minutes after it was made');
  bridge.close();
});

test('stdin and its end sent with the request, before the exec is open, all reach it; a body split from the head is not stdin', async () => {
  const { api, bridge, sock } = await rig();
  const execPod = api.execPod.bind(api);
  // The API server takes its time to open the exec.
  api.execPod = async (...args) => {
    await new Promise((r) => setTimeout(r, 100));
    return execPod(...args);
  };
  const id = bridge.create(POD, ['cat'], false);
  const req = request(id);
  const cut = req.indexOf('\r\n\r\n') + 4;
  const got = await new Promise<Buffer>((resolve, reject) => {
    const s = connect(sock);
    const chunks: Buffer[] = [];
    s.on('data', (b) => chunks.push(b));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(req.slice(0, cut));
    setTimeout(() => s.end(`${req.slice(cut)}early stdin`), 20);
  });
  assert.deepEqual(got, Buffer.concat([Buffer.from(UPGRADE), frame(2, Buffer.from('err')), frame(1, Buffer.from('early stdin'))]));
  assert.deepEqual(api.calls.slice(1), ['stdin closed']);
  assert.deepEqual(bridge.inspect(id), { running: false, exitCode: 3 });
  bridge.close();
});
