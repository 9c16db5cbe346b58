#!/usr/bin/env bash
# bench/image.sh — the doshd image's size and start time (BENCHMARKS.md, "The doshd image"). As root:
#
#   bash bench/image.sh [RUNS]
#
# Builds the image (scripts/lib/build-doshd-image.sh doshd, as dosh/doshd-bench:local so that the tests' own
# dosh/doshd:local is left alone), then prints:
#   - its size and its base's (dosh-test/debian:trixie-node), from `docker image inspect`;
#   - `docker run --rm IMAGE --version` (a container's start and removal, Node.js, doshd's bundle parsed) against
#     `docker run --rm BASE true` (the same without doshd: the floor), interleaved by hyperfine, RUNS times (10);
#   - from `docker run -d` to doshd's /readyz answering 200 (engine reachable, policy loaded) on a private store and
#     port with the host's engine socket, RUNS times: the median and the spread.
# Everything it starts is removed; the image stays (docker rmi dosh/doshd-bench:local).
set -euo pipefail
PROG=bench-image
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. scripts/lib/common.sh
RUNS=${1:-10}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$RUNS'"
[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v hyperfine >/dev/null || ensure_pkgs hyperfine
command -v curl >/dev/null || ensure_pkgs curl
IMAGE=dosh/doshd-bench:local
BASE=dosh-test/debian:trixie-node

log "building $IMAGE"
DOSH_DOSHD_IMAGE=$IMAGE bash scripts/lib/build-doshd-image.sh doshd >&2
mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'; }
echo "size: $IMAGE $(mb "$IMAGE"), its base $BASE $(mb "$BASE")"

hyperfine -N --warmup 2 --runs "$RUNS" --style basic \
  -n "docker run --rm $BASE true" "docker run --rm $BASE true" \
  -n "docker run --rm $IMAGE --version" "docker run --rm $IMAGE --version"

dir=$(mktemp -d)
ctr=
cleanup() { [ -z "$ctr" ] || docker rm -f "$ctr" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
mkdir -m 0700 "$dir/etc"
printf 'CONTAINERIMAGE=dosh-test/busybox:latest\n' >"$dir/etc/dosh.conf"
port=19479
times=()
for _ in $(seq "$RUNS"); do
  rm -rf "$dir/store"
  mkdir -m 0700 "$dir/store"
  t0=$(date +%s%N)
  ctr=$(docker run -d --network host --pid host -v "$dir/store:/run/dosh" -v /var/run/docker.sock:/var/run/docker.sock \
    -v "$dir/etc:/etc/dosh:ro" "$IMAGE" --node "bench-image-$$" --metrics-address "127.0.0.1:$port")
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    [ "$(docker inspect -f '{{.State.Running}}' "$ctr")" = true ] || { docker logs "$ctr" >&2; die "doshd stopped"; }
    sleep 0.01
  done
  times+=($(( ($(date +%s%N) - t0) / 1000000 )))
  docker rm -f "$ctr" >/dev/null
  ctr=
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "docker run -d $IMAGE to /readyz 200: median $(sed -n "$(( (RUNS + 1) / 2 ))p" <<<"$sorted") ms, min $(head -n1 <<<"$sorted") ms, max $(tail -n1 <<<"$sorted") ms ($RUNS runs)"
