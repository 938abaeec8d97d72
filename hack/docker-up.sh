#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: installs Debian's
# docker.io when dockerd is missing, starts dockerd when it is not running
# (with runc wrapped by tools/runc-capfix, see there why), and waits until
# `docker info` answers. Safe to run again: it does nothing when Docker
# already answers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${MCPSIM_STATE:-/var/lib/mcpsim}
log="$state/dockerd.log"
mkdir -p "$state"

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "docker-up: Docker does not answer and starting it needs root" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-up: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$state/apt.log" 2>&1 || { echo "docker-up: apt-get update failed:"; tail -20 "$state/apt.log"; exit 1; } >&2
  apt-get install -y -qq docker.io >>"$state/apt.log" 2>&1 || { echo "docker-up: installing docker.io failed:"; tail -20 "$state/apt.log"; exit 1; } >&2
fi

# The runc wrapper and the daemon configuration that makes it the default.
wrapper="$state/bin/runc-capfix"
mkdir -p "$state/bin"
(cd "$root" && CGO_ENABLED=0 go build -o "$wrapper" ./tools/runc-capfix)
cat >"$state/daemon.json" <<JSON
{
  "runtimes": {"mcpsim-runc": {"path": "$wrapper"}},
  "default-runtime": "mcpsim-runc",
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m"}
}
JSON

if ! pgrep -x dockerd >/dev/null; then
  echo "docker-up: starting dockerd (log: $log)"
  nohup dockerd --config-file "$state/daemon.json" >"$log" 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker-up: Docker $(docker version --format '{{.Server.Version}}') answers"
    exit 0
  fi
  sleep 1
done
echo "docker-up: dockerd did not answer within 60s; its last log lines:" >&2
tail -20 "$log" >&2
exit 1
