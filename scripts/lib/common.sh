# shellcheck shell=bash
# common.sh — helpers shared by DoSH's bash scripts. Sourced, never executed:
#
#   PROG=my-script.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/common.sh"        # from scripts/lib/; scripts/ uses .../lib/common.sh
#
# Callers set PROG (the name their messages start with) first, and their own `set -euo pipefail`.
#
#   log MSG...          print "PROG: MSG" on stderr
#   die MSG...          print "PROG: error: MSG" on stderr and exit 1
#   usage [CODE]        print the script's header comment (from line 2 to the `set -euo` line, without the
#                       leading "# ") on stderr and exit CODE (default 2)
#   pkg_installed PKG   succeed when the Debian package PKG is installed
#   ensure_pkgs PKG...  install the packages that are not installed yet: needs root (dies saying which packages
#                       otherwise); `apt-get update` at most once per process tree (DOSH_APT_UPDATED is exported
#                       to child scripts, and set means "already updated"); a temporary /usr/sbin/policy-rc.d keeps
#                       package scripts from starting services; dies naming the packages and apt's exit code when
#                       the update or the install fails. apt's output goes to stderr.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  printf '%s: source this file from a bash script; it does nothing on its own\n' "${0##*/}" >&2
  exit 2
fi
: "${PROG:?set PROG before sourcing common.sh}"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit "${1:-2}"; }

pkg_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

ensure_pkgs() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
  log "installing ${missing[*]}"
  local policy=/usr/sbin/policy-rc.d added_policy=
  if [ ! -e "$policy" ]; then
    # Keep package scripts from starting services (the scripts start what they need themselves).
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && added_policy=1
  fi
  local rc=0
  {
    if [ -z "${DOSH_APT_UPDATED:-}" ]; then
      apt-get update -qq >&2 && export DOSH_APT_UPDATED=1
    fi &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
  } || rc=$?
  [ -n "$added_policy" ] && rm -f "$policy"
  [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed (exit $rc)"
}
