#!/usr/bin/env bash
# npm test [-- FILE...]: the test command (scripts/test-run.ts). With no file, everything: the typecheck, the unit
# tests, then under /tmp/dosh-e2e.lock (shared with anyone else testing on this machine) the setup of the machine
# (the Docker engine, the test images, DoSH installed system-wide, a private sshd on 127.0.0.1:2222, the Kubernetes
# API server, the programs the tests run) and the integration and end-to-end tests. With files, only those, with only
# the setup they need (their `// needs:` line and the programs they run). `npm run test:unit`: the unit tests alone.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
exec node --import tsx scripts/test-run.ts "$@"
