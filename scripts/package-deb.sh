#!/usr/bin/env bash
# package-deb.sh — build DoSH's Debian package, dist/dosh_VERSION_ARCH.deb (npm run package).
#
# Usage: scripts/package-deb.sh [--version VERSION] [--out DIR] [--no-lintian] [--force]
#
#   --version VERSION  the package's (and the bundles') version; default: the top of debian/changelog, which is
#                      package.json's version. Another version gets a changelog entry in the build copy only.
#   --out DIR          where the .deb goes (default dist/)
#   --no-lintian       skip lintian (it takes half a minute; the package test and a release run it)
#   --force            build even when DIR holds a package built from the same files
#
# debhelper builds it (debian/rules) with dpkg-buildpackage -b, in a copy of the working tree (the files git tracks
# or would track, dist/ excluded) under dist/deb-build/ with the npm dependencies linked in, so that nothing is
# written outside dist/. Then lintian checks it and fails on any error or warning not overridden with its reason in
# debian/dosh.lintian-overrides. A package built from the same files, version and architecture (a hash of them, kept
# in DIR/.dosh_VERSION_ARCH.deb.source) is not built again. Prints the package's path on standard output.
#
# Needs dpkg-dev, debhelper, go-md2man, lintian, gcc, libc6-dev, make and Node.js 20 (installed when missing, which
# needs root; the build itself does not), and the npm dependencies (npm ci when node_modules is missing).
set -euo pipefail
PROG=package-deb
# shellcheck source=SCRIPTDIR/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

version=
out=$ROOT/dist
lintian=1
force=
while [ $# -gt 0 ]; do
  case $1 in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    --no-lintian) lintian=; shift ;;
    --force) force=1; shift ;;
    -h | --help) usage 0 ;;
    *) log "unknown argument: $1"; usage ;;
  esac
done

cd "$ROOT"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "run it in a clone of the repository: the package is built from the files git tracks"
top=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null || sed -n '1s/^dosh (\([^)]*\)).*/\1/p' debian/changelog)
[ -n "$version" ] || version=$top
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "--version: a Debian native version like 0.1.0 or 0.1.0+rc1 (no '-'), got '$version'"
mkdir -p "$out"
out=$(cd "$out" && pwd)

tools=(dpkg-buildpackage:dpkg-dev dh:debhelper go-md2man:go-md2man cc:gcc make:make)
[ -n "$lintian" ] && tools+=(lintian:lintian)
missing=()
for t in "${tools[@]}"; do command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}"); done
[ -e /usr/include/stdio.h ] || missing+=(libc6-dev)
[ ${#missing[@]} -eq 0 ] || ensure_pkgs "${missing[@]}"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "Node.js 20 or later is needed to build, found $(node --version)"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error

arch=$(dpkg --print-architecture)
deb=$out/dosh_${version}_$arch.deb
stamp=$out/.dosh_${version}_$arch.deb.source
files() { git ls-files -z --cached --others --exclude-standard | grep -zv '^dist/' | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done; }
hash=$( { printf '%s %s\n' "$version" "$arch"; files | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-64)
if [ -z "$force" ] && [ -s "$deb" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
  log "$deb is up to date"
else
  build=$ROOT/dist/deb-build
  rm -rf "$build"
  src=$build/dosh-$version
  mkdir -p "$src"
  files | tar -C "$ROOT" --null -T - -cf - | tar -C "$src" -xf -
  ln -s "$(readlink -f node_modules)" "$src/node_modules"
  if [ "$version" != "$top" ]; then
    { printf 'dosh (%s) unstable; urgency=medium\n\n  * Built as %s by scripts/package-deb.sh.\n\n -- %s  %s\n\n' \
        "$version" "$version" "$(dpkg-parsechangelog -l debian/changelog -S Maintainer)" "$(date -uR)"
      cat debian/changelog; } >"$src/debian/changelog"
  fi
  log "building dosh $version ($arch) in $src"
  start=$SECONDS
  # -d: what the build needs was checked above; its node need not be a Debian package (Build-Depends says nodejs).
  if ! (cd "$src" && dpkg-buildpackage -b -d --no-sign >"$build/build.log" 2>&1); then
    tail -n 30 "$build/build.log" | sed "s/^/$PROG:   /" >&2
    die "dpkg-buildpackage failed (full log: $build/build.log)"
  fi
  mv -f "$build/dosh_${version}_$arch.deb" "$deb"
  printf '%s\n' "$hash" >"$stamp"
  rm -rf "$src"
  log "built $deb in $((SECONDS - start))s"
fi

if [ -n "$lintian" ]; then
  log "lintian $deb"
  lintian --fail-on error,warning --display-info "$deb" >&2 || die "lintian: errors or warnings without an override (debian/dosh.lintian-overrides)"
fi
printf '%s\n' "$deb"
