#!/usr/bin/env bash
# ensure-store-tmpfs.sh — makes DoSH's store directory (/run/dosh, or $1) a tmpfs, as /run is on any systemd host
# (the unit's RuntimeDirectory=dosh lives there). On a machine whose /run is on its disk (a container or VM without
# systemd, like the CI machine), every store write would otherwise be a disk flush (ext4 syncs a file renamed over
# another), which is not what production pays and would make the tests and benchmarks measure the disk. Idempotent.
set -euo pipefail
PROG=ensure-store-tmpfs.sh
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir=${1:-/run/dosh}
mkdir -p "$dir"
[ "$(findmnt -n -o FSTYPE --target "$dir")" = tmpfs ] && exit 0
mount -t tmpfs -o mode=0700,size=512m,nosuid,nodev,noexec tmpfs "$dir"
log "mounted a tmpfs on $dir (its filesystem was not one)"
