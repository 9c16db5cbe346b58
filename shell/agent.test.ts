// The relay's ssh agent forwarding (shell/agent.c), its sanitizer build against the fake doshd and engine, run as
// nobody: the socket doshd names is bound and handed to her, each connection to it reaches her own agent (a fake one
// here) and nothing else, and a SSH_AUTH_SOCK that is not hers is refused with a message, the login going on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Msg } from '../api/relay-protocol.ts';
import type { RelayConnection } from '../controller/session-api/connection.ts';
import { EXEC_ID, FakeDoshd, FakeEngine, relayRig, NOBODY, runRelay, until, type Rig } from './testkit.ts';

const root = process.getuid?.() === 0;
let rig: Rig;
relayRig((r) => {
  rig = r;
  fs.mkdirSync(path.join(rig.dir, 'agents'), { mode: 0o777 });
  fs.chmodSync(path.join(rig.dir, 'agents'), 0o777); // the test relay is not setuid: nobody binds there
});

/** Her agent: answers each message with AGENT:MESSAGE, on a socket of nobody's in a 0700 directory of nobody's. */
async function fakeAgent(owner = NOBODY): Promise<{ sock: string; server: net.Server }> {
  const dir = fs.mkdtempSync(path.join(rig.dir, 'ssh-'));
  const sock = path.join(dir, 'agent.123');
  const server = net.createServer((c) => c.on('data', (d) => c.write(`AGENT:${d.toString()}`)));
  await new Promise<void>((r) => server.listen(sock, () => r()));
  fs.chownSync(sock, owner, owner);
  fs.chownSync(dir, owner, owner);
  fs.chmodSync(dir, 0o700);
  return { sock, server };
}

const ask = (sock: string, msg: string) =>
  new Promise<string>((resolve, reject) => {
    const c = net.connect(sock);
    c.once('error', reject);
    c.once('data', (d) => {
      resolve(d.toString());
      c.destroy();
    });
    c.write(msg);
  });

function admitWithAgent(conn: RelayConnection, name: string): string {
  const agentSocket = path.join(rig.dir, 'agents', `${name}.sock`);
  conn.send(Msg.Admit, { Session: name, ExecId: EXEC_ID, EngineSocket: rig.engineSocket, RelaySocket: path.join(rig.store, 'relays', `${name}.sock`), Tty: 0, AgentSocket: agentSocket });
  return agentSocket;
}

test('ssh -A: the login says it has an agent; the socket doshd names is hers (0600) and reaches her agent, several at once', { skip: !root && 'needs root' }, async () => {
  const agent = await fakeAgent();
  const engine = await new FakeEngine(rig.engineSocket, (_req, sock) => sock.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')).start();
  let agentSocket = '';
  const doshd = await new FakeDoshd(rig, (conn) => void (agentSocket = admitWithAgent(conn, 'ann-1'))).start();
  const run = runRelay(rig, { args: ['-c', 'ssh-add -l'], env: { SSH_AUTH_SOCK: agent.sock }, keepStdin: true });
  try {
    await until('Started', () => doshd.logins[0]?.frames.some((f) => f.frame.type === Msg.Started));
    assert.equal(doshd.logins[0].frame.u32('Agent'), 1);
    assert.ok(!doshd.logins[0].frame.frame.fields.some((f) => f.value.toString().includes(agent.sock)), 'the path itself stays with the relay');
    const st = fs.statSync(agentSocket);
    assert.ok(st.isSocket());
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [NOBODY, NOBODY, 0o600]);
    const answers = await Promise.all(['a', 'b', 'c'].map((m) => ask(agentSocket, m)));
    assert.deepEqual(answers, ['AGENT:a', 'AGENT:b', 'AGENT:c']);
    run.child.kill('SIGHUP');
    assert.equal((await run.done).code, 129);
  } finally {
    run.child.kill('SIGKILL');
    agent.server.close();
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});

test('a SSH_AUTH_SOCK that is not hers (root\'s socket, her socket in a directory others may write) is not forwarded, and she is told', { skip: !root && 'needs root' }, async () => {
  const engine = await new FakeEngine(rig.engineSocket, (_req, sock) => sock.end('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')).start();
  const theirs = await fakeAgent(0);
  const open = await fakeAgent();
  fs.chmodSync(path.dirname(open.sock), 0o777);
  const names: string[] = [];
  const doshd = await new FakeDoshd(rig, (conn, _f, n) => {
    names.push(admitWithAgent(conn, `ann-${n + 1}`));
    conn.onFrame((f) => {
      if (f.frame.type === Msg.StreamEnd) conn.end(Msg.Exit, { ExitCode: 0 });
    });
  }).start();
  try {
    for (const [sock, why] of [
      [theirs.sock, /ssh agent not forwarded: SSH_AUTH_SOCK is not a socket of yours/],
      [open.sock, /ssh agent not forwarded: SSH_AUTH_SOCK is not in a directory of yours that only you may write/],
    ] as const) {
      const r = await runRelay(rig, { args: ['-c', 'true'], env: { SSH_AUTH_SOCK: sock } }).done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, why);
    }
    for (const n of names) await assert.rejects(ask(n, 'x'), /ECONNREFUSED|ENOENT/);
  } finally {
    theirs.server.close();
    open.server.close();
    await Promise.all([doshd.stop(), engine.stop()]);
  }
});
