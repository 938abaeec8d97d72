#!/usr/bin/env bash
# make images: builds every image mcpsim needs on this machine, with no
# registry: the reference service image, a kind node image for
# Kubernetes $KUBERNETES_VERSION (Debian root filesystem, Kubernetes from
# its Go module, control-plane/etcd/CoreDNS/pause/metrics-server images
# preloaded into the node's containerd) and Chaos Mesh's controller manager
# and daemon images (from its Go module). Every step is cached by the hash
# of its inputs: when nothing changed it does nothing.
#
# Environment: MCPSIM_CACHE (default /var/cache/mcpsim) holds build outputs;
# MCPSIM_STATE (default /var/lib/mcpsim) Docker and package caches.
set -euo pipefail
images=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$images")
. "$images/versions.env"
cache=${MCPSIM_CACHE:-/var/cache/mcpsim}
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpsim-images.XXXXXX")
# Containers a step starts are recorded here so that a failure or Ctrl-C
# removes them.
containers="$work/containers"
cleanup() {
  if [ -s "$containers" ]; then xargs docker rm -f <"$containers" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# On Ctrl-C or TERM, stop the running step too (it is a child subshell),
# then the EXIT trap removes its containers and files.
trap 'pkill -TERM -P $$ 2>/dev/null; echo "images: interrupted; temporary containers and files removed" >&2; exit 130' INT TERM

summary=()
started=$(date +%s)
# run_step NAME COMMAND...: runs one build step, logged and timed; on
# failure it names the step and shows the end of its log.
run_step() {
  local name=$1; shift
  echo "==> $name"
  local t0 log="$work/$(echo "$name" | tr ' /:' '___').log"
  t0=$(date +%s)
  # A subshell with errexit: inside an `if`, bash would ignore set -e in
  # the step's functions and carry on after a failed command.
  local rc=0
  ( set -e; "$@" ) >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    echo "images: step '$name' failed; the end of its log ($log):" >&2
    tail -40 "$log" >&2
    cp "$log" "$cache/last-failure.log" 2>/dev/null && echo "(whole log: $cache/last-failure.log)" >&2
    exit 1
  fi
  summary+=("$(printf '%-28s built in %ss' "$name" $(( $(date +%s) - t0 )))")
}
cached() { summary+=("$(printf '%-28s cached' "$1")"); }
# step NAME STAMPFILE HASH COMMAND...: runs COMMAND unless STAMPFILE holds HASH.
step() {
  local name=$1 stamp=$2 hash=$3; shift 3
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then cached "$name"; return; fi
  run_step "$name" "$@"
  echo "$hash" >"$stamp"
}
# image_step NAME IMAGE HASH COMMAND...: runs COMMAND unless IMAGE carries
# the label mcpsim.dev/input-hash=HASH (COMMAND must set it).
# The image it replaces is removed (the node image is ~2 GB), unless a
# container or another tag still uses it.
image_step() {
  local name=$1 image=$2 hash=$3; shift 3
  if [ "$(image_hash "$image")" = "$hash" ]; then cached "$name"; return; fi
  local previous
  previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  run_step "$name" "$@"
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
  fi
}
hash_files() { cat "$@" | sha256sum | cut -c1-16; }
hash_dir() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16; }
# image_hash IMAGE: the input hash an image was built from ("" if absent).
image_hash() { docker image inspect -f '{{index .Config.Labels "mcpsim.dev/input-hash"}}' "$1" 2>/dev/null || true; }

"$root/hack/docker-up.sh"

# 1. The reference service image: the static mcpsim binary FROM scratch.
mkdir -p "$work/reference"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/reference/mcpsim" ./cmd/mcpsim)
cp "$images/reference/Dockerfile" "$work/reference/"
ref_hash=$(hash_files "$work/reference/mcpsim" "$images/reference/Dockerfile")
image_step "reference image" "$REFERENCE_IMAGE:dev" "$ref_hash" \
  env DOCKER_BUILDKIT=0 docker build --label "mcpsim.dev/input-hash=$ref_hash" -t "$REFERENCE_IMAGE:dev" "$work/reference"

# 2. Binaries from Go modules.
k8s_hash=$(hash_files "$images/versions.env" "$images/build-kubernetes.sh" "$images/kubernetes/go.mod" "$images/kubernetes/go.sum")
step "kubernetes binaries" "$cache/k8s-bin.stamp" "$k8s_hash" "$images/build-kubernetes.sh" "$cache/k8s-bin"
comp_hash=$(hash_files "$images/versions.env" "$images/build-components.sh" "$images"/{etcd,coredns,metrics-server}/go.{mod,sum} "$root"/tools/pause/*.go)
step "etcd coredns metrics-server" "$cache/components.stamp" "$comp_hash" "$images/build-components.sh" "$cache/components"
capfix_hash=$(hash_files "$root"/tools/runc-capfix/*.go)
step "runc wrapper" "$cache/runc-capfix.stamp" "$capfix_hash" \
  sh -c "cd '$root' && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o '$cache/runc-capfix' ./tools/runc-capfix"

chaos_hash=$(hash_files "$images/versions.env" "$images/build-chaos-mesh.sh" "$images"/chaos-mesh/go.{mod,sum} "$images"/chaos-mesh/nsexec/*.go)
step "chaos mesh binaries" "$cache/chaos-mesh.stamp" "$chaos_hash" "$images/build-chaos-mesh.sh" "$cache/chaos-mesh"

# 3. Root filesystems from Debian packages.
rootfs_hash=$(hash_files "$images/versions.env" "$images/build-rootfs.sh")
step "node root filesystem" "$cache/node-rootfs.stamp" "$rootfs_hash" "$images/build-rootfs.sh" node "$cache/node-rootfs.tar"
step "tools root filesystem" "$cache/tools-rootfs.stamp" "$rootfs_hash" "$images/build-rootfs.sh" tools "$cache/tools-rootfs.tar"
step "chaos root filesystem" "$cache/chaos-rootfs.stamp" "$rootfs_hash" "$images/build-rootfs.sh" chaos "$cache/chaos-rootfs.tar"

# 4. Component images, named as kubeadm asks for them.
tools_image="mcpsim/tools-rootfs:$rootfs_hash"
image_step "tools base image" "$tools_image" "$rootfs_hash" \
  docker import --change "LABEL mcpsim.dev/input-hash=$rootfs_hash" "$cache/tools-rootfs.tar" "$tools_image"
kv=$KUBERNETES_VERSION
component() { # image binary-path from entrypoint-json
  local image=$1 bin=$2 from=$3 entry=$4 dir
  dir="$work/img-$(basename "$bin")"
  mkdir -p "$dir"
  cp "$bin" "$dir/"
  local h
  h=$(hash_files "$bin" <(echo "$from $entry $rootfs_hash"))
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $from
COPY $(basename "$bin") /usr/local/bin/$(basename "$bin")
ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL mcpsim.dev/input-hash=$h
$entry
DOCKERFILE
  image_step "image $image" "$image" "$h" env DOCKER_BUILDKIT=0 docker build -t "$image" "$dir"
}
bin=$cache/k8s-bin
comp=$cache/components
component "registry.k8s.io/kube-apiserver:$kv" "$bin/kube-apiserver" scratch ""
component "registry.k8s.io/kube-controller-manager:$kv" "$bin/kube-controller-manager" scratch ""
component "registry.k8s.io/kube-scheduler:$kv" "$bin/kube-scheduler" scratch ""
component "registry.k8s.io/kube-proxy:$kv" "$bin/kube-proxy" "$tools_image" ""
component "registry.k8s.io/etcd:$ETCD_TAG" "$comp/etcd" scratch ""
component "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$comp/coredns" scratch 'ENTRYPOINT ["/usr/local/bin/coredns"]'
component "registry.k8s.io/pause:$PAUSE_TAG" "$comp/pause" scratch 'ENTRYPOINT ["/usr/local/bin/pause"]'
docker tag "registry.k8s.io/pause:$PAUSE_TAG" registry.k8s.io/pause:3.10
component "mcpsim/metrics-server:$METRICS_SERVER_VERSION" "$comp/metrics-server" scratch 'ENTRYPOINT ["/usr/local/bin/metrics-server"]'
preloaded=("registry.k8s.io/kube-apiserver:$kv" "registry.k8s.io/kube-controller-manager:$kv" "registry.k8s.io/kube-scheduler:$kv"
  "registry.k8s.io/kube-proxy:$kv" "registry.k8s.io/etcd:$ETCD_TAG" "registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
  "registry.k8s.io/pause:$PAUSE_TAG" registry.k8s.io/pause:3.10 "mcpsim/metrics-server:$METRICS_SERVER_VERSION")

# 5. The node image.
# (Downloaded first: `go list -m` names no directory for a module not in
# the module cache yet, as on a fresh machine where nothing built kind.)
kind_dir=$(cd "$root" && go mod download sigs.k8s.io/kind && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)
[ -d "$kind_dir" ] || { echo "images: no source directory for sigs.k8s.io/kind in the module cache" >&2; exit 1; }
base_files="$work/node-base"
mkdir -p "$base_files/files/usr/local/sbin" "$base_files/files/etc/containerd"
cp -r "$kind_dir/images/base/files/." "$base_files/files/"
chmod -R u+w "$base_files/files"
cp "$images/node/containerd-config.toml" "$base_files/files/etc/containerd/config.toml"
cp "$cache/runc-capfix" "$base_files/files/usr/local/sbin/runc"
cp "$images/node/Dockerfile.base" "$base_files/Dockerfile"
base_hash=$(hash_files <(echo "$rootfs_hash") <(hash_dir "$base_files"))
rootfs_image="mcpsim/node-rootfs:$rootfs_hash"
image_step "node root image" "$rootfs_image" "$rootfs_hash" \
  docker import --change "LABEL mcpsim.dev/input-hash=$rootfs_hash" "$cache/node-rootfs.tar" "$rootfs_image"
base_image="mcpsim/node-base:$base_hash"
image_step "node base image" "$base_image" "$base_hash" env DOCKER_BUILDKIT=0 docker build \
  --build-arg "ROOTFS=$rootfs_image" --label "mcpsim.dev/input-hash=$base_hash" -t "$base_image" "$base_files"

ids=""
for img in "${preloaded[@]}"; do ids+="$(docker image inspect -f '{{.Id}}' "$img") "; done
node_hash=$(hash_files <(echo "$base_hash $k8s_hash $ids") "$images/node/Dockerfile.final")
node_image="$NODE_IMAGE:$kv"
build_node() {
  docker save -o "$work/preload.tar" "${preloaded[@]}"
  local preload
  preload=$(docker run -d --privileged --entrypoint sleep "$base_image" infinity)
  echo "$preload" >>"$containers"
  for b in kubeadm kubelet kubectl; do docker cp "$bin/$b" "$preload:/usr/bin/$b"; done
  docker exec "$preload" sh -c "echo $kv >/kind/version && mkdir -p /kind/images /kind/manifests"
  docker cp "$work/preload.tar" "$preload:/kind/images/preload.tar"
  # Import into the node's containerd as kind's node-image build does.
  docker exec "$preload" sh -c '
    set -e
    containerd >/tmp/containerd.log 2>&1 &
    for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && break; sleep 1; done
    ctr -n k8s.io images import --no-unpack --all-platforms /kind/images/preload.tar
    ctr -n k8s.io images ls -q
    kill %1; wait || true
    rm -rf /kind/images /tmp/containerd.log'
  docker commit "$preload" "mcpsim/node-preloaded:$node_hash" >/dev/null
  docker rm -f "$preload" >/dev/null
  cp "$images/node/Dockerfile.final" "$work/Dockerfile.final"
  DOCKER_BUILDKIT=0 docker build -f "$work/Dockerfile.final" --build-arg "PRELOADED=mcpsim/node-preloaded:$node_hash" \
    --label "mcpsim.dev/input-hash=$node_hash" -t "$node_image" "$work"
  docker rmi "mcpsim/node-preloaded:$node_hash" >/dev/null 2>&1 || true
}
image_step "node image" "$node_image" "$node_hash" build_node

# 6. Chaos Mesh (issue 9): the controller manager and the daemon, with the
# helpers build-chaos-mesh.sh provides (see there for which chaos kinds
# work). They are not preloaded into the node image: the cluster loads them
# when it installs Chaos Mesh, so the node image does not depend on them.
cm=$cache/chaos-mesh
chaos_rootfs_image="mcpsim/chaos-rootfs:$rootfs_hash"
image_step "chaos root image" "$chaos_rootfs_image" "$rootfs_hash" \
  docker import --change "LABEL mcpsim.dev/input-hash=$rootfs_hash" "$cache/chaos-rootfs.tar" "$chaos_rootfs_image"
# build_checked IMAGE HASH DIR CHECK...: builds DIR under a temporary tag,
# runs CHECK (a function, given that tag) and only then tags IMAGE. A binary
# that cannot run in its image (say, linked against a newer glibc than the
# root filesystem's) thus fails this build instead of being cached.
build_checked() {
  local image=$1 hash=$2 dir=$3 check=$4 candidate="$1-candidate"
  DOCKER_BUILDKIT=0 docker build --label "mcpsim.dev/input-hash=$hash" -t "$candidate" "$dir"
  "$check" "$candidate"
  docker tag "$candidate" "$image"
  docker rmi "$candidate" >/dev/null
}
# The controller manager is static (CGO_ENABLED=0, time zones embedded) and
# talks only to the API server and the daemons with certificates it is
# given: FROM scratch, plus a /tmp (its remote-cluster Helm code writes
# there and scratch has none).
ctl_dir="$work/img-chaos-controller-manager"
mkdir -p "$ctl_dir/root/tmp"
chmod 1777 "$ctl_dir/root/tmp"
tar -C "$ctl_dir/root" --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$ctl_dir/tmp.tar" ./tmp
cp "$cm/chaos-controller-manager" "$ctl_dir/"
cat >"$ctl_dir/Dockerfile" <<'DOCKERFILE'
FROM scratch
ADD tmp.tar /
COPY chaos-controller-manager /usr/local/bin/chaos-controller-manager
ENTRYPOINT ["/usr/local/bin/chaos-controller-manager"]
DOCKERFILE
check_controller() { docker run --rm "$1" --version; }
ctl_hash=$(hash_files "$cm/chaos-controller-manager" "$ctl_dir/Dockerfile")
image_step "image $CHAOS_CONTROLLER_IMAGE" "$CHAOS_CONTROLLER_IMAGE:dev" "$ctl_hash" \
  build_checked "$CHAOS_CONTROLLER_IMAGE:dev" "$ctl_hash" "$ctl_dir" check_controller
# The daemon: the "chaos" root filesystem (iptables, ipset, iproute2,
# stress-ng, util-linux, procps) with chaos-daemon, nsexec and pause where
# chaos-daemon looks for them.
dmn_dir="$work/img-chaos-daemon"
mkdir -p "$dmn_dir"
cp "$cm/chaos-daemon" "$cm/nsexec" "$cm/pause" "$dmn_dir/"
cat >"$dmn_dir/Dockerfile" <<DOCKERFILE
FROM $chaos_rootfs_image
COPY chaos-daemon nsexec pause /usr/local/bin/
ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/usr/local/bin/chaos-daemon"]
DOCKERFILE
check_daemon() {
  docker run --rm "$1" --version
  docker run --rm --entrypoint sh "$1" -c \
    'for c in nsexec pause nsenter setpriv choom stress-ng tc ip iptables iptables-save ipset ps; do command -v $c >/dev/null || { echo "missing: $c"; exit 1; }; done'
}
dmn_hash=$(hash_files "$cm/chaos-daemon" "$cm/nsexec" "$cm/pause" "$dmn_dir/Dockerfile")
image_step "image $CHAOS_DAEMON_IMAGE" "$CHAOS_DAEMON_IMAGE:dev" "$dmn_hash" \
  build_checked "$CHAOS_DAEMON_IMAGE:dev" "$dmn_hash" "$dmn_dir" check_daemon

echo
echo "images: done in $(( $(date +%s) - started ))s"
for line in "${summary[@]}"; do echo "  $line"; done
echo "  sizes:"
for img in "$REFERENCE_IMAGE:dev" "$node_image" "mcpsim/metrics-server:$METRICS_SERVER_VERSION" \
  "$CHAOS_CONTROLLER_IMAGE:dev" "$CHAOS_DAEMON_IMAGE:dev"; do
  printf '    %-44s %s\n' "$img" "$(docker image inspect -f '{{.Size}}' "$img" | awk '{printf "%.0f MiB", $1/1048576}')"
done
