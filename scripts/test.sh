#!/usr/bin/env bash
# npm test: the whole suite (unit, integration, end-to-end). Installs and starts what it needs: npm dependencies,
# a Docker engine, the local test images, DoSH itself (system-wide), a private sshd on 127.0.0.1:2222, tmux and
# Prometheus (each test that needs a Prometheus server starts its own on loopback).
set -euo pipefail
PROG='test'
# ensure_pkgs (apt-get update once per process tree; no services started by the package scripts)
# shellcheck source=SCRIPTDIR/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
say() { printf 'test: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { say "run as root: the end-to-end tests create users and install DoSH"; exit 1; }
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
say "typecheck"
npx tsc --noEmit -p .
say "services: docker engine, test images, DoSH, sshd"
bash scripts/lib/ensure-docker.sh
bash scripts/lib/build-images.sh
need() { # need COMMAND PACKAGE: install PACKAGE from Debian when COMMAND is missing
  command -v "$1" >/dev/null || ensure_pkgs "$2"
}
need tmux tmux
need prometheus prometheus
need promtool prometheus
bash scripts/install-system.sh
bash scripts/lib/test-sshd.sh start
say "Kubernetes for the fleet and chart tests (Debian's containerd, etcd...; v1.34.4 built from source once, ~8-14 min)"
bash scripts/lib/k8s-cluster.sh build >/dev/null
say "Helm for the chart tests (built from source once, 3-6 min)"
bash scripts/lib/ensure-helm.sh >/dev/null

mapfile -t unit < <(find api kube controller shell policy store engine cli lib crds -name '*.test.ts' | sort)
mapfile -t integration < <(find test/integration test/e2e -name '*.test.ts' 2>/dev/null | sort)
if [ "$#" -gt 0 ]; then files=("$@"); else files=("${unit[@]}" "${integration[@]}"); fi
say "running ${#files[@]} test files"
# One run, so the closing summary counts every test; files run one at a time because the end-to-end tests share
# the host's doshd, users and engine.
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
