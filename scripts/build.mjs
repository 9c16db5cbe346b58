// Builds the installable artefacts into dist/: one bundled file per entry point (no module resolution at start-up)
// and the compiled login relay, dist/dosh (shell/Makefile).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
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

const entries = {
  doshd: 'controller/main.ts',
  doshctl: 'cli/main.ts',
  'dosh-kube': 'kube/client.ts',
};

await Promise.all(
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
      plugins: name === 'dosh-kube' ? [stubPlugin] : [stubPlugin, kubePlugin],
      // CommonJS dependencies call require() for Node built-ins; give the ESM bundle one.
      banner: { js: "import { createRequire as __doshCreateRequire } from 'node:module'; const require = __doshCreateRequire(import.meta.url);" },
      logLevel: 'warning',
    }),
  ),
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
