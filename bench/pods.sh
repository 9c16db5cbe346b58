#!/usr/bin/env bash
# npm run bench:pods — installs what the benchmark needs (hyperfine, engine, image, DoSH, Kubernetes for the test
# cluster), then runs bench/pods.ts under the same lock as the end-to-end tests (they share the host's doshd).
set -euo pipefail
PROG=bench-pods
. "$(dirname "$0")/setup.sh"
bash scripts/lib/k8s-build.sh >/dev/null
exec flock -o /tmp/dosh-e2e.lock node --import tsx bench/pods.ts
