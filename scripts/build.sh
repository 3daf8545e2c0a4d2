#!/usr/bin/env bash
# Compiles the gateway (Nest CLI, tsc builder: libs' path aliases are rewritten
# to relative requires) into dist/, and bundles the web app into dist/web.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[build] compiling the gateway"
npx --no-install nest build gateway
echo "[build] bundling the web app"
node apps/web/build.mjs
