#!/usr/bin/env bash
# k8s-cluster.sh — a real single-node Kubernetes cluster for the tests, on loopback, with its state in one directory.
#
# Usage:
#   scripts/lib/k8s-cluster.sh build                       build (once, cached) and install what the cluster needs
#   scripts/lib/k8s-cluster.sh start DIR [--apiserver-only] start it with state in DIR; print DIR/kubeconfig
#   scripts/lib/k8s-cluster.sh stop DIR                    stop it and give the host back what it changed
#   scripts/lib/k8s-cluster.sh status DIR                  exit 0 when everything of DIR runs and is ready
#   scripts/lib/k8s-cluster.sh env DIR                     print KUBECONFIG, CONTAINERD_ADDRESS... for `eval`
#   scripts/lib/k8s-cluster.sh import DIR IMAGE|TAR...     load images (from the Docker engine by name, or
#                                                          docker-archive files) into the cluster's containerd
#   scripts/lib/k8s-cluster.sh server DIR                  print the API server's URL
#   scripts/lib/k8s-cluster.sh stop-apiserver DIR          stop only kube-apiserver (everything else goes on)
#   scripts/lib/k8s-cluster.sh start-apiserver DIR         start it again (same port when still free)
#   scripts/lib/k8s-cluster.sh pause-apiserver DIR         SIGSTOP it: connections are accepted, never answered
#   scripts/lib/k8s-cluster.sh resume-apiserver DIR        SIGCONT it
#
# The cluster (Kubernetes v1.34.4 by default, built by scripts/lib/k8s-build.sh from the Go module proxy):
# Debian's etcd, kube-apiserver (Node,RBAC authorization, client certificates made with openssl, privileged pods
# allowed), kube-controller-manager, kube-scheduler, a kubelet and a containerd of its own (Debian's containerd
# and runc, with its own config, root, state, socket and runc root under DIR, never the Docker engine's), pods on
# a CNI bridge (Debian's containernetworking-plugins: bridge dk8s0, 10.217.0.0/24, no masquerading). The servers
# listen on 127.0.0.1 only, on ports chosen free at start, but for the kubelet, which listens on the node's address:
# the bridge's own address 10.217.0.1 (the kubelet refuses a loopback node IP), on the host. hostNetwork pods reach
# the API server at https://127.0.0.1:PORT; there is no kube-proxy (the `kubernetes` Service has no endpoints), so
# pods on the bridge do not reach it. Images come from no registry: the pause image is built locally, others are
# imported (`import`).
# The node is named after the host (lower-case `hostname`, or $DOSH_K8S_NODE), as a doshd on the host names its node.
# `--apiserver-only` starts etcd and kube-apiserver alone (custom resources, namespaces, RBAC; no node, nothing
# changed on the host): the fleet tests use that.
#
# What a full start changes on the host, and `stop` gives back (recorded in DIR/host-state):
#   - sysctls the kubelet sets (kernel.panic, kernel.panic_on_oops, vm.overcommit_memory, vm.panic_on_oom,
#     kernel.keys.root_maxkeys, kernel.keys.root_maxbytes): saved before and restored;
#   - cgroups /kubepods (and below) in every hierarchy: removed once the pods are gone;
#   - the bridge dk8s0: deleted; the kubelet's iptables chains are not made (makeIPTablesUtilChains: false), and any
#     KUBE-* chain that was not there before is removed;
#   - mounts: DIR/kubelet/root is bind-mounted on itself (shared, for volume mounts) and the kubelet mounts volumes
#     below it; all are unmounted. containerd and its shims run in a mount namespace of their own with a private
#     /run/containerd, so their mounts (container root filesystems, network namespaces) and the shims' sockets
#     never appear on the host and go with them.
# Only one full cluster runs on a host at a time (the claim /run/dosh-test-k8s.claim names its DIR); a second
# start with another DIR fails, naming the first; a claim whose cluster is no longer running is stopped first.
# `stop` deletes the pods while the kubelet still runs, then stops the processes by recorded pid, kills only the
# shims of this DIR's containerd socket, and restores the host as above; it is safe to run twice or after a crash.
#
# Environment:
#   DOSH_K8S_VERSION        Kubernetes version        (default v1.34.4)
#   DOSH_K8S_CACHE          build cache               (default /var/cache/dosh-test/k8s)
#   DOSH_K8S_NODE           node name                 (default: hostname, lower-case)
#   DOSH_K8S_START_TIMEOUT  seconds per server start  (default 90)
set -euo pipefail
PROG=k8s-cluster.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=${DOSH_K8S_VERSION:-v1.34.4}
CACHE=${DOSH_K8S_CACHE:-/var/cache/dosh-test/k8s}/$VERSION
TIMEOUT=${DOSH_K8S_START_TIMEOUT:-90}
CLAIM=/run/dosh-test-k8s.claim
BRIDGE=dk8s0
POD_CIDR=10.217.0.0/24
# The node's address: the bridge's own (gateway) address. The kubelet refuses a loopback node IP ("nodeIP can't be
# loopback address") and then reports no address at all, so the API server could not reach it for exec or logs.
NODE_IP=10.217.0.1
SERVICE_CIDR=10.96.0.0/24
SERVICE_IP=10.96.0.1
PAUSE_IMAGE=docker.io/dosh-test/pause:1
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
PACKAGES=(containerd runc etcd-server containernetworking-plugins socat conntrack ebtables ethtool iptables openssl curl ca-certificates)
# log, die, usage, ensure_pkgs
# shellcheck source=SCRIPTDIR/common.sh
. "$HERE/common.sh"

# --- processes of DIR ---------------------------------------------------------------------------------------------

read_kv() { [ -f "$1" ] && sed -n "s/^$2 //p" "$1" | head -1; return 0; }
write_kv() { # write_kv FILE KEY VALUE (empty VALUE removes KEY)
  local f=$1
  touch "$f"
  { grep -v "^$2 " "$f" || true; [ -z "$3" ] || echo "$2 $3"; } >"$f.tmp"
  mv -f "$f.tmp" "$f"
}
pid_of() { read_kv "$DIR/pids" "$1"; }
port_of() { read_kv "$DIR/ports" "$1"; }
# True when PID is alive and runs NAME with an argument under DIR (guards against pid reuse).
ours() {
  local pid=$1 name=$2 cmdline
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  case "$cmdline" in *"$name"*"$DIR/"*) return 0 ;; *) return 1 ;; esac
}
# PID (a child of this script) still runs; not `ours`, which is false until the forked shell has exec'd the server.
alive() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
running() { ours "$(pid_of "$1")" "$1"; }

stop_one() {
  local name=$1 pid i
  pid=$(pid_of "$name")
  if ours "$pid" "$name"; then
    kill -CONT "$pid" 2>/dev/null || true # a paused one would not see the TERM
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do ours "$pid" "$name" || break; sleep 0.1; done
    if ours "$pid" "$name"; then
      log "$name (pid $pid) did not exit after TERM; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do ours "$pid" "$name" || break; sleep 0.1; done
    fi
    ! ours "$pid" "$name" || die "$name (pid $pid) would not exit"
  fi
  write_kv "$DIR/pids" "$name" ""
}

# launch NAME CMD...: start a server in the background, its output appended to DIR/logs/NAME.log.
launch() {
  local name=$1
  shift
  mkdir -p "$DIR/logs"
  echo "--- $(date -Is) start" >>"$DIR/logs/$name.log"
  "$@" </dev/null >>"$DIR/logs/$name.log" 2>&1 &
  write_kv "$DIR/pids" "$name" "$!"
}

# Startup failed: the tail of NAME's log since its last start, then everything of this DIR is stopped.
fail_start() {
  local name=$1 logf=$DIR/logs/$1.log
  log "error: $2; last lines of $logf:"
  awk '/^--- .* start$/ { n = NR } { line[NR] = $0 } END { s = (NR - n > 40) ? NR - 40 : n; for (i = s; i <= NR; i++) print line[i] }' \
    "$logf" >&2 || true
  [ "${KEEP_ON_FAILURE:-}" = 1 ] || cmd_stop >/dev/null 2>&1 || true
  exit 1
}

# wait_for NAME WHAT CHECK...: until CHECK succeeds, failing when NAME's process is gone or after TIMEOUT.
wait_for() {
  local name=$1 what=$2 pid deadline=$((SECONDS + TIMEOUT))
  shift 2
  pid=$(pid_of "$name")
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive "$pid" || fail_start "$name" "$name exited during startup"
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail_start "$name" "$what after ${TIMEOUT}s"
}

# --- ports, certificates, kubeconfigs ----------------------------------------------------------------------------

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Keep the ports of an earlier start when still free (etcd keeps its peer URL in its data), else pick new ones.
choose_ports() {
  local name port
  for name in "$@"; do
    port=$(port_of "$name")
    if [ -z "$port" ] || ! port_free "$port"; then port=$(free_port); fi
    write_kv "$DIR/ports" "$name" "$port"
  done
}

# cert NAME SUBJECT [EXTENSIONS...]: an EC key and a certificate signed by DIR's CA.
cert() {
  local name=$1 subj=$2 p=$DIR/pki
  shift 2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$p/$name.key" -out "$p/$name.csr" -subj "$subj"
  openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 -out "$p/$name.crt" \
    -extfile <(printf '%s\n' "keyUsage=critical,digitalSignature,keyEncipherment" "$@")
  rm -f "$p/$name.csr"
}

gen_pki() {
  local p=$DIR/pki
  if [ -s "$p/done" ]; then
    [ "$(cat "$p/done")" = "$NODE" ] || die "$DIR was made for node $(cat "$p/done"), not $NODE: use a fresh DIR"
    return 0
  fi
  mkdir -p "$p"
  chmod 700 "$p"
  local client="extendedKeyUsage=clientAuth" server="extendedKeyUsage=serverAuth"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$p/ca.key" -out "$p/ca.crt" \
      -days 3650 -subj "/CN=dosh-test-k8s-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    cert apiserver "/CN=kube-apiserver" "$server" "subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert admin "/O=system:masters/CN=dosh-test-admin" "$client"
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
    cert kubelet "/CN=$NODE" "$server" "subjectAltName=IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE,DNS:localhost"
    cert node "/O=system:nodes/CN=system:node:$NODE" "$client"
    cert scheduler "/CN=system:kube-scheduler" "$client"
    cert controller-manager "/CN=system:kube-controller-manager" "$client"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$p/sa.key"
    openssl pkey -in "$p/sa.key" -pubout -out "$p/sa.pub"
  } >"$DIR/logs/openssl.log" 2>&1 || { cat "$DIR/logs/openssl.log" >&2; die "openssl failed"; }
  echo "$NODE" >"$p/done"
}

# kubeconfig FILE CERT: a kubeconfig for the API server with the client certificate CERT of DIR/pki.
kubeconfig() {
  local f=$1 c=$2 p=$DIR/pki
  (
    umask 077
    cat >"$f.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dosh-test
  cluster:
    server: https://127.0.0.1:$(port_of apiserver)
    certificate-authority-data: $(base64 -w0 <"$p/ca.crt")
users:
- name: $c
  user:
    client-certificate-data: $(base64 -w0 <"$p/$c.crt")
    client-key-data: $(base64 -w0 <"$p/$c.key")
contexts:
- name: dosh-test
  context: {cluster: dosh-test, user: $c, namespace: default}
current-context: dosh-test
EOF
    mv -f "$f.tmp" "$f"
  )
}

write_kubeconfigs() {
  mkdir -p "$DIR/kubelet"
  kubeconfig "$DIR/kubeconfig" admin
  kubeconfig "$DIR/kubelet/kubeconfig" node
  kubeconfig "$DIR/scheduler.kubeconfig" scheduler
  kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
}

kubectl_() { kubectl --kubeconfig "$DIR/kubeconfig" --request-timeout 10s "$@"; }

# --- etcd and kube-apiserver --------------------------------------------------------------------------------------

start_etcd() {
  local c p
  c=$(port_of etcd-client)
  p=$(port_of etcd-peer)
  mkdir -p "$DIR/etcd-data"
  chmod 700 "$DIR/etcd-data"
  launch etcd etcd --name dosh-test --data-dir "$DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
    --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
    --initial-cluster "dosh-test=http://127.0.0.1:$p" --initial-cluster-state new \
    --logger zap --log-outputs stderr --log-level warn
  etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$c/health" | grep -q '"health":"true"'; }
  wait_for etcd "etcd not healthy on 127.0.0.1:$c" etcd_healthy
}

api_get() {
  local p=$DIR/pki
  curl -fsS --connect-timeout 2 --max-time 5 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    "https://127.0.0.1:$(port_of apiserver)$1"
}
apiserver_ready() { [ "$(api_get /readyz)" = ok ]; }

start_apiserver() {
  local p=$DIR/pki port
  port=$(port_of apiserver)
  if [ -z "$port" ] || ! port_free "$port"; then choose_ports apiserver; fi
  write_kubeconfigs
  # The `kubernetes` Service gets no endpoints (--endpoint-reconciler-type none): its only address would be
  # 127.0.0.1, which an Endpoints object may not hold. Short shutdown delays: a stop ends watches at once.
  launch kube-apiserver "$CACHE/bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$(port_of etcd-client)" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$(port_of apiserver)" \
    --cert-dir "$DIR/apiserver-certs" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" --client-ca-file "$p/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --endpoint-reconciler-type none \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged=true \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$p/ca.crt" --kubelet-preferred-address-types InternalIP \
    --profiling=false --shutdown-delay-duration 0s --shutdown-watch-termination-grace-period 2s
  wait_for kube-apiserver "kube-apiserver not ready on https://127.0.0.1:$(port_of apiserver)" apiserver_ready
}

# --- the node: containerd, kubelet, scheduler, controller-manager -------------------------------------------------

save_host_state() {
  [ -s "$DIR/host-state" ] && return 0 # a restart keeps what the first start saw
  local s t c
  {
    for s in "${SYSCTLS[@]}"; do printf 'sysctl %s %s\n' "$s" "$(sysctl -n "$s")"; done
    for t in filter nat mangle; do
      for c in $(iptables -t "$t" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do printf 'chain %s %s\n' "$t" "$c"; done
    done
  } >"$DIR/host-state.tmp"
  mv -f "$DIR/host-state.tmp" "$DIR/host-state"
}

restore_host_state() {
  [ -s "$DIR/host-state" ] || return 0
  local kind a b t c rule
  while read -r kind a b; do
    [ "$kind" = sysctl ] || continue
    [ "$(sysctl -n "$a" 2>/dev/null)" = "$b" ] || sysctl -qw "$a=$b" || log "could not restore $a=$b"
  done <"$DIR/host-state"
  # KUBE-* chains that were not there before: the jumps to them first, then the chains.
  for t in filter nat mangle; do
    for c in $(iptables -t "$t" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
      grep -qx "chain $t $c" "$DIR/host-state" && continue
      iptables -t "$t" -S 2>/dev/null | grep -- "-j $c\( \|$\)" | grep -v "^-A $c " | while read -r rule; do
        # shellcheck disable=SC2086 # the rule's words
        iptables -t "$t" ${rule/#-A/-D} || true
      done
      if iptables -t "$t" -F "$c" && iptables -t "$t" -X "$c"; then log "removed iptables chain $t/$c"; fi
    done
  done
  rm -f "$DIR/host-state"
}

# The node of another state directory still runs (DIR is dynamically scoped: running() reads it).
node_running_in() {
  local DIR=$1
  running kubelet || running containerd
}

claim_host() {
  local other
  other=$(cat "$CLAIM" 2>/dev/null || true)
  if [ -n "$other" ] && [ "$other" != "$DIR" ]; then
    if node_running_in "$other"; then
      die "a test cluster already runs on this host with state in $other: stop it first ($PROG stop $other)"
    fi
    log "the cluster of $other is not running but was not stopped: stopping it first"
    bash "$0" stop "$other" || die "could not stop the cluster of $other"
  fi
  echo "$DIR" >"$CLAIM"
}

write_containerd_config() {
  local d=$DIR/containerd
  mkdir -p "$d/root" "$d/state" "$d/opt" "$DIR/runc" "$DIR/cni/net.d" "$DIR/cni/ipam"
  cat >"$d/config.toml" <<EOF
# containerd of the test cluster (scripts/lib/k8s-cluster.sh): everything under $DIR, nothing shared with the
# Docker engine's containerd.
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    # Without CAP_SYS_RESOURCE (as here) runc cannot lower its own oom_score_adj: every sandbox would fail.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "$(port_of containerd-stream)"
    enable_selinux = false
    disable_apparmor = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$DIR/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$DIR/cni/net.d"
      max_conf_num = 1
EOF
  cat >"$DIR/cni/net.d/10-dosh-test.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "dosh-test",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$DIR/cni/ipam" }
    }
  ]
}
EOF
}

ctr_() { ctr --address "$DIR/containerd/containerd.sock" --namespace k8s.io "$@"; }
containerd_up() { ctr_ version; }

# The pods' bridge, made before the CNI plugin would make it, so that the node has its address from the start.
make_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge || die "could not create the bridge $BRIDGE"
  ip -4 addr show dev "$BRIDGE" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

start_containerd() {
  local root=$DIR/kubelet/root
  write_containerd_config
  # The kubelet's root directory is a shared mount before containerd starts: the volumes the kubelet mounts below it
  # on the host then propagate into containerd's mount namespace (a slave copy), where the containers are made.
  mkdir -p "$root"
  if ! mountpoint -q "$root"; then mount --bind "$root" "$root"; fi
  mount --make-rshared "$root"
  # shellcheck disable=SC2016 # $1 and $2 are the inner shell's
  launch containerd unshare --mount --propagation unchanged -- /bin/sh -c \
    'mount --make-rslave "$2" && mount -t tmpfs -o mode=0700 dosh-test-containerd /run/containerd && exec containerd --config "$1"' \
    sh "$DIR/containerd/config.toml" "$root"
  wait_for containerd "containerd not answering on $DIR/containerd/containerd.sock" containerd_up
  if ! ctr_ images ls -q | grep -qx "$PAUSE_IMAGE"; then
    ctr_ images import "$CACHE/images/pause.tar" >/dev/null || fail_start containerd "ctr images import of the pause image failed"
  fi
}

write_kubelet_config() {
  local p=$DIR/pki
  mkdir -p "$DIR/kubelet/pki" "$DIR/kubelet/plugins" "$DIR/pod-logs"
  cat >"$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $(port_of kubelet)
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(port_of kubelet-healthz)
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $p/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $p/kubelet.crt
tlsPrivateKeyFile: $p/kubelet.key
containerRuntimeEndpoint: unix://$DIR/containerd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
podLogsDir: $DIR/pod-logs
volumePluginDir: $DIR/kubelet/plugins
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
maxPods: 50
EOF
}

start_kubelet() {
  write_kubelet_config
  launch kubelet "$CACHE/bin/kubelet" --config "$DIR/kubelet/config.yaml" --kubeconfig "$DIR/kubelet/kubeconfig" \
    --root-dir "$DIR/kubelet/root" --cert-dir "$DIR/kubelet/pki" --node-ip "$NODE_IP" --hostname-override "$NODE" --v 1
  node_registered() { kubectl_ get node "$NODE"; }
  wait_for kubelet "the kubelet did not register node $NODE" node_registered
}

start_control_plane() {
  launch kube-scheduler "$CACHE/bin/kube-scheduler" --kubeconfig "$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$DIR/scheduler.kubeconfig" --authorization-kubeconfig "$DIR/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(port_of scheduler)" --leader-elect=false
  launch kube-controller-manager "$CACHE/bin/kube-controller-manager" --kubeconfig "$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(port_of controller-manager)" --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file "$DIR/pki/sa.key" --root-ca-file "$DIR/pki/ca.crt" \
    --allocate-node-cidrs=false --controllers '*,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller'
  # Ready: the node reports Ready and the controller-manager took off its not-ready taint; pods can then get their
  # service account token in the default namespace.
  node_usable() {
    [ "$(kubectl_ get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.spec.taints}')" = "True " ] &&
      kubectl_ -n default get serviceaccount default
  }
  wait_for kube-controller-manager "node $NODE not Ready and untainted ($(kubectl_ get node "$NODE" -o jsonpath='{.spec.taints}' 2>&1))" node_usable
}

# --- commands -----------------------------------------------------------------------------------------------------

need_dir() {
  [ -n "${1:-}" ] || usage 2
  mkdir -p "$1"
  DIR=$(cd "$1" && pwd -P)
  NODE=${DOSH_K8S_NODE:-$(hostname | tr '[:upper:]' '[:lower:]')}
}

cmd_build() {
  [ "$(id -u)" -eq 0 ] || die "run as root (installs packages)"
  command -v kubectl >/dev/null 2>&1 || die "kubectl not found on PATH; the tests drive the cluster with it: install it"
  command -v node >/dev/null 2>&1 || die "node not found on PATH"
  ensure_pkgs "${PACKAGES[@]}"
  bash "$HERE/k8s-build.sh"
}

cmd_start() {
  local mode=full
  case "${1:-}" in --apiserver-only) mode=apiserver ;; '') ;; *) usage 2 ;; esac
  [ "$(id -u)" -eq 0 ] || die "run as root"
  cmd_build >/dev/null
  mkdir -p "$DIR/logs"
  cmd_stop_processes
  echo "$mode" >"$DIR/mode"
  gen_pki
  choose_ports etcd-client etcd-peer apiserver
  start_etcd
  start_apiserver
  if [ "$mode" = full ]; then
    claim_host
    choose_ports kubelet kubelet-healthz scheduler controller-manager containerd-stream
    save_host_state
    make_bridge
    start_containerd
    start_kubelet
    start_control_plane
  fi
  echo "$DIR/kubeconfig"
}

# Everything of DIR stopped, the pods first while the kubelet can still stop them.
cmd_stop_processes() {
  local i
  stop_one kube-controller-manager
  stop_one kube-scheduler
  if running kubelet && running kube-apiserver; then
    kubectl_ delete pods --all-namespaces --all --grace-period 2 --wait=false >/dev/null 2>&1 || true
    for ((i = 0; i < 150; i++)); do
      [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  stop_one kubelet
  if running containerd; then
    for i in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill --signal SIGKILL "$i" >/dev/null 2>&1 || true; done
  fi
  stop_one containerd
  # Shims outlive containerd by design: only those of this DIR's socket.
  local sock=$DIR/containerd/containerd.sock pid
  for ((i = 0; i < 50; i++)); do
    pid=$(pgrep -f -- "containerd-shim-runc-v2 .*-address $sock( |$)" || true)
    [ -z "$pid" ] && break
    # shellcheck disable=SC2086 # several pids
    kill -KILL $pid 2>/dev/null || true
    sleep 0.1
  done
  stop_one kube-apiserver
  stop_one etcd
}

cleanup_host() {
  local m d
  # Mounts under DIR on the host (the kubelet's root and the volumes below it), deepest first.
  awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || log "could not unmount $m"
  done
  # The kubelet's cgroups in every hierarchy, leaves first (each is empty once the pods are gone).
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$d" ] && log "could not remove the cgroup $d (still in use?)"
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE" || log "could not delete the bridge $BRIDGE"; fi
  rm -rf "$DIR/cni/ipam"
  restore_host_state
  [ "$(cat "$CLAIM" 2>/dev/null)" = "$DIR" ] && rm -f "$CLAIM"
  return 0
}

cmd_stop() {
  cmd_stop_processes
  [ "$(cat "$DIR/mode" 2>/dev/null)" = full ] && cleanup_host
  return 0
}

cmd_status() {
  local mode name
  mode=$(cat "$DIR/mode" 2>/dev/null) || { log "no cluster started in $DIR"; return 1; }
  local names=(etcd kube-apiserver)
  [ "$mode" = full ] && names+=(containerd kubelet kube-scheduler kube-controller-manager)
  for name in "${names[@]}"; do running "$name" || { log "$name not running for $DIR"; return 1; }; done
  apiserver_ready || { log "kube-apiserver not ready"; return 1; }
  if [ "$mode" = full ] && [ "$(kubectl_ get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" != True ]; then
    log "node $NODE not Ready"; return 1
  fi
}

cmd_env() {
  printf 'export KUBECONFIG=%q\n' "$DIR/kubeconfig"
  if [ "$(cat "$DIR/mode" 2>/dev/null)" = full ]; then
    printf 'export CONTAINERD_ADDRESS=%q CONTAINERD_NAMESPACE=k8s.io\n' "$DIR/containerd/containerd.sock"
  fi
}

cmd_import() {
  [ $# -gt 0 ] || usage 2
  running containerd || die "the cluster of $DIR has no containerd running (start it without --apiserver-only)"
  local what
  for what in "$@"; do
    if [ -f "$what" ]; then
      ctr_ images import "$what" >/dev/null || die "ctr images import $what failed"
    else
      docker image inspect "$what" >/dev/null 2>&1 || die "$what: neither a file nor an image of the Docker engine"
      docker save "$what" | ctr_ images import - >/dev/null || die "importing $what from the Docker engine failed"
    fi
    log "imported $what"
  done
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    build) [ $# -eq 0 ] || usage 2; cmd_build ;;
    start) need_dir "${1:-}"; shift; cmd_start "$@" ;;
    stop) need_dir "${1:-}"; cmd_stop ;;
    status) need_dir "${1:-}"; cmd_status ;;
    env) need_dir "${1:-}"; cmd_env ;;
    import) need_dir "${1:-}"; shift; cmd_import "$@" ;;
    server) need_dir "${1:-}"; printf 'https://127.0.0.1:%s\n' "$(port_of apiserver)" ;;
    stop-apiserver) need_dir "${1:-}"; stop_one kube-apiserver ;;
    start-apiserver)
      need_dir "${1:-}"
      running etcd || die "etcd is not running for $DIR: run '$PROG start $DIR'"
      stop_one kube-apiserver
      KEEP_ON_FAILURE=1 start_apiserver
      echo "$DIR/kubeconfig"
      ;;
    pause-apiserver | resume-apiserver)
      need_dir "${1:-}"
      running kube-apiserver || die "kube-apiserver is not running for $DIR"
      if [ "$cmd" = pause-apiserver ]; then kill -STOP "$(pid_of kube-apiserver)"; else kill -CONT "$(pid_of kube-apiserver)"; fi
      ;;
    -h | --help) usage 0 ;;
    *) usage 2 ;;
  esac
}

main "$@"
