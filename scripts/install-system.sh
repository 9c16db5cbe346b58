#!/usr/bin/env bash
# Installs DoSH system-wide under /usr/local, for development (idempotent): the login shell (the compiled login relay,
# setuid root), doshd, doshctl, /etc/dosh with a commented default dosh.conf (never overwritten), and the systemd unit;
# removes what an earlier release installed that this one replaces (the Node.js session helper and its sudoers rule).
# Run as root from the repository: npm run install-system. Servers install the Debian package (npm run package),
# which replaces an install made by this script.
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
case "$NODE" in /usr/bin/*|/usr/local/bin/*|/bin/*) ;; *) die "node at $NODE is not in a root-owned system directory; doshd runs as root and must not run a user-writable interpreter";; esac
[ "$(stat -c %u "$(readlink -f "$NODE")")" = 0 ] || die "$NODE is not owned by root"

# The login relay is C, built here (shell/Makefile).
command -v cc >/dev/null && command -v make >/dev/null && [ -e /usr/include/stdio.h ] || ensure_pkgs gcc libc6-dev make

[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

install -d -o root -g root -m 0755 "$LIB" "$PREFIX/bin" "$PREFIX/share/doc/dosh"
# Bundled entry points get an absolute-path shebang: they must not find node through PATH.
for f in doshd doshctl dosh-kube; do
  tmp=$(mktemp)
  { printf '#!%s\n' "$NODE"; cat "dist/$f.mjs"; } >"$tmp"
  install -o root -g root -m 0755 "$tmp" "$LIB/$f.mjs"
  rm -f "$tmp"
done
# The login shell: setuid root, because it must reach doshd's root-only socket and start the exec on the engine's
# before it drops to the user for good (docs/SECURITY.md says why setuid and not sudo). Installed under a temporary
# name and renamed, so a login never runs a half-written file.
install -o root -g root -m 4755 dist/dosh "$PREFIX/bin/.dosh.new"
mv -f "$PREFIX/bin/.dosh.new" "$PREFIX/bin/dosh"
ln -sfn "$LIB/doshd.mjs" "$PREFIX/bin/doshd"
ln -sfn "$LIB/doshctl.mjs" "$PREFIX/bin/doshctl"
install -o root -g root -m 0644 README.md "$PREFIX/share/doc/dosh/README.md"
install -o root -g root -m 0644 etc/dosh.conf "$LIB/dosh.conf.default"

# What an earlier release installed and this one replaces: the root session helper (Node.js) and its sudoers rule.
rm -f "$LIB/dosh-helper.mjs"
if [ -e /etc/sudoers.d/dosh ]; then
  rm -f /etc/sudoers.d/dosh
  if command -v visudo >/dev/null; then visudo -cq || die "sudoers no longer validates after removing /etc/sudoers.d/dosh; inspect /etc/sudoers"; fi
  say "removed /etc/sudoers.d/dosh (the login shell no longer uses sudo)"
fi

install -d -o root -g root -m 0700 /etc/dosh /etc/dosh/conf.d
if [ -e /etc/dosh/dosh.conf ]; then
  say "keeping the existing /etc/dosh/dosh.conf"
else
  install -o root -g root -m 0600 etc/dosh.conf /etc/dosh/dosh.conf
fi

# doshd's own directories outside the store (it makes them too, with these modes, when they are missing): the toolbox
# of the host's file-transfer programs it builds at start (read by every user's container, through a read-only mount),
# and the audit log and session recordings, root's alone.
install -d -o root -g root -m 0755 /var/lib/dosh /var/lib/dosh/toolbox
install -d -o root -g root -m 0700 /var/log/dosh /var/log/dosh/recordings
[ -e /var/log/dosh/audit.log ] || install -o root -g root -m 0600 /dev/null /var/log/dosh/audit.log

grep -qxF "$PREFIX/bin/dosh" /etc/shells 2>/dev/null || echo "$PREFIX/bin/dosh" >>/etc/shells

install -d -o root -g root -m 0755 /etc/systemd/system
# The unit, from its template (the Debian package fills in the same two places with its own paths).
tmp=$(mktemp)
sed -e "s|@DOSHD@|$PREFIX/bin/doshd|" -e "s|@DOCUMENTATION@|file://$PREFIX/share/doc/dosh/README.md|" etc/doshd.service.in >"$tmp"
install -o root -g root -m 0644 "$tmp" /etc/systemd/system/doshd.service
rm -f "$tmp"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemctl daemon-reload; fi
say "installed: $PREFIX/bin/dosh (setuid root) $PREFIX/bin/doshd $PREFIX/bin/doshctl /etc/dosh /var/lib/dosh /var/log/dosh"
if pkg_installed dosh; then
  say "the Debian package dosh is installed too: this install's unit takes the place of the package's, and installing the package again replaces this install"
fi
