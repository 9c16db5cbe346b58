#!/usr/bin/env bash
# npm run bench:pods — installs what the benchmark needs (hyperfine, engine, image, DoSH, Kubernetes for the test
# cluster), then runs bench/pods.ts under the same lock as the end-to-end tests (they share the host's doshd).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
PROG=bench-pods
. scripts/lib/common.sh
command -v hyperfine >/dev/null || ensure_pkgs hyperfine
bash scripts/lib/ensure-docker.sh
bash scripts/lib/build-images.sh busybox
bash scripts/lib/install-dosh.sh >/dev/null
bash scripts/lib/k8s-build.sh >/dev/null
exec flock -o /tmp/dosh-e2e.lock node --import tsx bench/pods.ts
