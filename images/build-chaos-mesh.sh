#!/usr/bin/env bash
# Builds what the Chaos Mesh images need from the github.com/chaos-mesh/chaos-mesh
# module pinned in images/chaos-mesh/go.mod (issue 9): chaos-controller-manager,
# chaos-daemon, and replacements for the helpers upstream's chaos-daemon image
# downloads (images/chaos-daemon/Dockerfile in the module), which cannot be had
# offline.
# Output: $OUT/{chaos-controller-manager,chaos-daemon,nsexec,pause}
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
#             placeholder): embedding them would mean building from a
#             modified copy of the module (`go build -overlay` refuses files
#             in the module cache), so chaos-daemon reports an error for it.
#   So: PodChaos, NetworkChaos (tc, iptables, ipset), StressChaos with CPU
#   stressors only, and the Schedule/Workflow objects around them can work;
#   IOChaos, HTTPChaos, JVMChaos, BlockChaos, DNSChaos, TimeChaos and
#   StressChaos memory stressors cannot. What tc can do also depends on the
#   node kernel's qdiscs (netem for delay/loss/duplicate/corrupt).
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
dir=$(go list -m -f '{{.Dir}}' "$mod")
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

echo "building chaos-daemon $version"
CGO_ENABLED=1 go build -trimpath -ldflags "$ldflags" \
  -o "$OUT/chaos-daemon" "$mod/cmd/chaos-daemon"

echo "building nsexec and pause"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OUT/nsexec" ./nsexec
# Static, so it does not depend on the root filesystem's C library either.
cc -O2 -static -s "$dir/hack/pause.c" -o "$OUT/pause"
ls -l "$OUT"
