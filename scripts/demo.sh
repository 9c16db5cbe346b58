#!/usr/bin/env bash
# npm run demo: DoSH for real on this machine. Installs and starts a Docker engine if none runs, builds a small local
# image if the configured one cannot be pulled, installs DoSH system-wide, starts doshd on the embedded store,
# creates the demo user `dosh-demo` whose shell is dosh, and logs her in with `su -`, printing where the command ran.
set -euo pipefail
say() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it installs DoSH system-wide)"
cd "$(dirname "$0")/.."
DEMO_USER=${DOSH_DEMO_USER:-dosh-demo}

[ -d node_modules ] || { say "installing npm dependencies"; npm ci --no-audit --no-fund --loglevel=error; }
say "making sure a Docker engine runs"
bash scripts/lib/ensure-docker.sh

say "installing DoSH system-wide"
bash scripts/install-system.sh

image=$(sed -n 's/^[[:space:]]*CONTAINERIMAGE[[:space:]]*=[[:space:]]*\([^#[:space:]]*\).*/\1/p' /etc/dosh/dosh.conf | head -n 1)
[ -n "$image" ] || die "/etc/dosh/dosh.conf sets no CONTAINERIMAGE"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  say "pulling $image"
  if ! timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
    case "$image" in
      busybox|busybox:*)
        say "$image cannot be pulled here: building it locally from Debian's busybox-static"
        bash scripts/lib/build-images.sh busybox
        docker tag dosh-test/busybox:latest "$image"
        ;;
      *) die "$image cannot be pulled and is not the demo's busybox image; build or load it, then run the demo again" ;;
    esac
  fi
fi

running() {
  local rec pid start
  rec=/run/dosh/doshd.json
  [ -r "$rec" ] || return 1
  pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$rec")
  start=$(sed -n 's/.*"startTime":"\([0-9]*\)".*/\1/p' "$rec")
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && [ "$(awk '{print $22}' "/proc/$pid/stat")" = "$start" ]
}
if running; then
  say "doshd already runs"
elif [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  say "starting doshd with systemd"
  systemctl enable --now doshd
else
  say "starting doshd (no systemd here: in the background, log in /var/log/doshd.log)"
  setsid nohup /usr/local/bin/doshd --store /run/dosh --config /etc/dosh/dosh.conf --log-format json >>/var/log/doshd.log 2>&1 </dev/null &
fi
for _ in $(seq 100); do running && break; sleep 0.1; done
running || die "doshd did not start; see /var/log/doshd.log"

if ! id "$DEMO_USER" >/dev/null 2>&1; then
  say "creating the demo user $DEMO_USER with the login shell /usr/local/bin/dosh"
  useradd -m -s /usr/local/bin/dosh -c "DoSH demo user" "$DEMO_USER"
else
  usermod -s /usr/local/bin/dosh "$DEMO_USER"
fi

say "on the host: hostname $(hostname), $(id "$DEMO_USER")"
say "logging in: su - $DEMO_USER -c '...'"
su - "$DEMO_USER" -c 'echo "inside:   $(id)"; echo "hostname: $(hostname)"; echo "cgroup:   $(grep -m1 -E "pids|^0::" /proc/self/cgroup)"; grep -E "^Cap(Eff|Bnd)" /proc/self/status; echo "NoNewPrivs: $(sed -n "s/^NoNewPrivs:[[:space:]]*//p" /proc/self/status)"'
say "done. Try it yourself: su - $DEMO_USER   (or: doshctl get sessions; doshctl get containers)"
