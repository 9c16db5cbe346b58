import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cachedManagedList } from './managed-list.ts';
import type { ContainerSummary } from '../../engine/docker.ts';

const c = (name: string, state: string, node = 'node1'): ContainerSummary => ({ id: name, name, state, labels: { 'dosh.io/managed': 'true', 'dosh.io/node': node } });

test('lists the running managed containers of this node, at most once per period; a failed list is asked again', async () => {
  let t = 0;
  let calls = 0;
  let fail = false;
  const engine = {
    listContainers: async (label: string) => {
      calls++;
      assert.equal(label, 'dosh.io/managed=true');
      if (fail) throw new Error('engine down');
      return [c('a', 'running'), c('b', 'exited'), c('c', 'running', 'node2')];
    },
  };
  const list = cachedManagedList(engine, 'node1', () => t, 2000);
  assert.deepEqual((await list()).map((x) => x.id), ['a']);
  await list();
  t = 1999;
  await list();
  assert.equal(calls, 1, 'cached within the period');
  t = 2001;
  fail = true;
  await assert.rejects(list(), /engine down/);
  fail = false;
  assert.deepEqual((await list()).map((x) => x.id), ['a'], 'the failure was not kept');
  assert.equal(calls, 3);
});
