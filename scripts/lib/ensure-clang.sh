#!/usr/bin/env bash
# ensure-clang.sh — installs Debian's clang-14 with its fuzzer and sanitizer runtimes, for the relay's fuzz tests
# (shell/Makefile `fuzz`, test/integration/relay-fuzz.test.ts).
set -euo pipefail
PROG=ensure-clang.sh
# ensure_pkgs
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
command -v clang-14 >/dev/null && [ -n "$(find /usr/lib/llvm-14 -name 'libclang_rt.fuzzer-x86_64.a' -print -quit 2>/dev/null)" ] || ensure_pkgs clang-14 libclang-rt-14-dev
