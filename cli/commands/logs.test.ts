// doshctl logs session against a store in a temp directory and recordings written as the relay writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { API_VERSION } from '../../api/constants.ts';
import type { Session } from '../../api/session.ts';
import { sessionStore } from '../../store/sessions.ts';
import type { CliContext } from '../context.ts';
import { logsSession } from './logs.ts';

const root = mkdtempSync(path.join(tmpdir(), 'dosh-cli-logs-'));
const store = sessionStore(root);
store.init();
const CAST = `{"version":2,"width":80,"height":24,"timestamp":1}\n[0.010, "r", "80x24"]\n[0.020, "o", "$ ls\\r\\n"]\n[0.030, "o", "\\u001b]0;owned\\u0007a.txt\\r\\n"]\n`;

function session(name: string, recording?: Session['status']['recording'], phase: Session['status']['phase'] = 'Succeeded'): void {
  store.create({
    apiVersion: API_VERSION,
    kind: 'Session',
    metadata: { name },
    spec: { user: 'ann', uid: 1001, gid: 1001, node: 'n', mode: 'interactive', login: true, args: [], tty: true, relay: { pid: 1, startTime: '1' } },
    status: { phase, conditions: [], recording },
  });
}

async function logs(args: string[], flags: CliContext['flags'] = {}): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  await logsSession.run({ args, flags, storeRoot: root, sessions: () => store, engine: () => { throw new Error('unused'); }, out: (s) => void (out += s), err: (s) => void (err += s), raw: (s) => void (out += s), now: Date.now, commands: [] });
  return { out, err };
}

test('what her terminal showed (what would act on the admin terminal dropped), the file as it is with -o asciicast', async () => {
  const file = path.join(root, 'ann-1.cast');
  writeFileSync(file, CAST);
  session('ann-1', { file, limit: 1 << 20 });
  assert.deepEqual(await logs(['ann-1']), { out: '$ ls\r\na.txt\r\n', err: '' });
  assert.equal((await logs(['ann-1'], { output: 'asciicast' })).out, CAST);
  assert.equal((await logs(['ann-1'], { replay: true })).out, '$ ls\r\na.txt\r\n');
});

test('--follow prints a live session as the relay appends, and stops once it has ended', async () => {
  const file = path.join(root, 'ann-2.cast');
  writeFileSync(file, CAST);
  session('ann-2', { file, limit: 1 << 20 }, 'Running');
  const done = logs(['ann-2'], { follow: true });
  await new Promise((r) => setTimeout(r, 300));
  appendFileSync(file, '[1.0, "o", "more"]\n');
  store.mutate('ann-2', (cur) => ({ ...cur, status: { ...cur.status, phase: 'Succeeded' } }));
  assert.equal((await done).out, '$ ls\r\na.txt\r\nmore');
});

test('a recording that stopped early says so; a session not recorded, or a broken file, is an error naming why or the line', async () => {
  const file = path.join(root, 'ann-3.cast');
  writeFileSync(file, CAST);
  session('ann-3', { file, limit: 10, stopped: 'the recording could not be written: No space left on device' });
  assert.match((await logs(['ann-3'])).err, /note: the recording stopped before the session ended: .*No space left/);
  session('ann-4');
  await assert.rejects(logs(['ann-4']), /session "ann-4" was not recorded/);
  await assert.rejects(logs(['nobody-9']), /no recording of session "nobody-9"/);
  const bad = path.join(root, 'ann-5.cast');
  writeFileSync(bad, `${CAST}[1, "o"]\n`);
  session('ann-5', { file: bad, limit: 10 });
  await assert.rejects(logs(['ann-5']), new RegExp(`${bad}:5: not an asciicast event`));
  await assert.rejects(logs(['ann-5'], { output: 'json' }), /-o json: expected asciicast/);
});
