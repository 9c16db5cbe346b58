#!/usr/bin/env bash
# build-doshd-image.sh — build the images of the compose deployment from local parts (no registry, no Dockerfile).
#
# Usage: scripts/lib/build-doshd-image.sh [--force] [doshd|prometheus]...
#
#   doshd       dosh/doshd:local — dosh-test/debian:bookworm (scripts/lib/build-images.sh) plus this host's node
#               binary with the exact shared libraries `ldd` lists for it (its own dynamic loader included, kept in
#               /opt/dosh/node/lib so the image's own glibc stays untouched for getent and id), dist/doshd.mjs
#               (rebuilt with `npm run build` first), and /usr/local/bin/doshd, a wrapper that runs it and adds
#               `--node` from $DOSH_NODE, else from the host's /etc/hostname when mounted at /run/host/hostname;
#               and /usr/local/bin/node, the same node for other scripts (the Helm chart's test and uninstall hook).
#               Always rebuilt (a few seconds): it must carry the current dist/doshd.mjs.
#   prometheus  dosh/prometheus:local — the same base plus Debian's /usr/bin/prometheus (package `prometheus`,
#               installed when missing) and its libraries; skipped when it exists with this recipe unless --force.
# With no image named, both are built. Each image is made with `docker create` of the base, `docker cp` of the
# staged files and `docker commit` with its entrypoint. Must run as root (Docker, apt).
#
# Environment:
#   DOSH_DOSHD_IMAGE       (default dosh/doshd:local)
#   DOSH_PROMETHEUS_IMAGE  (default dosh/prometheus:local)
set -euo pipefail
PROG=build-doshd-image.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BASE=dosh-test/debian:bookworm
DOSHD_IMAGE=${DOSH_DOSHD_IMAGE:-dosh/doshd:local}
PROM_IMAGE=${DOSH_PROMETHEUS_IMAGE:-dosh/prometheus:local}
RECIPE_LABEL=org.dosh.image.recipe
DOSHD_RECIPE=doshd-2
PROM_RECIPE=prometheus-1
# log, die, ensure_pkgs
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

force=
want=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    doshd | prometheus) want+=("$a") ;;
    *) die "unknown argument: $a (usage: $PROG [--force] [doshd|prometheus]...)" ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=(doshd prometheus)
[ "$(id -u)" -eq 0 ] || die "run as root"

bash "$HERE/ensure-docker.sh"
bash "$HERE/build-images.sh" debian

stage=$(mktemp -d "${TMPDIR:-/var/tmp}/dosh-image.XXXXXX")
ctr=
cleanup() { [ -z "$ctr" ] || docker rm -f "$ctr" >/dev/null 2>&1 || true; rm -rf "$stage"; }
trap cleanup EXIT

# copy_binary BIN DEST: BIN at DEST/bin/NAME and every library ldd lists for it (the loader as DEST/lib/ld.so).
copy_binary() {
  local bin=$1 dest=$2 line lib
  mkdir -p "$dest/bin" "$dest/lib"
  cp -L "$bin" "$dest/bin/"
  while read -r line; do
    case "$line" in
      *'=> /'*) lib=${line#*=> }; lib=${lib%% (*}; cp -L "$lib" "$dest/lib/" ;;
      /*) lib=${line%% (*}; cp -L "$lib" "$dest/lib/ld.so" ;;
    esac
  done < <(ldd "$bin")
  [ -e "$dest/lib/ld.so" ] || die "$bin: no dynamic loader in ldd's output (a static binary needs no copy_binary)"
}

# commit NAME IMAGE RECIPE ENTRYPOINT-JSON: the base plus $stage/NAME/root as IMAGE.
commit() {
  local name=$1 image=$2 recipe=$3 entry=$4
  ctr=$(docker create "$BASE" true)
  docker cp "$stage/$name/root/." "$ctr:/"
  docker commit -c "ENTRYPOINT $entry" -c 'CMD []' -c "LABEL $RECIPE_LABEL=$recipe" "$ctr" "$image" >/dev/null
  docker rm -f "$ctr" >/dev/null; ctr=
  log "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}'))"
}

build_doshd() {
  local r=$stage/doshd/root
  (cd "$ROOT" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && node scripts/build.mjs)
  copy_binary "$(readlink -f "$(command -v node)")" "$r/opt/dosh/node"
  install -D -m 0644 "$ROOT/dist/doshd.mjs" "$r/usr/local/lib/dosh/doshd.mjs"
  # Kubernetes mode (the Helm chart runs this image with --in-cluster) loads the client from beside doshd.
  install -D -m 0644 "$ROOT/dist/dosh-kube.mjs" "$r/usr/local/lib/dosh/dosh-kube.mjs"
  mkdir -p "$r/usr/local/bin" "$r/run/host" "$r/run/dosh" "$r/etc/dosh"
  cat >"$r/usr/local/bin/doshd" <<'SH'
#!/bin/sh
# doshd in a container (made by scripts/lib/build-doshd-image.sh): node with its own copy of the libraries it was
# built against. doshd names the sessions it makes and its containers after its node: the host's name, as a systemd
# doshd would, from $DOSH_NODE or else the host's /etc/hostname mounted at /run/host/hostname.
set -e
node=${DOSH_NODE:-}
if [ -z "$node" ] && [ -s /run/host/hostname ]; then node=$(head -n1 /run/host/hostname); fi
if [ -n "$node" ]; then set -- --node "$node" "$@"; fi
exec /opt/dosh/node/lib/ld.so --library-path /opt/dosh/node/lib /opt/dosh/node/bin/node /usr/local/lib/dosh/doshd.mjs "$@"
SH
  chmod 0755 "$r/usr/local/bin/doshd"
  # The same node for other scripts: the Helm chart's test and uninstall hook run theirs with it.
  cat >"$r/usr/local/bin/node" <<'SH'
#!/bin/sh
exec /opt/dosh/node/lib/ld.so --library-path /opt/dosh/node/lib /opt/dosh/node/bin/node "$@"
SH
  chmod 0755 "$r/usr/local/bin/node"
  commit doshd "$DOSHD_IMAGE" "$DOSHD_RECIPE" '["/usr/local/bin/doshd"]'
}

build_prometheus() {
  if [ -z "$force" ] && [ "$(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$PROM_IMAGE" 2>/dev/null)" = "$PROM_RECIPE" ]; then
    log "$PROM_IMAGE exists"; return
  fi
  command -v prometheus >/dev/null || ensure_pkgs prometheus
  local r=$stage/prometheus/root
  copy_binary "$(readlink -f "$(command -v prometheus)")" "$r/opt/dosh/prometheus"
  mkdir -p "$r/usr/local/bin" "$r/etc/prometheus" "$r/prometheus"
  cat >"$r/usr/local/bin/prometheus" <<'SH'
#!/bin/sh
exec /opt/dosh/prometheus/lib/ld.so --library-path /opt/dosh/prometheus/lib /opt/dosh/prometheus/bin/prometheus "$@"
SH
  chmod 0755 "$r/usr/local/bin/prometheus"
  commit prometheus "$PROM_IMAGE" "$PROM_RECIPE" '["/usr/local/bin/prometheus"]'
}

start=$(date +%s)
for w in "${want[@]}"; do "build_$w"; done
log "done in $(( $(date +%s) - start ))s"
