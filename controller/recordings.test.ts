// Session recordings on disk (a temp directory): the plan under the per-user cap, the file with its header, the
// retention sweep; and what admission decides for agent forwarding and recording (the fake world).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeClock } from '../test/fakes/clock.ts';
import { basePolicy, World } from '../test/fakes/world.ts';
import { silentLogger } from '../lib/log.ts';
import { Recordings } from './recordings.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-rec-'));
const spec = { user: 'ann', node: 'n1', term: 'xterm-256color' };

test('a recording is planned under her cap, made root-only with its asciicast header, and kept when made again', () => {
  const dir = path.join(tmp(), 'recordings');
  const clock = new FakeClock();
  const r = new Recordings({ dir, retentionMs: 86400_000, userCapBytes: 4096 }, clock, silentLogger);
  const p = r.plan('ann', 'ann-1');
  assert.deepEqual(p, { file: path.join(dir, 'ann', 'ann-1.cast'), limit: 4096 });
  if (!('file' in p)) return;
  r.create(p.file, { spec: spec as never, metadata: { name: 'ann-1' } as never }, { rows: 40, cols: 132 });
  const header = JSON.parse(fs.readFileSync(p.file, 'utf8'));
  assert.deepEqual(header, { version: 2, width: 132, height: 40, timestamp: Math.floor(clock.now() / 1000), env: { TERM: 'xterm-256color' }, title: 'ann@n1 ann-1' });
  assert.equal(fs.statSync(p.file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(p.file)).mode & 0o777, 0o700);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  fs.appendFileSync(p.file, '[0.1, "o", "x"]\n');
  r.create(p.file, { spec: spec as never, metadata: { name: 'ann-1' } as never }, undefined);
  assert.match(fs.readFileSync(p.file, 'utf8'), /"o", "x"/, 'the same login asked again keeps it');
  fs.appendFileSync(p.file, 'y'.repeat(4000));
  assert.match(JSON.stringify(r.plan('ann', 'ann-2')), /already take \d+ bytes, her cap is 4096/);
  assert.ok('file' in r.plan('bob', 'bob-1'), 'the cap is hers, not everyone\'s');
});

test('the retention: old recordings go (at most one sweep a minute), a live session\'s stays, empty directories go', async () => {
  const dir = tmp();
  const clock = new FakeClock();
  const r = new Recordings({ dir, retentionMs: 3600_000, userCapBytes: 1 << 20 }, clock, silentLogger);
  fs.mkdirSync(path.join(dir, 'ann'));
  fs.mkdirSync(path.join(dir, 'bob'));
  const old = new Date(clock.now() - 7200_000);
  for (const [u, n] of [['ann', 'ann-1'], ['ann', 'ann-2'], ['bob', 'bob-1']]) {
    fs.writeFileSync(path.join(dir, u, `${n}.cast`), '{}\n');
    fs.utimesSync(path.join(dir, u, `${n}.cast`), old, old);
  }
  fs.writeFileSync(path.join(dir, 'ann', 'ann-3.cast'), '{}\n');
  r.sweep(new Set(['ann-2']));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'ann')).sort(), ['ann-2.cast', 'ann-3.cast']);
  assert.ok(!fs.existsSync(path.join(dir, 'bob')));
  fs.utimesSync(path.join(dir, 'ann', 'ann-3.cast'), old, old);
  r.sweep(new Set());
  assert.equal(fs.readdirSync(path.join(dir, 'ann')).length, 2, 'not again within the minute');
  await clock.advance(60_000);
  r.sweep(new Set());
  assert.ok(!fs.existsSync(path.join(dir, 'ann')));
});

test('admission: FORWARDAGENT gives a login with an agent its socket and SSH_AUTH_SOCK; her container mounts her agent directory', async () => {
  const agents = tmp();
  const w = new World({ agentsDir: agents });
  w.policyFor = () => basePolicy({ forwardAgent: true });
  const s = w.login('ann', { agent: true });
  await w.controller.syncSession(s.metadata.name);
  const got = w.get(s.metadata.name);
  assert.equal(got.status.agentSocket, `${agents}/1001/${s.metadata.name}.sock`);
  assert.ok(got.status.exec?.env.includes(`SSH_AUTH_SOCK=/.dosh/agent/${s.metadata.name}.sock`));
  assert.ok(fs.statSync(path.join(agents, '1001')).isDirectory(), 'made before her container');
  const mounts = w.engine.containers.get('dosh-ann')!.body!.HostConfig!.Mounts!;
  assert.deepEqual(mounts.at(-1), { Type: 'bind', Source: `${agents}/1001`, Target: '/.dosh/agent', ReadOnly: true });
  // Without an agent, or without the policy's word, no socket.
  const plain = w.login('ann');
  await w.controller.syncSession(plain.metadata.name);
  assert.equal(w.get(plain.metadata.name).status.agentSocket, undefined);
  assert.ok(!w.get(plain.metadata.name).status.exec?.env.some((e) => e.startsWith('SSH_AUTH_SOCK=')));
  const w2 = new World({ agentsDir: agents });
  const s2 = w2.login('ann', { agent: true });
  await w2.controller.syncSession(s2.metadata.name);
  assert.equal(w2.get(s2.metadata.name).status.agentSocket, undefined);
  assert.ok(!w2.engine.containers.get('dosh-ann')!.body!.HostConfig!.Mounts?.some((m) => m.Target === '/.dosh/agent'));
  // Once the session has ended, its socket goes.
  fs.writeFileSync(got.status.agentSocket!, '');
  w.store.mutate(s.metadata.name, (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded', endedAt: new Date(w.clock.now()).toISOString() } }));
  await w.controller.syncSession(s.metadata.name);
  assert.ok(!fs.existsSync(got.status.agentSocket!));
});

test('admission: RECORDSESSIONS records terminal sessions only; over her cap, one event says why', async () => {
  const w = new World();
  let cap = false;
  w.recordingPlan = (u, n) => (cap ? { skipped: `${u} is over her cap` } : { file: `/rec/${u}/${n}.cast`, limit: 99 });
  w.policyFor = () => basePolicy({ recordSessions: true });
  const t = w.login('ann', { tty: true, mode: 'interactive', command: undefined });
  await w.controller.syncSession(t.metadata.name);
  assert.deepEqual(w.get(t.metadata.name).status.recording, { file: `/rec/ann/${t.metadata.name}.cast`, limit: 99 });
  const c = w.login('ann');
  await w.controller.syncSession(c.metadata.name);
  assert.equal(w.get(c.metadata.name).status.recording, undefined, 'scp, rsync, -c without a terminal: not recorded');
  cap = true;
  const over = w.login('ann', { tty: true });
  await w.controller.syncSession(over.metadata.name);
  assert.equal(w.get(over.metadata.name).status.recording, undefined);
  assert.deepEqual(w.events.of(`Session/${over.metadata.name}`).filter((e) => /RecordingStopped/.test(e)), ['Warning RecordingStopped: not recorded: ann is over her cap']);
});
