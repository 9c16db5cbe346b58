#!/bin/sh
# The doshd image's entry point (scripts/lib/build-doshd-image.sh): doshd as the Debian package installed it, run by
# Debian's Node.js. doshd names the sessions it makes and its containers after its node: the host's name, as a doshd
# on the host would, from $DOSH_NODE or else the host's /etc/hostname mounted at /run/host/hostname (a --node among
# the arguments, as the Helm chart passes, wins: the last one counts).
set -e
node=${DOSH_NODE:-}
if [ -z "$node" ] && [ -s /run/host/hostname ]; then node=$(head -n1 /run/host/hostname); fi
if [ -n "$node" ]; then set -- --node "$node" "$@"; fi
exec /usr/sbin/doshd "$@"
