// The two codecs: zod's (doshd, doshctl) and the structural check of the fields the login path reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { Session } from '../api/session.ts';
import { sessionShapeCodec, zodCodec } from './codec.ts';

const valid = {
  apiVersion: 'dosh.io/v1alpha1',
  kind: 'Session',
  metadata: { name: 'ann-1', uid: 'u', resourceVersion: '1', creationTimestamp: '2026-11-30T12:00:00.000Z' },
  spec: { user: 'ann', uid: 1001, gid: 1001, node: 'node1', mode: 'command', login: false, tty: false, helper: { pid: 1, startTime: '1' } },
  status: { phase: 'Pending', conditions: [] },
};

test('zodCodec: the schema\'s value (defaults filled) or every issue with its path', () => {
  const ok = zodCodec(Session).decode(valid);
  assert.ok(ok.ok);
  assert.deepEqual(ok.value.metadata.labels, {});
  const bad = zodCodec(z.object({ a: z.number(), b: z.object({ c: z.string() }) })).decode({ a: 'x', b: {} });
  assert.deepEqual(bad, { ok: false, error: 'a: Invalid input: expected number, received string; b.c: Invalid input: expected string, received undefined' });
});

test('sessionShapeCodec: a Session with the fields the login path reads passes as it is; each missing part is named', () => {
  assert.deepEqual(sessionShapeCodec.decode(valid), { ok: true, value: valid });
  const without = (path: string[]) => {
    const o = structuredClone(valid) as Record<string, unknown>;
    let at = o;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
    delete at[path[path.length - 1]];
    return sessionShapeCodec.decode(o);
  };
  assert.deepEqual(sessionShapeCodec.decode([]), { ok: false, error: 'not a Session object' });
  assert.deepEqual(without(['kind']), { ok: false, error: 'not a Session object' });
  assert.match((without(['metadata', 'resourceVersion']) as { error: string }).error, /^metadata:/);
  assert.match((without(['spec', 'uid']) as { error: string }).error, /^spec:/);
  assert.match((without(['status', 'conditions']) as { error: string }).error, /^status:/);
});
