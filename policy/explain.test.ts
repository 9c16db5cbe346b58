// explain: each effective setting with the file, line and section that set it, for both formats.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EffectivePolicy } from '../api/policy.ts';
import { explain, formatExplain } from './explain.ts';
import { memoryIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import { resolvePolicy } from './resolve.ts';
import { MAIN, user } from './testkit.ts';
import { loadYamlPolicy } from './yaml.ts';

test('legacy: values with file, line and section, built-in defaults marked as such', () => {
  const pol = loadLegacyPolicy(MAIN, memoryIO({
    [MAIN]: 'CONTAINERIMAGE=ubuntu:latest\nDOCKERPARAMETERS=-m 1g -v /a:/a\n[group:staff]\nDOCKERPARAMETERS=--memory 2g\nCONF=/etc/dosh.d/*\n',
    '/etc/dosh.d/x.conf': '\n[user:bob]\nIDLETIMEOUT=1h\n',
  }));
  const e = explain(pol, user('bob', ['staff']));
  const get = (k: string) => e.find((x) => x.setting === k);
  assert.deepEqual(get('image'), { setting: 'image', value: 'ubuntu:latest', file: MAIN, line: 1, section: '(top)' });
  assert.deepEqual(get('create.HostConfig.Memory'), { setting: 'create.HostConfig.Memory', value: 2 * 1024 ** 3, file: MAIN, line: 4, section: 'group:staff' });
  assert.deepEqual(get('create.HostConfig.Binds'), { setting: 'create.HostConfig.Binds', value: ['/a:/a'], file: MAIN, line: 2, section: '(top)' });
  assert.deepEqual(get('idleTimeoutSeconds'), { setting: 'idleTimeoutSeconds', value: 3600, file: '/etc/dosh.d/x.conf', line: 3, section: 'user:bob' });
  assert.equal(get('create.HostConfig.CapDrop')?.file, '(built-in default)');
  assert.equal(get('command')?.line, 0);
  const text = formatExplain(e);
  assert.match(text, /create\.HostConfig\.Memory\s+2147483648\s+\/etc\/dosh.conf:4 \[group:staff\]/);
  assert.match(text, /create\.HostConfig\.CapDrop\s+\["ALL"\]\s+\(built-in default\)/);
});

test('yaml: provenance points at the YAML line and rule', () => {
  const Y = '/etc/dosh.yaml';
  const pol = loadYamlPolicy(Y, memoryIO({ [Y]: 'version: 1\ndefaults:\n  image: debian:12\nrules:\n  - name: big\n    match: {users: [bob]}\n    resources:\n      memory: 4g\n' }));
  const e = explain(pol, user('bob'));
  assert.deepEqual(e.find((x) => x.setting === 'create.HostConfig.Memory'), { setting: 'create.HostConfig.Memory', value: 4 * 1024 ** 3, file: Y, line: 8, section: 'big' });
  assert.deepEqual(e.find((x) => x.setting === 'image'), { setting: 'image', value: 'debian:12', file: Y, line: 3, section: 'defaults' });
});

test('every resolved policy matches the EffectivePolicy schema, and provenance covers every create field', () => {
  const pol = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: 'DOCKERPARAMETERS=-v /a:/a -e A=1 -w /w -h h -l a=b --stop-timeout 3 -m 1g --tmpfs /t --gpus all\n' }));
  const p = resolvePolicy(pol, user('alice'));
  EffectivePolicy.parse(p);
  const fields = [...Object.keys(p.create).filter((k) => k !== 'HostConfig').map((k) => 'create.' + k), ...Object.keys(p.create.HostConfig).map((k) => 'create.HostConfig.' + k)];
  for (const f of fields) assert.ok(p.provenance[f], `no provenance for ${f}`);
});

test('a kubernetes user: the Pod she would get, as the setting `pod` at her BACKEND line, and as YAML after the table', () => {
  const pol = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: 'CONTAINERIMAGE=debian:12\nDOCKERPARAMETERS=-m 1g\n[group:hpc]\nBACKEND=kubernetes\n' }));
  const e = explain(pol, user('bob', ['hpc']));
  const pod = e.find((x) => x.setting === 'pod');
  assert.ok(pod, 'a pod entry');
  assert.deepEqual({ file: pod.file, line: pod.line, section: pod.section }, { file: MAIN, line: 4, section: 'group:hpc' });
  const v = pod.value as { kind: string; metadata: { name: string }; spec: { containers: { image: string; resources: unknown }[] } };
  assert.equal(v.kind, 'Pod');
  assert.equal(v.metadata.name, 'dosh-bob');
  assert.equal(v.spec.containers[0].image, 'debian:12');
  assert.deepEqual(v.spec.containers[0].resources, { limits: { memory: '1Gi' } });
  assert.deepEqual(e.find((x) => x.setting === 'backend'), { setting: 'backend', value: 'kubernetes', file: MAIN, line: 4, section: 'group:hpc' });
  // -o json is these entries as they are: the pod is plain JSON.
  assert.equal(JSON.parse(JSON.stringify(e)).find((x: { setting: string }) => x.setting === 'pod').value.spec.securityContext.runAsUser, 1000);

  const text = formatExplain(e);
  assert.match(text, /^backend\s+"kubernetes"\s+\/etc\/dosh.conf:4 \[group:hpc\]$/m);
  assert.doesNotMatch(text, /^pod\s/m, 'the pod is not squeezed into the table');
  assert.match(text, /The Pod she would get \(backend kubernetes, \/etc\/dosh.conf:4 \[group:hpc\]\), made from the settings above.*podPidsLimit.*\n# doshd does not make pods yet: her logins are refused \(BackendUnavailable\)/);
  assert.match(text, /\nkind: Pod\n/);
  assert.match(text, /\n {4}runAsUser: 1000\n/);
  assert.match(text, /\n {10}memory: 1Gi\n/);
});

test('a docker user: no pod, and the table alone, as before', () => {
  const pol = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: 'CONTAINERIMAGE=debian:12\n[group:hpc]\nBACKEND=kubernetes\n' }));
  const e = explain(pol, user('alice'));
  assert.equal(e.find((x) => x.setting === 'pod'), undefined);
  assert.equal(e.find((x) => x.setting === 'backend')?.value, 'docker');
  assert.doesNotMatch(formatExplain(e), /Pod/);
});
