#!/usr/bin/env bash
# k8s-build.sh — build the Kubernetes server binaries and the pause image of the test cluster, once, and cache them.
#
# Usage: scripts/lib/k8s-build.sh        prints the cache directory (bin/ and images/ inside it)
#
# kube-apiserver, kubelet, kube-scheduler and kube-controller-manager are built from the Go module
# k8s.io/kubernetes@$DOSH_K8S_VERSION, fetched through the Go module proxy (no release binary is downloaded). The
# module's go.mod points every k8s.io staging module at ./staging/src/..., which the module zip does not contain:
# the build copies the module to a scratch directory, points each of those replaces at the published module of the
# same release (k8s.io/api@v0.34.4 for Kubernetes v1.34.4, ...), removes go.work, go.work.sum and vendor/, and runs
# one `go build` of the four commands (they share most of their packages) with the version in the ldflags, so that
# /version and `kubectl version` report it. CGO off: static binaries.
#
# The pause (sandbox) image is a static C program that sleeps until SIGINT/SIGTERM and reaps children, written as a
# docker-archive tar (no registry, no Docker) named $PAUSE_IMAGE, ready for `ctr images import`.
#
# Cached in $DOSH_K8S_CACHE/$DOSH_K8S_VERSION (a stamp file names the version and this recipe; anything else is
# rebuilt). Build times on 2 cores: see docs/ARCHITECTURE.md ("The test cluster"). One build at a time (flock).
# Installs golang-go (when no Go is found), gcc and libc6-dev from Debian when missing.
#
# Environment:
#   DOSH_K8S_VERSION  Kubernetes version to build          (default v1.34.4)
#   DOSH_K8S_CACHE    where built versions are kept        (default /var/cache/dosh-test/k8s)
#   GOCACHE, GOMODCACHE, GOPROXY                          as for go (a cold GOCACHE measures a fresh machine)
set -euo pipefail
PROG=k8s-build.sh
VERSION=${DOSH_K8S_VERSION:-v1.34.4}
OUT=${DOSH_K8S_CACHE:-/var/cache/dosh-test/k8s}/$VERSION
COMMANDS=(kube-apiserver kubelet kube-scheduler kube-controller-manager)
PAUSE_IMAGE=dosh-test/pause:1
# Bump when what this script produces changes (the stamp then no longer matches and everything is rebuilt).
RECIPE=1
# log, die, usage, ensure_pkgs
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

case "${1:-}" in -h | --help) usage 0 ;; '') ;; *) usage 2 ;; esac
case "$VERSION" in v1.[0-9]*.[0-9]*) ;; *) die "DOSH_K8S_VERSION must look like v1.34.4, got '$VERSION'" ;; esac

stamp() { printf 'kubernetes %s recipe %s pause %s\n' "$VERSION" "$RECIPE" "$PAUSE_IMAGE"; }
built() {
  local c
  for c in "${COMMANDS[@]}"; do [ -x "$OUT/bin/$c" ] || return 1; done
  [ -s "$OUT/images/pause.tar" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$(stamp)" ]
}

ensure_go() {
  if ! command -v go >/dev/null 2>&1; then
    for d in /usr/local/go/bin /usr/lib/go/bin; do [ -x "$d/go" ] && PATH="$d:$PATH"; done
  fi
  command -v go >/dev/null 2>&1 || ensure_pkgs golang-go ca-certificates
  command -v go >/dev/null 2>&1 || die "no Go toolchain after installing golang-go"
}

# The four commands, from the module zip, with the staging replaces pointed at the published modules.
build_binaries() {
  local tmp=$1 minor mod src ldflags m
  minor=$(printf '%s' "${VERSION#v1.}" | cut -d. -f1)
  mod=$(go mod download -json "k8s.io/kubernetes@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -f "$mod/go.mod" ] || die "go mod download k8s.io/kubernetes@$VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  src=$tmp/src
  cp -r "$mod" "$src"
  chmod -R u+w "$src"
  rm -rf "$src/go.work" "$src/go.work.sum" "$src/vendor"
  local edits=()
  while read -r m; do edits+=("-replace=$m=$m@v0.${VERSION#v1.}"); done < <(
    sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*|\1|p' "$src/go.mod")
  [ ${#edits[@]} -gt 20 ] || die "expected the staging replaces in k8s.io/kubernetes@$VERSION's go.mod, found ${#edits[@]}"
  (cd "$src" && go mod edit "${edits[@]}")
  ldflags="-s -w"
  for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $m.gitVersion=$VERSION -X $m.gitMajor=1 -X $m.gitMinor=$minor -X $m.gitTreeState=clean"
  done
  log "building ${COMMANDS[*]} $VERSION with $(go version | cut -d' ' -f3) (${#edits[@]} staging modules at v0.${VERSION#v1.})"
  mkdir -p "$tmp/bin"
  (cd "$src" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "$ldflags" -o "$tmp/bin/" \
    "${COMMANDS[@]/#/./cmd/}") >&2 ||
    die "go build of k8s.io/kubernetes@$VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
}

# A docker-archive (what `docker save` writes: manifest.json, the config, one layer tar) holding /pause.
build_pause() {
  local tmp=$1 d=$1/pause
  mkdir -p "$d/rootfs" "$d/archive"
  cat >"$d/pause.c" <<'C'
/* The sandbox process of the test cluster's pods: holds the pod's namespaces, reaps orphans, exits on INT/TERM. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, quit);
  signal(SIGTERM, quit);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
C
  gcc -static -Os -s -o "$d/rootfs/pause" "$d/pause.c" || die "gcc -static failed (libc6-dev installed?)"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$d/rootfs" -cf "$d/layer.tar" pause
  local diff cfg cfgsha
  diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
  mkdir -p "$d/archive/$diff"
  mv "$d/layer.tar" "$d/archive/$diff/layer.tar"
  cfg='{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:'$diff'"]}}'
  cfgsha=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
  printf '%s' "$cfg" >"$d/archive/$cfgsha.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfgsha" "$PAUSE_IMAGE" "$diff" >"$d/archive/manifest.json"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$d/archive" -cf "$tmp/pause.tar" .
}

if built; then echo "$OUT"; exit 0; fi
[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, writes $OUT)"
ensure_go
command -v gcc >/dev/null 2>&1 || ensure_pkgs gcc
pkg_installed libc6-dev || ensure_pkgs libc6-dev
mkdir -p "$OUT"
# One build at a time: a second caller waits and then finds the binaries.
exec 9>"$OUT/.lock"
flock 9
if built; then echo "$OUT"; exit 0; fi
start=$(date +%s)
tmp=$(mktemp -d "$OUT/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
build_pause "$tmp"
build_binaries "$tmp"
rm -rf "${OUT:?}/bin" "${OUT:?}/images"
mkdir -p "$OUT/images"
mv "$tmp/bin" "$OUT/bin"
mv "$tmp/pause.tar" "$OUT/images/pause.tar"
stamp >"$OUT/stamp"
log "built in $(($(date +%s) - start))s: $(du -sh "$OUT/bin" | cut -f1) in $OUT/bin"
echo "$OUT"
