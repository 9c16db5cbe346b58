import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Session } from '../../api/session.ts';
import { RefusedError } from '../../lib/errors.ts';
import { Gate, storedArgBytes } from './gate.ts';
import type { LoginRequest } from './login-request.ts';

const req = (bytes: number) => ({ storedArgBytes: bytes }) as LoginRequest;
const reason = (fn: () => void) => {
  try {
    fn();
    return 'allowed';
  } catch (e) {
    assert.ok(e instanceof RefusedError);
    return e.reason;
  }
};

test('arguments are bounded as stored: per login, per user, and in all; an ended session frees what it held', () => {
  const g = new Gate({ perSecond: 0, burst: 0 }, { perLogin: 100, perUser: 250, total: 400 }, () => 0);
  assert.equal(reason(() => g.fits('ann', req(101))), 'ArgumentsTooLong');
  assert.equal(reason(() => g.fits('ann', req(100))), 'allowed');
  g.add('ann-1', 'ann', 100);
  g.add('ann-2', 'ann', 100);
  assert.equal(reason(() => g.fits('ann', req(60))), 'StoreFull', 'her 200 + 60 > 250');
  assert.equal(reason(() => g.fits('bob', req(60))), 'allowed', 'another user is not held back by hers');
  g.add('bob-1', 'bob', 100);
  g.add('cid-1', 'cid', 100);
  assert.equal(reason(() => g.fits('dan', req(50))), 'StoreFull', '400 in all');
  // The store as housekeeping sees it: ann's sessions ended and dropped their arguments.
  const s = (name: string, user: string, command?: string) => ({ metadata: { name }, spec: { user, command, args: [] } }) as unknown as Session;
  g.account([s('ann-1', 'ann'), s('ann-2', 'ann'), s('bob-1', 'bob', 'x'.repeat(90)), s('cid-1', 'cid', 'x'.repeat(90))]);
  assert.equal(reason(() => g.fits('ann', req(100))), 'allowed');
  assert.equal(storedArgBytes({ command: '\x01', args: [] }), Buffer.byteLength('["\\u0001"]'), 'a control byte costs six as stored');
});

test('the per-user rate: a burst, then refusals with the wait, and other users unaffected', () => {
  let now = 0;
  const g = new Gate({ perSecond: 2, burst: 3 }, { perLogin: 1e9, perUser: 1e9, total: 1e9 }, () => now);
  for (let i = 0; i < 3; i++) assert.equal(reason(() => g.charge('ann')), 'allowed');
  assert.equal(reason(() => g.charge('ann')), 'RateLimited');
  assert.equal(reason(() => g.charge('bob')), 'allowed');
  now = 500;
  assert.equal(reason(() => g.charge('ann')), 'allowed');
});
