#!/usr/bin/env bash
# Builds the control-plane companions of the node image from Go modules:
# etcd, CoreDNS, metrics-server and pause, as static binaries.
# Output: $OUT/{etcd,coredns,metrics-server,pause}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
OUT=${1:?usage: build-components.sh OUTDIR}
mkdir -p "$OUT"
build() { # dir package output
  echo "building $3"
  (cd "$here/$1" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OUT/$3" "$2")
}
build etcd go.etcd.io/etcd/server/v3 etcd
build coredns github.com/coredns/coredns coredns
build metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server metrics-server
(cd "$here/.." && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OUT/pause" ./tools/pause)
