// Reads dosh.yaml text into a plain value plus a way to find the line of any path in it,
// turning every YAML syntax error into a PolicyError with its line.
import { isMap, isPair, isScalar, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { fail } from './errors.ts';

export type YamlPath = (string | number)[];

export interface YamlSource {
  file: string;
  value: unknown;
  /** Line of the node at path (or of its nearest existing parent); with `key`, of that key in the map at path. */
  lineOf(path: YamlPath, key?: string): number;
}

export function formatPath(path: YamlPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s || '(document)';
}

export function readYaml(file: string, text: string): YamlSource {
  const nul = text.indexOf('\0');
  if (nul !== -1) fail({ file, line: text.slice(0, nul).split('\n').length }, 'NUL byte in file (is this a binary file?)');
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true, logLevel: 'silent' });
  if (!Array.isArray(docs)) fail({ file, line: 1 }, 'the file holds no YAML document');
  if (docs.length === 0) fail({ file, line: 1 }, 'the file is empty');
  if (docs.length > 1) fail({ file, line: lc.linePos(docs[1].range[0]).line }, 'the file holds more than one YAML document');
  const doc = docs[0] as Document;
  const e = doc.errors[0];
  if (e) fail({ file, line: lineAt(lc, e.pos[0]) }, `YAML syntax: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    fail({ file, line: 1 }, `YAML: ${(err as Error).message}`);
  }
  return {
    file,
    value,
    lineOf(path, key) {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (n === path.length && key !== undefined && isMap(node)) {
          const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === key);
          const k = pair && isPair(pair) && isScalar(pair.key) ? pair.key : undefined;
          if (k?.range) return lineAt(lc, k.range[0]);
        }
        if (node?.range) return lineAt(lc, node.range[0]);
        if (n === 0) return doc.contents?.range ? lineAt(lc, doc.contents.range[0]) : 1;
      }
      return 1;
    },
  };
}

function lineAt(lc: LineCounter, offset: number): number {
  return Math.max(1, lc.linePos(offset).line);
}
