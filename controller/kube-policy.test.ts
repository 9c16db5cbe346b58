// The cluster policy (DoshPolicy "default") against a recording API and a real PolicySource: a valid spec is in
// force and reported Accepted; an invalid one is reported with its line and path while the last good one stays;
// deleting it gives the file's policy back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClusterPolicy } from './kube-policy.ts';
import { PolicySource } from './policy-source.ts';
import { ControllerMetrics } from './metrics.ts';
import { FakeClock } from '../test/fakes/clock.ts';
import { silentLogger } from '../lib/log.ts';
import { loadPolicyFile, resolvePolicy } from '../policy/index.ts';
import type { KubeObject } from '../kube/client.ts';
import { user } from '../policy/testkit.ts';

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-kpol-'));
  const file = path.join(dir, 'dosh.conf');
  writeFileSync(file, 'CONTAINERIMAGE=from-file\n');
  const source = new PolicySource(file, loadPolicyFile, resolvePolicy, silentLogger, new ControllerMetrics());
  source.reload();
  const statuses: { name: string; status: { observedGeneration?: number; lastError?: string; conditions: { type: string; status: string; reason: string }[] } }[] = [];
  const api = { applyPolicyStatus: async (name: string, _v: string, _k: string, status: unknown) => void statuses.push({ name, status: status as (typeof statuses)[0]['status'] }) };
  const cluster = new ClusterPolicy({ api, apply: (n) => source.setOverride(n), clock: new FakeClock(), log: silentLogger });
  return { source, statuses, cluster };
}

const policy = (generation: number, spec: unknown, name = 'default'): KubeObject => ({ apiVersion: 'dosh.io/v1alpha1', kind: 'DoshPolicy', metadata: { name, uid: 'u1', generation }, spec });

test('a valid DoshPolicy is the policy in force, reported Accepted for its generation', async () => {
  const { source, statuses, cluster } = setup();
  assert.equal(source.resolve(user('ann')).image, 'from-file');
  await cluster.onEvent('add', policy(1, { version: 1, defaults: { image: 'from-cluster' } }));
  assert.equal(source.resolve(user('ann')).image, 'from-cluster');
  assert.equal(source.status().override, 'DoshPolicy/default generation 1');
  assert.deepEqual(statuses.map((s) => [s.status.observedGeneration, s.status.conditions[0].status, s.status.conditions[0].reason]), [[1, 'True', 'Valid']]);
});

test('an invalid spec is reported with its line and path, and the last good policy stays in force', async () => {
  const { source, statuses, cluster } = setup();
  await cluster.onEvent('add', policy(1, { version: 1, defaults: { image: 'good' } }));
  await cluster.onEvent('update', policy(2, { version: 1, defaults: { image: 'bad', resources: { memory: '2X' } } }));
  assert.equal(source.resolve(user('ann')).image, 'good');
  const last = statuses.at(-1)!.status;
  assert.equal(last.observedGeneration, 2);
  assert.equal(last.conditions[0].status, 'False');
  assert.match(last.lastError!, /^\/DoshPolicy\/default\.yaml:\d+: .*2X.*\(at defaults\.resources\.memory\)/);
});

test('the same generation again (a resync) writes nothing once the status says it; a status lost to an outage is written again', async () => {
  const { statuses, cluster } = setup();
  const p = policy(3, { version: 1 });
  await cluster.onEvent('add', p);
  const written = statuses.at(-1)!.status;
  await cluster.onEvent('update', { ...p, status: written });
  assert.equal(statuses.length, 1);
  await cluster.onEvent('update', p); // the resource does not show the status: written again
  assert.equal(statuses.length, 2);
});

test('other names are ignored; deleting the policy gives the file back', async () => {
  const { source, cluster } = setup();
  await cluster.onEvent('add', policy(1, { version: 1, defaults: { image: 'x' } }, 'other'));
  assert.equal(source.resolve(user('ann')).image, 'from-file');
  await cluster.onEvent('add', policy(1, { version: 1, defaults: { image: 'x' } }));
  await cluster.onEvent('delete', policy(1, {}));
  assert.equal(source.resolve(user('ann')).image, 'from-file');
  assert.equal(source.status().override, undefined);
});
