// Builds the installable artefacts into dist/: one bundled file per entry point (no module resolution at start-up)
// and the compiled login relay, dist/dosh (shell/Makefile). DOSH_VERSION=V builds them as version V (what doshd and
// doshctl report) instead of lib/version.ts's: the Debian package's build gives its own version (scripts/package-deb.sh).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const version = process.env.DOSH_VERSION;
if (version !== undefined && !/^[0-9][A-Za-z0-9.+~-]*$/.test(version)) {
  process.stderr.write(`build: DOSH_VERSION must be a version like 0.1.0 or 0.1.0~rc1, got ${JSON.stringify(version)}\n`);
  process.exit(2);
}
// From scratch: a file a former build made (the Node.js helper of earlier releases) must not be installed by mistake.
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

// dockerode pulls in SSH (remote engines) and gRPC/protobuf (BuildKit sessions) at load time. DoSH only talks to a
// local Unix socket, so those are replaced by a stub (less to load at every doshd and doshctl start).
const unused = ['ssh2', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'tar-fs', '@balena/dockerignore'];
const stubPlugin = {
  name: 'stub-unused',
  setup(b) {
    const filter = new RegExp(`^(${unused.map((u) => u.replace(/[/.]/g, '\\$&')).join('|')})(/.*)?$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => ({
      contents: `const fail = () => { throw new Error(${JSON.stringify('not bundled in DoSH: ')} + ${JSON.stringify(args.path)}); };
module.exports = new Proxy(function () {}, { get: (_t, k) => (k === '__esModule' ? false : fail), apply: fail, construct: fail });`,
      loader: 'js',
    }));
  },
};

// The Kubernetes client is most of doshd's size (16 MB of generated API models, ~110 ms to parse): only Kubernetes
// mode loads it, from a bundle of its own installed beside the others.
const kubePlugin = {
  name: 'kube-apart',
  setup(b) {
    b.onResolve({ filter: /kube\/client\.ts$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './dosh-kube.mjs', external: true } : undefined));
  },
};

// DOSH_VERSION replaces lib/version.ts in every bundle.
const versionPlugin = {
  name: 'version',
  setup(b) {
    if (version === undefined) return;
    b.onLoad({ filter: /[\\/]lib[\\/]version\.ts$/ }, () => ({ contents: `export const VERSION = ${JSON.stringify(version)};\n`, loader: 'ts' }));
  },
};

const entries = {
  doshd: 'controller/main.ts',
  doshctl: 'cli/main.ts',
  'dosh-kube': 'kube/client.ts',
};

const results = await Promise.all(
  Object.entries(entries).map(([name, entry]) =>
    build({
      entryPoints: [path.join(root, entry)],
      outfile: path.join(dist, `${name}.mjs`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: false,
      sourcemap: false,
      legalComments: 'none',
      plugins: name === 'dosh-kube' ? [stubPlugin, versionPlugin] : [stubPlugin, kubePlugin, versionPlugin],
      // CommonJS dependencies call require() for Node built-ins; give the ESM bundle one.
      banner: { js: "import { createRequire as __doshCreateRequire } from 'node:module'; const require = __doshCreateRequire(import.meta.url);" },
      logLevel: 'warning',
      metafile: true,
    }),
  ),
);

// The npm packages inside the bundles, with their licenses: dist/THIRD-PARTY-LICENSES (the Debian package ships it
// beside its copyright file).
const bundled = new Map();
for (const r of results) {
  for (const input of Object.keys(r.metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (!m) continue;
    const dir = path.join(root, input.slice(0, m.index + m[0].length));
    if (!bundled.has(dir)) bundled.set(dir, JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')));
  }
}
const notices = [...bundled.entries()]
  .sort(([, a], [, b]) => (a.name === b.name ? String(a.version).localeCompare(String(b.version)) : a.name < b.name ? -1 : 1))
  .map(([dir, pkg]) => {
    const file = existsSync(dir) ? readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f)) : undefined;
    const text = file ? readFileSync(path.join(dir, file), 'utf8').trim() : `(the package has no license file; its package.json says ${pkg.license ?? 'nothing'})`;
    return `${pkg.name} ${pkg.version}: ${typeof pkg.license === 'string' ? pkg.license : JSON.stringify(pkg.license ?? 'unknown')}\n\n${text}\n`;
  });
writeFileSync(
  path.join(dist, 'THIRD-PARTY-LICENSES'),
  `The npm packages bundled into doshd, doshctl and dosh-kube (dist/*.mjs), each with its license.\n\n${notices.join('\n' + '-'.repeat(78) + '\n\n')}`,
);

// The login relay is C (it runs setuid root until the exec stream is open; see docs/SECURITY.md): no C compiler, no
// login path, so this is an error, not a fallback.
try {
  execFileSync('make', ['-s', '-C', path.join(root, 'shell'), `OUT=${dist}`, path.join(dist, 'dosh')], { stdio: 'inherit' });
} catch {
  process.stderr.write('build: the login relay (shell/dosh.c) needs a C compiler and make (Debian: gcc, libc6-dev, make)\n');
  process.exit(1);
}
process.stdout.write(`build: ${Object.keys(entries).map((n) => `dist/${n}.mjs`).join(', ')}, dist/dosh\n`);
