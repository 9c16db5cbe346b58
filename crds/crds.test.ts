// The committed CRDs are exactly what `npm run gen:crds` makes from api/, their schemas are structural (what
// apiextensions.k8s.io/v1 accepts), and they accept what doshd accepts (the example dosh.yaml, a full Session).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { generateCrds, staleFiles, ROOT, CRD_DIRS } from '../scripts/gen-crds.ts';
import { YamlPolicy } from '../api/dosh-yaml.ts';
import { Session } from '../api/session.ts';

type Json = Record<string, any>;
const load = (name: string): Json => YAML.parse(fs.readFileSync(path.join(ROOT, 'crds', name), 'utf8'));
const schemaOf = (crd: Json): Json => crd.spec.versions[0].schema.openAPIV3Schema;

test('the committed CRDs (crds/ and charts/dosh/crds/) are what gen:crds generates', () => {
  const stale = staleFiles();
  assert.deepEqual(stale, [], `out of date: ${stale.join(', ')}: run npm run gen:crds`);
  // No stray file in either directory: a removed resource must not linger in the chart.
  const names = [...generateCrds().keys()].filter((k) => k.startsWith('crds/')).map((k) => path.basename(k)).sort();
  for (const dir of CRD_DIRS) {
    const present = fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(present, names, `${dir} has other YAML files than the generated ones: run npm run gen:crds`);
  }
});

/** Every violation of the structural-schema rules of apiextensions.k8s.io/v1 (and of what this generator promises). */
function structuralErrors(node: Json, where: string, root = true): string[] {
  const errs: string[] = [];
  const at = where || '/';
  for (const bad of ['$ref', '$schema', '$defs', 'definitions', 'allOf', 'oneOf', 'not', 'const', 'exclusiveMaximum'] as const) {
    if (bad in node && !(bad === 'exclusiveMaximum' && typeof node[bad] === 'boolean')) errs.push(`${at}: has ${bad}`);
  }
  if ('anyOf' in node && !node['x-kubernetes-int-or-string']) errs.push(`${at}: anyOf outside an int-or-string node`);
  if (typeof node.exclusiveMinimum === 'number') errs.push(`${at}: exclusiveMinimum must be a boolean in OpenAPI v3.0`);
  const typed = typeof node.type === 'string' && ['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(node.type);
  if (!typed && !node['x-kubernetes-int-or-string'] && !node['x-kubernetes-preserve-unknown-fields']) errs.push(`${at}: no type`);
  if (node['x-kubernetes-int-or-string'] && node.type) errs.push(`${at}: int-or-string with a type`);
  if (root && node.type !== 'object') errs.push(`${at}: the root must be an object`);
  if (node.properties && node.additionalProperties !== undefined) errs.push(`${at}: properties and additionalProperties together`);
  if (node.additionalProperties === false) errs.push(`${at}: additionalProperties: false`);
  if (node.type === 'array' && !node.items) errs.push(`${at}: an array without items`);
  if (node.type === 'object' && !node.properties && !node.additionalProperties && !node['x-kubernetes-preserve-unknown-fields'] && where !== '/metadata')
    errs.push(`${at}: an object with neither properties nor additionalProperties prunes everything`);
  // Preserve-unknown-fields only where a union needs it (those say so in their description).
  if (node['x-kubernetes-preserve-unknown-fields'] && !/validated by doshd/.test(node.description ?? '')) errs.push(`${at}: x-kubernetes-preserve-unknown-fields without a reason`);
  if (typeof node.pattern === 'string') {
    // Kubernetes compiles patterns with Go's RE2: no lookaround, no backreferences.
    if (/\(\?[=!<]|\\[1-9]/.test(node.pattern)) errs.push(`${at}: pattern ${node.pattern} is not RE2`);
  }
  if (node.required) {
    for (const r of node.required) if (!node.properties?.[r]) errs.push(`${at}: required ${r} is not a property`);
  }
  if (node['x-kubernetes-list-type'] === 'map') {
    for (const k of node['x-kubernetes-list-map-keys'] ?? []) if (!node.items?.required?.includes(k)) errs.push(`${at}: list map key ${k} is not required`);
  }
  for (const [name, p] of Object.entries<Json>(node.properties ?? {})) errs.push(...structuralErrors(p, `${where}/${name}`, false));
  if (node.items) errs.push(...structuralErrors(node.items, `${where}[]`, false));
  if (node.additionalProperties && typeof node.additionalProperties === 'object') errs.push(...structuralErrors(node.additionalProperties, `${where}/*`, false));
  return errs;
}

/** A small OpenAPI validator, enough for these schemas: every value the zod schema accepts must pass it. */
function validate(schema: Json, v: unknown, where = ''): string[] {
  const at = where || '/';
  if (v === null) return schema.nullable || schema['x-kubernetes-preserve-unknown-fields'] ? [] : [`${at}: null`];
  if (schema['x-kubernetes-int-or-string']) return Number.isInteger(v) || typeof v === 'string' ? [] : [`${at}: not int-or-string`];
  if (!schema.type && schema['x-kubernetes-preserve-unknown-fields']) return [];
  const t = Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  const ok = schema.type === t || (schema.type === 'number' && t === 'integer');
  if (!ok) return [`${at}: expected ${schema.type}, got ${t}`];
  const errs: string[] = [];
  if (schema.enum && !schema.enum.includes(v)) errs.push(`${at}: ${JSON.stringify(v)} not in enum`);
  if (typeof v === 'string' && schema.pattern && !new RegExp(schema.pattern).test(v)) errs.push(`${at}: does not match ${schema.pattern}`);
  if (typeof v === 'number' && schema.minimum !== undefined && (schema.exclusiveMinimum ? v <= schema.minimum : v < schema.minimum)) errs.push(`${at}: below minimum`);
  if (Array.isArray(v)) v.forEach((x, i) => errs.push(...validate(schema.items, x, `${where}[${i}]`)));
  else if (t === 'object') {
    const o = v as Json;
    for (const r of schema.required ?? []) if (!(r in o)) errs.push(`${at}: missing ${r}`);
    for (const [k, x] of Object.entries(o)) {
      const s = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (where === '' && k === 'metadata') continue; // the API server validates ObjectMeta itself
      if (s) errs.push(...validate(s, x, `${where}/${k}`));
      else if (!schema['x-kubernetes-preserve-unknown-fields']) errs.push(`${at}: unknown field ${k} would be pruned`);
    }
  }
  return errs;
}

test('both CRDs are apiextensions.k8s.io/v1 with structural schemas', () => {
  for (const name of ['dosh.io_sessions.yaml', 'dosh.io_doshpolicies.yaml']) {
    const crd = load(name);
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(crd.kind, 'CustomResourceDefinition');
    assert.equal(crd.metadata.name, `${crd.spec.names.plural}.${crd.spec.group}`);
    assert.equal(crd.spec.group, 'dosh.io');
    assert.deepEqual(crd.spec.names.categories, ['dosh']);
    assert.equal(crd.spec.versions.length, 1);
    const v = crd.spec.versions[0];
    assert.equal(v.name, 'v1alpha1');
    assert.ok(v.served && v.storage);
    assert.deepEqual(v.subresources, { status: {} });
    const root = schemaOf(crd);
    assert.deepEqual(structuralErrors(root, ''), [], name);
    assert.deepEqual(Object.keys(root.properties).sort(), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    assert.deepEqual(root.properties.metadata, { type: 'object' }, 'Kubernetes owns metadata: no restrictions but on name');
    assert.equal(root.properties.status.properties.conditions['x-kubernetes-list-type'], 'map');
    assert.ok(!JSON.stringify(root).includes('9007199254740991'), 'zod safe-integer bounds are dropped');
  }
});

test('the structural checker catches what the API server would reject', () => {
  const bad = { type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'array' }] }, b: { $ref: '#/x' }, c: { type: 'object', properties: {}, additionalProperties: false } } };
  const errs = structuralErrors(bad, '');
  assert.ok(errs.some((e) => e.startsWith('/a: anyOf')));
  assert.ok(errs.some((e) => e.startsWith('/a: no type')));
  assert.ok(errs.some((e) => e.startsWith('/b: has $ref')));
  assert.ok(errs.some((e) => e.startsWith('/c: properties and additionalProperties')));
});

test('sessions: names, namespaced, printer columns USER NODE PHASE IMAGE AGE', () => {
  const crd = load('dosh.io_sessions.yaml');
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.deepEqual(crd.spec.names, { kind: 'Session', listKind: 'SessionList', plural: 'sessions', singular: 'session', shortNames: ['sess'], categories: ['dosh'] });
  const cols = crd.spec.versions[0].additionalPrinterColumns as Json[];
  const shown = cols.filter((c) => !c.priority).map((c) => [c.name.toUpperCase(), c.jsonPath]);
  assert.deepEqual(shown, [
    ['USER', '.spec.user'],
    ['NODE', '.spec.node'],
    ['PHASE', '.status.phase'],
    ['IMAGE', '.status.container.image'],
    ['AGE', '.metadata.creationTimestamp'],
  ]);
  assert.equal(cols.find((c) => c.name === 'Age')!.type, 'date');
  const spec = schemaOf(crd).properties.spec;
  assert.deepEqual(spec.properties.mode.enum, ['interactive', 'command', 'stdin', 'script']);
  assert.ok(spec.required.includes('user') && spec.required.includes('node'));
  assert.ok(!spec.required.includes('args'), 'a field with a default is optional on input');
});

test('a full Session that doshd accepts passes the CRD schema', () => {
  const s = Session.parse({
    apiVersion: 'dosh.io/v1alpha1',
    kind: 'Session',
    metadata: { name: 'alice-1', uid: 'u1', resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z', labels: { 'dosh.io/user': 'alice' } },
    spec: { user: 'alice', uid: 1000, gid: 1000, node: 'login1', mode: 'interactive', login: true, tty: true, term: 'xterm', relay: { pid: 42, startTime: '123' } },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', reason: 'ExecStarted', lastTransitionTime: '2026-01-01T00:00:01Z' }],
      container: { id: 'abc', name: 'dosh-alice', image: 'debian:bookworm' },
      exec: { shell: ['bash'], env: ['TERM=xterm'], user: '1000:1000' },
      bytesIn: 12,
      bytesOut: 3400,
      hooks: { folder: '/run/dosh/hooks/x', execDone: false },
      execPid: 7,
    },
  });
  assert.deepEqual(validate(schemaOf(load('dosh.io_sessions.yaml')), s), []);
  const bad = validate(schemaOf(load('dosh.io_sessions.yaml')), { ...s, spec: { ...s.spec, mode: 'telnet', uid: 0 } });
  assert.ok(bad.some((e) => e.includes('/spec/mode')) && bad.some((e) => e.includes('/spec/uid: below minimum')), bad.join('; '));
});

test('doshpolicies: cluster-scoped, and the example dosh.yaml is a valid spec', () => {
  const crd = load('dosh.io_doshpolicies.yaml');
  assert.equal(crd.spec.scope, 'Cluster');
  assert.deepEqual(crd.spec.names.shortNames, ['doshpol']);
  const root = schemaOf(crd);
  assert.deepEqual(Object.keys(root.properties.status.properties).sort(), ['conditions', 'lastError', 'nodes', 'observedGeneration']);
  // Each node applies its own verdict: a list map keyed by node, so server-side apply merges the nodes' entries.
  const nodes = root.properties.status.properties.nodes;
  assert.equal(nodes['x-kubernetes-list-type'], 'map');
  assert.deepEqual(nodes['x-kubernetes-list-map-keys'], ['node']);
  assert.ok(nodes.items.required.includes('node'), 'a list map key must be required');
  const example = YAML.parse(fs.readFileSync(path.join(ROOT, 'policy/examples/dosh.yaml'), 'utf8'));
  YamlPolicy.parse(example); // doshd accepts it ...
  const status = { observedGeneration: 1, lastError: '', conditions: [], nodes: [{ node: 'login1', observedGeneration: 1, accepted: true }] };
  const obj = { apiVersion: 'dosh.io/v1alpha1', kind: 'DoshPolicy', metadata: { name: 'default' }, spec: example, status };
  assert.deepEqual(validate(root, obj), []); // ... and so does the API server.
  const noName = validate(root, { ...obj, status: { ...status, nodes: [{ accepted: true }] } });
  assert.deepEqual(noName, ['/status/nodes[0]: missing node']);
  // The shorthand forms dosh.yaml allows survive (they are the preserve-unknown-fields nodes).
  const shorthand = { version: 1, defaults: { command: 'bash -l', env: { A: 1, B: true }, resources: { memory: '2g', cpus: 1.5, memorySwap: -1 }, idleTimeout: '30m', mounts: ['/a:/b:ro', { target: '/scratch', type: 'tmpfs' }] }, rules: [{ match: { uids: [1000, '2000-2999'] }, image: 'x' }] };
  YamlPolicy.parse(shorthand);
  assert.deepEqual(validate(root, { ...obj, spec: shorthand }), []);
  assert.ok(validate(root, { ...obj, spec: { version: 2 } }).length > 0, 'version 2 is rejected');
});
