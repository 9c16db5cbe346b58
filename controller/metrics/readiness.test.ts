import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readiness } from './readiness.ts';
import type { PolicyStatus } from '../../store/layout.ts';

test('ready with an engine that answers and a policy in force; else each reason', async () => {
  let up = true;
  let status: PolicyStatus = { file: '/etc/dosh/dosh.conf', loaded: true, files: [] };
  const engine = {
    ping: async () => {
      if (!up) throw new Error('connect ENOENT');
    },
  };
  const health = readiness(engine, { status: () => status });
  assert.deepEqual(await health.notReady(), []);
  up = false;
  status = { file: '/etc/dosh/dosh.conf', loaded: false, files: [], error: { message: 'dosh.conf:3: unknown key', at: '' } };
  assert.deepEqual(await health.notReady(), ['docker engine: connect ENOENT', 'policy: dosh.conf:3: unknown key']);
  status = { ...status, override: '/DoshPolicy/default.yaml' };
  assert.deepEqual(await health.notReady(), ['docker engine: connect ENOENT'], 'the cluster policy is in force');
});

test('in Kubernetes mode, not ready while not connected to the API server, saying why', async () => {
  let why: string | undefined = 'kubernetes API https://10.96.0.1:443: not connected: no list of sessions and doshpolicies has succeeded yet';
  const health = readiness({ ping: async () => {} }, { status: () => ({ file: '/etc/dosh/dosh.conf', loaded: true, files: [] }) }, { notReady: () => why });
  assert.deepEqual(await health.notReady(), [why]);
  why = undefined;
  assert.deepEqual(await health.notReady(), []);
});
