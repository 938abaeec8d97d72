#!/usr/bin/env bash
# Builds a root filesystem from Debian packages with debootstrap and writes
# it as a tar archive.
#   build-rootfs.sh node  OUT.tar   the kind node: systemd, containerd, runc,
#                                   CNI plugins, iptables, nftables, ...
#   build-rootfs.sh tools OUT.tar   a small userland for kube-proxy and the
#                                   CNI daemon: iptables, nft, ip, conntrack
#   build-rootfs.sh chaos OUT.tar   what Chaos Mesh's chaos-daemon runs:
#                                   iptables, ipset, tc/ip, stress-ng,
#                                   nsenter/choom (util-linux), ps (procps);
#                                   the packages of upstream's chaos-daemon
#                                   image minus Java, fuse and net-tools
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
kind=${1:?usage: build-rootfs.sh node|tools|chaos OUT.tar}
out=${2:?usage: build-rootfs.sh node|tools|chaos OUT.tar}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
case "$kind" in
  node) include=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,nftables,conntrack,iproute2,ethtool,kmod,procps,ca-certificates,mount,util-linux,libseccomp2,e2fsprogs,bash,jq,pigz ;;
  tools) include=iptables,nftables,conntrack,iproute2,kmod,ca-certificates ;;
  chaos) include=iptables,ipset,iproute2,stress-ng,util-linux,procps,tzdata,ca-certificates ;;
  *) echo "build-rootfs: unknown kind $kind" >&2; exit 2 ;;
esac
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpsim-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
# A package cache kept between builds makes a rebuild take a minute.
cache=${MCPSIM_STATE:-/var/lib/mcpsim}/debootstrap-cache
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" --include="$include" "$DEBIAN_SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  echo "build-rootfs: debootstrap failed; its last lines:" >&2
  tail -30 "$work/debootstrap.log" >&2
  exit 1
}
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
if [ "$kind" = node ]; then
  # Every node must get its own machine-id at boot (kind-offline.md #7).
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
  # What kind's base image does to systemd (images/base/Dockerfile).
  find "$root/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
  rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
        "$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
        "$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$root/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$root/sbin/init"
  # kind's unit files expect the runtime under /usr/local.
  for b in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$b" "$root/usr/local/bin/$b"; done
  mkdir -p "$root/opt/cni/bin"
  for p in host-local loopback ptp portmap bridge; do ln -sf "/usr/lib/cni/$p" "$root/opt/cni/bin/$p"; done
  # The base OCI spec containerd gives every container, as kind makes it.
  chroot "$root" ctr oci spec | chroot "$root" jq '.hooks.createContainer[.hooks.createContainer|length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | chroot "$root" jq 'del(.process.rlimits)' >"$root/etc/containerd/cri-base.json.new"
  mkdir -p "$root/etc/containerd" "$root/etc/kubernetes/manifests"
  mv "$root/etc/containerd/cri-base.json.new" "$root/etc/containerd/cri-base.json"
fi
if [ "$kind" = chaos ]; then
  # Upstream's chaos-daemon image uses the legacy iptables backend (its
  # rules live in each target pod's own network namespace, where nothing
  # else adds rules); do the same so its rules behave as upstream tests them.
  chroot "$root" update-alternatives --set iptables /usr/sbin/iptables-legacy
fi
tar -C "$root" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "build-rootfs: $kind root filesystem: $(du -h "$out" | cut -f1)"
