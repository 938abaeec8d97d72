#!/usr/bin/env bash
# Builds what the Chaos Mesh images need from the github.com/chaos-mesh/chaos-mesh
# module pinned in images/chaos-mesh/go.mod (issue 9): chaos-controller-manager,
# chaos-daemon, and replacements for the helpers upstream's chaos-daemon image
# downloads (images/chaos-daemon/Dockerfile in the module), which cannot be had
# offline.
# Output: $OUT/{chaos-controller-manager,chaos-daemon,nsexec,pause}, and
# $OUT/crds/*.yaml, the CustomResourceDefinitions pkg/chaosmesh installs,
# with $OUT/version (the module version of the binaries).
#
# The CRDs come from the pinned modules, not from our repository, but not
# as the main module's config/crd/bases: the binaries are compiled against
# github.com/chaos-mesh/chaos-mesh/api at the version images/chaos-mesh/go.mod
# replaces it with (the api module at the main module's own commit is not on
# the proxy), and that api is newer than the main module's CRDs: it has
# NetworkChaos/PodNetworkChaos spec.partitionBehavior, which the mutating
# webhook sets and those CRDs prune, so the validating webhook then refuses
# every update the controller makes ("Cannot update chaos spec") and no
# NetworkChaos is ever injected. So the CRDs are generated from that api
# module the way upstream's Makefile does (`controller-gen
# crd:ignoreUnexportedFields=true,crdVersions=v1`), with the controller-gen
# version upstream's CRDs name, built from sigs.k8s.io/controller-tools; the
# differences from config/crd/bases are listed in the log.
#
# chaos-daemon is built from a copy of the module with one fix (go build
# -overlay refuses files in the module cache; the copy replaces the module
# in a copy of images/chaos-mesh/go.mod): pkg/chaosdaemon/cgroups.PidPath
# answers a plain error for a cgroup v1 controller the target process is
# not in, where containerd/cgroups expects ErrControllerNotActive to skip
# it. On this host the kernel has net_cls, net_prio, perf_event and
# hugetlb only on the v2 hierarchy, but systemd in the kind node leaves
# empty directories for them under /sys/fs/cgroup, so every StressChaos
# failed with "load cgroup v1 manager ...: controller is not supported".
# The fix returns ErrControllerNotActive, which is what upstream meant.
#
# What the chaos-daemon image can and cannot do, and why:
#   provided  nsexec  images/chaos-mesh/nsexec: upstream's argv contract,
#                     namespaces entered with util-linux nsenter (and setns
#                     for pid, with setpriv for the parent-death signal); no
#                     -l (see there).
#             pause   upstream's hack/pause.c, compiled here (waits for
#                     SIGCONT, then execs its arguments; chaos-daemon uses it
#                     to put a stressor in the target's cgroup before it
#                     runs). Not tools/pause: that one never execs anything.
#             stress-ng, tc/ip, iptables, ipset, nsenter, setpriv, choom,
#                     sh: Debian packages of the "chaos" root filesystem.
#   missing   memStress (StressChaos memory stressors), toda (IOChaos),
#             tproxy (HTTPChaos), Byteman and a JRE (JVMChaos): upstream
#             downloads them prebuilt from GitHub releases; none is a Go
#             module or a Debian package. cdh (cmd/chaos-daemon-helper) is
#             only used by BlockChaos, which also needs the chaos-driver
#             kernel module: not built. DNSChaos needs the separate
#             chaos-dns server image: not built. TimeChaos needs
#             pkg/time/fakeclock/*.o, which upstream's Makefile compiles
#             into its source tree and the module zip lacks (only a
#             placeholder): they could be compiled into the patched copy
#             chaos-daemon is now built from (above); not done, so
#             chaos-daemon reports an error for it.
#   So: PodChaos, NetworkChaos (tc, iptables, ipset), StressChaos with CPU
#   stressors only, and the Schedule/Workflow objects around them can work;
#   IOChaos, HTTPChaos, JVMChaos, BlockChaos, DNSChaos, TimeChaos and
#   StressChaos memory stressors cannot. What tc can do also depends on the
#   node kernel's qdiscs (netem for delay/loss/duplicate/corrupt): this
#   machine's kernel has no netem, prio or sfq, so NetworkChaos delay, loss,
#   duplicate and corrupt cannot work here; partition (iptables + ipset)
#   does. Measured on kind (pkg/chaosmesh e2e): PodChaos pod-kill,
#   StressChaos CPU and NetworkChaos partition.
#
# chaos-daemon needs cgo (it is dynamically linked against glibc) and runs on
# the Debian $DEBIAN_SUITE root filesystem; it is built here with the host's
# C toolchain, which is fine when the host's glibc is not newer than that
# suite's. build.sh runs the result inside the image before tagging it, so
# a mismatch fails the build instead of the DaemonSet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
OUT=${1:?usage: build-chaos-mesh.sh OUTDIR}
mkdir -p "$OUT"
cd "$here/chaos-mesh"
mod=github.com/chaos-mesh/chaos-mesh
# `go list -m` names a module's directory only once it is in the module
# cache, which on a fresh machine it is not yet: download it first.
go mod download "$mod"
dir=$(go list -m -f '{{.Dir}}' "$mod")
[ -d "$dir" ] || { echo "no source directory for $mod in the module cache" >&2; exit 1; }
version=$(go list -m -f '{{.Version}}' "$mod")
commit=${version##*-}
ldflags="-s -w"
for kv in "gitVersion=$version" "gitCommit=$commit" "buildDate=1970-01-01T00:00:00Z"; do
  ldflags+=" -X $mod/pkg/version.$kv"
done

echo "building chaos-controller-manager $version"
# Static, for an image FROM scratch; timetzdata embeds the time zone
# database, which Schedule's CRON_TZ needs and scratch lacks.
CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags "$ldflags" \
  -o "$OUT/chaos-controller-manager" "$mod/cmd/chaos-controller-manager"

# A fixed path (not mktemp): the replacement's directory is recorded in the
# binary's build information, and the binary should not change from one
# build to the next.
tmp=$OUT/.build
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "building chaos-daemon $version from a patched copy (see above)"
cp -r "$dir" "$tmp/chaos-mesh"
chmod -R u+w "$tmp/chaos-mesh"
pidpath=$tmp/chaos-mesh/pkg/chaosdaemon/cgroups/pidpath.go
sed -i 's/return "", errors.New("controller is not supported")/return "", cgroups.ErrControllerNotActive/' "$pidpath"
grep -q 'return "", cgroups.ErrControllerNotActive' "$pidpath" || { echo "the cgroups fix no longer applies to $pidpath" >&2; exit 1; }
mkdir "$tmp/wrap"
cp go.mod go.sum tools.go "$tmp/wrap/"
(cd "$tmp/wrap" && go mod edit -replace "$mod=$tmp/chaos-mesh" &&
  CGO_ENABLED=1 go build -trimpath -ldflags "$ldflags" -o "$OUT/chaos-daemon" "$mod/cmd/chaos-daemon")

echo "building nsexec and pause"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OUT/nsexec" ./nsexec
# Static, so it does not depend on the root filesystem's C library either.
cc -O2 -static -s "$dir/hack/pause.c" -o "$OUT/pause"
api=github.com/chaos-mesh/chaos-mesh/api
api_version=$(go list -m -f '{{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}' "$api")
cg_version=$(sed -n 's/^ *controller-gen.kubebuilder.io\/version: *//p' "$dir/config/crd/bases/chaos-mesh.org_podchaos.yaml")
[ -n "$cg_version" ] || { echo "no controller-gen version in upstream's CRDs" >&2; exit 1; }
echo "generating the CRDs of $api $api_version with controller-gen $cg_version"
cg_bin=$tmp/bin
GOBIN=$cg_bin go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$cg_version"
rm -rf "$OUT/crds" "$OUT/crds.tmp"
mkdir -p "$OUT/crds.tmp"
"$cg_bin/controller-gen" crd:ignoreUnexportedFields=true,crdVersions=v1 \
  paths="$api/v1alpha1" output:crd:artifacts:config="$OUT/crds.tmp"
n=$(ls "$OUT"/crds.tmp/*.yaml | wc -l)
[ "$n" = "$(ls "$dir"/config/crd/bases/*.yaml | wc -l)" ] || { echo "generated $n CRDs, upstream has another number" >&2; exit 1; }
for f in "$OUT"/crds.tmp/*.yaml; do
  b=$(basename "$f")
  if ! cmp -s "$f" "$dir/config/crd/bases/$b"; then
    echo "  $b differs from the main module's config/crd/bases:"
    diff "$dir/config/crd/bases/$b" "$f" | grep '^[<>]' | head -6 || true
  fi
done
mv "$OUT/crds.tmp" "$OUT/crds"
echo "$version" >"$OUT/version"
ls -l "$OUT" "$OUT/crds"
