#!/usr/bin/env bash
# build-doshd-image.sh — build the images of the compose deployment and the Helm chart from local parts (no
# registry, no Dockerfile). `npm run image` builds the doshd image.
#
# Usage: scripts/lib/build-doshd-image.sh [--force] [doshd|prometheus]...
#
#   doshd       dosh/doshd:local, also tagged dosh/doshd:VERSION — the Debian package of this tree
#               (scripts/package-deb.sh, reused when built from the same files) installed with dpkg on Debian 13
#               with its own nodejs (dosh-test/debian:trixie-node, scripts/lib/build-images.sh): the same files as a
#               host install, run by Debian's Node.js 20. The login relay runs on the host; the image's copy is
#               not setuid (dpkg-statoverride 0755) and is there only because doshd admits a login when the relay's
#               /proc/PID/exe names the account's login shell as doshd resolves it, in its own filesystem (a host's
#               /usr/bin/dosh must resolve to /usr/bin/dosh in the container too). Its entry point,
#               deploy/image/doshd-entrypoint.sh, runs /usr/sbin/doshd with `--node` from $DOSH_NODE, else from
#               the host's /etc/hostname when mounted at /run/host/hostname. /usr/bin/node runs other scripts (the
#               Helm chart's test and uninstall hook). Always rebuilt (a few seconds once the package is built).
#   prometheus  dosh/prometheus:local — dosh-test/debian:bookworm plus Debian's /usr/bin/prometheus (package
#               `prometheus`, installed when missing) and its libraries; skipped when it exists with this recipe
#               unless --force.
# With no image named, both are built. Each image is made with `docker create` of the base, `docker cp` of the
# staged files (and, for doshd, `dpkg -i` in it) and `docker commit` with its entrypoint. Must run as root (Docker,
# apt).
#
# Environment:
#   DOSH_DOSHD_IMAGE       (default dosh/doshd:local)
#   DOSH_PROMETHEUS_IMAGE  (default dosh/prometheus:local)
set -euo pipefail
PROG=build-doshd-image.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BASE=dosh-test/debian:bookworm
DOSHD_BASE=dosh-test/debian:trixie-node
DOSHD_IMAGE=${DOSH_DOSHD_IMAGE:-dosh/doshd:local}
PROM_IMAGE=${DOSH_PROMETHEUS_IMAGE:-dosh/prometheus:local}
RECIPE_LABEL=org.dosh.image.recipe
DOSHD_RECIPE=doshd-3
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
  bash "$HERE/build-images.sh" trixie-node
  local deb version
  deb=$(bash "$ROOT/scripts/package-deb.sh" --no-lintian)
  version=$(dpkg-deb -f "$deb" Version)
  ctr=$(docker create "$DOSHD_BASE" sh -c 'dpkg-statoverride --add root root 0755 /usr/bin/dosh && dpkg -i /tmp/dosh.deb && rm /tmp/dosh.deb && mkdir -p /run/host /run/dosh')
  docker cp "$deb" "$ctr:/tmp/dosh.deb"
  docker cp "$ROOT/deploy/image/doshd-entrypoint.sh" "$ctr:/usr/local/bin/doshd-entrypoint"
  docker start -a "$ctr" >"$stage/dpkg.log" 2>&1 || { sed "s/^/$PROG:   /" "$stage/dpkg.log" >&2; die "dpkg -i $deb failed in $DOSHD_BASE"; }
  docker commit -c 'ENTRYPOINT ["/usr/local/bin/doshd-entrypoint"]' -c 'CMD []' -c "LABEL $RECIPE_LABEL=$DOSHD_RECIPE" \
    -c "LABEL org.opencontainers.image.title=doshd org.opencontainers.image.version=$version" "$ctr" "$DOSHD_IMAGE" >/dev/null
  docker rm -f "$ctr" >/dev/null; ctr=
  docker tag "$DOSHD_IMAGE" "${DOSHD_IMAGE%:*}:$version"
  log "built $DOSHD_IMAGE and ${DOSHD_IMAGE%:*}:$version (dosh $version on $DOSHD_BASE, $(docker image inspect -f '{{.Size}}' "$DOSHD_IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
}

build_prometheus() {
  bash "$HERE/build-images.sh" debian
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
