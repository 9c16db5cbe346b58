// The kubernetes backend's small parts: the command a pod exec runs, the routing of the relay's exec calls, and why
// a pod login was cut, over a fake API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { V1Pod } from '@kubernetes/client-node';
import { NotFoundError } from '../../lib/errors.ts';
import type { PodExecApi } from './exec-bridge.ts';
import { PodBackend, podCommand, routeExecs, type PodBackendDeps } from './pod-backend.ts';
import type { PodApi } from './user-pods.ts';
import type { PodCollectorApi } from './pod-collector.ts';
import { silentLogger } from '../../lib/log.ts';
import { LABEL_HASH, LABEL_IDLE, LABEL_MANAGED, LABEL_USER } from '../../api/labels.ts';
import type { Session } from '../../api/session.ts';
import { resolveText, user } from '../../policy/testkit.ts';
import { wantedPodHash } from './user-pods.ts';

test('podCommand: her directory (or /), her environment and her command line, through sh, each argument as it is', () => {
  const argv = podCommand({ env: ['HOME=/home/ann', 'A=x y'], workingDir: undefined }, ['/bin/sh', '-c', 'echo "$A" $0; pwd', 'arg $1'], '/');
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: {} });
  assert.equal(r.stdout, 'x y arg $1\n/\n');
  const missing = podCommand({ env: [], workingDir: '/no/such/dir' }, ['pwd'], '/home/ann');
  assert.equal(spawnSync(missing[0], missing.slice(1), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }).stdout, '/\n', 'a home the pod lacks: she starts in /');
});

function backend(read: (ns: string, name: string) => Promise<V1Pod>, { api: extra, ...more }: Partial<Omit<PodBackendDeps, 'api'>> & { api?: Partial<PodBackendDeps['api']> } = {}) {
  const api: PodApi & PodExecApi & PodCollectorApi = {
    applyPod: async () => assert.fail('not applied'),
    readPod: read,
    annotatePod: async () => assert.fail('not annotated'),
    deletePod: async () => true,
    execPod: async () => assert.fail('not exec'),
    listPods: async () => assert.fail('not listed'),
    listSessions: async () => assert.fail('not listed'),
    ...extra,
  };
  return new PodBackend({
    clock: { now: () => 0, sleep: async () => {} },
    random: () => 'a'.repeat(64),
    log: silentLogger,
    options: { socket: '/nonexistent/pods.sock', sessionsNamespace: 'dosh-system', readyTimeoutMs: 1000, pollMs: 100 },
    collected: () => assert.fail('nothing collected'),
    ...more,
    api,
  });
}

test('why a pod login was cut: evicted, failed, being deleted or deleted, in the cluster\'s words; nothing for a pod that runs', async () => {
  const at = { namespace: 'dosh', name: 'dosh-ann' };
  const pod = (status: V1Pod['status'], meta: V1Pod['metadata'] = {}): V1Pod => ({ metadata: { name: 'dosh-ann', ...meta }, spec: { containers: [] }, status });
  assert.equal(await backend(async () => pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' })).why(at), 'the session was cut: her pod dosh/dosh-ann was evicted (Evicted: The node was low on resource: memory.)');
  assert.equal(await backend(async () => pod({ phase: 'Running' }, { deletionTimestamp: new Date() })).why(at), 'the session was cut: her pod dosh/dosh-ann is being deleted');
  const evicted = { phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' }] };
  assert.equal(await backend(async () => pod(evicted, { deletionTimestamp: new Date() })).why(at), 'the session was cut: her pod dosh/dosh-ann was evicted (EvictionByEvictionAPI: Eviction API: evicting)');
  assert.equal(await backend(async () => { throw new NotFoundError('gone'); }).why(at), 'the session was cut: her pod dosh/dosh-ann was deleted');
  assert.equal(await backend(async () => pod({ phase: 'Running', containerStatuses: [{ name: 'dosh', image: '', imageID: '', restartCount: 0, ready: true, state: { running: {} } }] })).why(at), undefined);
  assert.equal(await backend(async () => { throw new Error('API down'); }).why(at), undefined, 'no guess when the cluster cannot be asked');
});

test('routeExecs: the bridge answers for its execs (no host process: pid -1), the engine for the rest', async () => {
  const b = backend(async () => assert.fail());
  const id = b.createExec({ namespace: 'dosh', name: 'dosh-ann', uid: 'u', node: 'k', outdated: false }, { env: [] }, ['true'], '/', false);
  const calls: string[] = [];
  const engine = {
    inspectExec: async (x: string) => (calls.push(`inspect ${x}`), { running: false, exitCode: 0, pid: 7 }),
    resizeExec: async (x: string, r: number, c: number) => void calls.push(`resize ${x} ${r}x${c}`),
    inspectContainer: async () => assert.fail(),
  } as unknown as Parameters<typeof routeExecs>[0];
  const r = routeExecs(engine, b);
  assert.deepEqual(await r.inspectExec(id), { running: false, exitCode: null, pid: -1 });
  assert.deepEqual(await r.inspectExec('e'.repeat(64)), { running: false, exitCode: 0, pid: 7 });
  await r.resizeExec(id, 10, 20);
  await r.resizeExec('e'.repeat(64), 10, 20);
  assert.deepEqual(calls, [`inspect ${'e'.repeat(64)}`, `resize ${'e'.repeat(64)} 10x20`]);
  assert.equal(routeExecs(engine, undefined), engine, 'no backend: the engine itself');
});

test('the rollout asks her current policy: a pod of another policy is deleted when she is on the kubernetes backend, left when she moved to docker', async () => {
  const ann = user('ann', ['staff'], 1500);
  const bob = user('bob', ['staff'], 1501);
  const kube = resolveText('BACKEND=kubernetes\nCONTAINERIMAGE=busybox:2\n', ann);
  const docker = resolveText('CONTAINERIMAGE=busybox:2\n', bob);
  const made = (u: string, hash: string): V1Pod => ({
    metadata: { name: `dosh-${u}`, namespace: 'dosh', uid: `uid-${u}`, resourceVersion: '3', creationTimestamp: new Date(0), labels: { [LABEL_MANAGED]: 'true', [LABEL_USER]: u, [LABEL_IDLE]: '3600', [LABEL_HASH]: hash } },
  });
  const deleted: string[] = [];
  const rolled: string[] = [];
  const b = backend(async () => assert.fail(), {
    api: {
      listPods: async () => [made('ann', 'old'), made('bob', 'old'), made('cid', 'old'), { ...made('ann', wantedPodHash(kube, ann)), metadata: { ...made('ann', '').metadata, name: 'dosh-ann2', labels: { [LABEL_MANAGED]: 'true', [LABEL_USER]: 'ann', [LABEL_HASH]: wantedPodHash(kube, ann) } } }],
      listSessions: async () => [],
      deletePod: async (ns, name, uid, rv) => (deleted.push(`${ns}/${name} ${uid} ${rv}`), true),
    },
    clock: { now: () => 600_000, sleep: async () => {} },
    policySince: () => 300_000,
    policyOf: async (u) => (u === 'ann' ? { policy: kube, user: ann } : u === 'bob' ? { policy: docker, user: bob } : undefined),
    rolledOut: (u, p) => rolled.push(`${u} ${p}`),
  });
  const ended = { metadata: { name: 'x' }, spec: { user: 'zed' }, status: { phase: 'Succeeded', conditions: [], container: { id: 'p', name: 'dosh/dosh-zed', image: 'i', pod: { namespace: 'dosh', name: 'dosh-zed', node: 'k' } } } } as unknown as Session;
  await b.collect([ended]);
  assert.deepEqual(deleted, ['dosh/dosh-ann uid-ann 3'], 'bob moved to docker, cid is unknown, dosh-ann2 matches');
  assert.deepEqual(rolled, ['ann dosh/dosh-ann']);
});

test('isOutdated: her pod\'s policy-hash label against what the policy makes now; a pod that is gone has no answer', async () => {
  const ann = user('ann', ['staff'], 1500);
  const policy = resolveText('BACKEND=kubernetes\nCONTAINERIMAGE=busybox:2\n', ann);
  const labelled = (hash: string): V1Pod => ({ metadata: { name: 'dosh-ann', labels: { [LABEL_HASH]: hash } } });
  const at = { namespace: 'dosh', name: 'dosh-ann' };
  assert.equal(await backend(async () => labelled(wantedPodHash(policy, ann))).isOutdated(at, policy, ann), false);
  assert.equal(await backend(async () => labelled('0123456789abcdef')).isOutdated(at, policy, ann), true);
  assert.equal(await backend(async () => { throw new NotFoundError('gone'); }).isOutdated(at, policy, ann), undefined);
  const docker = resolveText('CONTAINERIMAGE=busybox:2\nDOCKERPARAMETERS=--pids-limit 100\n', ann);
  assert.equal(await backend(async () => labelled(wantedPodHash(policy, ann))).isOutdated(at, docker, ann), true, 'moved to docker: her pod is outdated, whatever its spec');
});
