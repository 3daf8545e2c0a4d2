#!/usr/bin/env bash
# Installs whatever is missing for the gateway, idempotently, printing progress.
# Sourced by start.sh and test.sh (so the MEDIASOUP_WORKER_BIN it exports reaches
# them), or run on its own: `bash scripts/setup.sh [start|test]`.
#
#  1. Debian packages: ffmpeg, coturn (the embedded TURN server) and the worker's
#     shared libraries always; Chromium for the test suite; the C++ build packages
#     only when the worker must be built.
#  2. npm ci, only when package-lock.json changed since the last install.
#  3. The mediasoup worker, built from the npm package's sources against Debian's
#     libraries (scripts/build-mediasoup-worker.sh explains why) and cached outside
#     the repo, keyed by mediasoup version.
#  4. The TypeScript build (dist/) and the web app bundle (dist/web).
set -euo pipefail

setup_mode=${1:-start}
setup_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$setup_root"

say() { echo "[setup] $*"; }

# coturn: the gateway runs its `turnserver` itself (libs/turn), never the package's service.
# srt-tools: srt-live-transmit, libsrt's listener behind the SRT ingest (libs/live/src/srt).
RUNTIME_PACKAGES=(ffmpeg coturn srt-tools fonts-dejavu-core fonts-wqy-microhei libuv1 libsrtp2-1 libusrsctp2 libabsl20220623 libssl3)
# Tests drive Chromium and nginx-rtmp, and stall a participant's packets with nftables (the fault tests also mount a tmpfs);
# the cluster tests run their own redis-server.
TEST_PACKAGES=(chromium iproute2 procps nginx-light libnginx-mod-rtmp coreutils nftables redis-server)
# Benchmarks also run an external origin (nginx-rtmp), read RTMP line-buffered (stdbuf) and run a cluster on redis-server.
BENCH_PACKAGES=(nginx-light libnginx-mod-rtmp coreutils chromium redis-server)
BUILD_PACKAGES=(patch meson ninja-build pkg-config g++ libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev libabsl-dev nlohmann-json3-dev)

missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

apt_updated=0
ensure_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  say "installing Debian packages: ${missing[*]}"
  if [ "$apt_updated" -eq 0 ]; then
    "${sudo[@]}" apt-get update -q
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
}

# 1. Debian packages.
packages=("${RUNTIME_PACKAGES[@]}")
[ "$setup_mode" = test ] && packages+=("${TEST_PACKAGES[@]}")
[ "$setup_mode" = bench ] && packages+=("${BENCH_PACKAGES[@]}")
coturn_was_missing=$(missing_packages coturn)
redis_was_missing=$(missing_packages redis-server)
ensure_packages "${packages[@]}"
# Debian enables coturn's own service on install; it would hold TURN_PORT (3478) with
# /etc/turnserver.conf. The gateway supervises its own turnserver with its own config,
# so a coturn this setup installed does not run as a service (one installed before is
# left as the operator set it up).
if [ -n "$coturn_was_missing" ] && [ -d /run/systemd/system ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
  say "disabling the coturn package's own service (the gateway runs its own turnserver)"
  "${sudo_cmd[@]}" systemctl disable --now coturn.service >/dev/null 2>&1 || true
fi
# Likewise Debian's redis-server service, when this setup installed it for the tests or benches (they start their own, on free ports).
if [ "$setup_mode" != start ] && [ -n "$redis_was_missing" ] && [ -d /run/systemd/system ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
  say "disabling the redis-server package's own service (the tests run their own)"
  "${sudo_cmd[@]}" systemctl disable --now redis-server.service >/dev/null 2>&1 || true
fi

# 2. npm packages. mediasoup's postinstall must not run (it downloads); npm 11
# honours package.json's allowScripts, and for older npm MEDIASOUP_WORKER_BIN
# makes that postinstall skip itself. SCARF_ANALYTICS stops a phone-home.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.setup-lock-hash
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  MEDIASOUP_WORKER_BIN=/nonexistent SCARF_ANALYTICS=false npm ci --no-audit --no-fund
  echo "$lock_hash" > "$stamp"
else
  say "npm packages up to date"
fi

# 3. mediasoup worker.
if ! bash scripts/build-mediasoup-worker.sh --check; then
  ensure_packages "${BUILD_PACKAGES[@]}"
fi
MEDIASOUP_WORKER_BIN=$(bash scripts/build-mediasoup-worker.sh | tail -n 1)
export MEDIASOUP_WORKER_BIN
say "mediasoup worker: $MEDIASOUP_WORKER_BIN"

# 4. Build.
bash scripts/build.sh
