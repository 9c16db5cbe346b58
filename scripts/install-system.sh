#!/usr/bin/env bash
# Installs DoSH system-wide (idempotent): the login shell, doshd, doshctl, the root-only session helper, the sudoers
# drop-in (validated with visudo -c before it is put in place), /etc/dosh with a commented default dosh.conf (never
# overwritten), and the systemd unit. Run as root from the repository: npm run install-system
set -euo pipefail
PROG=install-system
# ensure_pkgs (apt-get update once per process tree); say and die stay this script's own (no "error:" prefix)
# shellcheck source=SCRIPTDIR/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
say() { printf 'install-system: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
cd "$(dirname "$0")/.."

PREFIX=/usr/local
LIB=$PREFIX/lib/dosh
NODE=$(command -v node) || die "node (>= 20) is not installed"
[ "$("$NODE" -p 'process.versions.node.split(".")[0]')" -ge 20 ] || die "node >= 20 is required, found $("$NODE" --version)"
case "$NODE" in /usr/bin/*|/usr/local/bin/*|/bin/*) ;; *) die "node at $NODE is not in a root-owned system directory; the root helper must not run a user-writable interpreter";; esac
[ "$(stat -c %u "$(readlink -f "$NODE")")" = 0 ] || die "$NODE is not owned by root"

if ! command -v sudo >/dev/null || ! command -v visudo >/dev/null; then
  ensure_pkgs sudo
fi

[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

install -d -o root -g root -m 0755 "$LIB" "$PREFIX/bin" "$PREFIX/share/doc/dosh"
# Bundled entry points get an absolute-path shebang: the helper runs as root and must not find node through PATH.
# The helper's also pins LC_ALL: Node's ICU crashes on some locale names (LANG=abcdefghijkl), and sudo lets the
# user's LANG through; the helper reads LANG itself and copies it into the container only when it looks like one.
for f in dosh-helper doshd doshctl dosh-kube; do
  tmp=$(mktemp)
  if [ "$f" = dosh-helper ]; then shebang="/usr/bin/env -S LC_ALL=C.UTF-8 $NODE"; else shebang=$NODE; fi
  { printf '#!%s\n' "$shebang"; cat "dist/$f.mjs"; } >"$tmp"
  install -o root -g root -m 0755 "$tmp" "$LIB/$f.mjs"
  rm -f "$tmp"
done
install -o root -g root -m 0755 dist/dosh "$PREFIX/bin/dosh"
ln -sfn "$LIB/doshd.mjs" "$PREFIX/bin/doshd"
ln -sfn "$LIB/doshctl.mjs" "$PREFIX/bin/doshctl"
install -o root -g root -m 0644 README.md "$PREFIX/share/doc/dosh/README.md"
install -o root -g root -m 0644 etc/dosh.conf "$LIB/dosh.conf.default"

tmp=$(mktemp)
cp etc/dosh.sudoers "$tmp"
visudo -cqf "$tmp" || { rm -f "$tmp"; die "the sudoers drop-in failed visudo -c; nothing was installed"; }
install -d -o root -g root -m 0750 /etc/sudoers.d
install -o root -g root -m 0440 "$tmp" /etc/sudoers.d/dosh
rm -f "$tmp"
visudo -cq || die "sudoers as a whole no longer validates; inspect /etc/sudoers.d/dosh"
grep -Eq '^[@#]includedir[[:space:]]+/etc/sudoers.d' /etc/sudoers || say "warning: /etc/sudoers does not include /etc/sudoers.d"

install -d -o root -g root -m 0700 /etc/dosh /etc/dosh/conf.d
if [ -e /etc/dosh/dosh.conf ]; then
  say "keeping the existing /etc/dosh/dosh.conf"
else
  install -o root -g root -m 0600 etc/dosh.conf /etc/dosh/dosh.conf
fi

grep -qxF "$PREFIX/bin/dosh" /etc/shells 2>/dev/null || echo "$PREFIX/bin/dosh" >>/etc/shells

install -d -o root -g root -m 0755 /etc/systemd/system
install -o root -g root -m 0644 etc/doshd.service /etc/systemd/system/doshd.service
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemctl daemon-reload; fi
say "installed: $PREFIX/bin/dosh $PREFIX/bin/doshd $PREFIX/bin/doshctl $LIB/dosh-helper.mjs /etc/sudoers.d/dosh /etc/dosh"
