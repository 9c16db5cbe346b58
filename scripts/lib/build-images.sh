#!/usr/bin/env bash
# build-images.sh — build DoSH's local test images (no registry is needed).
#
# Usage: scripts/lib/build-images.sh [--force] [busybox|debian|trixie|trixie-node]...
#
#   busybox  dosh-test/busybox:latest — a tiny root filesystem made from Debian's
#            busybox-static: /bin/busybox plus a symlink for every applet it
#            lists, minimal /etc/passwd and /etc/group (root, nobody), /tmp
#            (1777), /home, /root. About 2 MB; this is the image for the bench
#            (`build-images.sh busybox` builds only it, in about a second).
#   debian   dosh-test/debian:bookworm — Debian bookworm, debootstrap
#            --variant=minbase, plus bash coreutils tar procps rsync git
#            openssh-client openssh-sftp-server (/usr/lib/openssh/sftp-server),
#            for scp/sftp/rsync/git tests. Docs, man pages, locales and apt
#            lists are stripped before import.
#   trixie   dosh-test/debian:trixie — Debian 13, debootstrap --variant=minbase
#            and nothing else, not stripped: the clean root in which the Debian
#            package is installed, upgraded and purged
#            (test/integration/package-trixie.test.ts).
#   trixie-node  dosh-test/debian:trixie-node — the same plus Debian's nodejs
#            (Node.js 20), stripped like `debian`: the base of the doshd image
#            (scripts/lib/build-doshd-image.sh).
# With no image named, busybox and debian are built. An image that already exists
# (`docker image inspect`) is skipped unless --force is given; "exists" means
# it carries this script's recipe label (org.dosh.test.recipe), so an image of
# the same name made some other way, or by an older recipe, is rebuilt.
#
# All are imported with `docker import -c 'ENV PATH=...' -c 'CMD [...]'`.
# The Debian mirror is the one the host's apt uses (first non-security `deb`
# entry of /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list),
# falling back to http://deb.debian.org/debian. The packages debootstrap
# downloads are cached as a tarball in $DOSH_CACHE, so rebuilding after
# `docker rmi` needs no network.
#
# Installs what is missing (docker.io via ensure-docker.sh, busybox-static,
# debootstrap, debian-archive-keyring) with `apt-get update` once, then
# `apt-get install -y`. Must run as root.
#
# Environment:
#   DOSH_CACHE          cache directory          (default /var/cache/dosh-test)
#   DOSH_DEBIAN_MIRROR  override the Debian mirror
#   TMPDIR              where root filesystems are assembled (default /var/tmp)
set -euo pipefail

PROG=build-images.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${DOSH_CACHE:-/var/cache/dosh-test}
BUSYBOX_IMAGE=dosh-test/busybox:latest
DEBIAN_IMAGE=dosh-test/debian:bookworm
DEBIAN_INCLUDE=bash,coreutils,tar,procps,rsync,git,openssh-client,openssh-sftp-server
TRIXIE_IMAGE=dosh-test/debian:trixie
TRIXIE_NODE_IMAGE=dosh-test/debian:trixie-node
TRIXIE_NODE_INCLUDE=nodejs
DEFAULT_MIRROR=http://deb.debian.org/debian
# Bump a recipe when its image's contents change, so existing images get rebuilt.
RECIPE_LABEL=org.dosh.test.recipe
BUSYBOX_RECIPE=busybox-1
DEBIAN_RECIPE=debian-bookworm-1
TRIXIE_RECIPE=debian-trixie-1
TRIXIE_NODE_RECIPE=debian-trixie-node-1
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
BUSYBOX_PATH=/usr/sbin:/usr/bin:/sbin:/bin

# log, die, usage, ensure_pkgs (apt-get update once per process tree)
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# --- arguments ---------------------------------------------------------------
force=
want=()
for arg in "$@"; do
  case $arg in
    --force | -f) force=1 ;;
    -h | --help) usage 0 ;;
    busybox | debian | trixie | trixie-node) want+=("$arg") ;;
    *) log "unknown argument: $arg"; usage ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=(busybox debian)

[ "$(id -u)" -eq 0 ] || die "must run as root"

# --- scratch space, cleaned up even on failure ---------------------------------
WORK=
cleanup() {
  [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
  # debootstrap may leave /proc, /sys or a bind-mounted /dev behind on failure:
  # unmount everything below $WORK before removing it, and never cross devices.
  local m
  awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  if awk -v w="$WORK/" 'index($2, w) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
    log "warning: mounts remain below $WORK; not removing it"
    return 0
  fi
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
new_work() {
  cleanup
  WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/dosh-image.XXXXXX")
}

# image_recipe IMAGE — the recipe label of IMAGE; fails if there is no IMAGE.
image_recipe() {
  docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null
}

# import_rootfs DIR IMAGE RECIPE CMD_JSON PATH — tar DIR up and `docker import` it.
import_rootfs() {
  local dir=$1 image=$2 recipe=$3 cmd=$4 path=$5
  tar --numeric-owner --one-file-system -C "$dir" \
    --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -cf - . |
    docker import -c "ENV PATH=$path" -c "CMD $cmd" -c "LABEL $RECIPE_LABEL=$recipe" \
      - "$image" >/dev/null
}

# --- dosh-test/busybox:latest --------------------------------------------------
build_busybox() {
  ensure_pkgs busybox-static
  local bb
  bb=$(dpkg -L busybox-static | grep -E '/s?bin/busybox$' | head -n1)
  if [ -z "$bb" ] || [ ! -x "$bb" ]; then
    die "busybox-static is installed but has no busybox binary"
  fi
  new_work
  local root=$WORK/rootfs applet n=0
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,home,proc,sys,dev,var/tmp}
  install -d -m 0700 "$root/root"
  install -d -m 1777 "$root/tmp"
  chmod 1777 "$root/var/tmp"
  install -m 0755 "$bb" "$root/bin/busybox"
  # --list-full gives each applet's conventional directory (usr/bin/env, ...);
  # older builds only have --list, whose applets all go to /bin.
  local list
  if list=$("$bb" --list-full 2>/dev/null) && [ -n "$list" ]; then :; else
    list=$("$bb" --list | sed 's|^|bin/|')
  fi
  while read -r applet; do
    case $applet in '' | bin/busybox) continue ;; esac
    if [ -e "$root/$applet" ] || [ -L "$root/$applet" ]; then continue; fi
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
    n=$((n + 1))
  done <<<"$list"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
  import_rootfs "$root" "$BUSYBOX_IMAGE" "$BUSYBOX_RECIPE" '["/bin/sh"]' "$BUSYBOX_PATH"
  log "$BUSYBOX_IMAGE: busybox $(dpkg-query -W -f='${Version}' busybox-static), $n applets"
}

# --- dosh-test/debian:bookworm -------------------------------------------------
# host_mirror — the Debian archive URI the host's apt uses, else the default.
host_mirror() {
  local m=
  if [ -n "${DOSH_DEBIAN_MIRROR:-}" ]; then
    echo "$DOSH_DEBIAN_MIRROR"
    return
  fi
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk 'BEGIN { RS = ""; FS = "\n" }
      { types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          l = $i
          if (l ~ /^[ \t]*#/) continue
          if (l ~ /^Types:/)  { sub(/^Types:[ \t]*/, "", l);  types = l }
          if (l ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", l);   uris = l }
          if (l ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", l); suites = l }
        }
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris != "" && suites !~ /security/ && uris !~ /security/) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        } }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' /etc/apt/sources.list |
      awk '$1 == "deb" && $2 !~ /security/ && $3 !~ /security/ { print $2; exit }')
  fi
  case $m in
    http://* | https://* | file:/*) echo "${m%/}" ;;
    *) echo "$DEFAULT_MIRROR" ;;
  esac
}

# bootstrap SUITE INCLUDE — debootstrap --variant=minbase of SUITE plus the packages INCLUDE (comma-separated, may be
# empty) into $WORK/rootfs, from a tarball of the packages downloaded once and cached, keyed by SUITE and INCLUDE
# (--unpack-tarball installs every package of the tarball, whatever --include says).
bootstrap() {
  local suite=$1 include=$2
  ensure_pkgs debootstrap debian-archive-keyring
  local mirror arch key tarball
  mirror=$(host_mirror)
  arch=$(dpkg --print-architecture)
  # The mirror is part of the key: the tarball holds the mirror's Packages
  # lists under mirror-derived names, and --unpack-tarball with a different
  # mirror fails silently ("Unpacking the base system..." then exit 2).
  key=$(printf '%s\n' "$suite" minbase "$arch" "$include" "$mirror" |
    sha256sum | cut -c1-12)
  tarball=$CACHE/debootstrap-$suite-minbase-$arch-$key.tgz
  mkdir -p "$CACHE"
  local dlog=$CACHE/debootstrap-download.log ilog=$CACHE/debootstrap-install.log
  local opts=(--variant=minbase --arch="$arch")
  new_work
  if [ ! -s "$tarball" ]; then
    log "downloading $suite packages from $mirror (cached in $tarball)"
    if ! debootstrap "${opts[@]}" ${include:+--include="$include"} --make-tarball="$WORK/debs.tgz" \
      "$suite" "$WORK/dl" "$mirror" >"$dlog" 2>&1; then
      tail -n 20 "$dlog" | sed "s/^/$PROG:   /" >&2
      die "debootstrap --make-tarball failed (full log: $dlog)"
    fi
    mv -f "$WORK/debs.tgz" "$tarball"
    rm -rf --one-file-system "$WORK/dl"
  else
    log "using cached packages $tarball"
  fi
  local root=$WORK/rootfs
  log "bootstrapping $suite minbase${include:+ with $include} into $root"
  if ! debootstrap "${opts[@]}" ${include:+--include="$include"} --unpack-tarball="$tarball" \
    "$suite" "$root" "$mirror" >"$ilog" 2>&1; then
    tail -n 20 "$ilog" | sed "s/^/$PROG:   /" >&2
    die "debootstrap failed (full log: $ilog; remove $tarball if it is corrupt)"
  fi
  # Anything debootstrap left mounted must go before we tar the tree up.
  awk -v w="$root/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount "$m" || umount -l "$m"; done
  printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
}

# finish ROOT — what every image gets before import: no apt lists, caches or logs, and none of the build host's
# resolv.conf, hostname or machine-id (Docker supplies them at run time).
finish() {
  local root=$1
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/archives/partial/* \
    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/debootstrap
  find "$root/var/log" -type f -delete
  : >"$root/etc/resolv.conf"
  : >"$root/etc/hostname"
  [ -e "$root/etc/machine-id" ] && : >"$root/etc/machine-id"
  return 0
}

# slim ROOT — no documentation or translations, the way Debian's *-slim images do, and kept that way.
slim() {
  local root=$1
  cat >"$root/etc/dpkg/dpkg.cfg.d/dosh-slim" <<'EOF2'
# dosh-test: no documentation or translations in this test image
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF2
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/*
}

build_debian() {
  bootstrap bookworm "$DEBIAN_INCLUDE"
  local root=$WORK/rootfs f
  for f in /bin/bash /usr/bin/rsync /usr/bin/git /usr/lib/openssh/sftp-server /usr/bin/ps /usr/bin/scp; do
    [ -x "$root$f" ] || die "$f is missing from the bootstrapped root filesystem"
  done
  slim "$root"
  finish "$root"
  import_rootfs "$root" "$DEBIAN_IMAGE" "$DEBIAN_RECIPE" '["/bin/bash"]' "$IMAGE_PATH"
  log "$DEBIAN_IMAGE: $(du -sh --one-file-system "$root" | cut -f1) root filesystem"
}

# --- dosh-test/debian:trixie, dosh-test/debian:trixie-node -----------------------
build_trixie() {
  bootstrap trixie ""
  local root=$WORK/rootfs
  [ ! -e "$root/usr/bin/node" ] || die "the clean trixie root has node; it must not"
  finish "$root"
  import_rootfs "$root" "$TRIXIE_IMAGE" "$TRIXIE_RECIPE" '["/bin/bash"]' "$IMAGE_PATH"
  log "$TRIXIE_IMAGE: $(du -sh --one-file-system "$root" | cut -f1) root filesystem"
}

build_trixie-node() {
  bootstrap trixie "$TRIXIE_NODE_INCLUDE"
  local root=$WORK/rootfs
  [ -x "$root/usr/bin/node" ] || die "/usr/bin/node is missing from the bootstrapped root filesystem"
  # Services are never started by package scripts in an image (as in Debian's own container images).
  printf '#!/bin/sh\n# dosh-test: no service starts while an image is built\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  slim "$root"
  finish "$root"
  import_rootfs "$root" "$TRIXIE_NODE_IMAGE" "$TRIXIE_NODE_RECIPE" '["/bin/bash"]' "$IMAGE_PATH"
  log "$TRIXIE_NODE_IMAGE: node $(chroot "$root" /usr/bin/node --version), $(du -sh --one-file-system "$root" | cut -f1) root filesystem"
}

# --- main ------------------------------------------------------------------------
"$HERE/ensure-docker.sh"
command -v docker >/dev/null 2>&1 || ensure_pkgs docker.io

for what in "${want[@]}"; do
  case $what in
    busybox) image=$BUSYBOX_IMAGE recipe=$BUSYBOX_RECIPE ;;
    debian) image=$DEBIAN_IMAGE recipe=$DEBIAN_RECIPE ;;
    trixie) image=$TRIXIE_IMAGE recipe=$TRIXIE_RECIPE ;;
    trixie-node) image=$TRIXIE_NODE_IMAGE recipe=$TRIXIE_NODE_RECIPE ;;
  esac
  if [ -z "$force" ] && have=$(image_recipe "$image"); then
    [ "$have" = "$recipe" ] && continue
    log "$image exists but lacks label $RECIPE_LABEL=$recipe (has '${have}'); rebuilding"
  fi
  old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  start=$SECONDS
  log "building $image"
  "build_$what"
  log "built $image in $((SECONDS - start))s"
  # Drop the image this one replaced, unless something still uses it.
  if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
done
