// What `npm test` runs and sets up for the files it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './layers.ts';
import { allTestFiles, countsOf, declaredNeeds, makePlan, ordered, tierOf, UNIT_FOLDERS } from './test-plan.ts';

test('every *.test.ts of the repository runs in a tier: none sits in a folder the runner does not know', () => {
  const found: string[] = [];
  const walk = (rel: string): void => {
    for (const n of readdirSync(path.join(ROOT, rel || '.'))) {
      if (['node_modules', 'dist', '.git', 'reference'].includes(n)) continue;
      const p = rel ? `${rel}/${n}` : n;
      if (statSync(path.join(ROOT, p)).isDirectory()) walk(p);
      else if (p.endsWith('.test.ts')) found.push(p);
    }
  };
  walk('');
  assert.deepEqual(found.sort(), [...allTestFiles(ROOT)].sort());
});

test('the unit-test folders are listed once: package.json and scripts/test.sh go through the runner', () => {
  const pkg = readFileSync(path.join(ROOT, 'package.json'), 'utf8');
  const sh = readFileSync(path.join(ROOT, 'scripts/test.sh'), 'utf8');
  for (const text of [pkg, sh]) assert.doesNotMatch(text, new RegExp(UNIT_FOLDERS.slice(0, 3).join('\\s+')));
  assert.match(JSON.parse(pkg).scripts['test:unit'], /scripts\/test-run\.ts --unit/);
});

test('tiers by folder', () => {
  assert.equal(tierOf('controller/gc.test.ts'), 'unit');
  assert.equal(tierOf('test/integration/store.test.ts'), 'integration');
  assert.equal(tierOf('test/e2e/login.test.ts'), 'e2e');
});

test('a file\'s needs: its header line; an unknown need is an error naming the file', () => {
  assert.deepEqual(declaredNeeds('// what it tests\n// needs: docker busybox dosh\nimport x;\n'), ['docker', 'busybox', 'dosh']);
  assert.deepEqual(declaredNeeds('// no header\n'), []);
  assert.throws(() => declaredNeeds('// needs: docker kubernetes\n', 'test/e2e/x.test.ts'), /test\/e2e\/x.test.ts: unknown need "kubernetes"/);
});

test('steps run after what they depend on, each once', () => {
  assert.deepEqual(ordered(['sshd']), ['store', 'dosh', 'sshd']);
  assert.deepEqual(ordered(['debian', 'sshd', 'busybox', 'dosh']), ['docker', 'busybox', 'debian', 'store', 'dosh', 'sshd']);
});

test('a unit file needs nothing set up; the transfer test its images, DoSH, sshd and rsync; the fleet test the API server', () => {
  const unit = makePlan(ROOT, ['controller/gc.test.ts']);
  assert.deepEqual([unit.steps, unit.tools.size, unit.files.unit], [[], 0, ['controller/gc.test.ts']]);
  const transfer = makePlan(ROOT, ['test/e2e/transfer.test.ts']);
  assert.deepEqual(transfer.steps, ['docker', 'debian', 'store', 'dosh', 'sshd']);
  assert.equal(transfer.tools.get('rsync'), 'rsync');
  assert.equal(transfer.tools.get('sftp'), 'openssh-client');
  assert.ok(!transfer.steps.includes('k8s'), 'no Kubernetes for a file that does not use it');
  assert.ok(makePlan(ROOT, ['test/e2e/fleet.test.ts']).steps.includes('k8s'));
  assert.deepEqual(makePlan(ROOT, ['test/e2e/chart-install.test.ts']).steps.filter((s) => s === 'k8s' || s === 'helm'), ['k8s', 'helm']);
});

test('the whole suite plans without error: every header is valid and every program listed', () => {
  const plan = makePlan(ROOT, allTestFiles(ROOT));
  assert.ok(plan.files.unit.length > 30 && plan.files.integration.length > 3 && plan.files.e2e.length > 10);
  assert.ok(plan.steps.includes('docker') && plan.steps.includes('sshd'));
});

test('the counts of a TAP report', () => {
  const tap = 'TAP version 13\nok 1 - a\n1..3\n# tests 3\n# suites 0\n# pass 1\n# fail 1\n# cancelled 0\n# skipped 1\n# todo 0\n# duration_ms 12\n';
  assert.deepEqual(countsOf(tap), { tests: 3, pass: 1, fail: 1, skipped: 1, todo: 0, cancelled: 0 });
});
