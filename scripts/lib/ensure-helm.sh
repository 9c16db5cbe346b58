#!/usr/bin/env bash
# ensure-helm.sh — print the path of a Helm binary of the pinned version, building it first when needed.
#
# Usage: scripts/lib/ensure-helm.sh            (prints e.g. /var/cache/dosh-test/helm/v3.22.0/bin/helm)
#
# Helm is built from source with `go install helm.sh/helm/v3/cmd/helm@$DOSH_HELM_VERSION` through the Go module
# proxy (no prebuilt binary is downloaded); the result is cached under $DOSH_HELM_CACHE/<version>/bin, so only the
# first run pays for the build (3 to 6 minutes on a fresh machine, see docs/INSTALL.md). A `helm` already on
# PATH is used only when it is exactly the pinned version. Installs Debian's golang-go when `go` is missing.
#
# Environment:
#   DOSH_HELM_VERSION  the Helm version to build        (default v3.22.0)
#   DOSH_HELM_CACHE    where built versions are kept    (default /var/cache/dosh-test/helm)
set -euo pipefail
PROG=ensure-helm.sh
VERSION=${DOSH_HELM_VERSION:-v3.22.0}
CACHE=${DOSH_HELM_CACHE:-/var/cache/dosh-test/helm}
BIN="$CACHE/$VERSION/bin"
# log, die, ensure_pkgs
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ -x "$BIN/helm" ]; then echo "$BIN/helm"; exit 0; fi
if command -v helm >/dev/null 2>&1 && helm version --template '{{.Version}}' 2>/dev/null | grep -qx "$VERSION"; then
  command -v helm; exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin /usr/lib/go/bin; do [ -x "$d/go" ] && PATH="$d:$PATH"; done
fi
if ! command -v go >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "need Go (or root to install golang-go) to build helm $VERSION"
  ensure_pkgs golang-go ca-certificates
fi

mkdir -p "$CACHE"
# One build at a time: a second caller waits and then finds the binary.
exec 9>"$CACHE/.lock"
flock 9
if [ -x "$BIN/helm" ]; then echo "$BIN/helm"; exit 0; fi
log "building helm $VERSION with $(go version | cut -d' ' -f3) (go install; cached in $BIN)"
start=$(date +%s)
tmp="$CACHE/$VERSION.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# The ldflags are those of Helm's Makefile: the version, and the Kubernetes version `helm template` and `helm lint`
# assume (major+1.minor of the client-go module, e.g. 0.37 -> 1.37); without them Helm assumes Kubernetes 1.20.
moddir=$(go mod download -json "helm.sh/helm/v3@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -f "$moddir/go.mod" ] || die "go mod download helm.sh/helm/v3@$VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
k8s=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$moddir/go.mod" | head -1)
[ -n "$k8s" ] || die "no k8s.io/client-go version in $moddir/go.mod"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s"
done
# CGO off: a static binary that needs no C toolchain.
if ! CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$VERSION" >&2; then
  die "go install helm.sh/helm/v3/cmd/helm@$VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
fi
mkdir -p "$BIN"
mv "$tmp/helm" "$BIN/helm"
log "built helm $VERSION (for Kubernetes 1.$k8s) in $(( $(date +%s) - start ))s"
echo "$BIN/helm"
