#!/usr/bin/env bash
# Builds the Kubernetes binaries of the node image from the k8s.io/kubernetes
# Go module (images/kubernetes/go.mod), stamped with their version.
# Output: $OUT/{kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy,kubeadm,kubelet,kubectl}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
OUT=${1:?usage: build-kubernetes.sh OUTDIR}
mkdir -p "$OUT"
v=$KUBERNETES_VERSION
minor=$(echo "$v" | cut -d. -f2)
stamp="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.gitCommit=mcpsim-offline-build -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
cd "$here/kubernetes"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubeadm kubelet kubectl; do
  echo "building $cmd $v"
  CGO_ENABLED=0 go build -trimpath -ldflags "$stamp" -o "$OUT/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
