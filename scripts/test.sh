#!/usr/bin/env bash
# `npm test`: install what is missing (including Chromium), then run every spec
# with real components. Extra arguments go to Jest (e.g. `npm test -- worker-pool`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh test
exec npx --no-install jest --runInBand "$@"
