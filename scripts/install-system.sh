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

# The helper runs as root and its user may signal her own sudo, which passes SIGUSR1 on: plain Node opens its
# inspector (a root debugger on 127.0.0.1:9229, open to any local user) on SIGUSR1, and a handler set from
# JavaScript comes too late to stop one sent during start-up. So the helper's node is started with the inspector
# unreachable: --disable-sigusr1 where Node has it (22.14+), else the permission model (which forbids the inspector;
# the helper gets the file system and getent it needs). Each is probed, not assumed from the version.
# The probe also insists on silent output: a warning would be printed on every login.
HELPER_FLAGS=
set -f # the flags hold '*', never a glob
for flags in "--disable-sigusr1" \
  "--permission --allow-fs-read=* --allow-fs-write=* --allow-child-process --disable-warning=SecurityWarning" \
  "--experimental-permission --allow-fs-read=* --allow-fs-write=* --allow-child-process --disable-warning=ExperimentalWarning --disable-warning=SecurityWarning"; do
  # shellcheck disable=SC2086 # word splitting of the flag list is the point
  if [ "$(LC_ALL=C.UTF-8 "$NODE" $flags -e 'process.stdout.write("ok")' 2>&1)" = ok ]; then HELPER_FLAGS=$flags; break; fi
done
set +f
[ -n "$HELPER_FLAGS" ] || die "$NODE $("$NODE" --version) has neither --disable-sigusr1 nor the permission model: the root helper could be made to open a debugger; install Node 20.11 or later"

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
  if [ "$f" = dosh-helper ]; then shebang="/usr/bin/env -S LC_ALL=C.UTF-8 $NODE $HELPER_FLAGS"; else shebang=$NODE; fi
  # Linux reads 255 bytes of a #! line: a longer one would silently drop the last flags.
  [ ${#shebang} -le 250 ] || die "the $f.mjs #! line would be ${#shebang} bytes (at most 250): install node under a shorter path"
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
