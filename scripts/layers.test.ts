// The layers of docs/ARCHITECTURE.md hold in the code: no import from a lower layer to a higher one, none between
// two folders of one layer, none of an entry point or a test, and no import circle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { importCycles, importGraph, importsOf, layerViolations, ROOT } from './layers.ts';

/** Circles known and left on purpose, each with why (none today). An entry whose files are gone must go too. */
const KNOWN_CIRCLES: string[][] = [];

test('the repository: every import goes to its own folder or a lower layer', () => {
  assert.deepEqual(layerViolations(importGraph()), []);
});

test('the repository: no import circle (beyond the known ones, which must still exist)', () => {
  const known = (c: string[]) => KNOWN_CIRCLES.some((k) => k.join() === c.join());
  assert.deepEqual(importCycles(importGraph()).filter((c) => !known(c)), []);
  for (const k of KNOWN_CIRCLES) {
    const gone = k.filter((f) => !existsSync(path.join(ROOT, f)));
    assert.deepEqual(gone, [], `${gone.join(', ')} no longer exist: remove their entry from KNOWN_CIRCLES in scripts/layers.test.ts`);
  }
});

test('imports are found in every form: static, type-only, re-exported, side-effect and dynamic; packages are not', () => {
  const text = [
    "import { a } from './a.ts';",
    "import type { B } from '../b/b.ts';",
    'import {\n  c,\n  type C,\n} from "./c.ts";',
    "export { d } from './d.ts';",
    "export * from './e.ts';",
    "import './f.ts';",
    "const g = await import('./g.ts');",
    "import { z } from 'zod';",
    "import * as fs from 'node:fs';",
    "// a comment that says from './not-an-import.ts' is not an import statement",
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), ['../b/b.ts', './a.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
});

test('the rules catch an import upwards, across one layer, of an entry point and of a test; a test kit imports like a test', () => {
  const graph = new Map<string, string[]>([
    ['api/session.ts', ['lib/clock.ts']],
    ['store/dirstore.ts', ['engine/docker.ts']],
    ['cli/commands/top.ts', ['controller/gc.ts']],
    ['controller/gc.ts', ['controller/main.ts', 'test/fakes/engine.ts', 'controller/deps.ts', 'lib/clock.ts', 'api/session.ts']],
    ['controller/gc.test.ts', ['test/fakes/engine.ts', 'cli/format.ts', 'shell/testkit.ts']],
    ['shell/testkit.ts', ['controller/session-api/connection.ts']],
    ['policy/resolve.ts', ['policy/testkit.ts']],
    ['test/fakes/engine.ts', ['engine/docker.ts']],
  ]);
  assert.deepEqual(layerViolations(graph), [
    'api/session.ts -> lib/clock.ts: api/ (layer 0) may not import lib/ (layer 1)',
    'store/dirstore.ts -> engine/docker.ts: store/ (layer 2) may not import engine/ (layer 2)',
    'cli/commands/top.ts -> controller/gc.ts: cli/ (layer 3) may not import controller/ (layer 3)',
    'controller/gc.ts -> controller/main.ts: an entry point is imported by nothing',
    'controller/gc.ts -> test/fakes/engine.ts: production code imports a test or a tool',
    'policy/resolve.ts -> policy/testkit.ts: production code imports a test or a tool',
  ]);
});

test('the circle finder reports each circle once, long or short, and a file that imports itself', () => {
  const graph = new Map<string, string[]>([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts', 'd.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['e.ts']],
    ['e.ts', []],
    ['f.ts', ['f.ts']],
    ['g.ts', ['h.ts']],
    ['h.ts', ['g.ts', 'e.ts']],
  ]);
  assert.deepEqual(importCycles(graph).map((c) => c.join(' ')).sort(), ['a.ts b.ts c.ts', 'f.ts', 'g.ts h.ts']);
});
