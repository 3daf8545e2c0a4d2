#!/usr/bin/env bash
# `npm start`: install what is missing, then run the gateway in the foreground.
# exec hands signals (Ctrl-C, SIGTERM) straight to the gateway, which ends every
# child process it started (mediasoup workers, the origin, ffmpeg) before exiting.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh start
exec node dist/apps/gateway/src/main.js
