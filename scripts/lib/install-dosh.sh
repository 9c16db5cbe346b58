#!/usr/bin/env bash
# install-dosh.sh — the test command's `dosh` step: DoSH installed system-wide as users install it, the Debian
# package, so that the suite tests what users install; or, with DOSH_INSTALL=system, `npm run install-system`'s
# /usr/local install (test/lib/installed.ts gives the tests the paths of either).
#
# Usage: scripts/lib/install-dosh.sh
#
# The package is built by scripts/package-deb.sh (without lintian: test/integration/package.test.ts runs it; a build
# of the same files is reused) and installed with apt-get, which keeps a changed /etc/dosh/dosh.conf (--force-confold)
# and takes an existing install-system install's place (the package's postinst says what it did). It is installed
# again only when the package's files differ from the installed ones. Package scripts start no service here when
# /usr/sbin/policy-rc.d forbids it (as on the test machines): the end-to-end tests start their own doshd.
# Must run as root.
set -euo pipefail
PROG=install-dosh
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || die "must run as root"

case ${DOSH_INSTALL:-package} in
  system) exec bash "$ROOT/scripts/install-system.sh" ;;
  package) ;;
  *) die "DOSH_INSTALL must be package or system, not '${DOSH_INSTALL}'" ;;
esac

# The package depends on nodejs (>= 20): Debian 13's, or on Debian 12 one from elsewhere as a package (NodeSource's).
have=$(dpkg-query -W -f='${db:Status-Status} ${Version}' nodejs 2>/dev/null || true)
if [ "${have%% *}" != installed ] || ! dpkg --compare-versions "${have#* }" ge 20; then
  die "the Debian package depends on nodejs (>= 20), and this machine's is ${have:-not a package}: install a nodejs package of 20 or later (Debian 13's; on Debian 12, NodeSource's), or test install-system's /usr/local install with DOSH_INSTALL=system"
fi
deb=$(bash "$ROOT/scripts/package-deb.sh" --no-lintian)
version=$(dpkg-deb -f "$deb" Version)
# The same files as the installed package's (their md5sums), already configured, and no install-system install beside
# it (which the package's postinst would replace): nothing to do.
if [ "$(dpkg-query -W -f='${Version} ${db:Status-Status}' dosh 2>/dev/null)" = "$version installed" ] &&
  [ ! -e /usr/local/lib/dosh/doshd.mjs ] &&
  cmp -s <(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./md5sums) /var/lib/dpkg/info/dosh.md5sums; then
  log "dosh $version is installed"
  exit 0
fi
log "installing $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall --allow-downgrades --no-install-recommends \
  -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "$deb" </dev/null >&2 ||
  die "apt-get install $deb failed"
log "installed dosh $version: /usr/bin/dosh (setuid root), /usr/sbin/doshd, /usr/sbin/doshctl"
