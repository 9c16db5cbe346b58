// The shipped example policies load, resolve, and the dosh.conf one converts.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertLegacyToYaml } from './convert.ts';
import { memoryIO, nodeIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import { resolvePolicy } from './resolve.ts';
import { user } from './testkit.ts';
import { loadYamlPolicy } from './yaml.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'examples');

test('the installed default dosh.conf (etc/dosh.conf)', () => {
  const pol = loadLegacyPolicy(path.join(dir, '..', '..', 'etc', 'dosh.conf'), nodeIO);
  assert.match(pol.warnings[0] ?? '', /conf.d\/\*.conf matches no file/);
  const p = resolvePolicy(pol, user('alice'));
  assert.equal(p.image, 'busybox:latest');
  assert.deepEqual(p.create.HostConfig.Binds?.at(-1), '/home/alice:/home/alice');
  const y = convertLegacyToYaml(pol);
  assert.deepEqual(resolvePolicy(loadYamlPolicy('/x.yaml', memoryIO({ '/x.yaml': y })), user('alice')).create, p.create);
});

test('examples/dosh.yaml', () => {
  const pol = loadYamlPolicy(path.join(dir, 'dosh.yaml'), nodeIO);
  const s = resolvePolicy(pol, user('stud', ['datanet'], 20001));
  assert.equal(s.create.HostConfig.NanoCpus, 5e8);
  assert.equal(s.create.HostConfig.ReadonlyRootfs, true);
  assert.equal(s.create.HostConfig.NetworkMode, 'datanet');
  assert.equal(s.runScripts, true);
});
