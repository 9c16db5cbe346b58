#!/usr/bin/env bash
# k8s-apiserver.sh — a real Kubernetes API server serving custom resources, for integration tests.
#
# It runs k8s.io/apiextensions-apiserver (the CRD server that kube-apiserver embeds, built from source through
# the Go module proxy, plus the /apis discovery document and OpenAPI, see k8s-apiserver/main.go) standalone on Debian's etcd
# (etcd-server), both on loopback only, on ports chosen free at run time. The first build takes about 4 to 5
# minutes on 2 cores; later runs reuse the binary cached under $DOSH_K8S_CACHE. A start takes about 2 seconds.
# There is no core API server: it serves CustomResourceDefinitions and the custom resources they define only.
#
# Usage:
#   scripts/lib/k8s-apiserver.sh build                 build/install once (cached), print the apiserver binary path
#   scripts/lib/k8s-apiserver.sh start DIR             (re)start etcd + apiserver with state in DIR; print DIR/kubeconfig
#   scripts/lib/k8s-apiserver.sh stop DIR              stop both
#   scripts/lib/k8s-apiserver.sh status DIR            exit 0 when both run and the apiserver is ready
#   scripts/lib/k8s-apiserver.sh stop-apiserver DIR    stop only the apiserver (etcd and its data stay)
#   scripts/lib/k8s-apiserver.sh start-apiserver DIR   start only the apiserver against the running etcd
#   scripts/lib/k8s-apiserver.sh restart-apiserver DIR stop-apiserver + start-apiserver
#   scripts/lib/k8s-apiserver.sh server DIR            print the apiserver URL (https://127.0.0.1:PORT)
#
# DIR holds: pki/ (CA, serving and client certs), etcd-data/, ports, pids, etcd.log, apiserver.log, kubeconfig.
# `start` keeps DIR's etcd data and certs when they exist (use a fresh DIR for a fresh cluster) and first stops
# whatever an earlier `start` left running in DIR. The kubeconfig's user is CN=dosh-test, O=system:masters,
# which the server always allows.
#
# Environment:
#   DOSH_K8S_VERSION       k8s.io/apiextensions-apiserver module version       (default v0.37.2, i.e. Kubernetes 1.37.2)
#   DOSH_K8S_CACHE         where the built binary is kept                       (default /var/cache/dosh-test/k8s)
#   DOSH_K8S_START_TIMEOUT seconds to wait for etcd and for the apiserver each  (default 60)
#   DOSH_APT_UPDATED       set to skip `apt-get update` before an install
#
# Limits (no core API server behind it): no namespaces (any namespace name is accepted, nothing deletes its
# objects), Events, Leases, ConfigMaps, Secrets, RBAC, TokenReview or SubjectAccessReview ("the server doesn't
# have a resource type"); no admission webhooks or admission policies; no garbage collector, so ownerReferences
# are not acted on and a foreground deletion (--cascade=foreground) stays pending forever with its
# foregroundDeletion finalizer; conversion webhooks given as a Service do not resolve (a URL does); /readyz's
# informer-sync check never passes (use /readyz?exclude=informer-sync). CRD schema validation and defaulting,
# server-side apply (with conflicts), the status subresource, watch and resourceVersions behave as in
# kube-apiserver, which runs the same code.
set -euo pipefail
PROG=k8s-apiserver.sh
VERSION=${DOSH_K8S_VERSION:-v0.37.2}
CACHE=${DOSH_K8S_CACHE:-/var/cache/dosh-test/k8s}
APISERVER=$CACHE/bin/apiextensions-apiserver
STAMP=$APISERVER.version
TIMEOUT=${DOSH_K8S_START_TIMEOUT:-60}

# log, die, usage (always `usage 2` here), ensure_pkgs
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_go() {
  if ! command -v go >/dev/null 2>&1; then
    for d in /usr/local/go/bin /usr/lib/go/bin; do [ -x "$d/go" ] && PATH="$d:$PATH"; done
  fi
  command -v go >/dev/null 2>&1 || ensure_pkgs golang-go ca-certificates
  command -v go >/dev/null 2>&1 || die "no Go toolchain after installing golang-go"
}

ensure_etcd() {
  command -v etcd >/dev/null 2>&1 || ensure_pkgs etcd-server
  command -v etcd >/dev/null 2>&1 || die "no etcd after installing etcd-server"
}

ensure_tools() {
  command -v kubectl >/dev/null 2>&1 ||
    die "kubectl not found on PATH; the tests drive the server with it: install it (apt-get install kubectl)"
  command -v openssl >/dev/null 2>&1 || ensure_pkgs openssl
  command -v curl >/dev/null 2>&1 || ensure_pkgs curl ca-certificates
}

# The server's main package, scripts/lib/k8s-apiserver/main.go. Upstream's command (k8s.io/apiextensions-apiserver@VERSION,
# whose packages this builds unchanged, with the same dependency versions `go install` would pick) serves no root
# discovery document (/apis), since kube-apiserver's aggregator normally does; without it kubectl and every discovery
# client fail ("couldn't get current server API group list"). Nor does it publish OpenAPI for CRDs (kubectl
# create/apply of a custom resource then fails: "failed to download openapi"). This main adds /apis, from the
# discovery data the CRD server already keeps, and the OpenAPI v2 config, and is otherwise upstream's main +
# server.Run. The build id hashes the file, so an edit rebuilds the server.
MAIN_GO="$(dirname "${BASH_SOURCE[0]}")/k8s-apiserver/main.go"

build_id() { printf '%s %s\n' "$VERSION" "$(sha256sum <"$MAIN_GO" | cut -c1-16)"; }
built() { [ -x "$APISERVER" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(build_id)" ]; }

cmd_build() {
  ensure_etcd
  ensure_tools
  if built; then echo "$APISERVER"; return 0; fi
  ensure_go
  mkdir -p "$CACHE/bin"
  # One build at a time: a second caller waits and then finds the binary.
  exec 9>"$CACHE/.lock"
  flock 9
  if built; then echo "$APISERVER"; return 0; fi
  local kver="v1.${VERSION#v0.}" start tmp
  log "building k8s.io/apiextensions-apiserver@$VERSION (Kubernetes $kver) with $(go version | cut -d' ' -f3); cached in $CACHE/bin"
  start=$(date +%s)
  tmp=$(mktemp -d "$CACHE/build.XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  cp "$MAIN_GO" "$tmp/main.go"
  # The -X flags make /version report the real Kubernetes version (the default is v0.0.0-master).
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kver -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(printf '%s' "${kver#v1.}" | cut -d. -f1)"
  # CGO off: a static binary that needs no C toolchain.
  if ! (cd "$tmp" && export CGO_ENABLED=0 GOFLAGS=-mod=mod &&
      go mod init dosh.io/test/apiextensions-apiserver && go get "k8s.io/apiextensions-apiserver@$VERSION" &&
      go mod tidy && go build -trimpath -ldflags "$ldflags" -o "$tmp/apiextensions-apiserver" .) >&2; then
    die "building k8s.io/apiextensions-apiserver@$VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  fi
  mv -f "$tmp/apiextensions-apiserver" "$APISERVER"
  build_id >"$STAMP"
  log "built in $(( $(date +%s) - start ))s: $APISERVER"
  echo "$APISERVER"
}

# --- state in DIR -----------------------------------------------------------------------------------------------

# A loopback TCP port that nothing listens on now (bound with port 0, then released).
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  fi
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

read_kv() { [ -f "$1" ] && sed -n "s/^$2 //p" "$1" | head -1; return 0; }
pid_of() { read_kv "$DIR/pids" "$1"; }
# True when PID is alive and is the process we started for DIR (guards against PID reuse).
ours() {
  local pid=$1 name=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  case "$cmdline" in *"$name"*"$DIR/"*) return 0 ;; *) return 1 ;; esac
}
# PID (a child this script started) still runs: not gone, not a zombie. Not `ours`: until the forked shell has
# exec'd the server, /proc/PID/cmdline is still this script's, and a check right after `&` would call it gone.
alive() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
set_pid() {
  local name=$1 pid=$2 f="$DIR/pids"
  touch "$f"
  { grep -v "^$name " "$f" || true; [ -z "$pid" ] || echo "$name $pid"; } >"$f.tmp"
  mv -f "$f.tmp" "$f"
}

stop_one() {
  local name=$1 match=$2 pid i
  pid=$(pid_of "$name")
  if ours "$pid" "$match"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do ours "$pid" "$match" || break; sleep 0.1; done
    if ours "$pid" "$match"; then
      log "$name (pid $pid) did not exit after TERM; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do ours "$pid" "$match" || break; sleep 0.1; done
    fi
    ! ours "$pid" "$match" || die "$name (pid $pid) would not exit"
  fi
  set_pid "$name" ""
}

gen_pki() {
  local p="$DIR/pki"
  [ -s "$p/client.key" ] && [ -s "$p/server.crt" ] && return 0
  mkdir -p "$p"
  chmod 700 "$p"
  local key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  # shellcheck disable=SC2086 # $key is several words on purpose
  {
    openssl req -x509 $key -keyout "$p/ca.key" -out "$p/ca.crt" -days 3650 -subj "/CN=dosh-test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req $key -keyout "$p/server.key" -out "$p/server.csr" -subj "/CN=127.0.0.1"
    openssl x509 -req -in "$p/server.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 \
      -out "$p/server.crt" -extfile <(printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment")
    openssl req $key -keyout "$p/client.key" -out "$p/client.csr" -subj "/O=system:masters/CN=dosh-test"
    openssl x509 -req -in "$p/client.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 \
      -out "$p/client.crt" -extfile <(printf '%s\n' "extendedKeyUsage=clientAuth" \
        "keyUsage=critical,digitalSignature,keyEncipherment")
  } >"$DIR/openssl.log" 2>&1 || { cat "$DIR/openssl.log" >&2; die "openssl failed"; }
  rm -f "$p"/*.csr
}

write_kubeconfig() {
  local port=$1 p="$DIR/pki"
  umask 077
  cat >"$DIR/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dosh-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 <"$p/ca.crt")
users:
- name: dosh-test
  user:
    client-certificate-data: $(base64 -w0 <"$p/client.crt")
    client-key-data: $(base64 -w0 <"$p/client.key")
contexts:
- name: dosh-test
  context:
    cluster: dosh-test
    user: dosh-test
    namespace: default
current-context: dosh-test
EOF
  mv -f "$DIR/kubeconfig.tmp" "$DIR/kubeconfig"
}

# Reuse the ports of an earlier start when still free (etcd keeps its peer URL in its data), else pick new ones.
choose_ports() {
  local name port
  for name in etcd-client etcd-peer apiserver; do
    port=$(read_kv "$DIR/ports" "$name")
    if [ -z "$port" ] || ! port_free "$port"; then port=$(free_port); fi
    printf '%s %s\n' "$name" "$port"
  done >"$DIR/ports.tmp"
  mv -f "$DIR/ports.tmp" "$DIR/ports"
}

# Startup failed: show the log of this start, stop what this start began, exit 1.
fail_start() {
  local logf=$1
  log "error: $2; last lines of $logf:"
  awk '/^--- .* start$/ { n = NR } { line[NR] = $0 } END { s = (NR - n > 40) ? NR - 40 : n; for (i = s; i <= NR; i++) print line[i] }' \
    "$logf" >&2 || true
  stop_one apiserver apiextensions-apiserver
  [ "${KEEP_ETCD:-}" = 1 ] || stop_one etcd etcd
  exit 1
}

start_etcd() {
  local cport pport pid
  cport=$(read_kv "$DIR/ports" etcd-client)
  pport=$(read_kv "$DIR/ports" etcd-peer)
  mkdir -p "$DIR/etcd-data"
  chmod 700 "$DIR/etcd-data"
  echo "--- $(date -Is) start" >>"$DIR/etcd.log"
  etcd --name dosh-test --data-dir "$DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "dosh-test=http://127.0.0.1:$pport" --initial-cluster-state new \
    --logger zap --log-outputs stderr --log-level warn \
    </dev/null >>"$DIR/etcd.log" 2>&1 &
  pid=$!
  set_pid etcd "$pid"
  local deadline=$((SECONDS + TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive "$pid" || fail_start "$DIR/etcd.log" "etcd exited during startup"
    if curl -fsS --max-time 2 "http://127.0.0.1:$cport/health" 2>/dev/null | grep -q '"health":"true"'; then
      return 0
    fi
    sleep 0.1
  done
  fail_start "$DIR/etcd.log" "etcd not healthy on 127.0.0.1:$cport after ${TIMEOUT}s"
}

# /readyz's informer-sync check never passes here: the server watches core v1 Services (to resolve conversion
# webhook services) through --kubeconfig, i.e. itself, which has no core API. Every other check must pass.
READYZ='/readyz?exclude=informer-sync'
apiserver_ready() {
  [ "$(apiserver_get "$READYZ" 2>/dev/null)" = ok ] && [ "$(apiserver_get /healthz 2>/dev/null)" = ok ]
}

apiserver_get() {
  local port f=-f p="$DIR/pki"
  port=$(read_kv "$DIR/ports" apiserver)
  [ -n "$port" ] || return 1
  case "$1" in *verbose*) f= ;; esac
  curl ${f:+"$f"} -sS --connect-timeout 2 --max-time 3 --cacert "$p/ca.crt" --cert "$p/client.crt" --key "$p/client.key" \
    "https://127.0.0.1:$port$1"
}

start_apiserver_proc() {
  local cport port pid p="$DIR/pki"
  cport=$(read_kv "$DIR/ports" etcd-client)
  port=$(read_kv "$DIR/ports" apiserver)
  if [ -z "$port" ] || ! port_free "$port"; then
    port=$(free_port)
    { grep -v '^apiserver ' "$DIR/ports" || true; echo "apiserver $port"; } >"$DIR/ports.tmp"
    mv -f "$DIR/ports.tmp" "$DIR/ports"
  fi
  write_kubeconfig "$port"
  mkdir -p "$DIR/apiserver-certs"
  echo "--- $(date -Is) start" >>"$DIR/apiserver.log"
  # Standalone: --kubeconfig (core API informers), --authentication-kubeconfig and --authorization-kubeconfig
  # point at this server itself, since upstream refuses to start without them outside a cluster; nothing is
  # looked up in kube-system (--authentication-skip-lookup). Client certs are checked against --client-ca-file,
  # and the group system:masters is always allowed (the delegating authorizer's built-in always-allow group).
  # Admission plugins that wait for core-API informers (namespaces, webhook and policy configurations) would
  # refuse every write ("not yet ready to handle request"), and API priority and fairness needs its flowcontrol
  # objects: both are off. The short watch grace period lets a stop end open watches instead of hanging on them.
  "$APISERVER" \
    --etcd-servers "http://127.0.0.1:$cport" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --cert-dir "$DIR/apiserver-certs" \
    --tls-cert-file "$p/server.crt" --tls-private-key-file "$p/server.key" \
    --client-ca-file "$p/ca.crt" \
    --kubeconfig "$DIR/kubeconfig" \
    --authentication-kubeconfig "$DIR/kubeconfig" --authentication-skip-lookup \
    --authorization-kubeconfig "$DIR/kubeconfig" \
    --authorization-always-allow-paths /healthz,/readyz,/livez,/version \
    --disable-admission-plugins NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy \
    --enable-priority-and-fairness=false \
    --shutdown-delay-duration 0s --shutdown-watch-termination-grace-period 2s \
    </dev/null >>"$DIR/apiserver.log" 2>&1 &
  pid=$!
  set_pid apiserver "$pid"
  local deadline=$((SECONDS + TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive "$pid" || fail_start "$DIR/apiserver.log" "apiextensions-apiserver exited during startup"
    if apiserver_ready; then return 0; fi
    sleep 0.1
  done
  apiserver_get "$READYZ&verbose" >>"$DIR/apiserver.log" 2>&1 || true
  fail_start "$DIR/apiserver.log" "apiserver not ready on https://127.0.0.1:$port after ${TIMEOUT}s"
}

need_dir() {
  [ -n "${1:-}" ] || usage 2
  mkdir -p "$1"
  DIR=$(cd "$1" && pwd -P)
}

cmd_start() {
  built || cmd_build >/dev/null
  ensure_etcd
  ensure_tools
  stop_one apiserver apiextensions-apiserver
  stop_one etcd etcd
  gen_pki
  choose_ports
  start_etcd
  start_apiserver_proc
  echo "$DIR/kubeconfig"
}

cmd_start_apiserver() {
  built || cmd_build >/dev/null
  ours "$(pid_of etcd)" etcd || die "etcd is not running for $DIR: run '$PROG start $DIR'"
  stop_one apiserver apiextensions-apiserver
  KEEP_ETCD=1 start_apiserver_proc
  echo "$DIR/kubeconfig"
}

cmd_status() {
  ours "$(pid_of etcd)" etcd || { log "etcd not running for $DIR"; return 1; }
  ours "$(pid_of apiserver)" apiextensions-apiserver || { log "apiserver not running for $DIR"; return 1; }
  apiserver_ready || { log "apiserver not ready: $(apiserver_get "$READYZ&verbose" 2>&1 | grep -v '^\[+\]' | tr '\n' ' ')"; return 1; }
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    build) cmd_build ;;
    start) need_dir "${1:-}"; cmd_start ;;
    stop) need_dir "${1:-}"; stop_one apiserver apiextensions-apiserver; stop_one etcd etcd ;;
    status) need_dir "${1:-}"; cmd_status ;;
    stop-apiserver) need_dir "${1:-}"; stop_one apiserver apiextensions-apiserver ;;
    start-apiserver) need_dir "${1:-}"; cmd_start_apiserver ;;
    restart-apiserver) need_dir "${1:-}"; cmd_start_apiserver ;;
    server) need_dir "${1:-}"; printf 'https://127.0.0.1:%s\n' "$(read_kv "$DIR/ports" apiserver)" ;;
    *) usage 2 ;;
  esac
}

main "$@"
