// Idle collection of users' pods against a fake API: pods with their labels and in-use marks, the fleet's Session
// resources, and a delete that fails as the API server's does when the pod changed since it was read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_IN_USE, LABEL_HASH, LABEL_IDLE, LABEL_MANAGED, LABEL_USER } from '../../api/labels.ts';
import type { Session } from '../../api/session.ts';
import { ConflictError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { PodCollector, QUIET_MS, STARTING_MS, type PodCollectorApi } from './pod-collector.ts';

const T = Date.UTC(2026, 11, 4, 12, 0, 0);
const ago = (s: number) => new Date(T - s * 1000).toISOString();

function pod(user: string, idle: number, inUseAgo?: number, ns = 'dosh', hash = 'h-old'): V1Pod {
  return {
    metadata: {
      name: `dosh-${user}`,
      namespace: ns,
      uid: `uid-${user}`,
      resourceVersion: '7',
      creationTimestamp: new Date(T - 3600_000),
      labels: { [LABEL_MANAGED]: 'true', [LABEL_USER]: user, [LABEL_IDLE]: String(idle), [LABEL_HASH]: hash },
      annotations: inUseAgo === undefined ? {} : { [ANNOTATION_IN_USE]: ago(inUseAgo) },
    },
  };
}

class FakeApi implements PodCollectorApi {
  pods = new Map<string, V1Pod[]>([['dosh', []]]);
  fleet: { user: string; phase?: string; made?: string }[] = [];
  calls: string[] = [];
  conflict = new Set<string>();
  async listPods(ns: string, selector: string) {
    this.calls.push(`list ${ns} ${selector}`);
    return this.pods.get(ns) ?? [];
  }
  async annotatePod(ns: string, name: string, a: Record<string, string>) {
    this.calls.push(`annotate ${ns}/${name} ${a[ANNOTATION_IN_USE]}`);
    return {};
  }
  async deletePod(ns: string, name: string, uid: string, rv?: string, grace?: number) {
    this.calls.push(`delete ${ns}/${name} uid=${uid} rv=${rv}${grace === undefined ? '' : ` grace=${grace}`}`);
    if (this.conflict.has(name)) throw new ConflictError('the object has been modified');
    return !this.gone.has(name);
  }
  gone = new Set<string>();
  async listSessions(ns: string | undefined, selector?: string) {
    this.calls.push(`sessions ${ns} ${selector}`);
    const user = selector?.split('=')[1];
    return this.fleet.filter((s) => s.user === user).map((s) => ({ metadata: { creationTimestamp: s.made ?? ago(5) }, status: s.phase === undefined ? undefined : { phase: s.phase } }));
  }
}

function session(user: string, phase: string, ns = 'dosh'): Session {
  return { metadata: { name: `${user}-1` }, spec: { user }, status: { phase, conditions: [], container: { id: 'pod:u', name: `${ns}/dosh-${user}`, image: 'i', pod: { namespace: ns, name: `dosh-${user}`, node: 'k1' } } } } as unknown as Session;
}

function rig(wanted?: Record<string, string>) {
  const api = new FakeApi();
  const collected: string[] = [];
  const rolled: string[] = [];
  const asked: string[] = [];
  const c = new PodCollector({
    api,
    clock: { now: () => T, sleep: async () => {} },
    log: silentLogger,
    sessionsNamespace: 'dosh-system',
    collected: (u, p, idle, timeout) => collected.push(`${u} ${p} ${idle}/${timeout}`),
    ...(wanted && {
      wanted: async (u: string) => {
        asked.push(u);
        return wanted[u];
      },
      rolledOut: (u: string, p: string) => rolled.push(`${u} ${p}`),
      // The policy was loaded a minute ago; the pods were made an hour ago.
      policySince: () => T - 60_000,
    }),
  });
  return { api, c, collected, rolled, asked };
}

test('a pod idle past its timeout, with no live login anywhere, is deleted as it was read (uid and resourceVersion)', async () => {
  const { api, c, collected } = rig();
  api.pods.set('dosh', [pod('ann', 60, 120), pod('bob', 60, 30), pod('cid', 0, 99_999)]);
  await c.collect([]);
  assert.deepEqual(api.calls, [], 'a node that has served no pod login asks nothing');
  await c.collect([session('eve', 'Succeeded')]);
  assert.deepEqual(api.calls, [
    `list dosh ${LABEL_MANAGED}=true`,
    `sessions dosh-system ${LABEL_USER}=ann`,
    'delete dosh/dosh-ann uid=uid-ann rv=7 grace=1',
  ]);
  assert.deepEqual(collected, ['ann dosh/dosh-ann 120/60'], 'bob was in use 30 s ago; cid\'s timeout 0 keeps it');
});

test('a live login keeps her pod: on this node (its pod marked in use when the mark is stale), on another node, or starting', async () => {
  const { api, c, collected } = rig();
  api.pods.set('dosh', [pod('ann', 60, 120), pod('bob', 60, 5), pod('cid', 60, 120), pod('dan', 60, 120)]);
  api.fleet = [{ user: 'cid', phase: 'Running' }, { user: 'dan' }, { user: 'dan', phase: 'Succeeded' }];
  await c.collect([session('ann', 'Running'), session('bob', 'Running'), session('eve', 'Succeeded')]);
  assert.deepEqual(api.calls, [
    `list dosh ${LABEL_MANAGED}=true`,
    `annotate dosh/dosh-ann ${new Date(T).toISOString()}`,
    `sessions dosh-system ${LABEL_USER}=cid`,
    `sessions dosh-system ${LABEL_USER}=dan`,
  ]);
  assert.deepEqual(collected, []);
});

test('a pod marked in use between the read and the delete is kept (the delete\'s conflict); a pod being deleted is left alone', async () => {
  const { api, c, collected } = rig();
  const going = pod('bob', 60, 120);
  going.metadata!.deletionTimestamp = new Date(T);
  api.pods.set('dosh', [pod('ann', 60, 120), going]);
  api.conflict.add('dosh-ann');
  await c.collect([session('eve', 'Succeeded')]);
  assert.deepEqual(api.calls.filter((x) => x.startsWith('delete')), ['delete dosh/dosh-ann uid=uid-ann rv=7 grace=1']);
  assert.deepEqual(collected, []);
});

test('the namespaces of her sessions are collected too, and stay known once the sessions are gone; a list that fails skips only its namespace', async () => {
  const { api, c, collected } = rig();
  api.pods.set('lab', [pod('ann', 60, 120, 'lab')]);
  await c.collect([session('eve', 'Succeeded'), session('ann', 'Succeeded', 'lab')]);
  assert.deepEqual(collected, ['ann lab/dosh-ann 120/60']);
  api.calls = [];
  api.listPods = async (ns) => {
    api.calls.push(`list ${ns}`);
    if (ns === 'dosh') throw new Error('forbidden');
    return [];
  };
  await c.collect([]);
  assert.deepEqual(api.calls, ['list dosh', 'list lab']);
});

test('a policy rollout: a pod made from another policy, unmarked for a while and with no live login anywhere, is deleted before its idle timeout', async () => {
  const quiet = QUIET_MS / 1000;
  const { api, c, collected, rolled, asked } = rig({ ann: 'h-new', bob: 'h-new', cid: 'h-new', dan: 'h-new', fay: 'h-new' });
  api.pods.set('dosh', [
    pod('ann', 3600, quiet + 1), // outdated, quiet, no login: rolled out
    pod('bob', 3600, quiet - 1), // outdated but marked lately: a login may be starting without its resource yet
    pod('cid', 3600, quiet + 1), // outdated, a live login on another node
    pod('dan', 3600, quiet + 1, 'dosh', 'h-new'), // current
    pod('eve', 3600, quiet + 1), // not on the kubernetes backend any more (or unknown): left to its idle timeout
    pod('fay', 0, quiet + 1), // idle timeout 0 keeps a pod, not an outdated one
  ]);
  api.fleet = [{ user: 'cid', phase: 'Ready' }];
  await c.collect([session('zed', 'Succeeded')]);
  assert.deepEqual(asked, ['ann', 'cid', 'dan', 'eve', 'fay'], 'bob was not even looked up');
  assert.deepEqual(api.calls.filter((x) => x.startsWith('delete')), ['delete dosh/dosh-ann uid=uid-ann rv=7 grace=1', 'delete dosh/dosh-fay uid=uid-fay rv=7 grace=1']);
  assert.deepEqual(rolled, ['ann dosh/dosh-ann', 'fay dosh/dosh-fay']);
  assert.deepEqual(collected, [], 'a rollout is not counted as idle collection');
});

test('a policy rollout never touches a pod with a login on this node, nor one marked in use between the read and the delete', async () => {
  const quiet = QUIET_MS / 1000;
  const { api, c, rolled } = rig({ ann: 'h-new', bob: 'h-new' });
  api.pods.set('dosh', [pod('ann', 3600, quiet + 1), pod('bob', 3600, quiet + 1)]);
  api.conflict.add('dosh-bob');
  await c.collect([session('ann', 'Running'), session('zed', 'Succeeded')]);
  assert.deepEqual(api.calls.filter((x) => x.startsWith('delete')), ['delete dosh/dosh-bob uid=uid-bob rv=7 grace=1']);
  assert.deepEqual(rolled, []);
});

test('a Session resource that never got a status (made by hand, or its node died between two writes) keeps her pod only for a minute', async () => {
  const { api, c, collected } = rig();
  api.pods.set('dosh', [pod('ann', 60, 120), pod('bob', 60, 120)]);
  api.fleet = [{ user: 'ann', made: ago(STARTING_MS / 1000 + 1) }, { user: 'bob', made: ago(STARTING_MS / 1000 - 1) }];
  await c.collect([session('zed', 'Succeeded')]);
  assert.deepEqual(collected, ['ann dosh/dosh-ann 120/60'], 'bob\'s may still be a login starting');
});

test('namespaces given at start (--pod-namespaces) are collected before any pod login of this doshd', async () => {
  const api = new FakeApi();
  api.pods.set('lab', [pod('ann', 60, 120, 'lab')]);
  const collected: string[] = [];
  const c = new PodCollector({ api, clock: { now: () => T, sleep: async () => {} }, log: silentLogger, sessionsNamespace: 'dosh-system', namespaces: ['lab'], collected: (u, p) => collected.push(`${u} ${p}`) });
  await c.collect([]);
  assert.deepEqual(collected, ['ann lab/dosh-ann']);
  assert.deepEqual([...c.served()], ['lab']);
});

test('a pod made since this node\'s policy was loaded is not rolled out: another node made it from a policy as recent, and the two would delete it in turn', async () => {
  const quiet = QUIET_MS / 1000;
  const { api, c, rolled } = rig({ ann: 'h-new', bob: 'h-new' });
  const fresh = pod('bob', 3600, quiet + 1);
  fresh.metadata!.creationTimestamp = new Date(T - 30_000);
  api.pods.set('dosh', [pod('ann', 3600, quiet + 1), fresh]);
  await c.collect([session('zed', 'Succeeded')]);
  assert.deepEqual(rolled, ['ann dosh/dosh-ann']);
});

test('however short her idle timeout, a pod marked in use less than QUIET_MS ago is kept: a login that skipped its fresh mark may be starting', async () => {
  const quiet = QUIET_MS / 1000;
  const { api, c, collected } = rig();
  api.pods.set('dosh', [pod('ann', 2, quiet - 1), pod('bob', 2, quiet + 1)]);
  await c.collect([session('zed', 'Succeeded')]);
  assert.deepEqual(collected, [`bob dosh/dosh-bob ${quiet + 1}/2`]);
});

test('a pod another node deleted first (gone by the time of this delete) is not reported again here', async () => {
  const { api, c, collected } = rig();
  api.pods.set('dosh', [pod('ann', 60, 120), pod('bob', 60, 120)]);
  api.gone.add('dosh-ann');
  await c.collect([session('zed', 'Succeeded')]);
  assert.deepEqual(collected, ['bob dosh/dosh-bob 120/60']);
});
