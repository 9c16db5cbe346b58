// npm run gen:crds: writes the CustomResourceDefinitions of DoSH's API (crds/ and charts/dosh/crds/) from the zod
// schemas in api/, so the cluster validates exactly what doshd does (as far as OpenAPI can say it).
//
// zod v4's z.toJSONSchema (OpenAPI 3.0 target, input side, so fields with defaults stay optional) gives a JSON
// Schema; toStructural() turns it into the structural form apiextensions.k8s.io/v1 requires: a `type` on every node,
// no $ref, no additionalProperties next to properties, unions of integer and string as x-kubernetes-int-or-string,
// and the other unions (a string or a list, a map or a list: dosh.yaml's shorthand forms) as
// x-kubernetes-preserve-unknown-fields, which doshd validates against the zod schema itself.
//
// `npm run gen:crds -- --check` writes nothing and exits 1 when a committed file differs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import YAML from 'yaml';
import { API_GROUP } from '../api/constants.ts';
import { ANNOTATION_GENERATED_BY } from '../api/labels.ts';
import { Session, SESSION_KIND } from '../api/session.ts';
import { DoshPolicy, DOSHPOLICY_KIND, POLICY_ACCEPTED } from '../api/doshpolicy.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Every generated file, relative to the repository root; the chart's copies are identical to crds/. */
export const CRD_DIRS = ['crds', 'charts/dosh/crds'];
export const VERSION = 'v1alpha1';

type Json = Record<string, unknown>;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A zod schema as an OpenAPI v3 structural schema (see the top of this file). */
export function structuralSchema(schema: z.ZodType): Json {
  const js = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any', reused: 'inline', cycles: 'throw' }) as Json;
  return toStructural(js, '');
}

/** Branch types of a (possibly nested) anyOf/oneOf, or undefined when a branch has no simple type. */
function branchTypes(node: Json): string[] | undefined {
  const out: string[] = [];
  for (const b of ((node.anyOf ?? node.oneOf) as Json[] | undefined) ?? []) {
    if (b.anyOf || b.oneOf) {
      const inner = branchTypes(b);
      if (!inner) return undefined;
      out.push(...inner);
    } else if (typeof b.type === 'string') {
      // A number that can only be an integer (an enum of integers) counts as an integer.
      const intEnum = b.type === 'number' && Array.isArray(b.enum) && b.enum.every((v) => Number.isInteger(v));
      out.push(intEnum ? 'integer' : b.type);
    } else return undefined;
  }
  return out;
}

function describeUnion(types: string[] | undefined): string {
  const names = [...new Set(types ?? ['any value'])].map((t) => (t === 'array' ? 'a list' : t === 'object' ? 'a map' : `a ${t}`));
  return `One of: ${names.join(', ')}; validated by doshd exactly like dosh.yaml.`;
}

export function toStructural(node: Json, where: string): Json {
  if ('$ref' in node) throw new Error(`${where || '/'}: $ref is not allowed in a structural schema`);
  if (node.anyOf || node.oneOf || node.allOf) {
    if (node.allOf) throw new Error(`${where}: allOf (an intersection) has no structural form`);
    const types = branchTypes(node);
    const out: Json = {};
    if (typeof node.description === 'string') out.description = node.description;
    if (types && types.every((t) => t === 'integer' || t === 'string')) {
      out['x-kubernetes-int-or-string'] = true;
    } else {
      out.description = [out.description, describeUnion(types)].filter(Boolean).join(' ');
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
    if (node.nullable) out.nullable = true;
    if ('default' in node) out.default = node.default;
    return out;
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    switch (k) {
      case '$schema':
      case 'id':
      case '$id':
        break;
      case 'type':
        out.type = v === 'number' && Array.isArray(node.enum) && node.enum.every((e) => Number.isInteger(e)) ? 'integer' : v;
        break;
      case 'minimum':
      case 'maximum':
        // zod bounds every int by the safe-integer range; Kubernetes stores int64, so those bounds say nothing.
        if (Math.abs(v as number) !== MAX_SAFE) out[k] = v;
        break;
      case 'properties': {
        const props: Json = {};
        for (const [name, p] of Object.entries(v as Json)) props[name] = toStructural(p as Json, `${where}/${name}`);
        out.properties = props;
        break;
      }
      case 'additionalProperties':
        // false (a strict object) is what pruning does anyway; v1 forbids it beside properties.
        if (v !== false && !node.properties) out.additionalProperties = toStructural(v as Json, `${where}/*`);
        break;
      case 'items':
        if (Array.isArray(v)) throw new Error(`${where}: tuples have no structural form`);
        out.items = toStructural(v as Json, `${where}[]`);
        break;
      case 'required':
        if ((v as string[]).length) out.required = v;
        break;
      default:
        out[k] = v;
    }
  }
  if (out.type === 'object' && !out.properties && !out.additionalProperties) out['x-kubernetes-preserve-unknown-fields'] = true;
  if (!out.type && !out['x-kubernetes-preserve-unknown-fields']) throw new Error(`${where || '/'}: no type (${JSON.stringify(node).slice(0, 120)})`);
  return out;
}

/** Lists whose items server-side apply merges by a key: conditions by type, a DoshPolicy's node verdicts by node. */
const LIST_MAP_KEYS: Record<string, string> = { conditions: 'type', nodes: 'node' };

function markListMaps(node: Json): void {
  const props = node.properties as Json | undefined;
  if (props) {
    for (const [name, p] of Object.entries(props)) {
      const child = p as Json;
      if (LIST_MAP_KEYS[name] && child.type === 'array') {
        child['x-kubernetes-list-type'] = 'map';
        child['x-kubernetes-list-map-keys'] = [LIST_MAP_KEYS[name]];
      }
      markListMaps(child);
    }
  }
  if (node.items) markListMaps(node.items as Json);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') markListMaps(node.additionalProperties as Json);
}

/** The object's root schema: apiVersion/kind/metadata as Kubernetes wants them (it owns metadata), spec and status from zod. */
function rootSchema(obj: z.ZodObject, description: string): Json {
  const spec = structuralSchema(obj.shape.spec as z.ZodType);
  const status = structuralSchema(obj.shape.status as z.ZodType);
  delete status.default; // the status subresource starts empty; doshd writes it whole.
  markListMaps(spec);
  markListMaps(status);
  return {
    description,
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion of this object (dosh.io/v1alpha1).' },
      kind: { type: 'string', description: 'Kind of this object.' },
      metadata: { type: 'object' },
      spec,
      status,
    },
  };
}

interface CrdInput {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  schema: Json;
  columns: Json[];
}

function crd(c: CrdInput): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${c.plural}.${API_GROUP}`,
      annotations: { [ANNOTATION_GENERATED_BY]: 'npm run gen:crds (scripts/gen-crds.ts) from api/*.ts; do not edit' },
      labels: { 'app.kubernetes.io/part-of': 'dosh' },
    },
    spec: {
      group: API_GROUP,
      scope: c.scope,
      names: { kind: c.kind, listKind: `${c.kind}List`, plural: c.plural, singular: c.singular, shortNames: c.shortNames, categories: ['dosh'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: c.columns,
          schema: { openAPIV3Schema: c.schema },
        },
      ],
    },
  };
}

export function crdObjects(): Record<string, Json> {
  return {
    'dosh.io_sessions.yaml': crd({
      kind: SESSION_KIND,
      plural: 'sessions',
      singular: 'session',
      shortNames: ['sess'],
      scope: 'Namespaced',
      schema: rootSchema(Session, 'One login of a user on a DoSH login node: made by that node\'s doshd when a login asks for it, and reconciled by it.'),
      columns: [
        { name: 'User', type: 'string', jsonPath: '.spec.user' },
        { name: 'Node', type: 'string', jsonPath: '.spec.node' },
        { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
        { name: 'Image', type: 'string', jsonPath: '.status.container.image' },
        { name: 'Mode', type: 'string', jsonPath: '.spec.mode', priority: 1 },
        { name: 'Container', type: 'string', jsonPath: '.status.container.name', priority: 1 },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
    }),
    'dosh.io_doshpolicies.yaml': crd({
      kind: DOSHPOLICY_KIND,
      plural: 'doshpolicies',
      singular: 'doshpolicy',
      shortNames: ['doshpol'],
      scope: 'Cluster',
      schema: rootSchema(DoshPolicy, 'The policy of every DoSH login node of the cluster: a dosh.yaml document as the spec (see docs/POLICY.md).'),
      columns: [
        { name: 'Accepted', type: 'string', jsonPath: `.status.conditions[?(@.type=="${POLICY_ACCEPTED}")].status` },
        { name: 'Error', type: 'string', jsonPath: '.status.lastError', priority: 1 },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
    }),
  };
}

const HEADER = '# Generated by `npm run gen:crds` (scripts/gen-crds.ts) from the zod schemas in api/. Do not edit.\n';

/** Every generated file's path (relative to the repository root) and text. */
export function generateCrds(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, obj] of Object.entries(crdObjects())) {
    const text = HEADER + YAML.stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false });
    for (const dir of CRD_DIRS) files.set(`${dir}/${name}`, text);
  }
  return files;
}

/** The generated files that are missing or differ on disk. */
export function staleFiles(root = ROOT): string[] {
  const stale: string[] = [];
  for (const [rel, text] of generateCrds()) {
    const file = path.join(root, rel);
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) stale.push(rel);
  }
  return stale;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    for (const f of stale) console.error(`gen-crds: ${f} is out of date: run npm run gen:crds`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const [rel, text] of generateCrds()) {
    const file = path.join(ROOT, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (old !== text) fs.writeFileSync(file, text);
    console.log(`gen-crds: ${rel}${old === text ? ' (unchanged)' : ''}`);
  }
}
