#!/usr/bin/env bash
# test-users.sh — create and delete real Linux users for DoSH's tests.
#
# Usage: scripts/lib/test-users.sh add NAME [--shell PATH] [--groups G1,G2]
#        scripts/lib/test-users.sh del NAME
#
#   add  Create user NAME (useradd -m, home mode 0750, shell PATH, default
#        /bin/bash) with supplementary groups G1,G2 (each created with groupadd
#        if missing), and install the test sshd's client public key
#        ($DOSH_TEST_SSHD_DIR/client_key.pub) as ~NAME/.ssh/authorized_keys
#        (.ssh 0700, authorized_keys 0600, owned by NAME). Idempotent: if the
#        test user exists, its shell is set to PATH, the groups are added and the
#        key is added if absent. The client key pair is generated (the same way
#        test-sshd.sh does) if it does not exist yet.
#   del  Delete user NAME, its home directory and mail spool; processes still
#        running as NAME are killed first (by uid, as userdel requires). Does
#        nothing if NAME does not exist. Groups created by `add` are kept (other
#        test users may share them); NAME's own user group goes with it.
#
# For safety both refuse to touch an account that this script did not create:
# test users carry the GECOS comment "dosh-test user".
# The password stays locked; logins are by key through the test sshd (which
# uses PAM, so a locked password does not block key logins) or by `su` as root.
# Must run as root.
#
# Environment:
#   DOSH_TEST_SSHD_DIR   where the client key lives (default /run/dosh-test-sshd)
set -euo pipefail

PROG=test-users.sh
DIR=${DOSH_TEST_SSHD_DIR:-/run/dosh-test-sshd}
CLIENTKEY=$DIR/client_key
MARK="dosh-test user"

# log, die, usage
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

valid_name() { [[ "$1" =~ ^[a-z_][a-z0-9_-]{0,30}$ ]]; }

# is_test_user NAME — NAME exists and was created by this script.
is_test_user() {
  local gecos
  gecos=$(getent passwd "$1" | cut -d: -f5)
  [ "$gecos" = "$MARK" ]
}

ensure_client_key() {
  [ -s "$CLIENTKEY.pub" ] && return 0
  command -v ssh-keygen >/dev/null 2>&1 || die "ssh-keygen missing; run scripts/lib/test-sshd.sh start first"
  install -d -m 0755 "$DIR"
  rm -f "$CLIENTKEY" "$CLIENTKEY.pub"
  ssh-keygen -q -t ed25519 -N '' -C "dosh-test-client" -f "$CLIENTKEY" </dev/null ||
    die "ssh-keygen (client key) failed"
}

do_add() {
  local name=$1 shell=/bin/bash groups='' g
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --shell) [ $# -ge 2 ] || usage; shell=$2; shift 2 ;;
      --shell=*) shell=${1#--shell=}; shift ;;
      --groups) [ $# -ge 2 ] || usage; groups=$2; shift 2 ;;
      --groups=*) groups=${1#--groups=}; shift ;;
      *) log "unknown argument: $1"; usage ;;
    esac
  done
  case $shell in /*) ;; *) die "--shell must be an absolute path, not '$shell'" ;; esac
  # sshd refuses logins whose shell does not exist or is not executable.
  [ -x "$shell" ] || log "warning: shell $shell is not an executable file (yet)"

  local glist=()
  if [ -n "$groups" ]; then
    IFS=, read -r -a glist <<<"$groups"
    for g in "${glist[@]}"; do
      valid_name "$g" || die "invalid group name '$g'"
      getent group "$g" >/dev/null || groupadd "$g" || die "groupadd $g failed"
    done
  fi

  if getent passwd "$name" >/dev/null; then
    is_test_user "$name" || die "user $name exists and is not a test user (GECOS is not '$MARK'); not touching it"
    [ "$(getent passwd "$name" | cut -d: -f7)" = "$shell" ] || usermod -s "$shell" "$name"
    if [ ${#glist[@]} -gt 0 ]; then
      local have
      have=" $(id -nG "$name") "
      for g in "${glist[@]}"; do
        [[ "$have" == *" $g "* ]] || usermod -aG "$g" "$name"
      done
    fi
  else
    local opts=(-m -s "$shell" -c "$MARK")
    [ -n "$groups" ] && opts+=(-G "$groups")
    useradd "${opts[@]}" "$name" || die "useradd $name failed"
  fi

  local home uid gid
  home=$(getent passwd "$name" | cut -d: -f6)
  uid=$(id -u "$name")
  gid=$(id -g "$name")
  [ -d "$home" ] || install -d -o "$uid" -g "$gid" "$home"
  chmod 0750 "$home"

  ensure_client_key
  local key
  key=$(cat "$CLIENTKEY.pub")
  install -d -m 0700 -o "$uid" -g "$gid" "$home/.ssh"
  local ak=$home/.ssh/authorized_keys
  [ ! -L "$ak" ] || rm -f "$ak"
  if [ ! -f "$ak" ] || ! grep -qxF -- "$key" "$ak"; then
    printf '%s\n' "$key" >>"$ak"
  fi
  chown "$uid:$gid" "$ak"
  chmod 0600 "$ak"
}

do_del() {
  local name=$1
  [ $# -eq 1 ] || usage
  getent passwd "$name" >/dev/null || return 0
  is_test_user "$name" || die "user $name is not a test user (GECOS is not '$MARK'); not deleting it"
  local uid home
  uid=$(id -u "$name")
  home=$(getent passwd "$name" | cut -d: -f6)
  [ "$uid" -ne 0 ] || die "refusing to delete uid 0"
  # userdel fails while the user has processes (e.g. a lingering ssh session).
  if pgrep -u "$uid" >/dev/null 2>&1; then
    pkill -KILL -u "$uid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      pgrep -u "$uid" >/dev/null 2>&1 || break
      sleep 0.1
    done
  fi
  local out
  # -r: remove home and mail spool. Exit 12 means only that removal had a
  # problem (e.g. no mail spool); the account itself is gone then.
  out=$(userdel -r "$name" 2>&1) || {
    local rc=$?
    [ "$rc" -eq 12 ] || die "userdel $name failed (exit $rc): $out"
  }
  if [ -n "$home" ] && [ "$home" != / ] && [ -d "$home" ] && [ "$(stat -c %u "$home")" = "$uid" ]; then
    rm -rf --one-file-system "$home"
  fi
}

case ${1:-} in -h | --help) usage 0 ;; esac
[ $# -ge 2 ] || usage
[ "$(id -u)" -eq 0 ] || die "must run as root"
cmd=$1 name=$2
shift 2
valid_name "$name" || die "invalid user name '$name'"
case $cmd in
  add) do_add "$name" "$@" ;;
  del) do_del "$name" "$@" ;;
  *) usage ;;
esac
