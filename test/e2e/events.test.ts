// Events end to end: a real doshd records what happens to real logins, and doshctl shows it (events, --watch,
// describe session, -o json).
// needs: docker busybox dosh
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { addUser, BUSYBOX, doshctl, DOSHCTL, Doshd, removeContainersOf, sessionsOf, su, until, endSuite } from './harness.ts';

const U = 'dte-eve';
let doshd: Doshd;

interface EventJson {
  kind: string;
  type: string;
  reason: string;
  message: string;
  count: number;
  involvedObject: { kind: string; name: string };
  source: { component: string };
}

async function eventsOf(session: string): Promise<EventJson[]> {
  const r = await doshctl('events', '--for', `session/${session}`, '-o', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()).items;
}

before(async () => {
  addUser(U);
  removeContainersOf(U);
  doshd = await new Doshd(`CONTAINERIMAGE=${BUSYBOX}\nCONTAINERCOMMAND=/bin/sh\nIDLETIMEOUT=0\n`).start();
});

after(async () => {
  await doshctl('uncordon');
  await endSuite(doshd, [U]);
});

test('a login records Admitted, Ready and Ended with its exit code; doshctl events and describe show them', async () => {
  const r = await su(U, 'exit 3');
  assert.equal(r.code, 3, r.stderr);
  const [s] = await sessionsOf(U);
  const name = s.metadata.name;
  const evs = await until('the Ended event', async () => {
    const e = await eventsOf(name);
    return e.some((x) => x.reason === 'Ended') && e;
  });
  const reasons = evs.map((e) => e.reason);
  for (const want of ['Admitted', 'ContainerCreated', 'ContainerStarted', 'Ready', 'Ended']) assert.ok(reasons.includes(want), `${want} in ${reasons}`);
  assert.ok(reasons.indexOf('Admitted') < reasons.indexOf('Ready') && reasons.indexOf('Ready') < reasons.indexOf('Ended'), String(reasons));
  assert.match(evs.find((e) => e.reason === 'Ended')!.message, /exit code 3/);
  assert.ok(evs.every((e) => e.kind === 'Event' && e.type === 'Normal' && e.count === 1 && e.source.component === 'doshd' && e.involvedObject.name === name));

  const table = await doshctl('events');
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.toString().split('\n');
  assert.match(lines[0], /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
  assert.ok(lines.some((l) => /^\d+[smhd]\s+Normal\s+Ready\s+session\/\S+\s+container dosh-dte-eve is running/.test(l) && l.includes(`session/${name}`)), table.stdout.toString());

  const d = await doshctl('describe', 'session', name);
  assert.equal(d.code, 0, d.stderr);
  const text = d.stdout.toString();
  const section = text.slice(text.indexOf('\nEvents:\n'));
  assert.ok(section.length > 1, text);
  assert.match(section, /Type\s+Reason\s+Age\s+From\s+Message/);
  assert.match(section, /Normal\s+Ready\s+\S+\s+doshd\s+container dosh-dte-eve is running/);
  assert.match(section, /Normal\s+Ended\s+\S+\s+doshd\s+session ended with exit code 3/);
});

test('a login refused by cordon records a Warning with the reason and the message', async () => {
  await doshctl('cordon', '--message', 'events test maintenance');
  try {
    const r = await su(U, 'true');
    assert.equal(r.code, 1);
  } finally {
    await doshctl('uncordon');
  }
  const refused = (await sessionsOf(U)).find((s) => s.status.reason === 'Cordoned');
  assert.ok(refused, 'the refused session');
  const evs = await eventsOf(refused.metadata.name);
  assert.deepEqual(evs.map((e) => `${e.type} ${e.reason}`), ['Warning Refused']);
  assert.equal(evs[0].message, `login of ${U} refused (Cordoned): events test maintenance`);
  const table = (await doshctl('events', '--for', `session/${refused.metadata.name}`)).stdout.toString();
  assert.match(table, /Warning\s+Refused\s+session\/\S+\s+login of dte-eve refused \(Cordoned\): events test maintenance/);
});

test('doshctl events -o json parses as an EventList; --watch prints a new login as it happens and stops on SIGINT', async () => {
  const all = await doshctl('events', '-o', 'json');
  assert.equal(all.code, 0, all.stderr);
  const doc = JSON.parse(all.stdout.toString());
  assert.equal(doc.kind, 'EventList');
  assert.ok(doc.items.length >= 6 && doc.items.every((e: EventJson) => e.kind === 'Event'));

  const watch = spawn(DOSHCTL, ['events', '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => watch.on('close', r));
  try {
    await until('the watch header', () => out.startsWith('LAST SEEN'));
    const before = out.length;
    assert.equal((await su(U, 'echo watched')).code, 0);
    await until('the new Ready event in the watch', () => /Normal\s+Ready\s+session\//.test(out.slice(before)), 10_000);
  } finally {
    watch.kill('SIGINT');
  }
  assert.equal(await exited, 0);
  assert.doesNotMatch(doshd.logText(), /could not (record an event|sweep events)/);
});
