#!/usr/bin/env bash
# npm run bench:login — installs what the benchmark needs (hyperfine, engine, image, DoSH, the test sshd), then runs
# bench/login.ts under the same lock as the end-to-end tests (they share the host's doshd).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
PROG=bench-login
. scripts/lib/common.sh
command -v hyperfine >/dev/null || ensure_pkgs hyperfine
bash scripts/lib/ensure-docker.sh
bash scripts/lib/build-images.sh busybox
bash scripts/lib/install-dosh.sh >/dev/null
bash scripts/lib/test-sshd.sh start >/dev/null
exec flock -o /tmp/dosh-e2e.lock node --import tsx bench/login.ts
