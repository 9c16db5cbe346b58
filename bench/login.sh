#!/usr/bin/env bash
# npm run bench:login — installs what the benchmark needs (hyperfine, engine, image, DoSH, the test sshd), then runs
# bench/login.ts under the same lock as the end-to-end tests (they share the host's doshd).
set -euo pipefail
PROG=bench-login
. "$(dirname "$0")/setup.sh"
bash scripts/lib/test-sshd.sh start >/dev/null
exec flock -o /tmp/dosh-e2e.lock node --import tsx bench/login.ts
