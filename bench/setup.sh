# Sourced by the login benchmarks' scripts (bench/login.sh, bench/pods.sh) with PROG set: from the repository's root,
# what both need installed (npm packages, hyperfine, the engine, the busybox image, DoSH). Each adds its own steps.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
. scripts/lib/common.sh
command -v hyperfine >/dev/null || ensure_pkgs hyperfine
bash scripts/lib/ensure-docker.sh
bash scripts/lib/build-images.sh busybox
bash scripts/lib/install-dosh.sh >/dev/null
