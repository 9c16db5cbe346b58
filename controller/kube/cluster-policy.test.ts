// The cluster policy (DoshPolicy "default") against a recording API and a real PolicySource: a valid spec is in
// force and reported Accepted; an invalid one is reported with its line and path while the last good one stays;
// deleting it gives the file's policy back; two nodes that disagree (a file one node has) both show in the status,
// and the summary settles on the rejection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClusterPolicy, summarise } from './cluster-policy.ts';
import type { DoshPolicyNodeStatus, DoshPolicyStatus } from '../../api/doshpolicy.ts';
import { memoryIO } from '../../policy/io.ts';
import { PolicySource } from '../policy-source.ts';
import { ControllerMetrics } from '../metrics/metrics.ts';
import { FakeClock } from '../../test/fakes/clock.ts';
import { silentLogger } from '../../lib/log.ts';
import { loadPolicyFile, resolvePolicy } from '../../policy/index.ts';
import type { KubeObject } from '../../kube/client.ts';
import { user } from '../../policy/testkit.ts';

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-kpol-'));
  const file = path.join(dir, 'dosh.conf');
  writeFileSync(file, 'CONTAINERIMAGE=from-file\n');
  const source = new PolicySource(file, loadPolicyFile, resolvePolicy, silentLogger, new ControllerMetrics());
  source.reload();
  const statuses: { name: string; status: { observedGeneration?: number; lastError?: string; conditions: { type: string; status: string; reason: string }[] } }[] = [];
  const api = { applyPolicyStatus: async (name: string, _v: string, _k: string, status: unknown) => void statuses.push({ name, status: status as (typeof statuses)[0]['status'] }) };
  const cluster = new ClusterPolicy({ api, apply: (n) => source.setOverride(n), clock: new FakeClock(), log: silentLogger, node: 'node-a' });
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
  assert.match(last.lastError!, /^node-a: \/DoshPolicy\/default\.yaml:\d+: .*2X.*\(at defaults\.resources\.memory\)/);
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

test('summarise: accepted when no node rejected the current generation; verdicts on older generations do not count', () => {
  const v = (node: string, gen: number, accepted: boolean, lastError?: string): DoshPolicyNodeStatus => ({ node, observedGeneration: gen, accepted, lastError });
  const t0 = '2026-01-01T00:00:00Z';
  const ok = summarise(2, [v('b', 2, true), v('a', 2, true), v('c', 1, false, 'old')], undefined, t0);
  assert.deepEqual(ok, { observedGeneration: 2, lastError: '', conditions: [{ type: 'Accepted', status: 'True', reason: 'Valid', message: 'accepted by a, b', lastTransitionTime: t0 }] });
  const bad = summarise(2, [v('z', 2, false, 'z-err'), v('b', 2, false, 'b-err'), v('a', 2, true)], ok.conditions, '2026-01-01T00:01:00Z');
  assert.equal(bad.lastError, 'b: b-err', 'the first rejecting node by name, whatever the list order');
  assert.equal(bad.conditions[0].status, 'False');
  assert.equal(bad.conditions[0].lastTransitionTime, '2026-01-01T00:01:00Z', 'a new status: a new transition time');
  const same = summarise(2, [v('a', 2, true)], ok.conditions, '2026-01-01T00:02:00Z');
  assert.equal(same.conditions[0].lastTransitionTime, t0, 'same status: the transition time is kept');
});

/**
 * The API server's side of server-side apply on status, as far as it matters here: status.nodes is a list map keyed
 * by node, merged entry by entry; the other fields, which every apply writes, are replaced.
 */
function fakeServer() {
  const obj: KubeObject & { status: DoshPolicyStatus } = { ...policy(1, {}), status: { conditions: [], nodes: [] } };
  let writes = 0;
  return {
    obj: () => obj,
    writes: () => writes,
    setSpec(generation: number, spec: unknown) {
      obj.metadata = { ...obj.metadata, generation };
      obj.spec = spec;
    },
    api: {
      applyPolicyStatus: async (_n: string, _v: string, _k: string, raw: unknown) => {
        writes++;
        const st = raw as DoshPolicyStatus;
        const nodes = [...obj.status.nodes];
        for (const e of st.nodes) {
          const i = nodes.findIndex((n) => n.node === e.node);
          if (i >= 0) nodes[i] = e;
          else nodes.push(e);
        }
        obj.status = { ...st, nodes };
      },
    },
  };
}

test('two nodes that disagree: each verdict is in status.nodes, the summary names the rejecting node, and the writes settle', async () => {
  const server = fakeServer();
  // The spec reads an env file that node A has and node B does not.
  const nodeAt = (node: string, files: Record<string, string>) => {
    const applied: (string | undefined)[] = [];
    const c = new ClusterPolicy({ api: server.api, apply: (n) => applied.push(n?.origin), clock: new FakeClock(), log: silentLogger, node, io: memoryIO(files) });
    return { c, applied };
  };
  const a = nodeAt('login-a', { '/etc/dosh/site.env': 'SITE=a\n' });
  const b = nodeAt('login-b', {});
  const settle = async () => {
    for (let round = 0; round < 5; round++) {
      const before = server.writes();
      for (const n of [a, b]) await n.c.onEvent('update', structuredClone(server.obj()));
      if (server.writes() === before) return round;
    }
    assert.fail(`the status writes did not settle: ${JSON.stringify(server.obj().status)}`);
  };
  server.setSpec(1, { version: 1, defaults: { image: 'img', dockerFlags: ['--env-file', '/etc/dosh/site.env'] } });
  const rounds = await settle();
  assert.ok(rounds <= 2, `settled after ${rounds} rounds`);
  const st = server.obj().status;
  assert.deepEqual(st.nodes.map((n) => [n.node, n.observedGeneration, n.accepted]).sort(), [['login-a', 1, true], ['login-b', 1, false]]);
  assert.match(st.nodes.find((n) => n.node === 'login-b')!.lastError!, /site\.env/);
  assert.equal(st.conditions[0].status, 'False');
  assert.match(st.lastError!, /^login-b: .*site\.env/);
  assert.deepEqual([a.applied, b.applied], [['DoshPolicy/default generation 1'], []], 'only node A put it in force');

  // A spec both accept: the summary turns True, naming both, and the error is cleared (written empty).
  server.setSpec(2, { version: 1, defaults: { image: 'img2' } });
  await settle();
  const ok = server.obj().status;
  assert.equal(ok.conditions[0].status, 'True');
  assert.equal(ok.conditions[0].message, 'accepted by login-a, login-b');
  assert.equal(ok.lastError, '');
  assert.deepEqual(ok.nodes.map((n) => [n.node, n.observedGeneration, n.accepted]).sort(), [['login-a', 2, true], ['login-b', 2, true]]);
  const writes = server.writes();
  await settle();
  assert.equal(server.writes(), writes, 'a resync of a settled policy writes nothing');
});
