// When doshd calls itself connected to the API server, what /readyz says, and what it logs and counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnavailableError, InvalidError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { ApiConnection } from './connection.ts';

function setup() {
  const lines: string[] = [];
  const gauge: boolean[] = [];
  const counts: string[] = [];
  let now = 0;
  const log = { debug() {}, info: (m: string) => lines.push(`info ${m}`), warn: (m: string, f?: object) => lines.push(`warn ${m} ${JSON.stringify(f)}`), error() {} } as unknown as Logger;
  const c = new ApiConnection({ watches: ['sessions', 'doshpolicies'], server: 'https://10.96.0.1:443', log, now: () => now, setGauge: (up) => gauge.push(up), countRequest: (op, r) => counts.push(`${op} ${r}`) });
  return { c, lines, gauge, counts, advance: (ms: number) => (now += ms) };
}

test('not connected until every watch has listed; a watch failure disconnects until that watch lists again', () => {
  const { c, lines, gauge } = setup();
  assert.equal(c.connected, false);
  assert.equal(c.notReady(), 'kubernetes API https://10.96.0.1:443: not connected: no list of sessions and doshpolicies has succeeded yet');
  c.request('watch', 'ok'); // a watch opening is not a list
  c.listed('sessions');
  assert.equal(c.connected, false);
  c.listed('doshpolicies');
  assert.equal(c.connected, true);
  assert.equal(c.notReady(), undefined);
  c.watchFailed('sessions', new UnavailableError('watch sessions: no answer within 15s'));
  assert.equal(c.notReady(), 'kubernetes API https://10.96.0.1:443: not connected: watch of sessions: watch sessions: no answer within 15s');
  c.request('apply', 'ok');
  assert.equal(c.connected, false, 'another request getting through does not make the watch good');
  c.listed('sessions');
  assert.equal(c.connected, true);
  assert.deepEqual(gauge, [false, true, false, true]);
  assert.deepEqual(lines.map((l) => l.split(' {')[0]), ['info Kubernetes API connected', 'warn Kubernetes API not connected; logins go on, the mirror catches up when it returns', 'info Kubernetes API connected']);
});

test('a write that gets no answer disconnects, a timeout is logged (at most once a minute per operation) and counted; any answer reconnects', () => {
  const { c, lines, counts, advance } = setup();
  c.listed('sessions');
  c.listed('doshpolicies');
  lines.length = 0;
  const timeout = new UnavailableError('apply session ns/a: no answer from https://10.96.0.1:443 within 15s');
  c.request('apply', 'timeout', timeout);
  c.request('apply', 'timeout', timeout);
  c.request('apply', 'timeout', timeout);
  assert.equal(c.connected, false);
  assert.match(c.notReady()!, /not connected: apply session ns\/a: no answer/);
  advance(61_000);
  c.request('apply', 'timeout', timeout);
  assert.deepEqual(
    lines.map((l) => l.replace(/ \{.*/, '')),
    ['warn Kubernetes API request timed out', 'warn Kubernetes API not connected; logins go on, the mirror catches up when it returns', 'warn Kubernetes API request timed out'],
  );
  assert.match(lines[2], /"notLogged":2/);
  c.request('apply-status', 'error', new InvalidError('the server refused the status: invalid'));
  assert.equal(c.connected, true, 'a refusal is an answer');
  c.request('delete', 'error', new UnavailableError('delete session ns/a: connect ECONNREFUSED'));
  assert.equal(c.connected, false, 'no answer at all');
  c.request('apply-status', 'ok');
  assert.equal(c.connected, true);
  assert.deepEqual(counts, ['apply timeout', 'apply timeout', 'apply timeout', 'apply timeout', 'apply-status error', 'delete error', 'apply-status ok']);
});
