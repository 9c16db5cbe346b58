// Builds the installable artefacts into dist/: one bundled file per entry point (fast to start: no module
// resolution at login time) and the native dosh launcher.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
mkdirSync(dist, { recursive: true });

// dockerode pulls in SSH (remote engines) and gRPC/protobuf (BuildKit sessions) at load time. DoSH only talks to a
// local Unix socket, so those are replaced by a stub: it halves the helper's start-up time (see BENCHMARKS.md).
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
  'dosh-helper': 'shell/helper-main.ts',
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

// The launcher must see argv[0] to know it is a login shell, which only a native executable can.
const launcher = path.join(dist, 'dosh');
try {
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', launcher, path.join(root, 'shell/dosh.c')], { stdio: 'inherit' });
} catch {
  process.stderr.write('build: no C compiler: installing the shell-script launcher, which cannot tell a login shell from argv[0]\n');
  writeFileSync(launcher, '#!/bin/sh\nexec /usr/bin/sudo -n -- /usr/local/lib/dosh/dosh-helper.mjs dosh "$@"\n');
  chmodSync(launcher, 0o755);
}
process.stdout.write(`build: ${Object.keys(entries).map((n) => `dist/${n}.mjs`).join(', ')}, dist/dosh\n`);
