#!/usr/bin/env bash
# `npm run uplink -- send …`: the bonding sender (apps/uplink). Installs and builds
# what is missing first (progress on stderr: stdout carries the sender's figures).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh start >&2
exec node dist/apps/uplink/src/main.js "$@"
