#!/usr/bin/env bash
# ensure-docker.sh — make sure a Docker engine answers on the local socket.
#
# Usage: scripts/lib/ensure-docker.sh
#
# Does nothing (and is fast) when the engine already answers. Otherwise:
#   1. installs Debian's `docker.io` and `iptables` if `dockerd` is missing
#      (`apt-get update` once, then `apt-get install -y`; services are kept from
#      auto-starting during the install);
#   2. starts the engine: `systemctl start docker` when systemd is PID 1,
#      otherwise `dockerd` in the background (setsid + nohup, so it outlives the
#      calling shell) with its log in /var/log/dosh-dockerd.log — unless a
#      dockerd is already running and merely slow to answer;
#   3. waits up to DOSH_DOCKER_WAIT (60) seconds for it to answer.
# Exits non-zero with a message on stderr if the engine cannot be made to answer.
#
# The engine is probed through the API (`curl --unix-socket .../_ping`) when curl
# is installed, else with `docker info`. The docker CLI may be newer than the
# engine (e.g. /usr/local/bin/docker); that is fine.
#
# Environment:
#   DOSH_DOCKER_SOCK     socket path             (default /var/run/docker.sock)
#   DOSH_DOCKERD_PIDFILE dockerd's pid file      (default /var/run/docker.pid)
#                        (a non-default socket or pid file is passed to the
#                        dockerd we start as -H / --pidfile)
#   DOSH_DOCKERD_LOG     dockerd log file        (default /var/log/dosh-dockerd.log)
#   DOSH_DOCKERD_ARGS    extra dockerd arguments (default none; word-split)
#   DOSH_DOCKER_WAIT     seconds to wait         (default 60)
set -euo pipefail

PROG=ensure-docker.sh
SOCK=${DOSH_DOCKER_SOCK:-/var/run/docker.sock}
LOG=${DOSH_DOCKERD_LOG:-/var/log/dosh-dockerd.log}
WAIT=${DOSH_DOCKER_WAIT:-60}
PIDFILE=${DOSH_DOCKERD_PIDFILE:-/var/run/docker.pid}

# log, die, ensure_pkgs (its package scripts start no services: we start dockerd ourselves)
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

docker_answers() {
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -fsS --max-time 5 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null)" = OK ]
  elif command -v docker >/dev/null 2>&1; then
    DOCKER_HOST="unix://$SOCK" timeout 10 docker info >/dev/null 2>&1
  else
    return 1
  fi
}

dockerd_pid() { # prints the pid of a live dockerd from the pid file, if any
  local pid
  [ -r "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

systemd_is_pid1() { [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; }

if docker_answers; then
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "Docker engine does not answer on $SOCK and starting it needs root"

if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
  ensure_pkgs docker.io iptables
elif ! command -v iptables >/dev/null 2>&1 && [ ! -x /usr/sbin/iptables ]; then
  ensure_pkgs iptables
fi
export PATH="$PATH:/usr/sbin:/sbin"
command -v curl >/dev/null 2>&1 || command -v docker >/dev/null 2>&1 ||
  die "neither curl nor the docker CLI is installed; cannot probe the engine"

started_pid=
if systemd_is_pid1; then
  log "starting docker with systemctl"
  systemctl start docker || die "systemctl start docker failed; see: journalctl -u docker"
elif pid=$(dockerd_pid); then
  log "dockerd (pid $pid) is running but not answering yet; waiting"
  started_pid=$pid
else
  log "starting dockerd in the background (log: $LOG)"
  mkdir -p "$(dirname "$LOG")"
  printf '\n===== %s: %s starting dockerd =====\n' "$(date -Is)" "$PROG" >>"$LOG"
  args=()
  # Only pass non-defaults: a flag that /etc/docker/daemon.json also sets
  # makes dockerd refuse to start.
  [ "$SOCK" = /var/run/docker.sock ] || args+=(-H "unix://$SOCK")
  [ "$PIDFILE" = /var/run/docker.pid ] || args+=(--pidfile "$PIDFILE")
  # shellcheck disable=SC2086  # DOSH_DOCKERD_ARGS is deliberately word-split
  setsid nohup dockerd "${args[@]}" ${DOSH_DOCKERD_ARGS:-} >>"$LOG" 2>&1 </dev/null &
  started_pid=$!
  disown "$started_pid" 2>/dev/null || true
fi

deadline=$((SECONDS + WAIT))
while ! docker_answers; do
  if [ -n "$started_pid" ] && ! kill -0 "$started_pid" 2>/dev/null; then
    log "dockerd exited; last lines of $LOG:"
    tail -n 20 "$LOG" 2>/dev/null | sed "s/^/$PROG:   /" >&2 || true
    die "dockerd failed to start"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    [ -f "$LOG" ] && tail -n 20 "$LOG" | sed "s/^/$PROG:   /" >&2
    die "Docker engine did not answer on $SOCK within ${WAIT}s"
  fi
  sleep 0.5
done
log "Docker engine is answering on $SOCK"
