// The import graph of the TypeScript sources and the rules it must keep (docs/ARCHITECTURE.md, "Layers"):
//
//   4  entry points      controller/main.ts, cli/main.ts   (the login relay, shell/dosh.c, is C)
//   3  programs          controller/, cli/                (neither imports the other)
//   2  services          store/, engine/, kube/, policy/  (none imports another)
//   1  lib/
//   0  api/              the contract: imports nothing of DoSH
//
// A file imports only files of its own folder or of a lower layer; nothing imports an entry point or a test (a
// *.test.ts, a testkit.ts, or anything under test/, bench/, scripts/, crds/); and no import circle exists anywhere,
// tests and fakes included. Type-only and dynamic imports count like the others.
// `node --import tsx scripts/layers.ts` prints the problems (exit status 1 when there are some).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The layer of each production folder (the first path segment). */
export const LAYERS: Record<string, number> = { api: 0, lib: 1, store: 2, engine: 2, kube: 2, policy: 2, controller: 3, cli: 3, shell: 3 };
export const ENTRY_POINTS = ['controller/main.ts', 'cli/main.ts'];
/** Where tests and tools live: they may import anything, and nothing of production may import them. */
const TOOLING = ['test', 'bench', 'scripts', 'crds'];

const SKIP = new Set(['node_modules', 'dist', '.git', 'reference']);

/** Every .ts file under the repository's source folders, relative to the root. */
export function sourceFiles(root = ROOT): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      if (SKIP.has(name)) continue;
      const p = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(root, p)).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const top of [...Object.keys(LAYERS), ...TOOLING]) {
    try {
      if (statSync(path.join(root, top)).isDirectory()) walk(top);
    } catch {
      // a folder this checkout does not have
    }
  }
  return out.sort();
}

/** The relative imports of a source text (static, type-only, re-exports and dynamic), as written. */
export function importsOf(text: string): string[] {
  const specs = new Set<string>();
  for (const m of text.matchAll(/(?:^|[\s;}])(?:import|export)\s[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g)) specs.add(m[1]);
  for (const m of text.matchAll(/(?:^|[\s;])import\s*['"](\.{1,2}\/[^'"]+)['"]/g)) specs.add(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) specs.add(m[1]);
  return [...specs];
}

/** file -> the files it imports (relative to the root; only imports of .ts files that exist are kept). */
export function importGraph(root = ROOT, files = sourceFiles(root)): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(path.join(root, f), 'utf8');
    graph.set(
      f,
      importsOf(text)
        .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(f), spec)))
        .filter((t) => known.has(t)),
    );
  }
  return graph;
}

const top = (f: string) => f.split('/')[0];
/** A test, a test kit beside the tests (`testkit.ts`), or a tool. */
const isTest = (f: string) => f.endsWith('.test.ts') || path.posix.basename(f) === 'testkit.ts' || TOOLING.includes(top(f));

/** Imports that break the layering, as `FROM -> TO: why`. */
export function layerViolations(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) {
      if (ENTRY_POINTS.includes(to)) out.push(`${from} -> ${to}: an entry point is imported by nothing`);
      else if (isTest(to) && !isTest(from)) out.push(`${from} -> ${to}: production code imports a test or a tool`);
      else if (isTest(from) || ENTRY_POINTS.includes(from) || top(from) === top(to)) continue;
      else if (!(top(from) in LAYERS) || !(top(to) in LAYERS)) out.push(`${from} -> ${to}: a folder without a layer`);
      else if (LAYERS[top(to)] >= LAYERS[top(from)]) {
        out.push(`${from} -> ${to}: ${top(from)}/ (layer ${LAYERS[top(from)]}) may not import ${top(to)}/ (layer ${LAYERS[top(to)]})`);
      }
    }
  }
  return out;
}

/** Every import circle (a strongly connected component of more than one file, or a file importing itself), each as a path. */
export function importCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iteratively: the graph has a few hundred files, but recursion depth should not depend on it.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  for (const start of graph.keys()) {
    if (idx.has(start)) continue;
    const work: { v: string; i: number }[] = [{ v: start, i: 0 }];
    idx.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1];
      const next = (graph.get(top.v) ?? [])[top.i++];
      if (next !== undefined) {
        if (!idx.has(next)) {
          idx.set(next, index);
          low.set(next, index++);
          stack.push(next);
          onStack.add(next);
          work.push({ v: next, i: 0 });
        } else if (onStack.has(next)) low.set(top.v, Math.min(low.get(top.v)!, idx.get(next)!));
        continue;
      }
      work.pop();
      if (work.length) low.set(work[work.length - 1].v, Math.min(low.get(work[work.length - 1].v)!, low.get(top.v)!));
      if (low.get(top.v) !== idx.get(top.v)) continue;
      const scc: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        onStack.delete(w);
        scc.push(w);
        if (w === top.v) break;
      }
      if (scc.length > 1 || (graph.get(top.v) ?? []).includes(top.v)) cycles.push(scc.sort());
    }
  }
  return cycles;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const graph = importGraph();
  const problems = [...layerViolations(graph), ...importCycles(graph).map((c) => `import circle: ${c.join(' <-> ')}`)];
  for (const p of problems) process.stdout.write(`${p}\n`);
  process.stdout.write(`${graph.size} files, ${[...graph.values()].reduce((n, t) => n + t.length, 0)} imports, ${problems.length} problems\n`);
  process.exitCode = problems.length ? 1 : 0;
}
