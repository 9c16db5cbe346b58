// The session API's login service against a real store (a temp directory), real Unix sockets (the relay played by
// the test), a fake user directory and a fake admission that settles each enqueued session as the test says.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { API_VERSION } from '../../api/constants.ts';
import { FRAME_MAX, Msg, RELAY_PROTOCOL_VERSION } from '../../api/relay-protocol.ts';
import { encodeFrame, FrameReader, splitFrames, type FieldValues } from '../../api/relay-wire.ts';
import type { Session, SessionStatus } from '../../api/session.ts';
import { silentLogger } from '../../lib/log.ts';
import type { NssUser } from '../../lib/users.ts';
import { sessionStore } from '../../store/sessions.ts';
import { RecordingEvents } from '../../test/fakes/world.ts';
import { RelayConnection } from './connection.ts';
import { Gate } from './gate.ts';
import { RelayLinks, type RelayEvents } from './links.ts';
import { LoginService } from './logins.ts';
import { SocketPairs } from '../../test/fakes/socket-pair.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-logins-'));
const sockets = new SocketPairs();
let done = false;
after(() => {
  done = true;
  sockets.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ANN: NssUser = { name: 'ann', uid: 1001, gid: 1001, home: '/home/ann', shell: '/usr/local/bin/dosh', groups: [{ name: 'ann', gid: 1001 }] };
const RELAY_PID = 4242;
const noEvents: RelayEvents = { started() {}, resize() {}, signal() {}, firstByte() {}, streamEnded: async () => ({ code: 0 }), hangUp() {}, startFailed() {}, lost() {}, recordingStopped() {} };

let seq = 0;
function rig(settle: (s: Session) => SessionStatus | undefined = (s) => ({ ...s.status, phase: 'Ready', execId: 'e'.repeat(64) })) {
  const store = sessionStore(fs.mkdtempSync(path.join(dir, 'store-')));
  store.init();
  const events = new RecordingEvents();
  const enqueued: string[] = [];
  const refused: string[] = [];
  const audited: Record<string, unknown>[] = [];
  const gate = new Gate({ perSecond: 1, burst: 2 }, { perLogin: 1000, perUser: 5000, total: 10000 }, () => 0);
  const service = new LoginService({
    store,
    users: { lookup: async (k) => (String(k) === '1001' || k === 'ann' ? ANN : undefined) },
    proc: { realUid: (pid) => (pid === RELAY_PID ? 1001 : undefined), startTime: (pid) => (pid === RELAY_PID ? '777' : undefined), runs: (_pid, program) => program === ANN.shell },
    links: new RelayLinks(noEvents, () => Promise.reject(new Error('unused')), silentLogger),
    admission: {
      enqueueSession: (name) => {
        enqueued.push(name);
        const s = store.get(name)!;
        const st = settle(s);
        if (st) store.update({ ...s, status: st });
      },
      endSessionNamed: async () => {},
      settled: async (name) => {
        // As the controller's: resolves once the session is no longer Pending.
        while (!done) {
          const s = store.get(name);
          if (s?.status.phase !== 'Pending') return s;
          await new Promise((res) => setTimeout(res, 5));
        }
        return undefined;
      },
    },
    gate,
    clock: { now: () => 0, sleep: async () => {} },
    random: () => `r${++seq}`,
    log: silentLogger,
    events,
    refused: (r) => refused.push(r),
    audit: { write: (a) => audited.push(a) },
    node: 'node1',
    engineSocket: '/var/run/docker.sock',
    relaySocket: (n) => `/run/dosh/relays/${n}.sock`,
  });
  return { store, events, enqueued, refused, audited, service };
}

/** Sends one login request as a relay would and returns doshd's answer. */
async function login(service: LoginService, values: FieldValues = {}): Promise<FrameReader> {
  const { relay, doshd: sock } = await sockets.pair();
  const conn = new RelayConnection(sock);
  let got = Buffer.alloc(0);
  const answer = new Promise<FrameReader>((resolve) =>
    relay.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const [f] = splitFrames(got, FRAME_MAX).frames;
      if (f) resolve(new FrameReader(f));
    }),
  );
  conn.onFrame((f) => service.login(conn, f));
  relay.write(encodeFrame(Msg.Login, { Version: RELAY_PROTOCOL_VERSION, Uid: 1001, Gid: 1001, Pid: RELAY_PID, Argv0: '-dosh', Arg: ['-c', 'id'], Term: 'xterm', SshConnection: '10.1.2.3 5555 10.0.0.1 22', Tty: 0, ...values }));
  return answer;
}

test('a login becomes a Session (her account from NSS, the relay, the invocation) and is answered with the exec to start', async () => {
  const r = rig();
  const a = await login(r.service);
  assert.equal(a.frame.type, Msg.Admit);
  const [s] = r.store.list();
  assert.equal(a.bytes('Session')?.toString(), s.metadata.name);
  assert.equal(a.bytes('ExecId')?.toString(), 'e'.repeat(64));
  assert.equal(a.bytes('EngineSocket')?.toString(), '/var/run/docker.sock');
  assert.equal(a.bytes('RelaySocket')?.toString(), `/run/dosh/relays/${s.metadata.name}.sock`);
  assert.deepEqual(r.enqueued, [s.metadata.name]);
  assert.equal(s.apiVersion, API_VERSION);
  assert.deepEqual(
    { user: s.spec.user, uid: s.spec.uid, gid: s.spec.gid, mode: s.spec.mode, command: s.spec.command, login: s.spec.login, relay: s.spec.relay, client: s.spec.client, sshClient: s.spec.sshClient, node: s.spec.node },
    { user: 'ann', uid: 1001, gid: 1001, mode: 'command', command: 'id', login: true, relay: { pid: RELAY_PID, startTime: '777' }, client: 'ssh', sshClient: '10.1.2.3 5555', node: 'node1' },
  );
  assert.equal(s.spec.loginShell, true, 'the relay runs her account\'s login shell');
});

test('refused before anything is written: bad options (status 2), an unknown uid, a uid /proc does not confirm, too many logins at once', async () => {
  const r = rig();
  const bad = await login(r.service, { Arg: ['--rcfile', 'x'] });
  assert.deepEqual([bad.frame.type, bad.u32('ExitCode'), bad.bytes('Message')?.toString()], [Msg.Refuse, 2, '--rcfile: invalid option']);
  const unknown = await login(r.service, { Uid: 1002 });
  assert.match(unknown.bytes('Message')!.toString(), /not running as uid 1002/);
  assert.equal(r.store.list().length, 0);
  await login(r.service);
  await login(r.service);
  const limited = await login(r.service);
  assert.equal(limited.frame.type, Msg.Refuse);
  assert.match(limited.bytes('Message')!.toString(), /ann is starting logins faster than this host allows \(2 at once, then 1 a second\)/);
  assert.equal(r.store.list().length, 2, 'the refused login wrote nothing');
  assert.deepEqual(r.refused, ['BadRequest', 'BadRequest', 'RateLimited']);
  assert.deepEqual(r.events.of('User/ann'), ['Warning RateLimited: logins of ann refused: started faster than this host allows']);
  // Each is audited, with what is known of her when it was refused (no Session object exists to say it).
  assert.deepEqual(r.audited.map((a) => [a.event, a.reason, a.uid, a.user]), [
    ['refusal', 'BadRequest', 1001, undefined],
    ['refusal', 'BadRequest', 1002, undefined],
    ['refusal', 'RateLimited', 1001, 'ann'],
  ]);
  assert.deepEqual(r.audited[2], { event: 'refusal', uid: 1001, user: 'ann', sshClient: '10.1.2.3 5555', command: 'id', tty: false, mode: 'command', reason: 'RateLimited', message: r.audited[2].message });
  const nobody = rig();
  await login(nobody.service, { Uid: 1001, Pid: RELAY_PID, Arg: ['-c', 'id'] });
  assert.equal(nobody.audited.length, 0, 'an admitted login is audited by the controller, at Ready');
});

test('a refusal by admission is answered with its message; a request asked again after a doshd restart gets back its session', async () => {
  const r = rig((s) => ({ ...s.status, phase: 'Failed', reason: 'Cordoned', message: 'maintenance until 14:00' }));
  const refused = await login(r.service);
  assert.deepEqual([refused.frame.type, refused.bytes('Message')?.toString()], [Msg.Refuse, 'maintenance until 14:00']);

  // The first doshd made the session and died before answering; the relay asks the new one again (attempt 2).
  const again = rig(() => undefined);
  const first = await Promise.race([login(again.service), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100))]);
  assert.equal(first, undefined, 'not answered: the admission never settles');
  const [made] = again.store.list();
  again.store.update({ ...made, status: { ...made.status, phase: 'Ready', execId: 'f'.repeat(64) } });
  const second = await login(again.service, { Attempt: 2 });
  assert.equal(second.frame.type, Msg.Admit);
  assert.equal(second.bytes('Session')?.toString(), made.metadata.name, 'the same session');
  assert.equal(second.bytes('ExecId')?.toString(), 'f'.repeat(64));
  assert.equal(again.store.list().length, 1, 'no second object');
});
