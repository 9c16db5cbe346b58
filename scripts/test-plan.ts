// What `npm test` runs and sets up: the test files by tier, and for the integration and end-to-end files, the setup
// steps they need (their `// needs:` header line, plus the steps behind the programs they run) and the programs they
// run (scripts/test-tools.ts). Pure: scripts/test-run.ts carries the plan out.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseToolList, scan, TOOLS_FILE } from './test-tools.ts';

/** The folders whose *.test.ts files are unit tests (beside the code): listed here and nowhere else. */
export const UNIT_FOLDERS = ['api', 'lib', 'store', 'engine', 'kube', 'policy', 'controller', 'cli', 'shell', 'crds', 'scripts'];
/** The folders of the tiers that use the machine: the Docker engine, users, DoSH installed system-wide. */
export const SYSTEM_FOLDERS = { integration: 'test/integration', e2e: 'test/e2e' } as const;

export type Tier = 'unit' | 'integration' | 'e2e';
export const TIERS: readonly Tier[] = ['unit', 'integration', 'e2e'];

/** What a test file can need set up on the machine, each by one idempotent step. */
export const NEEDS = ['docker', 'busybox', 'debian', 'trixie', 'store', 'dosh', 'sshd', 'k8s', 'helm', 'clang'] as const;
export type Need = (typeof NEEDS)[number];

/** A setup step: a command run from the repository root, after the steps it depends on. */
export interface Step {
  what: string;
  run: string[];
  after: Need[];
}

export const STEPS: Record<Need, Step> = {
  docker: { what: 'the Docker engine', run: ['bash', 'scripts/lib/ensure-docker.sh'], after: [] },
  busybox: { what: 'the busybox test image', run: ['bash', 'scripts/lib/build-images.sh', 'busybox'], after: ['docker'] },
  debian: { what: 'the Debian test image (debootstrap, a few minutes the first time)', run: ['bash', 'scripts/lib/build-images.sh', 'debian'], after: ['docker'] },
  store: { what: 'the store on a tmpfs, as /run is on a systemd host', run: ['bash', 'scripts/lib/ensure-store-tmpfs.sh'], after: [] },
  trixie: { what: 'a clean Debian 13 root as an image (debootstrap, a minute the first time)', run: ['bash', 'scripts/lib/build-images.sh', 'trixie'], after: ['docker'] },
  dosh: { what: 'DoSH, installed system-wide: the Debian package (DOSH_INSTALL=system: npm run install-system)', run: ['bash', 'scripts/lib/install-dosh.sh'], after: ['store'] },
  sshd: { what: 'the test sshd on 127.0.0.1:2222', run: ['bash', 'scripts/lib/test-sshd.sh', 'start'], after: ['dosh'] },
  k8s: { what: "Kubernetes v1.34.4 for the test cluster (Debian's containerd, etcd...; built from source once, ~14 min)", run: ['bash', 'scripts/lib/k8s-cluster.sh', 'build'], after: [] },
  helm: { what: 'Helm (built from source once)', run: ['bash', 'scripts/lib/ensure-helm.sh'], after: [] },
  clang: { what: 'clang-14 and its fuzzer runtime (the relay\'s fuzz tests)', run: ['bash', 'scripts/lib/ensure-clang.sh'], after: [] },
};

export function tierOf(file: string): Tier {
  if (file.startsWith(`${SYSTEM_FOLDERS.integration}/`)) return 'integration';
  if (file.startsWith(`${SYSTEM_FOLDERS.e2e}/`)) return 'e2e';
  return 'unit';
}

/** The needs a test file declares: a `// needs: A B C` line among its first lines. */
export function declaredNeeds(text: string, file = 'the file'): Need[] {
  const line = text.split('\n').slice(0, 20).find((l) => /^\/\/ needs:/.test(l));
  if (!line) return [];
  const words = line.replace(/^\/\/ needs:/, '').trim().split(/\s+/).filter(Boolean);
  for (const w of words) if (!NEEDS.includes(w as Need)) throw new Error(`${file}: unknown need "${w}" (known: ${NEEDS.join(', ')})`);
  return words as Need[];
}

/** Every *.test.ts under a folder, sorted. */
export function testFiles(root: string, dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(path.join(root, dir));
  } catch {
    return [];
  }
  return names
    .flatMap((n) => {
      const rel = `${dir}/${n}`;
      return statSync(path.join(root, rel)).isDirectory() ? testFiles(root, rel) : rel.endsWith('.test.ts') ? [rel] : [];
    })
    .sort();
}

export function allTestFiles(root: string): string[] {
  return [...UNIT_FOLDERS.flatMap((d) => testFiles(root, d)), ...testFiles(root, SYSTEM_FOLDERS.integration), ...testFiles(root, SYSTEM_FOLDERS.e2e)];
}

export interface Plan {
  files: Record<Tier, string[]>;
  /** Setup steps, in an order that runs each after what it depends on. */
  steps: Need[];
  /** The programs the integration and end-to-end files run, with where each comes from. */
  tools: Map<string, string>;
}

export function makePlan(root: string, files: string[]): Plan {
  const byTier: Record<Tier, string[]> = { unit: [], integration: [], e2e: [] };
  for (const f of files) byTier[tierOf(f)].push(f);
  const listed = parseToolList(readFileSync(path.join(root, TOOLS_FILE), 'utf8'));
  const needs = new Set<Need>();
  const tools = new Map<string, string>();
  for (const f of [...byTier.integration, ...byTier.e2e]) {
    for (const n of declaredNeeds(readFileSync(path.join(root, f), 'utf8'), f)) needs.add(n);
    for (const p of scan(root, f)) {
      const source = listed.get(p);
      if (source === undefined) throw new Error(`${f} runs ${p}, which ${TOOLS_FILE} does not list`);
      if (source === '-') continue;
      tools.set(p, source);
      if (source.startsWith('@') && source !== '@system') needs.add(source.slice(1) as Need);
    }
  }
  return { files: byTier, steps: ordered(needs), tools };
}

/** The needs and what they depend on, each after its dependencies (in STEPS order otherwise). */
export function ordered(needs: Iterable<Need>): Need[] {
  const out: Need[] = [];
  const visit = (n: Need): void => {
    if (out.includes(n)) return;
    for (const d of STEPS[n].after) visit(d);
    out.push(n);
  };
  const wanted = new Set(needs);
  for (const n of NEEDS.filter((x) => wanted.has(x))) visit(n);
  return out;
}

export interface Counts {
  tests: number;
  pass: number;
  fail: number;
  skipped: number;
  todo: number;
  cancelled: number;
}

/** The totals at the end of a TAP report (`# tests 12` ...). */
export function countsOf(tap: string): Counts {
  const n = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  return { tests: n('tests'), pass: n('pass'), fail: n('fail'), skipped: n('skipped'), todo: n('todo'), cancelled: n('cancelled') };
}
